"""Parquet part files as every sink writes them: zstd, bounded row groups, a record per file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: Rows per Parquet row group: small enough to stream, large enough to compress well.
ROW_GROUP_ROWS = 4096


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


def token_count(table: pa.Table) -> int:
    """Tokens in a table: its ``input_ids`` lists, else its ``n_tokens`` column, else 0."""
    if "input_ids" in table.column_names:
        return int(pc.sum(pc.list_value_length(table.column("input_ids"))).as_py() or 0)
    if "n_tokens" in table.column_names:
        return int(pc.sum(table.column("n_tokens")).as_py() or 0)
    return 0


def write_part(table: pa.Table, staging: Path, folder: str, part: str) -> dict[str, Any]:
    """``staging/folder/part-<part>.parquet`` and its file record (rows, tokens, bytes, sha256)."""
    target = staging / folder / f"part-{part}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target, compression="zstd", row_group_size=ROW_GROUP_ROWS,
                   use_dictionary=dictionary_columns(table))
    return {"record": "file", "folder": folder, "file": f"{folder}/{target.name}", "rows": table.num_rows,
            "tokens": token_count(table), "bytes": target.stat().st_size, "sha256": file_sha256(target)}
