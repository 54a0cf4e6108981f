"""One web capture (a WARC response/resource or an ARC record) -> one document row or one rejected row.

Format-independent: :mod:`curate.readers.warc` and :mod:`curate.readers.arc` fill a
:class:`Capture` from their records; this module checks status, type and size, undoes the HTTP
codings (:mod:`curate.readers.http_body`), decodes the charset and extracts the main text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from curate.readers.charset import (
    declared_html_charset,
    decode_bytes,
    html_lang,
    normalize_charset,
    sniff_bom,
)
from curate.readers.context import ReadContext
from curate.readers.http_body import BodyError, decode_body

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})
#: Longest HTTP header block accepted (longer: malformed_http).
MAX_HTTP_HEADER_BYTES = 256 * 1024

_LOOKS_LIKE_HTML = re.compile(rb"<(!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)


class RecordRejected(Exception):
    """A record that becomes a rejected row: reason, detail and the raw bytes worth keeping."""

    def __init__(self, reason: str, detail: str, raw: bytes | str = b"") -> None:
        super().__init__(detail)
        self.reason, self.detail, self.raw = reason, detail, raw


@dataclass
class Capture:
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


def capture_row(ctx: ReadContext, cap: Capture) -> dict[str, Any]:
    mime, declared = mime_and_charset(cap.content_type)
    columns: dict[str, Any] = {
        "url": cap.url, "fetch_date": cap.fetch_date, "content_type": mime,
        "metadata": {"http_status": cap.status, "warc_offset": cap.offset},
    }
    try:
        text, charset = _capture_text(ctx, cap, mime, declared, columns["metadata"])
    except RecordRejected as rej:
        return ctx.rejected(cap.key, rej.raw, rej.reason, f"{ctx.position}: {rej.detail}", **columns)
    return ctx.document(cap.key, text, charset=charset, **columns)


def _capture_text(
    ctx: ReadContext, cap: Capture, mime: str | None, declared: str | None, metadata: dict[str, Any]
) -> tuple[str, str]:
    """The record's text; warnings about a body kept despite a flaw go into ``metadata``."""
    limit = ctx.source.max_record_bytes
    if cap.payload_length is None:
        raise RecordRejected("truncated_record", "WARC headers cut off (no Content-Length)")
    if cap.http_error is not None:
        raise RecordRejected("malformed_http", f"HTTP headers unreadable: {cap.http_error}")
    if cap.status is not None and cap.status != 200:
        raise RecordRejected("http_status", f"HTTP {cap.status} {cap.reason_phrase or ''}".rstrip())
    if mime is not None and mime not in HTML_TYPES and mime not in TEXT_TYPES:
        raise RecordRejected("not_html", f"content type {mime}")
    if cap.warc_truncated:
        raise RecordRejected("truncated_record", f"the crawler cut the payload (WARC-Truncated: {cap.warc_truncated})")
    if cap.payload_length > limit:
        raise RecordRejected("record_too_large", f"payload of {cap.payload_length} bytes > max_record_bytes {limit}")
    body = cap.read_payload(cap.payload_length)
    if len(body) < cap.payload_length:
        raise RecordRejected("truncated_record", f"payload has {len(body)} of its {cap.payload_length} bytes", body)
    try:
        body = decode_body(body, cap.transfer_encoding, cap.content_encoding, limit, metadata)
    except BodyError as exc:
        raise RecordRejected(exc.reason, exc.detail) from None
    if mime is None:  # no Content-Type: HTML if it looks like HTML
        if not _LOOKS_LIKE_HTML.search(body[:1024]):
            raise RecordRejected("not_html", "no Content-Type and the payload does not look like HTML")
        mime = "text/html"
    if mime in TEXT_TYPES:
        text, charset = _decode(body, sniff_bom(body) or normalize_charset(declared))
        if not text.strip():
            raise RecordRejected("empty_text", "text/plain payload is blank")
        return text, charset
    html, charset = _decode(body, declared_html_charset(body, declared), html_lang(body))
    return _extract(ctx, html, cap.url), charset


def _decode(body: bytes, charset: str | None, lang: str | None = None) -> tuple[str, str]:
    """:func:`curate.readers.charset.decode_bytes`, an ``invalid_encoding`` rejection when hopeless."""
    decoded = decode_bytes(body, charset, lang)
    if decoded is None:
        raise RecordRejected(
            "invalid_encoding", f"not decodable as UTF-8{' or ' + charset if charset else ''} and no charset detected", body
        )
    return decoded


def mime_and_charset(content_type: str | None) -> tuple[str | None, str | None]:
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


_TRAFILATURA_CONFIG: Any = None


def _extract(ctx: ReadContext, html: str, url: str | None) -> str:
    try:
        if ctx.source.html_extractor == "resiliparse":
            from resiliparse.extract.html2text import extract_plain_text

            text = extract_plain_text(html, main_content=True)
        else:
            text = _trafilatura(html, url)
    except Exception as exc:  # extractors fail in many ways on odd pages: one record, not the file
        raise RecordRejected("extraction_failed", f"{ctx.source.html_extractor}: {type(exc).__name__}: {exc}", html) from None
    if text is None or not text.strip():
        raise RecordRejected("no_main_text", f"{ctx.source.html_extractor} found no main text", html)
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
