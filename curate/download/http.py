"""One HTTP download attempt (requests): ranges to resume, unasked codings undone, trickles cut off.

Every check here exists because a real server does it: answers 206 from another offset than
asked, ignores ``Range``, gzips a body it was asked to send as identity, or trickles bytes so
the read timeout never fires. Transient trouble raises :class:`~curate.download.errors.Retryable`
(the caller retries and resumes from the ``.part`` file); the rest is a DownloadError.
"""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from curate.config import DownloadConfig
from curate.download.errors import DownloadError, Retryable
from curate.download.urls import url_path

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
CHUNK_BYTES = 1 << 20

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_GZIP_MAGIC = b"\x1f\x8b"
# Suffixes that say a file IS in a given coding: such a file sent with that Content-Encoding is
# sent as it is (the label describes the file), so its bytes are kept, not decoded.
_CODING_SUFFIXES = {"gzip": (".gz", ".tgz"), "x-gzip": (".gz", ".tgz"), "deflate": (".zz", ".z"),
                    "zstd": (".zst", ".zstd"), "br": (".br",), "compress": (".z",)}


@dataclass(frozen=True)
class ContentRange:
    """``Content-Range: bytes first-last/total`` of a 206 reply (total None when ``*``)."""

    first: int
    last: int
    total: int | None

    @classmethod
    def parse(cls, header: str | None) -> ContentRange | None:
        match = _CONTENT_RANGE.fullmatch((header or "").strip())
        if match is None:
            return None
        first, last, total = match.groups()
        return cls(int(first), int(last), None if total == "*" else int(total))



class _GzipDecoder:
    """Undoes a gzip or deflate transfer coding chunk by chunk (gzip members may follow one another)."""

    def __init__(self, coding: str) -> None:
        self.wbits = zlib.MAX_WBITS | 16 if "gzip" in coding else zlib.MAX_WBITS
        self.inflate = zlib.decompressobj(self.wbits)

    def feed(self, chunk: bytes) -> bytes:
        out = []
        while chunk:
            out.append(self.inflate.decompress(chunk))
            chunk = self.inflate.unused_data
            if chunk:
                self.inflate = zlib.decompressobj(self.wbits)
        return b"".join(out)

    @property
    def complete(self) -> bool:
        return self.inflate.eof


def body_decoder(url: str, coding: str, head: bytes) -> _GzipDecoder | None:
    """How to turn an unasked ``Content-Encoding`` back into the file the URL names (None: keep the bytes).

    We ask for ``identity``, so a coded reply is either a server compressing on the fly (undo it,
    or the reader sees compressed bytes and rejects every record) or the classic mislabel of a
    compressed file: ``a.jsonl.gz`` sent as it is with ``Content-Encoding: gzip`` (the bytes ARE
    the file; undoing the "coding" would store the wrong file). The URL's suffix decides, then the
    bytes: a path ending in that coding's suffix (``.gz``/``.tgz`` for gzip, ``.zst`` for zstd, …)
    keeps the bytes, and so does a gzip label on a body that does not start with gzip's magic
    bytes (the label lies). Otherwise gzip and deflate are undone; any other coding is a
    DownloadError naming it. A gzip file that a server gzips once more is kept once-compressed.
    """
    coding = coding.strip().lower()
    if coding in ("", "identity") or url_path(url).lower().endswith(_CODING_SUFFIXES.get(coding, ())):
        return None
    if coding in ("gzip", "x-gzip"):
        return _GzipDecoder(coding) if head.startswith(_GZIP_MAGIC) else None
    if coding == "deflate":
        return _GzipDecoder(coding)
    raise DownloadError(f"{url}: the server sent Content-Encoding: {coding} although curate asked for identity, "
                        "and curate cannot undo that coding")


@dataclass
class Pace:
    """Stops a transfer that trickles: each read is quick, so the read timeout never fires.

    Every window of ``timeout_seconds`` must bring ``min_bytes_per_second`` on average (retryable:
    the next attempt resumes), and ``deadline_seconds`` bounds the whole file (a DownloadError).
    The clock starts at the first body bytes: a slow answer is the read timeout's business, and a
    small file that arrives in one piece after a pause is not a trickle.
    """

    url: str
    config: DownloadConfig
    deadline: float | None  # time.monotonic() value
    window_start: float | None = None
    window_bytes: int = 0

    def check(self, nbytes: int, have: int) -> None:
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline:
            raise DownloadError(f"{self.url}: download.deadline_seconds={self.config.deadline_seconds:g} passed "
                                f"with {have} bytes fetched")
        if self.window_start is None:
            self.window_start = now
            return
        self.window_bytes += nbytes
        elapsed = now - self.window_start
        if elapsed >= self.config.timeout_seconds:
            if self.window_bytes < self.config.min_bytes_per_second * elapsed:
                raise Retryable(f"too slow: {self.window_bytes} bytes in {elapsed:.1f} s, below "
                                 f"download.min_bytes_per_second={self.config.min_bytes_per_second:g}")
            self.window_start, self.window_bytes = now, 0


def _request_headers(have: int, max_bytes: int | None) -> dict[str, str]:
    headers = {"Accept-Encoding": "identity"}
    if have or max_bytes is not None:
        end = "" if max_bytes is None else str(max_bytes - 1)
        headers["Range"] = f"bytes={have}-{end}"
    return headers


def _get(session, url: str, headers: dict[str, str], config: DownloadConfig):
    """The streamed reply; transient trouble is retryable, the rest (redirect loops, bad URLs) a DownloadError."""
    import requests

    try:
        return session.get(url, headers=headers, stream=True, timeout=config.timeout_seconds)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise Retryable(f"{type(exc).__name__}: {exc}") from exc
    except requests.TooManyRedirects as exc:
        raise DownloadError(f"{url}: redirect loop (more than {session.max_redirects} redirects): {exc}") from None
    except requests.RequestException as exc:
        raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from None
    except (ValueError, UnicodeError) as exc:  # a URL that urllib3 or the IDNA codec cannot encode
        raise DownloadError(f"{url}: not a valid URL: {exc}") from None


def _unsatisfiable(response, part: Path, have: int) -> int:
    """A 416 to ``bytes=<have>-``: done when the file has ``have`` bytes, else our partial is not the file."""
    match = re.fullmatch(r"bytes\s+\*/(\d+)", (response.headers.get("Content-Range") or "").strip())
    if match is None or int(match.group(1)) == have:
        return 0  # we already hold every byte there is
    part.unlink(missing_ok=True)
    raise Retryable(f"HTTP 416: the file has {match.group(1)} bytes, the partial copy {have}: starting over")


def _body_start(response, part: Path, have: int) -> tuple[int, ContentRange | None]:
    """Where the reply's body goes in ``part``: 0 for a whole file, Content-Range's first byte for a 206.

    A 206 that starts before the bytes we hold (at byte 0, say) overwrites from there; one that
    starts after them, or says nowhere, would leave a hole: the partial file is dropped and the
    next attempt starts over.
    """
    if response.status_code != 206:
        return 0, None
    span = ContentRange.parse(response.headers.get("Content-Range"))
    if span is None or span.first > have:
        part.unlink(missing_ok=True)
        where = "no usable Content-Range" if span is None else f"a body starting at byte {span.first}"
        raise Retryable(f"206 with {where} while holding {have} bytes: starting over")
    return span.first, span


def http_attempt(session, url: str, part: Path, config: DownloadConfig, max_bytes: int | None,
                  pace: Pace) -> int:
    """One HTTP request writing into ``part``; returns bytes received. Raises Retryable on transient trouble."""
    have = part.stat().st_size if part.exists() else 0
    if max_bytes is not None and have >= max_bytes:
        return 0
    response = _get(session, url, _request_headers(have, max_bytes), config)
    with response:
        status = response.status_code
        if status == 416 and have:
            return _unsatisfiable(response, part, have)
        if status in RETRY_STATUS:
            raise Retryable(f"HTTP {status}")
        if status >= 400:
            raise DownloadError(f"{url}: HTTP {status} {response.reason}")
        start, span = _body_start(response, part, have)
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        return _receive(response, url, part, start, span, expected, max_bytes, pace)


def _receive(response, url: str, part: Path, start: int, span: ContentRange | None, expected: int | None,
             max_bytes: int | None, pace: Pace) -> int:
    """Copy the body into ``part`` from byte ``start``, then check it is all there; returns bytes written."""
    decoder: _GzipDecoder | None = None
    received = [0, 0]  # bytes off the wire, bytes written
    try:
        read = getattr(response.raw, "read1", response.raw.read)  # read1: one recv at most, so pace sees a trickle
        head = _read_head(read)
        decoder = body_decoder(url, response.headers.get("Content-Encoding", ""), head)
        if decoder is not None and start:
            part.unlink(missing_ok=True)  # byte offsets of a coded body are not offsets of the file
            raise Retryable("a resumed reply came content-coded: starting over")
        _copy_body(read, head, part, start, decoder, max_bytes, pace, received)
    except zlib.error as exc:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{url}: the body sent as Content-Encoding: gzip/deflate is not valid ({exc})") from None
    except (DownloadError, Retryable):
        _drop_coded(part, decoder)
        raise
    except Exception as exc:  # requests/urllib3 ProtocolError, ReadTimeoutError; OSError
        if not isinstance(exc, OSError) and not type(exc).__module__.startswith(("urllib3", "requests", "http")):
            raise
        _drop_coded(part, decoder)
        raise Retryable(f"connection lost after {start + received[1]} bytes: {exc}") from exc
    wire, written = received
    if max_bytes is None or start + written < max_bytes:
        _check_complete(part, start + written, wire, expected, span, decoder)
    return written


def _read_head(read) -> bytes:
    """The body's first bytes, at least enough to see a magic number (one read may bring one byte)."""
    head = read(CHUNK_BYTES, decode_content=False)
    while 0 < len(head) < len(_GZIP_MAGIC):
        more = read(CHUNK_BYTES, decode_content=False)
        if not more:
            break
        head += more
    return head


def _copy_body(read, head: bytes, part: Path, start: int, decoder: _GzipDecoder | None, max_bytes: int | None,
               pace: Pace, received: list[int]) -> None:
    """Write ``head`` and what follows at ``start`` (decoded when coded), counting into ``received``."""
    with open(part, "r+b" if part.exists() else "wb") as out:
        out.truncate(start)
        out.seek(start)
        chunk = head
        while chunk:
            received[0] += len(chunk)
            data = decoder.feed(chunk) if decoder is not None else chunk
            if max_bytes is not None:
                data = data[: max(0, max_bytes - start - received[1])]
            out.write(data)
            received[1] += len(data)
            pace.check(len(chunk), start + received[1])
            if max_bytes is not None and start + received[1] >= max_bytes:
                return
            chunk = read(CHUNK_BYTES, decode_content=False)


def _drop_coded(part: Path, decoder: _GzipDecoder | None) -> None:
    """A decoded partial file cannot be resumed by byte offset: the next attempt starts over."""
    if decoder is not None:
        part.unlink(missing_ok=True)


def _check_complete(part: Path, size: int, wire: int, expected: int | None, span: ContentRange | None,
                    decoder: _GzipDecoder | None) -> None:
    """The body is as long as Content-Length said and the file as long as Content-Range said."""
    if expected is not None and wire < expected:
        _drop_coded(part, decoder)
        raise Retryable(f"body truncated: {wire} of {expected} bytes")
    if decoder is not None and not decoder.complete:
        part.unlink(missing_ok=True)
        raise Retryable("the content-coded body ended inside its coded stream")
    if span is None:
        return
    if size < span.last + 1 or (span.total is not None and size < span.total):
        raise Retryable(f"body truncated: have {size} of {span.total or span.last + 1} bytes")
    if size > span.last + 1 or (span.total is not None and size > span.total):
        part.unlink(missing_ok=True)
        raise Retryable(f"Content-Range {span.first}-{span.last}/{span.total} does not match the {size} bytes "
                         "received: starting over")


