"""What a run writes: one :class:`~curate.outputs.base.Sink` per output folder, chosen by the
YAML's ``outputs:`` list (default: documents and rejected, tokens when a stage tokenizes, trainer
when ``shards:`` is set), and :func:`write_batch`, the Ray UDF that gives each finished batch to
every sink and returns what was written plus the counts the run summary is built from.

Adding an output format: a module with a ``Sink`` subclass, and one line in
:data:`curate.outputs.registry.SINKS`.
"""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.outputs.base import FinalizeContext, Sink
from curate.outputs.documents import DocumentsSink
from curate.outputs.registry import SINKS, output_folders
from curate.outputs.rejected import RejectedSink
from curate.outputs.tokens import TokensSink
from curate.outputs.trainer import TrainerShardsSink
from curate.schema import alive_mask

__all__ = ["SINKS", "FinalizeContext", "Sink", "default_outputs", "output_folders", "output_sinks",
           "remove_unlisted_parts", "write_batch"]

RECORD_SCHEMA = pa.schema(
    [
        ("record", pa.string()),  # "file" | "kept" | "rejected" | "input"
        ("folder", pa.string()),
        ("file", pa.string()),
        ("rows", pa.int64()),
        ("tokens", pa.int64()),
        ("bytes", pa.int64()),
        ("sha256", pa.string()),
        ("lang", pa.string()),
        ("domain", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("source", pa.string()),  # record "input": the source and input file (None: rows a stage made)
        ("input", pa.string()),
        ("rejected", pa.int64()),  # record "input": rows of that input rejected ("rows": kept)
    ]
)


def tokenizer_of(loaded) -> str | None:
    """The tokenizer of the run's last stage that makes token ids (``Stage.tokens_made_with``)."""
    names = [spec.stage_cls(spec.options, key=spec.key).tokens_made_with() for spec in loaded.stages]
    names = [name for name in names if name]
    return names[-1] if names else None


def default_outputs(loaded) -> list[str]:
    """What a run writes when the YAML has no ``outputs:``."""
    names = ["documents", "rejected"]
    if tokenizer_of(loaded):
        names.append("tokens")
        if loaded.pipeline.shards is not None:
            names.append("trainer")
    return names


def output_sinks(loaded) -> list[Sink]:
    """The run's sinks, in :data:`SINKS` order (the config was checked by load_config)."""
    names = set(loaded.pipeline.outputs or default_outputs(loaded))
    made: dict[str, Any] = {"tokens": lambda: TokensSink(tokenizer_of(loaded)),
                            "trainer": lambda: TrainerShardsSink(loaded.pipeline.shards)}
    return [made.get(name, cls)() for name, cls in SINKS.items() if name in names]


def _group_counts(table: pa.Table, keys: list[str], record: str) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    aggs = [("id", "count")]
    work = table.select([*keys, "id", "text"]).append_column("nbytes", pc.binary_length(table.column("text")))
    aggs.append(("nbytes", "sum"))
    if "n_tokens" in table.column_names:
        work = work.append_column("n_tokens", table.column("n_tokens").cast(pa.int64()))
        aggs.append(("n_tokens", "sum"))
    grouped = work.group_by(keys, use_threads=False).aggregate(aggs).to_pylist()
    out = []
    for g in grouped:
        row = {"record": record, "rows": g["id_count"], "bytes": g["nbytes_sum"], "tokens": g.get("n_tokens_sum") or 0}
        row.update({k: g[k] for k in keys})
        out.append(row)
    return out


def _input_counts(batch: pa.Table, alive: pa.ChunkedArray) -> list[dict[str, Any]]:
    """Per input file: rows kept and rejected (one small record per file, not per row)."""
    if batch.num_rows == 0 or "input_file" not in batch.column_names:
        return []
    work = pa.table({"source": batch.column("source"), "input": batch.column("input_file"),
                     "kept": pc.cast(alive, pa.int64()), "rejected": pc.cast(pc.invert(alive), pa.int64())})
    grouped = work.group_by(["source", "input"], use_threads=False).aggregate([("kept", "sum"), ("rejected", "sum")])
    return [{"record": "input", "source": g["source"], "input": g["input"], "rows": g["kept_sum"],
             "rejected": g["rejected_sum"]} for g in grouped.to_pylist()]


def split_by_mask(batch: pa.Table, mask: pa.Array) -> tuple[pa.Table, pa.Table]:
    """(rows where ``mask``, the others). A batch all kept (or all rejected) is not copied:
    filtering copies every column, text and token lists included, which cost as much as the
    Parquet write itself (benchmarks/stage_kernels.py)."""
    alive = int(pc.sum(mask).as_py() or 0)
    if alive == batch.num_rows:
        return batch, batch.slice(0, 0)
    if alive == 0:
        return batch.slice(0, 0), batch
    return batch.filter(mask), batch.filter(pc.invert(mask))


def write_batch(batch: pa.Table, staging: str, sinks: list[Sink] | None = None) -> pa.Table:
    """Ray UDF: every sink writes the batch (default: documents and rejected); returns the file
    records and the counts per language/domain, per rejection reason and per input file."""
    from pathlib import Path

    sinks = sinks if sinks is not None else [DocumentsSink(), RejectedSink()]
    staging_path = Path(staging)
    part = uuid.uuid4().hex[:16]
    mask = alive_mask(batch)
    kept, rejected = split_by_mask(batch, mask)
    records: list[dict[str, Any]] = []
    for sink in sinks:
        records.extend(sink.write(kept, rejected, staging_path, part))
    if kept.num_rows:
        keys = ["lang", "domain"] if "lang" in kept.column_names else ["domain"]
        records.extend(_group_counts(kept, keys, "kept"))
    if rejected.num_rows:
        renamed = rejected.rename_columns(
            [{"reject_stage": "stage", "reject_reason": "reason"}.get(c, c) for c in rejected.column_names])
        records.extend(_group_counts(renamed, ["stage", "reason"], "rejected"))
    records.extend(_input_counts(batch, mask))
    return pa.Table.from_pylist(records, schema=RECORD_SCHEMA)


def remove_unlisted_parts(staging, sinks: list[Sink], records: list[dict[str, Any]]) -> list[str]:
    """Delete the part files (``<folder>/part-*``) that no writer's record lists; returns them.

    A write whose worker died after some of its sinks had written their part (and that was then
    rerun, as Ray and the local executor rerun a dead worker's batch) left files no record
    lists: committing them would publish those documents twice. Every sink returns a record per
    file it writes (:class:`~curate.outputs.base.Sink`), so what is unlisted is such a remnant.
    """
    from pathlib import Path

    listed = {r["file"] for r in records if r["record"] == "file"}
    removed = []
    for sink in sinks:
        folder = Path(staging) / sink.folder
        for path in sorted(folder.glob("part-*")) if folder.is_dir() else []:
            name = f"{sink.folder}/{path.name}"
            if name not in listed and path.is_file():
                path.unlink()
                removed.append(name)
    return removed
