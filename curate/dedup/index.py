"""Incremental dedup: a run's dedup index, kept with its outputs and read by later runs.

An index is what step 1 of :class:`~curate.dedup.search.DuplicateSearch` made for every live
document of a run (its row key, the keep policy's facts, its bucket keys and the verification
payload) plus whether that run removed it. A later run adds the sketches of the indexes it reads
to its own before bucketing, so its new documents are compared with the earlier corpus exactly as
one run over both would compare them, without reading that corpus again. Its decisions are
applied to its own documents only: the earlier ones are published already and never change.

Layout: ``OUTPUT_DIR/artifacts/<dedup stage key>/index/`` (committed with the run, so an index
exists only for a corpus that exists), holding ``sketches.parquet`` and ``_index.json`` with the
format, the document count and the options the sketches depend on. Reading an index written with
other options is refused: its keys and payloads would not be comparable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.config import ConfigError

if TYPE_CHECKING:
    from curate.stages.dedup import DedupConfig

FORMAT = "curate.dedup-index/1"
META = "_index.json"
SKETCHES = "sketches.parquet"
#: Options whose values change a document's sketch (keys or payload).
SKETCH_OPTIONS = ("exact", "near", "num_perm", "seed", "ngram", "shingle_unit", "hash_function", "lowercase",
                  "strip_punctuation", "normalize_digits", "unicode_form", "verify")


def fingerprint(config: DedupConfig, bands: int, rows: int) -> dict[str, Any]:
    """What two runs must share for their sketches to be compared."""
    return {**{name: getattr(config, name) for name in SKETCH_OPTIONS}, "bands": bands, "rows": rows}


def write_index(folder: Path, sketches: pa.Table, removed: pa.Array, print_: dict[str, Any]) -> None:
    """``sketches`` (one row per live document) and whether this run removed each, under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(sketches.append_column("removed", removed), folder / SKETCHES, compression="zstd")
    (folder / META).write_text(json.dumps({"format": FORMAT, "documents": sketches.num_rows, "options": print_},
                                          indent=1), encoding="utf-8")


def check_index(path: str, print_: dict[str, Any], key: str) -> None:
    """Refuse (ConfigError naming the key) an index that is missing or made with other options."""
    meta_path = Path(path) / META
    if not meta_path.is_file():
        raise ConfigError(f"stages.{key}.index.read: {path} is not a dedup index (no {META}); name the "
                          "artifacts/<dedup stage>/index folder of a run that set index.write")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ConfigError(f"stages.{key}.index.read: {path} has format {meta.get('format')!r}, not {FORMAT}")
    differ = sorted(k for k in set(print_) | set(meta.get("options", {})) if meta["options"].get(k) != print_.get(k))
    if differ:
        listed = ", ".join(f"{k}: {meta['options'].get(k)!r} there, {print_.get(k)!r} here" for k in differ)
        raise ConfigError(f"stages.{key}.index.read: {path} was made with other dedup options ({listed}); "
                          "its sketches cannot be compared with this run's")


def read_indexes(paths: list[str], schema: pa.Schema) -> pa.Table | None:
    """The earlier runs' sketches in this run's sketch schema (without ``removed``), or None."""
    tables = [pq.read_table(Path(p) / SKETCHES).drop_columns(["removed"]).select(schema.names).cast(schema)
              for p in paths]
    return pa.concat_tables(tables) if tables else None


def without_keys(earlier: pa.Table, current_keys: pa.Array) -> pa.Table:
    """Earlier rows whose document is in this run too (the same file read again): this run's copy
    stands for it, so no document is compared with itself."""
    return earlier.filter(pc.invert(pc.is_in(earlier.column("id"), value_set=current_keys)))
