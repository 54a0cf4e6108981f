"""Plain text files: one document per file, decoded as UTF-8 or a detected charset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from curate.readers.context import ReadContext, decode_text


def iter_rows(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    key = ctx.task.relpath
    limit = ctx.source.max_record_bytes
    with ctx.open() as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        yield ctx.rejected(key, b"", "record_too_large", f"more than max_record_bytes {limit} bytes")
        return
    decoded = decode_text(data)
    if decoded is None:
        yield ctx.rejected(key, data, "invalid_encoding", "not UTF-8 and no charset detected")
    elif not decoded[0].strip():
        yield ctx.rejected(key, decoded[0], "empty_text", "file is blank")
    else:
        yield ctx.document(key, decoded[0], charset=decoded[1])
