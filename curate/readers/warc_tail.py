"""The end-of-file check for WARC and ARC files: fastwarc and warcio stop silently at a cut file.

After the last record the reader calls :func:`check_tail`: the last gzip member (or, for plain
files, the last record's declared end) must be complete, and nothing unreadable may follow.
"""

from __future__ import annotations

import io
import zlib
from typing import IO

from curate.readers.capture import MAX_HTTP_HEADER_BYTES
from curate.readers.context import ReadContext
from curate.sources import GZIP_MAGIC


def check_tail(ctx: ReadContext, kind: str, last: tuple[int, int | None] | None, header_end: bytes, what: str) -> None:
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
