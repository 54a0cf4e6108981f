"""Archives of source trees (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz, .tar.zst, .zip): one
document per regular-file member, judged by :func:`curate.readers.code.code_row`.

Nothing is ever extracted: members are read into memory, at most ``max_file_bytes + 1`` bytes
each, so no member name can make us write anywhere. Names are still checked and the dangerous
ones kept as rejected rows (``unsafe_path``: absolute, ``..``, drive letters), as are members
that are not plain files (``not_a_regular_file``: symlinks, hardlinks, devices, fifos — never
followed). Header sizes are not trusted: a member is read with a hard cap and judged
``oversized`` by the larger of what it declares and what it really holds. Once
``max_archive_bytes`` of uncompressed data have gone by, the archive stops with one
``archive_too_large`` row (key ``<relpath>#limit``).

Keys are ``<archive relpath>!<member name>``; the ``path`` column is the member's path inside
the repo: one top-level folder shared by all members (GitHub's ``repo-<sha>/``) is stripped.
A zip's names are all known up front, so the folder is stripped only when every member is in
it. A tar is a stream: the first member decides the folder (its first component, when it is a
folder or inside one; none when it is ``./``) and it is stripped from every member until one
lies outside it; from then on nothing is stripped. (So a tar without a wrapper folder whose
first member is ``src/`` has ``src/`` stripped from the members before the first one outside
it: the price of reading in one pass. Tars made by ``git archive``, GitHub and ``tar -C dir .``
are read right.) Members under a dot-folder or named with a dot (``.git/``,
``.github/``, ``.DS_Store``) and macOS ``__MACOSX/`` copies become ``hidden`` rows with their text,
as in folder sources; they never decide the wrapper folder.

Tar members are read from a stream (``r|``), so an archive is decompressed once, in order; the
compression (gzip, bzip2, xz, zstd) is known by its first bytes and undone by readers that raise
``EOFError`` on a cut file (one ``truncated_file`` row after the members read). Zips need random
access, which the local (or downloaded) file gives.
"""

from __future__ import annotations

import bz2
import contextlib
import copy
import gzip
import lzma
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

from curate.download import url_path
from curate.readers.code import code_row, hidden_reason
from curate.readers.context import ReadContext
from curate.readers.zstd_stream import open_zstd

_DRIVE = re.compile(r"^[A-Za-z]:")
#: How much more than it reads a zip member is told to hold (see :func:`_zip_rows`).
_READ_SLACK = 1 << 20
#: A damaged zip member spoils only itself (zips are random access); a tar stream stops.
_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError, NotImplementedError)


def member_parts(name: str) -> list[str] | None:
    """A member name's path components, or None when unsafe (absolute, ``..``, drive, NUL)."""
    norm = name.replace("\\", "/")  # Windows-made archives: a backslash is a separator there
    if norm.startswith("/") or _DRIVE.match(norm) or "\x00" in norm:
        return None
    parts = [part for part in norm.split("/") if part not in ("", ".")]
    if ".." in parts:
        return None
    return parts


def member_limit(ctx: ReadContext) -> int:
    """The most bytes of one member worth decompressing: past either cap, :func:`code_row` rejects
    it with a marker and its size, unread (a folder's file is read up to ``max_record_bytes`` so its
    row keeps the text; an archive's member is where a zip bomb would be, so the tighter cap holds)."""
    return min(ctx.source.max_file_bytes, ctx.source.max_record_bytes)


def _skipped(parts: list[str]) -> bool:
    """A hidden member (code_row's rule): it never decides the wrapper folder."""
    return hidden_reason("/".join(parts)) is not None


class _TopFolder:
    """Strips the top-level folder that members share (see the module docstring for the rule)."""

    def __init__(self, top: str | None = None, decided: bool = False) -> None:
        self.top, self.decided = top, decided

    def strip(self, parts: list[str], is_dir: bool) -> list[str]:
        if not parts:  # "./": names are relative to the repo root, there is no wrapper folder
            self.decided = True
            return parts
        inside = len(parts) > 1 or is_dir
        if not self.decided:
            self.decided = True
            self.top = parts[0] if inside else None
        if self.top is not None:
            if inside and parts[0] == self.top:
                return parts[1:]
            self.top = None  # a member outside it: stop stripping for good
        return parts


def _zip_top(infos: list[zipfile.ZipInfo]) -> _TopFolder:
    tops = set()
    for info in infos:
        parts = member_parts(info.filename)
        if not parts or _skipped(parts[:1]):
            continue
        if len(parts) == 1 and not info.is_dir():
            return _TopFolder(None, decided=True)  # a file at the top: nothing to strip
        tops.add(parts[0])
    return _TopFolder(tops.pop() if len(tops) == 1 else None, decided=True)


def _limit_row(ctx: ReadContext, members: int, nbytes: int) -> dict[str, Any]:
    limit = ctx.source.max_archive_bytes
    return ctx.rejected(f"{ctx.task.relpath}#limit", b"", "archive_too_large",
                        f"stopped after {members} members: {nbytes} uncompressed bytes > max_archive_bytes {limit}")


def _member_key(relpath: str, name: str, n: int, used: set[str]) -> str:
    """``<archive>!<member>``, unique in the archive: a name it repeats (tar appends newer
    versions; zip allows it) gets ``#<member number>``."""
    key = f"{relpath}!{name}"
    while key in used:
        key = f"{key}#{n}"
    used.add(key)
    return key


def _unsafe(ctx: ReadContext, key: str, name: str) -> dict[str, Any]:
    return ctx.rejected(key, b"", "unsafe_path", f"member name {name!r} is absolute or leaves the archive", path=name)


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"symbolic link to {member.linkname!r}"
    if member.islnk():
        return f"hard link to {member.linkname!r}"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "fifo"
    return f"tar member type {member.type!r}"


#: Compressed tar streams by their first bytes, and readers that raise EOFError when one is cut
#: short. (tarfile's own ``r|*`` decompression ends silently there, and a tar cut at a member
#: boundary then reads as a complete, shorter archive.)
_TAR_COMPRESSIONS: tuple[tuple[bytes, Callable[[IO[bytes]], IO[bytes]]], ...] = (
    (b"\x1f\x8b", lambda raw: gzip.GzipFile(fileobj=raw)),
    (b"BZh", bz2.BZ2File),
    (b"\xfd7zXZ\x00", lzma.LZMAFile),
    (b"\x28\xb5\x2f\xfd", open_zstd),
)


def _uncompressed(stack: contextlib.ExitStack, raw: IO[bytes]) -> IO[bytes]:
    """The tar bytes of a (possibly compressed) archive file; both handles close with ``stack``."""
    stack.enter_context(raw)
    head = raw.read(6)
    raw.seek(0)
    for magic, opener in _TAR_COMPRESSIONS:
        if head.startswith(magic):
            return stack.enter_context(opener(raw))
    return raw


def _tar_rows(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    relpath = ctx.task.relpath
    file_limit = member_limit(ctx)
    archive_limit = ctx.source.max_archive_bytes
    top = _TopFolder()
    used_keys: set[str] = set()
    with contextlib.ExitStack() as stack:
        handle = _uncompressed(stack, ctx.open(compression=None))
        tar = stack.enter_context(tarfile.open(fileobj=handle, mode="r|", errors="replace"))
        n = 0
        while (member := tar.next()) is not None:
            n += 1
            ctx.position = f"member {n} {member.name!r}"
            # tar.offset is where this member's data ends in the uncompressed stream: the stream
            # must pass through all of it, read or not, so that is what the budget counts.
            if tar.offset > archive_limit:
                yield _limit_row(ctx, n - 1, tar.offset)
                return
            key = _member_key(relpath, member.name, n, used_keys)
            parts = member_parts(member.name)
            if parts is None:
                if not member.isdir():
                    yield _unsafe(ctx, key, member.name)
                continue
            if not _skipped(parts[:1]):  # .DS_Store, __MACOSX/ beside the folder must not unset it
                parts = top.strip(parts, is_dir=member.isdir())
            if member.isdir() or not parts:
                continue  # hidden members go on, to a `hidden` row (code_row)
            path = "/".join(parts)
            if not member.isreg():
                yield ctx.rejected(key, b"", "not_a_regular_file", f"{path}: {_tar_kind(member)}; not followed", path=path)
                continue
            data = b""
            if member.size <= file_limit:  # a tar header's size is exact: it places the next header
                source = tar.extractfile(member)
                data = source.read(file_limit + 1) if source is not None else b""
            yield code_row(ctx, key, path, data, max(member.size, len(data)))


def _zip_not_regular(info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16  # Unix mode, when the zip was made on Unix
    if stat.S_IFMT(mode) == 0 or stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "symbolic link"
    return f"file mode {stat.filemode(mode)}"


def _zip_rows(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    relpath = ctx.task.relpath
    file_limit = member_limit(ctx)
    archive_limit = ctx.source.max_archive_bytes
    used = 0
    with ctx.open(compression=None) as handle, zipfile.ZipFile(handle) as archive:
        infos = archive.infolist()
        top = _zip_top(infos)
        used_keys: set[str] = set()
        for n, info in enumerate(infos, 1):
            name = info.filename
            ctx.position = f"member {n} {name!r}"
            if info.is_dir():
                continue
            key = _member_key(relpath, name, n, used_keys)
            parts = member_parts(name)
            if parts is None:
                yield _unsafe(ctx, key, name)
                continue
            if not _skipped(parts[:1]):
                parts = top.strip(parts, is_dir=False)
            if not parts:
                continue
            path = "/".join(parts)
            kind = _zip_not_regular(info)
            if kind is not None:
                yield ctx.rejected(key, b"", "not_a_regular_file", f"{path}: {kind}; not followed", path=path)
                continue
            if info.flag_bits & 0x1:
                yield ctx.rejected(key, b"", "encrypted", f"{path}: encrypted member", path=path)
                continue
            data = b""
            if info.file_size <= file_limit:
                # The declared size may lie (zip bombs): read against our own cap, never theirs.
                # zipfile stops at the declared size and checks the CRC there, so declare more
                # than a read of ``cap`` can decompress (it inflates at most max(n, 4 KiB) per
                # step): a member longer than the cap is cut short, not called corrupt.
                cap = min(file_limit + 1, archive_limit - used + 1)
                capped = copy.copy(info)
                capped.file_size = cap + _READ_SLACK
                try:
                    with archive.open(capped) as member:
                        data = member.read(cap)
                except _MEMBER_ERRORS as exc:
                    yield ctx.rejected(key, b"", "corrupt_member", f"{path}: {type(exc).__name__}: {exc}", path=path)
                    continue
                used += len(data)
                if used > archive_limit:
                    yield _limit_row(ctx, n - 1, used)
                    return
            yield code_row(ctx, key, path, data, max(info.file_size, len(data)))


def iter_rows(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    if url_path(ctx.task.path).lower().endswith(".zip"):
        yield from _zip_rows(ctx)
    else:
        yield from _tar_rows(ctx)
