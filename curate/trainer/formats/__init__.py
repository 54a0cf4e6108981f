"""Trainer output formats: the same shards (mixture, split, order, packing) written for each trainer.

``shards: {format: ...}`` names one or several. Each is one module with a
:class:`~curate.trainer.formats.base.TrainerFormat`; adding one is a module and a line here.
Modules are imported when named, so a format's reader library is never needed to write it.
"""

from __future__ import annotations

import importlib

from curate.trainer.formats.base import ShardContent, TrainerFormat

#: name -> "module:class"
FORMATS: dict[str, str] = {
    "parquet": "curate.trainer.formats.parquet:ParquetFormat",
    "megatron": "curate.trainer.formats.megatron:MegatronFormat",
    "mds": "curate.trainer.formats.mds:MDSFormat",
    "litdata": "curate.trainer.formats.litdata:LitDataFormat",
    "memmap": "curate.trainer.formats.memmap:MemmapFormat",
}


def format_named(name: str) -> TrainerFormat:
    """An instance of the format ``name`` (KeyError naming the known ones otherwise)."""
    if name not in FORMATS:
        raise KeyError(f"unknown trainer format {name!r} (known: {', '.join(FORMATS)})")
    module, _, cls = FORMATS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


__all__ = ["FORMATS", "ShardContent", "TrainerFormat", "format_named"]
