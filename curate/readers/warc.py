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

This module iterates WARC records (fastwarc); :mod:`curate.readers.arc` iterates ARC records
(warcio); :mod:`curate.readers.capture` turns either into a row; :mod:`curate.readers.warc_tail`
checks the end of the file.

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

import logging
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from curate.readers.capture import MAX_HTTP_HEADER_BYTES, Capture, capture_row, mime_and_charset
from curate.readers.context import ReadContext
from curate.readers.warc_tail import check_tail
from curate.sources import GZIP_MAGIC, LZ4_MAGIC, ZSTD_MAGIC

logger = logging.getLogger(__name__)

#: Record types that are not documents: counted, no row.
SKIPPED_TYPES = frozenset({"warcinfo", "request", "metadata", "conversion", "continuation", "arc_header"})


# --------------------------------------------------------------------------- entry point


def iter_rows(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    kind = _sniff(ctx)
    if kind == "arc":
        from curate.readers.arc import iter_arc

        yield from iter_arc(ctx)
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
            block_length = int_or_none(headers.get("Content-Length"))
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
                yield capture_row(ctx, _warc_capture(ctx, record, block_length))
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
    check_tail(ctx, kind, last, header_end=b"\r\n\r\n", what="WARC")


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


def _warc_capture(ctx: ReadContext, record: Any, block_length: int | None) -> Capture:
    headers = record.headers
    offset = record.stream_pos
    capture = Capture(
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
                content_type = mime_and_charset(record.http_headers.get("Content-Type"))[0]
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


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
