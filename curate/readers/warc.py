"""WARC (.warc, .warc.gz, .warc.zst, .warc.lz4) and ARC (.arc, .arc.gz) web captures: one row per HTTP response.

What becomes a row:

* ``response`` records (and ``resource`` records, which carry a document without HTTP headers)
  become a document, or a rejected row naming why not: ``http_status`` (not 200), ``not_html``
  (images, PDFs, ...: the content type is in the detail), ``record_too_large``,
  ``truncated_record`` (payload shorter than its declared length, or cut by the crawler:
  ``WARC-Truncated``), ``malformed_http``, ``invalid_content_encoding`` (a gzip/deflate/br/zstd
  body that does not decode; one whose compressed data is complete and that lacks only its
  gzip/zlib trailer is kept, with ``"body_truncated": true`` and a ``warning`` in its metadata), ``invalid_encoding`` (no charset decodes the text),
  ``extraction_failed`` (the HTML extractor raised), ``no_main_text`` (it found nothing) or
  ``empty_text``. A record of a type WARC does not define is an ``unknown_record_type`` row.
* ``revisit`` records (deduplicated captures that point at an earlier one) become ``revisit``
  rejections.
* ``warcinfo``, ``request``, ``metadata``, ``conversion`` and ``continuation`` records (and the
  ARC ``filedesc`` header) describe captures rather than being documents: they are counted and
  produce no row. So are ``resource`` records under a ``metadata://`` URI: wget's own log and
  command line (``metadata://gnu.org/software/wget/warc/wget.log``). The counts are logged at DEBUG level when the file is done.

``max_records`` counts records that give a row (response, resource, revisit).

``text/plain`` bodies are documents as they are; ``text/html`` and ``application/xhtml+xml``
are decoded and their main text is extracted with trafilatura (default) or resiliparse
(``html_extractor: resiliparse``). The charset: a byte-order mark's, else the HTTP
``Content-Type``'s, else an ``<?xml encoding>``'s, else a ``<meta charset>`` / ``http-equiv``
in the first 4 KB. Bytes that are valid UTF-8 are read as UTF-8 whatever the label says
(mislabelled pages are common, and non-ASCII text in another charset is almost never valid
UTF-8). With no usable label the charset is detected (charset-normalizer, near-ties broken by
``<html lang>`` and by how common each legacy charset is on the web). Labels are read the way
browsers read them (WHATWG): ``iso-8859-1``/``ascii`` decode as windows-1252, ``gb2312``/``gbk``
as gb18030, ``shift_jis`` as cp932, ``euc-kr`` as cp949. (The decoding itself is
:mod:`curate.readers.charset`, shared with the JSONL and text readers.)

Every row has ``url`` (WARC-Target-URI, without the ``<...>`` of WARC/1.0 writers such as wget), ``fetch_date`` (WARC-Date as given; ARC dates become
ISO 8601), ``content_type`` (HTTP Content-Type without parameters, lower case), ``charset``
(the one the text was decoded with) and ``metadata`` = ``{"http_status", "warc_offset"}``
(the byte offset of the record in the file; for .gz, of its gzip member). Ids are
``<source>/<WARC-Record-ID without <urn:uuid: >>``; ARC records, which have no id, use
``<relpath>@<offset>``.

How the file is read, and why (fastwarc 2.0, checked on this version):

* fastwarc's iterator-level ``parse_http=True`` raises for the whole file on one record with
  an oversized HTTP header, and ``auto_decode="all"`` raises on a body whose
  ``Content-Encoding`` is false (and then the iterator is broken too). So HTTP headers are
  parsed per record (a bad one costs that record: ``malformed_http``) with
  ``auto_decode="none"``, and content/transfer encodings are decoded here, with a size cap
  (no gzip bombs) and a fallback to the raw body when it plainly was not encoded.
* Reading the raw payload is also how a clipped record is noticed: fastwarc returns it short
  without any error.
* fastwarc stops *silently* at the end of a truncated .warc.gz (the incomplete gzip member is
  dropped, or returned clipped) and reports nothing for a lost gzip trailer. After the last
  record this reader therefore checks the file's tail itself: the last gzip member (or, for
  plain files, the last record's declared end) must be complete and nothing unreadable may
  follow. Otherwise it raises ``OSError("truncated WARC file ...")`` after yielding every
  complete record; :func:`curate.readers.read_file` turns that into one per-file error row.
  Corruption in the middle of a .warc.gz makes fastwarc raise ``OSError`` (gzip data error),
  which propagates the same way. (zstd/lz4-compressed WARCs get no tail check.)
* fastwarc cannot read ARC files; warcio reads those (``warcio`` must be installed).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from curate.readers.charset import (
    declared_html_charset,
    decode_bytes,
    html_lang,
    normalize_charset,
    sniff_bom,
)
from curate.readers.context import ReadContext
from curate.sources import GZIP_MAGIC, LZ4_MAGIC, ZSTD_MAGIC

logger = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})
#: Record types that are not documents: counted, no row.
SKIPPED_TYPES = frozenset({"warcinfo", "request", "metadata", "conversion", "continuation", "arc_header"})
#: Longest HTTP header block accepted (longer: malformed_http).
MAX_HTTP_HEADER_BYTES = 256 * 1024


_LOOKS_LIKE_HTML = re.compile(rb"<(!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)


class _Reject(Exception):
    """A record that becomes a rejected row: reason, detail and the raw bytes worth keeping."""

    def __init__(self, reason: str, detail: str, raw: bytes | str = b"") -> None:
        super().__init__(detail)
        self.reason, self.detail, self.raw = reason, detail, raw


@dataclass
class _Capture:
    """One response/resource record, format-independent."""

    key: str
    offset: int
    url: str | None
    fetch_date: str | None
    status: int | None  # None: no HTTP headers (resource records, dns:, ...)
    reason_phrase: str | None
    content_type: str | None  # HTTP (or, without HTTP, WARC) Content-Type header, raw
    content_encoding: str | None
    transfer_encoding: str | None
    payload_length: int | None  # declared payload bytes (None: the record's headers were cut off)
    read_payload: Callable[[int], bytes]  # at most n payload bytes
    http_error: str | None = None  # set when the HTTP header block could not be parsed
    warc_truncated: str | None = None  # WARC-Truncated: the crawler cut the payload (length, time, ...)


# --------------------------------------------------------------------------- entry point


def iter_rows(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    kind = _sniff(ctx)
    if kind == "arc":
        yield from _iter_arc(ctx)
    else:
        yield from _iter_warc(ctx, kind)


def _sniff(ctx: ReadContext) -> str:
    """'gzip', 'plain', 'zstd', 'lz4' (a WARC) or 'arc'."""
    with ctx.open(compression=None) as stream:
        head = stream.read(4096)
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(LZ4_MAGIC):
        return "lz4"
    text = head
    if head.startswith(GZIP_MAGIC):
        try:
            text = zlib.decompressobj(31).decompress(head, 64)
        except zlib.error:
            return "gzip"  # let the WARC reader report it
    if text.startswith(b"filedesc:"):
        return "arc"
    return "gzip" if head.startswith(GZIP_MAGIC) else "plain"


# --------------------------------------------------------------------------- WARC (fastwarc)


def _iter_warc(ctx: ReadContext, kind: str) -> Iterator[dict[str, Any]]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    if kind == "lz4":
        _require_lz4()

    max_records = ctx.source.max_records
    skipped: Counter[str] = Counter()
    rows = 0
    last: tuple[int, int | None] | None = None  # (offset, declared block length) of the last record
    with ctx.open(compression=None) as stream:
        records = ArchiveIterator(
            stream, record_types=WarcRecordType.any_type, parse_http=False, quirks_mode=True, auto_decode="none"
        )
        for n, record in enumerate(records, 1):
            offset = record.stream_pos
            ctx.position = f"record {n} at byte {offset}"
            headers = record.headers
            block_length = _int(headers.get("Content-Length"))
            last = (offset, block_length)
            rtype = str(record.record_type)
            if rtype in SKIPPED_TYPES and block_length is not None:
                skipped[rtype] += 1
                continue
            if rtype == "resource" and _is_crawler_metadata(headers):
                skipped["resource (metadata://)"] += 1
                continue
            if max_records is not None and rows >= max_records:
                return  # a sample: the rest of the file is not read, so no tail check either
            rows += 1
            if rtype == "revisit":
                yield _revisit_row(ctx, record)
            elif rtype in ("response", "resource"):
                yield _capture_row(ctx, _warc_capture(ctx, record, block_length))
            else:  # headers cut off (no Content-Length) or a record type WARC does not define
                reason = "truncated_record" if block_length is None else "unknown_record_type"
                what = "WARC headers cut off (no Content-Length)" if block_length is None else f"WARC-Type {headers.get('WARC-Type')!r}"
                yield ctx.rejected(
                    _warc_key(ctx, record.record_id, offset), b"", reason, f"{ctx.position}: {what}",
                    url=_uri(headers.get("WARC-Target-URI")), fetch_date=headers.get("WARC-Date"),
                    metadata={"http_status": None, "warc_offset": offset},
                )
    if skipped:
        logger.debug("%s: records without rows: %s", ctx.task.path, dict(skipped))
    _check_tail(ctx, kind, last, header_end=b"\r\n\r\n", what="WARC")


def _require_lz4() -> None:
    """fastwarc reads lz4 WARCs only when built with lz4; without it a file would read as empty."""
    try:
        from fastwarc.stream_io import Lz4Reader  # noqa: F401
    except ImportError:
        raise OSError("this fastwarc has no lz4 support: decompress the .warc.lz4 (lz4 -d) or "
                      "recompress it with gzip or zstd") from None


def _uri(value: str | None) -> str | None:
    """A WARC URI without the ``<...>`` that WARC/1.0 writers such as wget put around it.

    The WARC/1.0 grammar wrote ``WARC-Target-URI`` as ``<uri>`` (1.1 dropped the brackets), so
    both forms are in the wild; the row's ``url`` is the bare URI either way."""
    if value is None:
        return None
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value or None


def _is_crawler_metadata(headers: Any) -> bool:
    """A ``resource`` record holding the crawler's own files, not a web document.

    wget stores its log and command line as resource records under ``metadata://`` URIs
    (``metadata://gnu.org/software/wget/warc/wget.log``, ``.../wget_arguments.txt``)."""
    return (_uri(headers.get("WARC-Target-URI")) or "").lower().startswith("metadata://")


def _warc_key(ctx: ReadContext, record_id: str | None, offset: int) -> str:
    """The WARC-Record-ID (a record's own id, under the source's ``ids`` rules), else its offset.

    Called once per record: each call claims the id for this file."""
    key = (record_id or "").strip().strip("<>")
    if not key:
        return f"{ctx.task.relpath}@{offset}"
    return ctx.own_id(key[len("urn:uuid:"):] if key.lower().startswith("urn:uuid:") else key)


def _warc_capture(ctx: ReadContext, record: Any, block_length: int | None) -> _Capture:
    headers = record.headers
    offset = record.stream_pos
    capture = _Capture(
        key=_warc_key(ctx, record.record_id, offset),
        offset=offset,
        url=_uri(headers.get("WARC-Target-URI")),
        fetch_date=headers.get("WARC-Date"),
        status=None,
        reason_phrase=None,
        content_type=headers.get("Content-Type"),
        content_encoding=None,
        transfer_encoding=None,
        payload_length=block_length,
        read_payload=lambda n: _read_up_to(record.reader, n),
        warc_truncated=headers.get("WARC-Truncated"),
    )
    if block_length is None:
        return capture  # headers cut off: rejected as truncated_record
    if record.is_http:
        try:
            record.parse_http(auto_decode="none", quirks_mode=True, max_header_len=MAX_HTTP_HEADER_BYTES)
        except (OSError, ValueError) as exc:
            capture.http_error = str(exc)
            return capture
        http = record.http_headers
        if http is None or http.status_code is None:
            capture.http_error = "no HTTP status line"
            return capture
        capture.status = http.status_code
        capture.reason_phrase = http.reason_phrase
        capture.content_type = http.get("Content-Type")
        capture.content_encoding = http.get("Content-Encoding")
        capture.transfer_encoding = http.get("Transfer-Encoding")
        capture.payload_length = record.content_length  # what is left after the HTTP headers
    return capture


def _revisit_row(ctx: ReadContext, record: Any) -> dict[str, Any]:
    headers = record.headers
    status = content_type = None
    if record.is_http:
        try:
            record.parse_http(auto_decode="none", quirks_mode=True, max_header_len=MAX_HTTP_HEADER_BYTES)
            if record.http_headers is not None:
                status = record.http_headers.status_code
                content_type = _mime(record.http_headers.get("Content-Type"))[0]
        except (OSError, ValueError):
            pass  # a revisit is rejected either way; its HTTP headers are only informative
    refers = _uri(headers.get("WARC-Refers-To-Target-URI")) or _uri(headers.get("WARC-Target-URI"))
    when = headers.get("WARC-Refers-To-Date")
    profile = (headers.get("WARC-Profile") or "").rsplit("/", 1)[-1]
    detail = f"{ctx.position}: revisit of {refers}" + (f" captured {when}" if when else "") + (f" ({profile})" if profile else "")
    return ctx.rejected(
        _warc_key(ctx, record.record_id, record.stream_pos), b"", "revisit", detail,
        url=_uri(headers.get("WARC-Target-URI")), fetch_date=headers.get("WARC-Date"), content_type=content_type,
        metadata={"http_status": status, "warc_offset": record.stream_pos},
    )


def _read_up_to(reader: Any, n: int) -> bytes:
    if reader is None:
        return b""
    parts: list[bytes] = []
    left = n
    while left > 0:
        chunk = reader.read(min(left, 1 << 20))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


# --------------------------------------------------------------------------- ARC (warcio)


def _iter_arc(ctx: ReadContext) -> Iterator[dict[str, Any]]:
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
            length = _int(headers.get_header("length"))
            last[:] = [(offset, length)]
            if record.rec_type != "response":
                skipped[record.rec_type] += 1
                continue
            if max_records is not None and rows >= max_records:
                return
            rows += 1
            url = headers.get_header("uri")
            block = record.raw_stream.read(min(length or 0, limit + MAX_HTTP_HEADER_BYTES) + 1)
            capture = _Capture(
                key=f"{ctx.task.relpath}@{offset}", offset=offset, url=url,
                fetch_date=_arc_date(headers.get_header("archive-date")), status=None, reason_phrase=None,
                content_type=headers.get_header("content-type"), content_encoding=None, transfer_encoding=None,
                payload_length=length, read_payload=_BytesReader(block),
            )
            if length is not None and url and url.lower().startswith(("http:", "https:")):
                _parse_arc_http(capture, block, length)
            yield _capture_row(ctx, capture)
    if skipped:
        logger.debug("%s: records without rows: %s", ctx.task.path, dict(skipped))
    _check_tail(ctx, kind, last[0] if last else None, header_end=b"\n", what="ARC")


def _warcio_records(ctx: ReadContext, records: Any, kind: str, last: list[tuple[int, int | None]]) -> Iterator[Any]:
    """warcio's records, its parse errors (a record cut in its header line) turned into OSError."""
    from warcio.exceptions import ArchiveLoadFailed
    from warcio.statusandheaders import StatusAndHeadersParserException

    try:
        yield from records
    except (ArchiveLoadFailed, StatusAndHeadersParserException) as exc:
        _check_tail(ctx, kind, last[0] if last else None, header_end=b"\n", what="ARC")  # "truncated" if it is
        raise OSError(f"corrupt ARC file: {exc}") from None


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def __call__(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk


def _parse_arc_http(capture: _Capture, block: bytes, length: int) -> None:
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


# --------------------------------------------------------------------------- one capture -> one row


def _capture_row(ctx: ReadContext, cap: _Capture) -> dict[str, Any]:
    mime, declared = _mime(cap.content_type)
    columns: dict[str, Any] = {
        "url": cap.url, "fetch_date": cap.fetch_date, "content_type": mime,
        "metadata": {"http_status": cap.status, "warc_offset": cap.offset},
    }
    try:
        text, charset = _capture_text(ctx, cap, mime, declared, columns["metadata"])
    except _Reject as rej:
        return ctx.rejected(cap.key, rej.raw, rej.reason, f"{ctx.position}: {rej.detail}", **columns)
    return ctx.document(cap.key, text, charset=charset, **columns)


def _capture_text(
    ctx: ReadContext, cap: _Capture, mime: str | None, declared: str | None, metadata: dict[str, Any]
) -> tuple[str, str]:
    """The record's text; warnings about a body kept despite a flaw go into ``metadata``."""
    limit = ctx.source.max_record_bytes
    if cap.payload_length is None:
        raise _Reject("truncated_record", "WARC headers cut off (no Content-Length)")
    if cap.http_error is not None:
        raise _Reject("malformed_http", f"HTTP headers unreadable: {cap.http_error}")
    if cap.status is not None and cap.status != 200:
        raise _Reject("http_status", f"HTTP {cap.status} {cap.reason_phrase or ''}".rstrip())
    if mime is not None and mime not in HTML_TYPES and mime not in TEXT_TYPES:
        raise _Reject("not_html", f"content type {mime}")
    if cap.warc_truncated:
        raise _Reject("truncated_record", f"the crawler cut the payload (WARC-Truncated: {cap.warc_truncated})")
    if cap.payload_length > limit:
        raise _Reject("record_too_large", f"payload of {cap.payload_length} bytes > max_record_bytes {limit}")
    body = cap.read_payload(cap.payload_length)
    if len(body) < cap.payload_length:
        raise _Reject("truncated_record", f"payload has {len(body)} of its {cap.payload_length} bytes", body)
    body = _decode_body(body, cap.transfer_encoding, cap.content_encoding, limit, metadata)
    if mime is None:  # no Content-Type: HTML if it looks like HTML
        if not _LOOKS_LIKE_HTML.search(body[:1024]):
            raise _Reject("not_html", "no Content-Type and the payload does not look like HTML")
        mime = "text/html"
    if mime in TEXT_TYPES:
        text, charset = _decode(body, sniff_bom(body) or normalize_charset(declared))
        if not text.strip():
            raise _Reject("empty_text", "text/plain payload is blank")
        return text, charset
    html, charset = _decode(body, declared_html_charset(body, declared), html_lang(body))
    return _extract(ctx, html, cap.url), charset


def _decode(body: bytes, charset: str | None, lang: str | None = None) -> tuple[str, str]:
    """:func:`curate.readers.charset.decode_bytes`, an ``invalid_encoding`` rejection when hopeless."""
    decoded = decode_bytes(body, charset, lang)
    if decoded is None:
        raise _Reject(
            "invalid_encoding", f"not decodable as UTF-8{' or ' + charset if charset else ''} and no charset detected", body
        )
    return decoded


def _decode_body(
    body: bytes, transfer_encoding: str | None, content_encoding: str | None, limit: int, metadata: dict[str, Any]
) -> bytes:
    """Undo HTTP transfer and content codings, capped at ``limit`` decoded bytes."""
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        from fastwarc.stream_io import ChunkedReader

        with contextlib.suppress(OSError):  # archived bodies are often stored de-chunked, header kept
            body = ChunkedReader(io.BytesIO(body)).read(limit + 1)
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        if not body or coding in ("identity", "none", "utf-8", "binary", "7bit", "8bit"):
            continue
        try:
            body = _undo_coding(body, coding, limit, metadata)
        except _Reject:
            if body.lstrip()[:1] == b"<":
                continue  # the server said gzip but sent plain markup (common): take it as it is
            raise
    if len(body) > limit:
        raise _Reject("record_too_large", f"payload decodes to more than max_record_bytes {limit} bytes")
    return body


def _undo_coding(body: bytes, coding: str, limit: int, metadata: dict[str, Any]) -> bytes:
    if coding in ("gzip", "x-gzip", "deflate"):
        attempts = (47, -15) if coding == "deflate" else (31, 47)  # 47: zlib or gzip header; -15: raw
        error, ends_early = "no data", False
        for wbits in attempts:
            try:
                d = zlib.decompressobj(wbits)
                out = d.decompress(body, limit + 1)
                if d.eof or len(out) > limit:
                    return out
                error, ends_early = "stream ends early", True
            except zlib.error as exc:
                error = str(exc)
        if ends_early:
            out, missing = _inflate_without_trailer(body, limit)
            if out is not None:
                metadata["body_truncated"] = True
                metadata["warning"] = (f"Content-Encoding {coding}: the body lacks the last {missing} bytes of its "
                                       f"{_TRAILER[_wrapper(body)]}-byte trailer; the compressed data itself is complete")
                return out
        raise _Reject("invalid_content_encoding", f"Content-Encoding {coding}: {error}")
    if coding in ("br", "zstd"):
        from fastwarc.stream_io import BrotliReader, ZstdReader

        reader = BrotliReader if coding == "br" else ZstdReader
        try:
            return reader(io.BytesIO(body)).read(limit + 1)
        except OSError as exc:
            raise _Reject("invalid_content_encoding", f"Content-Encoding {coding}: {exc}") from None
    raise _Reject("invalid_content_encoding", f"unsupported Content-Encoding {coding!r}")


#: Bytes after the deflate data: gzip CRC-32 + ISIZE, zlib Adler-32.
_TRAILER = {"gzip": 8, "zlib": 4}


def _wrapper(body: bytes) -> str:
    return "gzip" if body.startswith(GZIP_MAGIC) else "zlib"


def _inflate_without_trailer(body: bytes, limit: int) -> tuple[bytes | None, int]:
    """A gzip/zlib body whose deflate stream is complete but whose trailer was cut off.

    Servers and crawlers drop the last bytes of a response often enough; the text is all there,
    so it is kept (flagged). A stream that ends inside the deflate data, or whose partial CRC
    disagrees with the data, is not. Returns (decoded bytes, trailer bytes missing) or (None, 0)."""
    header = _gzip_header_length(body) if body.startswith(GZIP_MAGIC) else _zlib_header_length(body)
    if header is None:
        return None, 0
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(body[header:], limit + 1)
    except zlib.error:
        return None, 0
    trailer, size = d.unused_data, _TRAILER[_wrapper(body)]
    if not d.eof or len(trailer) >= size:
        return None, 0
    if _wrapper(body) == "gzip" and len(trailer) >= 4 and trailer[:4] != zlib.crc32(out).to_bytes(4, "little"):
        return None, 0
    return out, size - len(trailer)


def _gzip_header_length(body: bytes) -> int | None:
    """Where the deflate data of a gzip member starts (RFC 1952 header: FEXTRA, FNAME, FCOMMENT, FHCRC)."""
    if len(body) < 10 or body[2] != 8:
        return None
    flags, pos = body[3], 10
    if flags & 4:
        if len(body) < pos + 2:
            return None
        pos += 2 + int.from_bytes(body[pos : pos + 2], "little")
    for bit in (8, 16):
        if flags & bit:
            end = body.find(b"\0", pos)
            if end < 0:
                return None
            pos = end + 1
    if flags & 2:
        pos += 2
    return pos if pos <= len(body) else None


def _zlib_header_length(body: bytes) -> int | None:
    """2 for a zlib header (RFC 1950, deflate, no preset dictionary), else None."""
    if len(body) < 2 or body[0] & 0x0F != 8 or (body[0] << 8 | body[1]) % 31 or body[1] & 0x20:
        return None
    return 2


# --------------------------------------------------------------------------- content type


def _mime(content_type: str | None) -> tuple[str | None, str | None]:
    """'text/html; charset="Shift_JIS"' -> ('text/html', 'shift_jis')."""
    if not content_type:
        return None, None
    mime, *params = content_type.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").strip().lower() or None
    return mime.strip().lower() or None, charset


# --------------------------------------------------------------------------- extraction


_TRAFILATURA_CONFIG: Any = None


def _extract(ctx: ReadContext, html: str, url: str | None) -> str:
    try:
        if ctx.source.html_extractor == "resiliparse":
            from resiliparse.extract.html2text import extract_plain_text

            text = extract_plain_text(html, main_content=True)
        else:
            text = _trafilatura(html, url)
    except Exception as exc:  # extractors fail in many ways on odd pages: one record, not the file
        raise _Reject("extraction_failed", f"{ctx.source.html_extractor}: {type(exc).__name__}: {exc}", html) from None
    if text is None or not text.strip():
        raise _Reject("no_main_text", f"{ctx.source.html_extractor} found no main text", html)
    return text


def _trafilatura(html: str, url: str | None) -> str | None:
    global _TRAFILATURA_CONFIG
    import trafilatura

    if _TRAFILATURA_CONFIG is None:
        from trafilatura.settings import use_config

        config = use_config()
        config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # signal-based; breaks outside the main thread
        quiet = logging.getLogger("trafilatura")
        if quiet.level == logging.NOTSET:  # it warns for every empty page; we report those as rows
            quiet.setLevel(logging.ERROR)
        _TRAFILATURA_CONFIG = config
    return trafilatura.extract(
        html, url=url, include_comments=False, include_tables=True, favor_precision=False,
        deduplicate=False, with_metadata=False, config=_TRAFILATURA_CONFIG,
    )


# --------------------------------------------------------------------------- end-of-file check


def _check_tail(ctx: ReadContext, kind: str, last: tuple[int, int | None] | None, header_end: bytes, what: str) -> None:
    """Raise OSError if the file does not end where its last record does (see the module doc)."""
    if kind not in ("gzip", "plain"):
        return
    with ctx.open(compression=None) as stream:
        size = stream.seek(0, io.SEEK_END)
        if kind == "gzip":
            start = last[0] if last and 0 <= last[0] < size else 0
            stream.seek(start)
            if stream.read(2) != GZIP_MAGIC:
                start = 0  # not a member start (e.g. one gzip member for the whole file): check it all
            _check_gzip_members(stream, start, size, what)
            return
        if last is None:
            if size and stream.seek(0) == 0 and stream.read(4096).strip():
                raise OSError(f"corrupt {what} file: no record found in its {size} bytes")
            return
        offset, length = last
        if length is None:
            raise OSError(f"truncated {what} file: the headers of the last record (at byte {offset}) are cut off")
        stream.seek(offset)
        head = stream.read(MAX_HTTP_HEADER_BYTES)
        cut = head.find(header_end)
        if cut < 0 and header_end == b"\r\n\r\n":
            cut, header_end = head.find(b"\n\n"), b"\n\n"  # quirks: LF-only headers
        if cut < 0:
            raise OSError(f"truncated {what} file: the headers of the last record (at byte {offset}) do not end")
        end = offset + cut + len(header_end) + length
        if end > size:
            raise OSError(
                f"truncated {what} file: the last record (at byte {offset}) ends at byte {end}, the file at {size}"
            )
        stream.seek(end)
        rest = stream.read(4097)
        stub = rest.lstrip()
        if stub and _incomplete_record(stub, what):
            raise OSError(f"truncated {what} file: an incomplete record follows the last record (at byte {offset})")
        if len(rest) > 4096 or rest.strip():
            raise OSError(f"corrupt {what} file: {size - end} bytes after the last record (at byte {offset}) are unreadable")


def _incomplete_record(stub: bytes, what: str) -> bool:
    """Whether the bytes after the last record are the start of one more, cut short."""
    if what == "WARC":
        return stub.startswith(b"WARC/") or b"WARC/".startswith(stub)
    line, newline, block = stub.partition(b"\n")  # ARC: "<url> <ip> <date> <type> <length>\n<block>"
    fields = line.split()
    if not newline:
        return len(fields) <= 5 and (b"://" in line or line.startswith(b"filedesc:"))
    return len(fields) >= 5 and fields[-1].isdigit() and len(block) < int(fields[-1])


def _check_gzip_members(stream: IO[bytes], start: int, size: int, what: str) -> None:
    """Every gzip member from ``start`` to the end of the file must be complete."""
    stream.seek(start)
    member_start, fed, pos = start, False, start
    d = zlib.decompressobj(31)
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        pos += len(chunk)
        while chunk:
            try:
                d.decompress(chunk, 1 << 16)
                while d.unconsumed_tail:
                    d.decompress(d.unconsumed_tail, 1 << 16)
            except zlib.error as exc:
                raise OSError(f"corrupt gzip member at byte {member_start} of the {what} file: {exc}") from None
            fed = True
            if not d.eof:
                break
            chunk = d.unused_data
            member_start = pos - len(chunk)
            d, fed = zlib.decompressobj(31), False
    if fed:
        raise OSError(
            f"truncated {what} file: the gzip member at byte {member_start} ends with the file at byte {size}"
        )


def _is_gzip(ctx: ReadContext) -> bool:
    with ctx.open(compression=None) as stream:
        return stream.read(2) == GZIP_MAGIC


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
