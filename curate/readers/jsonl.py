"""JSON Lines (plain, .gz, .zst, ...): one document per line, fields named by the source's field map.

Lines are read with a length cap, so a single 200 MB line costs a bounded buffer and becomes
one ``record_too_large`` rejection instead of a memory spike.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from curate.readers.context import ReadContext, decode_text


def record_key(ctx: ReadContext, record: dict[str, Any], position_key: str) -> str:
    """The record's own id, made unique in its file (``ids`` option), else its position key."""
    fields = ctx.source.fields
    raw_id = record.get(fields.id) if fields.id else None
    return ctx.own_id(raw_id) if raw_id not in (None, "") else position_key


def record_to_row(ctx: ReadContext, record: Any, position_key: str, raw: str) -> dict[str, Any]:
    """A parsed record (JSON object, Parquet row) -> document row or rejected row."""
    fields = ctx.source.fields
    if not isinstance(record, dict):
        return ctx.rejected(position_key, raw, "not_an_object", f"{ctx.position} is a JSON {type(record).__name__}")
    key = record_key(ctx, record, position_key)
    text = record.get(fields.text)
    if not isinstance(text, str):
        reason = "missing_text" if text is None else "text_not_a_string"
        return ctx.rejected(key, raw, reason, f"field {fields.text!r} at {ctx.position}")
    if not text.strip():
        return ctx.rejected(key, raw, "empty_text", f"field {fields.text!r} at {ctx.position} is blank")
    named = {fields.text, fields.id, fields.url}
    url = record.get(fields.url) if fields.url else None
    return ctx.document(
        key,
        text,
        url=str(url) if url is not None else None,
        metadata={k: v for k, v in record.items() if k not in named},
    )


def _json_error(exc: ValueError | RecursionError) -> str:
    """Why a line is not JSON we can hold; the error's class name when it is not a syntax error."""
    if isinstance(exc, json.JSONDecodeError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def iter_rows(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    limit = ctx.source.max_record_bytes
    offset = 0
    with ctx.open() as stream:
        for line_no in range(1, 1 << 62):
            if ctx.source.max_records is not None and line_no > ctx.source.max_records:
                return
            ctx.position = f"line {line_no} (byte {offset})"
            line = stream.readline(limit + 1)
            if not line:
                return
            start = offset
            offset += len(line)
            key = f"{ctx.task.relpath}:{line_no}"
            if len(line) > limit and not line.endswith(b"\n"):
                size = len(line)
                while line and not line.endswith(b"\n"):  # skip the rest of the oversized line
                    line = stream.readline(1 << 20)
                    size += len(line)
                offset = start + size
                yield ctx.rejected(key, b"", "record_too_large", f"{ctx.position}: {size} bytes > max_record_bytes {limit}")
                continue
            if not line.strip():
                continue  # blank lines are not records
            decoded = None
            if line[:1] == b"{":  # the usual line: no BOM, so strict UTF-8 is what decode_text tries first
                with contextlib.suppress(UnicodeDecodeError):
                    decoded = (line.decode("utf-8"), "utf-8")
            if decoded is None:
                decoded = decode_text(line)
            if decoded is None:
                yield ctx.rejected(key, line, "invalid_encoding", f"{ctx.position}: not UTF-8 and no charset detected")
                continue
            raw = decoded[0].rstrip("\r\n")
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError) as exc:  # also: nested too deep, an int of > 4300 digits
                yield ctx.rejected(key, raw, "malformed_json", f"{ctx.position}: {_json_error(exc)}")
                continue
            try:
                row = record_to_row(ctx, record, key, raw)
            except RecursionError as exc:  # parsed just under the limit, too deep to write back as metadata
                yield ctx.rejected(key, raw, "malformed_json", f"{ctx.position}: {_json_error(exc)}")
                continue
            if decoded[1] != "utf-8" and row.get("reject_reason") is None:
                row["charset"] = decoded[1]
            yield row
