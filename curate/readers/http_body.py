"""Undo HTTP transfer and content codings of an archived body, with a size cap (no gzip bombs).

Archived bodies are often not what their headers say: stored de-chunked with the chunked header
kept, labelled gzip but sent plain, or cut inside the gzip/zlib trailer. Each case is handled
here; a body that truly does not decode is a :class:`BodyError` naming the reason.
"""

from __future__ import annotations

import contextlib
import io
import zlib
from typing import Any

from curate.sources import GZIP_MAGIC


class BodyError(Exception):
    """A body that cannot be used: ``reason`` is the rejection reason, the message its detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def decode_body(
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
        except BodyError:
            if body.lstrip()[:1] == b"<":
                continue  # the server said gzip but sent plain markup (common): take it as it is
            raise
    if len(body) > limit:
        raise BodyError("record_too_large", f"payload decodes to more than max_record_bytes {limit} bytes")
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
        raise BodyError("invalid_content_encoding", f"Content-Encoding {coding}: {error}")
    if coding in ("br", "zstd"):
        from fastwarc.stream_io import BrotliReader, ZstdReader

        reader = BrotliReader if coding == "br" else ZstdReader
        try:
            return reader(io.BytesIO(body)).read(limit + 1)
        except OSError as exc:
            raise BodyError("invalid_content_encoding", f"Content-Encoding {coding}: {exc}") from None
    raise BodyError("invalid_content_encoding", f"unsupported Content-Encoding {coding!r}")


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
