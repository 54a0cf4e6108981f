"""Parquet: streamed row group by row group, reading only the columns the source needs.

A row larger than ``max_record_bytes`` (its size as a JSON line, as JSONL records are measured)
is a ``record_too_large`` rejection, like an oversized JSONL line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq

from curate.readers.context import ReadContext
from curate.readers.jsonl import record_to_row


def iter_rows(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    fields = ctx.source.fields
    limit = ctx.source.max_record_bytes
    with ctx.open(compression=None) as handle:
        parquet = pq.ParquetFile(handle)
        names = parquet.schema_arrow.names
        columns = None
        if ctx.source.columns is not None:
            wanted = {fields.text, fields.id, fields.url, *ctx.source.columns} - {None}
            columns = [n for n in names if n in wanted]
        seen = 0
        for batch in parquet.iter_batches(batch_size=1024, columns=columns):
            for record in batch.to_pylist():
                if ctx.source.max_records is not None and seen >= ctx.source.max_records:
                    return
                ctx.position = f"row {seen}"
                key = f"{ctx.task.relpath}:{seen}"
                seen += 1
                raw = json.dumps(record, default=str, ensure_ascii=False)
                size = len(raw.encode("utf-8"))
                if size > limit:  # as the JSONL reader: measured as the record's JSON line
                    yield ctx.rejected(key, b"", "record_too_large", f"{ctx.position}: {size} bytes > max_record_bytes {limit}")
                    continue
                yield record_to_row(ctx, record, key, raw)
