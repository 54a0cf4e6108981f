"""JSON Lines (plain, .gz, .zst, ...): one document per line, fields named by the source's field map.

Lines are split out of 64 KiB blocks with a length cap, so a single 200 MB line costs a bounded
buffer and becomes one ``record_too_large`` rejection instead of a memory spike. The usual line
(an object in UTF-8) is parsed by orjson and becomes a plain-document tuple; every other line
takes the long way (charset detection, the stdlib's ``json``) and gives what it always gave.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import IO, Any

import orjson

from curate.readers.context import PlainDocument, ReadContext, decode_text


def record_key(ctx: ReadContext, record: dict[str, Any], position_key: str) -> str:
    """The record's own id, made unique in its file (``ids`` option), else its position key."""
    fields = ctx.source.fields
    raw_id = record.get(fields.id) if fields.id else None
    return ctx.own_id(raw_id) if raw_id not in (None, "") else position_key


def record_to_row(ctx: ReadContext, record: Any, position_key: str, raw: str | bytes,
                  charset: str = "utf-8") -> PlainDocument | dict[str, Any]:
    """A parsed record (JSON object, Parquet row) -> document row or rejected row (``raw``: the
    record as read, kept in a rejected row; ``charset``: what its bytes were decoded from)."""
    fields = ctx.source.fields
    if not isinstance(record, dict):
        return ctx.rejected(position_key, raw, "not_an_object", f"{ctx.position} is a JSON {type(record).__name__}")
    key = record_key(ctx, record, position_key)
    text = record.get(fields.text)
    if not isinstance(text, str):
        reason = "missing_text" if text is None else "text_not_a_string"
        return ctx.rejected(key, raw, reason, f"field {fields.text!r} at {ctx.position}")
    if not text or text.isspace():  # (isspace stops at the first other character; strip copies)
        return ctx.rejected(key, raw, "empty_text", f"field {fields.text!r} at {ctx.position} is blank")
    url = record.get(fields.url) if fields.url else None
    url = str(url) if url is not None else None
    named = (fields.text, fields.id, fields.url)
    metadata = {k: v for k, v in record.items() if k not in named}
    if charset != "utf-8":
        return ctx.document(key, text, url=url, metadata=metadata, charset=charset)
    return ctx.plain_document(key, text, url, metadata)


def _json_error(exc: ValueError | RecursionError) -> str:
    """Why a line is not JSON we can hold; the error's class name when it is not a syntax error."""
    if isinstance(exc, json.JSONDecodeError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


#: Bytes read at a time; lines are split out of each block (one C call, not a readline per line).
#: Small enough that a file cut or corrupt part-way loses little more than the line it cut: what
#: was decompressed before the error has been passed on.
BLOCK_BYTES = 1 << 16


def split_lines(stream: IO[bytes], limit: int) -> Iterator[tuple[bytes | None, int]]:
    """(line without its newline, bytes it took in the file) per line; ``None`` for a line longer
    than ``limit`` bytes, whose bytes are counted but never held (memory stays ~limit + a block)."""
    head: list[bytes] = []  # the start of a line that goes on into the next block
    head_size = 0
    read = getattr(stream, "read1", stream.read)  # read1: what is decompressed, without waiting for more
    while block := read(BLOCK_BYTES):
        if head_size:
            end = block.find(b"\n")
            if end < 0:
                head_size += len(block)
                if head_size <= limit:
                    head.append(block)
                else:
                    head.clear()
                continue
            size = head_size + end
            yield (b"".join(head) + block[:end] if size <= limit else None), size + 1
            head.clear()
            head_size = 0
            block = block[end + 1 :]
        lines = block.split(b"\n")
        tail = lines.pop()
        for line in lines:
            yield (line if len(line) <= limit else None), len(line) + 1
        if tail:
            head_size = len(tail)
            if head_size <= limit:
                head.append(tail)
    if head_size:
        yield (b"".join(head) if head_size <= limit else None), head_size


#: orjson reads an integer outside 64 bits as a float, at least this large; json keeps it an int.
_BIG = float(2**63)


def holds_big_float(value: Any) -> bool:
    """Whether a parsed JSON value holds, anywhere, a float that may have been such an integer
    (integral and at least 2**63 in size; containers walked in a plain loop: it runs per record)."""
    kind = type(value)
    if kind is dict:
        values = value.values()
    elif kind is list:
        values = value
    else:
        return kind is float and abs(value) >= _BIG and value.is_integer()
    for item in values:
        kind = type(item)
        if kind is float:
            if abs(item) >= _BIG and item.is_integer():
                return True
        elif (kind is dict or kind is list) and holds_big_float(item):
            return True
    return False


def fast_loads(line: bytes) -> Any:
    """The line parsed by orjson (~3x the stdlib's speed), or None where only the stdlib gives the
    result we have always kept: orjson refuses NaN, lone surrogates and bytes that are not UTF-8,
    and reads an integer outside 64 bits as a float (those lines go to ``json`` again)."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return None if holds_big_float(record) else record


def iter_rows(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    limit = ctx.source.max_record_bytes
    max_records = ctx.source.max_records
    relpath = ctx.task.relpath
    offset = 0
    with ctx.open() as stream:
        for line_no, (line, size) in enumerate(split_lines(stream, limit), 1):
            if max_records is not None and line_no > max_records:
                return
            ctx.position = f"line {line_no} (byte {offset})"
            offset += size
            key = f"{relpath}:{line_no}"
            if line is None:
                yield ctx.rejected(key, b"", "record_too_large", f"{ctx.position}: {size} bytes > max_record_bytes {limit}")
                continue
            # The usual line: an object, no BOM, UTF-8 (orjson checks); the rest takes the long way.
            record = fast_loads(line) if line[:1] == b"{" else None
            decoded: tuple[str, str] | None = None
            if record is not None:
                raw: str | bytes = line.rstrip(b"\r")
            else:
                if not line.strip():
                    continue  # blank lines are not records
                if line[:1] == b"{":  # no BOM, so strict UTF-8 is what decode_text tries first
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
                row = record_to_row(ctx, record, key, raw, decoded[1] if decoded else "utf-8")
            except RecursionError as exc:  # parsed just under the limit, too deep to write back as metadata
                row = ctx.rejected(key, raw, "malformed_json", f"{ctx.position}: {_json_error(exc)}")
            yield row
