"""ARC (.arc, .arc.gz) web captures, the format before WARC: read with warcio (fastwarc cannot).

Rows are as for WARC (:mod:`curate.readers.warc`); ARC records have no id, so a row's id is
``<relpath>@<offset>``, and ARC's 14-digit dates become ISO 8601.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

from curate.readers.capture import MAX_HTTP_HEADER_BYTES, Capture, capture_row
from curate.readers.context import ReadContext
from curate.readers.warc import int_or_none
from curate.readers.warc_tail import check_tail
from curate.sources import GZIP_MAGIC

logger = logging.getLogger(__name__)


def iter_arc(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    from warcio.archiveiterator import ArchiveIterator

    max_records = ctx.source.max_records
    limit = ctx.source.max_record_bytes
    skipped: Counter[str] = Counter()
    rows = 0
    last: list[tuple[int, int | None]] = []  # the last record's (offset, length), when there is one
    kind = "gzip" if _is_gzip(ctx) else "plain"
    with ctx.open(compression=None) as stream:
        records = ArchiveIterator(stream, no_record_parse=True, arc2warc=False)
        for n, record in enumerate(_warcio_records(ctx, records, kind, last), 1):
            offset = records.offset  # get_record_offset() would read the record to its end first
            ctx.position = f"record {n} at byte {offset}"
            headers = record.rec_headers
            length = int_or_none(headers.get_header("length"))
            last[:] = [(offset, length)]
            if record.rec_type != "response":
                skipped[record.rec_type] += 1
                continue
            if max_records is not None and rows >= max_records:
                return
            rows += 1
            url = headers.get_header("uri")
            block = record.raw_stream.read(min(length or 0, limit + MAX_HTTP_HEADER_BYTES) + 1)
            capture = Capture(
                key=f"{ctx.task.relpath}@{offset}", offset=offset, url=url,
                fetch_date=_arc_date(headers.get_header("archive-date")), status=None, reason_phrase=None,
                content_type=headers.get_header("content-type"), content_encoding=None, transfer_encoding=None,
                payload_length=length, read_payload=_BytesReader(block),
            )
            if length is not None and url and url.lower().startswith(("http:", "https:")):
                _parse_arc_http(capture, block, length)
            yield capture_row(ctx, capture)
    if skipped:
        logger.debug("%s: records without rows: %s", ctx.task.path, dict(skipped))
    check_tail(ctx, kind, last[0] if last else None, header_end=b"\n", what="ARC")


def _warcio_records(ctx: ReadContext, records: Any, kind: str, last: list[tuple[int, int | None]]) -> Iterator[Any]:
    """warcio's records, its parse errors (a record cut in its header line) turned into OSError."""
    from warcio.exceptions import ArchiveLoadFailed
    from warcio.statusandheaders import StatusAndHeadersParserException

    try:
        yield from records
    except (ArchiveLoadFailed, StatusAndHeadersParserException) as exc:
        check_tail(ctx, kind, last[0] if last else None, header_end=b"\n", what="ARC")  # "truncated" if it is
        raise OSError(f"corrupt ARC file: {exc}") from None


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def __call__(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk


def _parse_arc_http(capture: Capture, block: bytes, length: int) -> None:
    """Split an ARC block into HTTP status + headers and payload (ARC has no HTTP parser of its own)."""
    ends = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := block.find(sep, 0, MAX_HTTP_HEADER_BYTES)) >= 0]
    if not ends:
        capture.http_error = "no end of HTTP headers"
        return
    end, sep_len = min(ends)
    lines = block[:end].decode("latin-1").splitlines()
    parts = lines[0].split(None, 2) if lines else []
    if len(parts) < 2 or not parts[0].upper().startswith("HTTP/") or not parts[1].isdigit():
        capture.http_error = f"bad HTTP status line {lines[0][:100] if lines else ''!r}"
        return
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    capture.status = int(parts[1])
    capture.reason_phrase = parts[2] if len(parts) > 2 else None
    capture.content_type = fields.get("content-type")
    capture.content_encoding = fields.get("content-encoding")
    capture.transfer_encoding = fields.get("transfer-encoding")
    capture.payload_length = length - end - sep_len
    capture.read_payload = _BytesReader(block[end + sep_len :])


def _arc_date(value: str | None) -> str | None:
    """ARC's 14-digit timestamp -> ISO 8601 (anything else is kept as given)."""
    if value and len(value) == 14 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:8]}T{value[8:10]}:{value[10:12]}:{value[12:14]}Z"
    return value



def _is_gzip(ctx: ReadContext) -> bool:
    with ctx.open(compression=None) as stream:
        return stream.read(2) == GZIP_MAGIC
