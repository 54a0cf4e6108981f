"""Write a run's outputs: documents/, tokens/, rejected/, stats/ — complete or absent.

Workers write Parquet part files into a staging directory inside the output dir
(``_staging/<run id>/``) and return one small row per file plus per-language counts. The driver
then writes ``tokens/manifest.json`` and ``stats/``, and only then moves the finished folders
into place and writes ``_SUCCESS``. A run that dies leaves a staging folder and no ``_SUCCESS``.
Only what curate's own records vouch for is replaced or removed (curate.ownership).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import ownership
from curate.schema import alive_mask

OUTPUT_FOLDERS = ("documents", "tokens", "rejected", "stats", "artifacts", "trainer")
#: Output folders that exist only when something is written there (a tokenize stage, ``shards:``).
WRITTEN_ONLY = ("tokens", "trainer")
SUCCESS_MARKER = "_SUCCESS"
STAGING = "_staging"
TOKEN_COLUMNS = ("id", "domain", "lang", "input_ids")
#: Rows per Parquet row group: small enough to stream, large enough to compress well.
ROW_GROUP_ROWS = 4096

SINK_RECORD_SCHEMA = pa.schema(
    [
        ("record", pa.string()),  # "file" | "kept" | "rejected"
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


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (shards can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dictionary_columns(table: pa.Table) -> list[str]:
    """Columns worth Parquet dictionary encoding: not the ids, texts and token ids. Those rarely
    repeat (token ids span a 150k vocabulary), so their dictionary pages overflow and Parquet falls
    back to plain encoding after paying for the dictionary."""
    return [name for name in table.column_names if name not in ("id", "text", "input_ids")]


def _write(table: pa.Table, staging: Path, folder: str, part: str) -> dict[str, Any]:
    target = staging / folder / f"part-{part}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target, compression="zstd", row_group_size=ROW_GROUP_ROWS,
                   use_dictionary=dictionary_columns(table))
    digest = file_sha256(target)
    tokens = int(pc.sum(table.column("n_tokens")).as_py() or 0) if "n_tokens" in table.column_names else 0
    if folder == "tokens":
        tokens = int(pc.sum(pc.list_value_length(table.column("input_ids"))).as_py() or 0)
    return {"record": "file", "folder": folder, "file": f"{folder}/{target.name}", "rows": table.num_rows,
            "tokens": tokens, "bytes": target.stat().st_size, "sha256": digest}


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


def write_batch(batch: pa.Table, staging: str) -> pa.Table:
    """Ray UDF: split a batch into kept/rejected, write part files, return what was written."""
    staging_path = Path(staging)
    part = uuid.uuid4().hex[:16]
    mask = alive_mask(batch)
    kept, rejected = batch.filter(mask), batch.filter(pc.invert(mask))
    doc_columns = [c for c in kept.column_names if c != "input_ids" and not c.startswith("reject_")]
    records: list[dict[str, Any]] = []
    if kept.num_rows:
        records.append(_write(kept.select(doc_columns), staging_path, "documents", part))
        if "input_ids" in kept.column_names:
            token_columns = [c for c in TOKEN_COLUMNS if c in kept.column_names]  # no lang without langid
            records.append(_write(kept.select(token_columns), staging_path, "tokens", part))
        keys = ["lang", "domain"] if "lang" in kept.column_names else ["domain"]
        records.extend(_group_counts(kept, keys, "kept"))
    if rejected.num_rows:
        records.append(_write(rejected.drop_columns([c for c in ("input_ids",) if c in rejected.column_names]),
                              staging_path, "rejected", part))
        grouped = _group_counts(rejected.rename_columns(
            [{"reject_stage": "stage", "reject_reason": "reason"}.get(c, c) for c in rejected.column_names]
        ), ["stage", "reason"], "rejected")
        records.extend(grouped)
    records.extend(_input_counts(batch, mask))
    return pa.Table.from_pylist(records, schema=SINK_RECORD_SCHEMA)


def remove_stale_staging(output_dir: Path) -> None:
    """Delete staging folders of runs that died before committing: only folders carrying this
    pipeline's marker, and only under the output_dir lock (so no live run's staging is touched)."""
    ownership.require_lock(output_dir)
    for child in ownership.owned_children(output_dir / STAGING, output_dir):
        shutil.rmtree(child, ignore_errors=True)


def new_staging_dir(output_dir: Path) -> Path:
    """A fresh ``_staging/<run id>/``, marked as this pipeline's before workers write into it."""
    ownership.claim(output_dir, [STAGING])
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    staging = output_dir / STAGING / run_id
    staging.mkdir(parents=True)
    ownership.mark(staging, output_dir)
    for folder in OUTPUT_FOLDERS:
        if folder not in WRITTEN_ONLY:
            (staging / folder).mkdir()
    return staging


def write_json(path: Path, payload: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def commit(staging: Path, output_dir: Path) -> None:
    """Swap the staged folders into place, then mark the output complete.

    Only folders curate's manifest vouches for are replaced (checked first, under the lock); the
    manifest lists old and new files while the swap runs, so a commit killed half-way leaves
    nothing unlisted and the next run can still replace them. An output folder this run did not
    write (``tokens/`` without a tokenize stage) is removed when an earlier run of curate's made
    it, as the manifest proves, so no stale outputs outlive the run that wrote them."""
    ownership.require_lock(output_dir)
    ownership.check_output_dir(output_dir)
    marker = output_dir / SUCCESS_MARKER
    staged = {folder: ownership.files_under(staging / folder) for folder in OUTPUT_FOLDERS
              if (staging / folder).is_dir()}
    stale = [folder for folder in OUTPUT_FOLDERS
             if folder not in staged and ownership.created(output_dir, folder)]
    ownership.claim(output_dir, [SUCCESS_MARKER])
    ownership.record_files(output_dir, staged, keep_old=True)
    marker.unlink(missing_ok=True)
    trash = staging / "_replaced"
    trash.mkdir()
    for folder in OUTPUT_FOLDERS:
        final = output_dir / folder
        if (folder in staged or folder in stale) and (final.exists() or final.is_symlink()):
            final.rename(trash / folder)
        if folder in staged:
            (staging / folder).rename(final)
    ownership.record_files(output_dir, staged, keep_old=False)
    ownership.forget(output_dir, stale)
    discard(staging)
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z") + "\n", encoding="utf-8")


def discard(staging: Path) -> None:
    """Remove this run's own staging folder, and ``_staging/`` once no other run's is left."""
    shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):
        staging.parent.rmdir()
