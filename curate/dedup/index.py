"""Incremental dedup: a run's dedup index, kept with its outputs and read by later runs.

An index is what step 1 of :class:`~curate.dedup.search.DuplicateSearch` made for every live
document of a run (its row key, the keep policy's facts, its bucket keys and the verification
payload) plus whether that run removed it. A later run adds the sketches of the indexes it reads
to its own before bucketing, so its new documents are compared with the earlier corpus exactly as
one run over both would compare them, without reading that corpus again. Its decisions are
applied to its own documents only: the earlier ones are published already and never change.

Layout: ``OUTPUT_DIR/artifacts/<dedup stage key>/index/`` (committed with the run, so an index
exists only for a corpus that exists), holding ``sketches/part-NNNNN.parquet`` (one file per
group of sketch blocks, written by the task that holds them: no process ever holds the whole index)
and ``_index.json`` with the format, the document count and the options the sketches depend on.
Format 1 (one ``sketches.parquet``) is still read. Reading an index written with other options
is refused: its keys and payloads would not be comparable.
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

FORMAT = "curate.dedup-index/2"
READABLE = ("curate.dedup-index/1", FORMAT)
META = "_index.json"
PARTS = "sketches"
SKETCHES_V1 = "sketches.parquet"
#: Options whose values change a document's sketch (keys or payload).
SKETCH_OPTIONS = ("exact", "near", "num_perm", "seed", "ngram", "shingle_unit", "hash_function", "lowercase",
                  "strip_punctuation", "normalize_digits", "unicode_form", "verify")


def fingerprint(config: DedupConfig, bands: int, rows: int) -> dict[str, Any]:
    """What two runs must share for their sketches to be compared."""
    return {**{name: getattr(config, name) for name in SKETCH_OPTIONS}, "bands": bands, "rows": rows}


def write_part(folder: Path, number: int, sketches: pa.Table, removed: pa.Array) -> int:
    """One block's sketches (one row per live document) and whether this run removed each, as
    ``folder/sketches/part-<number>.parquet``; its row count."""
    (folder / PARTS).mkdir(parents=True, exist_ok=True)
    pq.write_table(sketches.append_column("removed", removed), folder / PARTS / f"part-{number:05d}.parquet",
                   compression="zstd")
    return sketches.num_rows


def write_meta(folder: Path, documents: int, print_: dict[str, Any]) -> None:
    """``_index.json``, written last: a folder without it is not an index."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / META).write_text(json.dumps({"format": FORMAT, "documents": documents, "options": print_},
                                          indent=1), encoding="utf-8")


def check_index(path: str, print_: dict[str, Any], key: str) -> None:
    """Refuse (ConfigError naming the key) an index that is missing or made with other options."""
    meta_path = Path(path) / META
    if not meta_path.is_file():
        raise ConfigError(f"stages.{key}.index.read: {path} is not a dedup index (no {META}); name the "
                          "artifacts/<dedup stage>/index folder of a run that set index.write")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") not in READABLE:
        raise ConfigError(f"stages.{key}.index.read: {path} has format {meta.get('format')!r}, not one of "
                          f"{', '.join(READABLE)}")
    differ = sorted(k for k in set(print_) | set(meta.get("options", {})) if meta["options"].get(k) != print_.get(k))
    if differ:
        listed = ", ".join(f"{k}: {meta['options'].get(k)!r} there, {print_.get(k)!r} here" for k in differ)
        raise ConfigError(f"stages.{key}.index.read: {path} was made with other dedup options ({listed}); "
                          "its sketches cannot be compared with this run's")


def indexed_documents(paths: list[str]) -> int:
    """How many documents the indexes ``paths`` name hold (from their ``_index.json``)."""
    return sum(int(json.loads((Path(p) / META).read_text(encoding="utf-8")).get("documents", 0)) for p in paths)


def index_parts(paths: list[str]) -> list[Path]:
    """The Parquet files of the indexes ``paths`` name, in a stable order."""
    files: list[Path] = []
    for path in map(Path, paths):
        files += [path / SKETCHES_V1] if (path / SKETCHES_V1).is_file() else sorted((path / PARTS).glob("part-*.parquet"))
    return files


def read_part(file: Path, schema: pa.Schema, current_keys: pa.Array | None = None) -> pa.Table:
    """One index file in this run's sketch schema (without ``removed``), less the rows whose
    document is in this run too (the same file read again): this run's copy stands for it, so
    no document is compared with itself."""
    table = pq.read_table(file).drop_columns(["removed"]).select(schema.names).cast(schema)
    if current_keys is not None and len(current_keys):
        table = table.filter(pc.invert(pc.is_in(table.column("id"), value_set=current_keys)))
    return table


def read_indexes(paths: list[str], schema: pa.Schema, current_keys: pa.Array | None = None) -> pa.Table | None:
    """Every earlier sketch of ``paths`` in one table (the one-pass path), or None."""
    tables = [read_part(file, schema, current_keys) for file in index_parts(paths)]
    return pa.concat_tables(tables) if tables else None
