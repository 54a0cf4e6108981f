"""Read one input file into batches of documents (:data:`curate.schema.BASE_SCHEMA`).

Bad records never stop a read and are never lost: a malformed JSON line, a record without
text, an empty text, a binary or oversized code file each become a row with ``reject_stage =
"read"`` and a reason, so they land in ``rejected/``.
"""

from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Iterator
from typing import Any

import fsspec
import pyarrow as pa

from curate.code_languages import language_of
from curate.config import SourceConfig
from curate.schema import BASE_SCHEMA
from curate.sources import FileTask

#: Rejected raw records keep at most this much of their text (the rest is counted in the detail).
MAX_REJECTED_TEXT = 64 * 1024
_BINARY_SNIFF_BYTES = 8192


class _Batcher:
    """Accumulate row dicts and hand out full tables."""

    def __init__(self, batch_rows: int) -> None:
        self.batch_rows = batch_rows
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> pa.Table | None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows:
            return self.flush()
        return None

    def flush(self) -> pa.Table | None:
        if not self.rows:
            return None
        table = pa.Table.from_pylist(self.rows, schema=BASE_SCHEMA)
        self.rows = []
        return table


def _row(task: FileTask, source: SourceConfig, doc_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"id": doc_id, "text": text, "source": task.source, "domain": source.domain, "path": task.relpath, **extra}


def _rejected(task: FileTask, source: SourceConfig, doc_id: str, raw: str, reason: str, detail: str) -> dict[str, Any]:
    if len(raw) > MAX_REJECTED_TEXT:
        detail = f"{detail}; text truncated from {len(raw)} characters"
        raw = raw[:MAX_REJECTED_TEXT]
    return _row(task, source, doc_id, raw, reject_stage="read", reject_reason=reason, reject_detail=detail)


def _normalize(text: str, form: str | None) -> str:
    return unicodedata.normalize(form, text) if form else text


def _record_to_row(
    record: Any, task: FileTask, source: SourceConfig, position: str, raw: str
) -> dict[str, Any]:
    fields = source.fields
    fallback_id = f"{task.source}:{task.relpath}:{position}"
    if not isinstance(record, dict):
        return _rejected(task, source, fallback_id, raw, "not_an_object", f"record at {position} is {type(record).__name__}")
    raw_id = record.get(fields.id) if fields.id else None
    doc_id = str(raw_id) if raw_id not in (None, "") else fallback_id
    text = record.get(fields.text)
    if not isinstance(text, str):
        reason = "missing_text" if text is None else "text_not_a_string"
        return _rejected(task, source, doc_id, raw, reason, f"field {fields.text!r} at {position}")
    if not text.strip():
        return _rejected(task, source, doc_id, raw, "empty_text", f"field {fields.text!r} at {position} is blank")
    named = {fields.text, fields.id, fields.url}
    rest = {k: v for k, v in record.items() if k not in named}
    url = record.get(fields.url) if fields.url else None
    return _row(
        task,
        source,
        doc_id,
        _normalize(text, source.normalize_unicode),
        url=str(url) if url is not None else None,
        metadata=json.dumps(rest, ensure_ascii=False, default=str) if rest else None,
    )


def read_jsonl(task: FileTask, source: SourceConfig, batch_rows: int) -> Iterator[pa.Table]:
    batcher = _Batcher(batch_rows)
    with fsspec.open(task.path, "rb", compression="infer") as handle:
        # zstandard's stream reader has no readline; a buffer over it gives line iteration.
        lines = io.BufferedReader(handle)
        for line_no, line in enumerate(lines, start=1):
            if source.max_records is not None and line_no > source.max_records:
                break
            position = f"line {line_no}"
            raw = line.decode("utf-8", errors="replace").rstrip("\r\n")
            if not raw.strip():
                continue  # blank lines are not records
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                row = _rejected(task, source, f"{task.source}:{task.relpath}:{position}", raw, "malformed_json", f"{position}: {exc}")
            else:
                row = _record_to_row(record, task, source, position, raw)
            if (table := batcher.add(row)) is not None:
                yield table
    if (table := batcher.flush()) is not None:
        yield table


def read_parquet(task: FileTask, source: SourceConfig, batch_rows: int) -> Iterator[pa.Table]:
    import pyarrow.parquet as pq

    batcher = _Batcher(batch_rows)
    seen = 0
    with fsspec.open(task.path, "rb") as handle:
        parquet = pq.ParquetFile(handle)
        for record_batch in parquet.iter_batches(batch_size=batch_rows):
            for record in record_batch.to_pylist():
                if source.max_records is not None and seen >= source.max_records:
                    break
                position = f"row {seen}"
                seen += 1
                row = _record_to_row(record, task, source, position, json.dumps(record, default=str, ensure_ascii=False))
                if (table := batcher.add(row)) is not None:
                    yield table
    if (table := batcher.flush()) is not None:
        yield table


def read_code_file(task: FileTask, source: SourceConfig) -> dict[str, Any]:
    """One source file -> one document row (or a rejected row saying why not)."""
    doc_id = f"{task.source}:{task.relpath}"
    language = language_of(task.relpath)
    fs, _, (path,) = fsspec.get_fs_token_paths(task.path)
    size = fs.size(path)
    if size > source.max_file_bytes:
        return _rejected(task, source, doc_id, "", "oversized", f"{size} bytes > max_file_bytes {source.max_file_bytes}")
    with fs.open(path, "rb") as handle:
        data = handle.read()
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        return _rejected(task, source, doc_id, "", "binary", f"NUL byte in the first {_BINARY_SNIFF_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _rejected(task, source, doc_id, "", "not_utf8", str(exc))
    if language is None:
        return _rejected(task, source, doc_id, text, "unknown_language", f"no programming language for {task.relpath!r}")
    if not text.strip():
        return _rejected(task, source, doc_id, text, "empty_text", "file is blank")
    return _row(task, source, doc_id, _normalize(text, source.normalize_unicode), code_language=language)


def read_file(task: FileTask, source: SourceConfig, batch_rows: int) -> Iterator[pa.Table]:
    """Dispatch on the file's format. Errors that make the whole file unreadable propagate."""
    if task.format == "jsonl":
        yield from read_jsonl(task, source, batch_rows)
    elif task.format == "parquet":
        yield from read_parquet(task, source, batch_rows)
    elif task.format == "code":
        yield pa.Table.from_pylist([read_code_file(task, source)], schema=BASE_SCHEMA)
    else:
        raise ValueError(f"unknown format {task.format!r} for {task.path}")
