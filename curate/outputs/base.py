"""The contract every output of a run follows: a :class:`Sink`.

Workers call :meth:`Sink.write` on each finished batch (its kept and rejected rows) and get back
one small record per file they wrote into the run's staging folder; the driver calls
:meth:`Sink.finalize` once, after every batch is written and the summary is counted, for what
needs all the files (a manifest, trainer shards). Nothing a sink writes is visible until the run
commits (:mod:`curate.outputs.commit`), so every output is complete or absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa


@dataclass
class FinalizeContext:
    """What the driver knows when the outputs are finalised."""

    loaded: Any  # curate.config.LoadedConfig
    #: Every file record the workers returned (``record == "file"``: folder, file, rows, tokens, ...).
    files: list[dict[str, Any]]


class Sink:
    """One output folder of a run; subclass, set ``name`` and ``folder``, implement ``write``."""

    name: ClassVar[str]
    folder: ClassVar[str]
    #: True: the folder exists in every run's output, empty when nothing was written.
    always_present: ClassVar[bool] = True

    def write(self, kept: pa.Table, rejected: pa.Table, staging: Path, part: str) -> list[dict[str, Any]]:
        """Write this batch's files under ``staging / folder`` (names made unique by ``part``);
        return one record per file (:func:`curate.outputs.parquet.write_part` makes them)."""
        return []

    def finalize(self, staging: Path, ctx: FinalizeContext) -> dict[str, Any]:
        """Driver-side work after every batch; returns entries for ``stats/summary.json``."""
        return {}
