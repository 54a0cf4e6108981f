"""Turn the ``sources:`` of a config into a list of files to read, before any work starts.

Listing happens on the driver so that a path that matches nothing fails the run up front with
the key that named it. Local paths and globs on any fsspec filesystem are expanded here; plain
remote URLs (http, s3, ...) are taken as they are, and a ``list_file`` (Common Crawl's
``warc.paths.gz``) supplies one path or URL per line. Reading happens in Ray tasks.
"""

from __future__ import annotations

import os
import posixpath
import zlib
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import fsspec

from curate.config import ConfigError, DownloadConfig, SourceConfig
from curate.download import is_remote, url_path

_FORMAT_SUFFIXES = {
    ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
    ".warc": "warc", ".arc": "warc",
    ".txt": "text", ".text": "text",
    ".tar": "archive", ".tgz": "archive", ".zip": "archive",
}
_COMPRESSION_SUFFIXES = (".gz", ".zst", ".bz2", ".xz")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst", ".zip")


#: Version-control folders: their files are the history's storage, not source files.
VCS_FOLDERS = frozenset({".git", ".hg", ".svn", ".bzr"})


@dataclass(frozen=True)
class FileTask:
    """One file for one reader task."""

    source: str  # source name in the config
    format: str  # jsonl | parquet | text | warc | code | archive
    path: str  # full path or URL
    relpath: str  # path relative to the listed root (code: repo-relative path); part of document ids
    #: > 0: the task stands for a version-control folder (``.git/``) of that many files, not read
    vcs_files: int = 0

    def to_row(self) -> dict:
        return asdict(self)


def format_of(path: str) -> str | None:
    """The format a file's suffix names (a URL's query string, e.g. a signature, is no suffix)."""
    name = url_path(path).lower()
    if name.endswith(ARCHIVE_SUFFIXES):
        return "archive"
    for suffix in (*_COMPRESSION_SUFFIXES, LZ4_SUFFIX):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return _FORMAT_SUFFIXES.get(posixpath.splitext(name)[1])


#: First bytes of the compressed streams sources may hold (the WARC reader sniffs them too).
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
LZ4_MAGIC = b"\x04\x22\x4d\x18"
#: Only fastwarc reads lz4 here, so only WARC files may be lz4-compressed.
LZ4_SUFFIX = ".lz4"


def _local_file(path: str) -> str | None:
    """The path on this machine's disk (None: remote, read only when fetched)."""
    if path.startswith("file://"):
        return path[len("file://"):]
    return None if "://" in path else path


def _leading_bytes(path: str, n: int = 16) -> bytes:
    """The first ``n`` bytes of a local file after gzip, zstd or lz4 decompression (b"": unreadable)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
            if head.startswith(GZIP_MAGIC):
                return zlib.decompressobj(31).decompress(head, n)
            if head.startswith(ZSTD_MAGIC):
                import zstandard

                return zstandard.ZstdDecompressor().decompressobj().decompress(head)[:n]
            if head.startswith(LZ4_MAGIC):
                from fastwarc.stream_io import Lz4Reader

                fh.seek(0)
                return Lz4Reader(fh).read(n)
            return head[:n]
    except Exception:  # a corrupt or unreadable file is simply not recognised; reading it reports why
        return b""


def sniff_format(path: str) -> str | None:
    """``warc`` when a local file's content is a WARC (``WARC/``) or ARC (``filedesc:``) file,
    also gzip/zstd/lz4-compressed: names like ``.warc.gz.bad`` or none at all say nothing."""
    local = _local_file(path)
    if local is None:
        return None
    head = _leading_bytes(local)
    return "warc" if head.startswith((b"WARC/", b"filedesc:")) else None


def _has_glob(pattern: str) -> bool:
    """Whether a path is a pattern; in an http(s) URL ``?`` starts the query (a signed URL), not a glob."""
    return any(ch in url_path(pattern) for ch in "*?[")


def _expand(fs, pattern: str) -> list[tuple[str, str]]:
    """(file, path relative to the pattern's root) for a file, folder or glob.

    Symbolic links are listed, never descended into (fsspec's find/glob list a link as an entry
    of its own), so each one is accounted for: :func:`link_out_of_tree` then keeps the reader
    from following one that leads out of the folder or glob it was found in.
    """
    if _has_glob(pattern):
        root = pattern.split("*")[0].split("?")[0].split("[")[0].rsplit("/", 1)[0]
        files = [p for p in sorted(fs.glob(pattern)) if fs.isfile(p)]
    elif fs.isdir(pattern):
        root = pattern
        files = sorted(fs.find(pattern))
    elif fs.exists(pattern):
        root = posixpath.dirname(pattern)
        files = [pattern]
    else:
        files, root = [], pattern
    root = fs._strip_protocol(root).rstrip("/")
    out = []
    for f in files:
        stripped = fs._strip_protocol(f)
        rel = stripped[len(root) + 1 :] if stripped.startswith(root + "/") else posixpath.basename(stripped)
        out.append((f, rel))
    return out


def link_out_of_tree(task: FileTask, named: list[str]) -> str | None:
    """Where a listed local symlink leads, when that is outside the folder or glob that listed it.

    A folder of data must not become a way to read ``/etc/passwd``: a link found by listing is
    read only if its target stays inside the listed root. A path the user named itself (not by
    a folder or glob) is what they asked for, link or not.
    """
    path = task.path
    if "://" in path or not os.path.islink(path):
        return None
    from fsspec.implementations.local import LocalFileSystem

    if any(LocalFileSystem._strip_protocol(p) == path for p in named if not _has_glob(p)):
        return None
    root = path[: -len(task.relpath)] if path.endswith("/" + task.relpath) else posixpath.dirname(path)
    real_root, target = os.path.realpath(root), os.path.realpath(path)
    return None if os.path.commonpath([real_root, target]) == real_root else target


def _url_relpath(url: str) -> str:
    parts = urlsplit(url)
    return parts.path.lstrip("/") or parts.netloc


def _task(source: SourceConfig, index: int, path: str, rel: str) -> FileTask:
    if source.format in ("code", "archive"):
        fmt = "archive" if source.format == "archive" or path.lower().endswith(ARCHIVE_SUFFIXES) else "code"
    else:
        fmt = source.format or format_of(path) or sniff_format(path)
    if fmt is None:
        raise ConfigError(
            f"sources.{index}.format: cannot infer the format of {path!r}; set format: jsonl|parquet|text|warc|code|archive"
        )
    if fmt != "warc" and url_path(path).lower().endswith(LZ4_SUFFIX):
        raise ConfigError(
            f"sources.{index}.paths: {path!r} is lz4-compressed, which curate reads only for WARC files (through "
            f"fastwarc), not for format {fmt}; decompress it or recompress it with zstd or gzip")
    return FileTask(source=source.name, format=fmt, path=path, relpath=rel)


def read_list_file(source: SourceConfig, index: int, download: DownloadConfig) -> list[tuple[str, str]]:
    """(url, relpath) for each line of a list file; relative entries get ``url_prefix``."""
    from curate.download import DownloadError, fetch

    location = source.list_file
    try:
        local = str(fetch(location, download, storage_options=source.storage_options).path) if is_remote(location) else location
        with fsspec.open(local, "rt", compression=fsspec.utils.infer_compression(url_path(location)),
                         encoding="utf-8") as handle:
            entries = [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")]
    except (DownloadError, OSError) as exc:
        raise ConfigError(f"sources.{index}.list_file: cannot read {location!r}: {exc}") from None
    out = []
    for entry in entries:
        check_protocol(entry, f"sources.{index}.list_file")
        out.append(_list_entry(entry, source, index, remote_list=is_remote(location)))
    return out


def _list_entry(entry: str, source: SourceConfig, index: int, remote_list: bool) -> tuple[str, str]:
    """(url, relpath) of one list-file line.

    A remote list is someone else's data, so it may only name remote files: a ``file://`` entry,
    or one that would resolve to this machine's disk (through a local ``url_prefix``), is a
    ConfigError naming ``sources.N.list_file``, and an absolute path is taken relative to
    ``url_prefix`` like any other path, never read from local disk. A local list file is the
    user's own and may list local absolute paths.
    """
    if "://" in entry:
        url, rel = entry, _url_relpath(entry)
    elif entry.startswith("/") and not remote_list:
        url, rel = entry, entry.lstrip("/")
    elif source.url_prefix:
        rel = entry.lstrip("/")
        url = source.url_prefix.rstrip("/") + "/" + rel
    elif entry.startswith("/"):
        url, rel = entry, entry  # a remote list naming a local path: refused just below
    else:
        raise ConfigError(f"sources.{index}.url_prefix: {source.list_file!r} lists relative entries like {entry!r}; "
                          "set url_prefix (e.g. https://data.commoncrawl.org/)")
    if remote_list and not is_remote(url):
        raise ConfigError(f"sources.{index}.list_file: the remote list {source.list_file!r} names the local file "
                          f"{url!r}; a remote list may only name remote files")
    return url, rel


_PROTOCOL_EXTRAS = {"s3": "s3fs (pip install 'curate[cloud]')", "gs": "gcsfs (pip install 'curate[cloud]')",
                    "gcs": "gcsfs (pip install 'curate[cloud]')", "hf": "huggingface_hub"}


def check_protocol(url: str, key: str) -> None:
    """Fail at plan time, naming the key, when a URL cannot be parsed or its filesystem is not installed."""
    from curate.download import protocol_of

    try:
        protocol = protocol_of(url)
        url_path(url)
    except ValueError as exc:  # "http://[::1/x": Python's URL parser refuses it
        raise ConfigError(f"{key}: {url!r} is not a valid URL: {exc}") from None
    if not protocol or protocol in ("file", "local", "http", "https"):
        return  # http(s) downloads go through requests; listing/globbing http needs fsspec[http]
    try:
        fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError) as exc:
        needs = _PROTOCOL_EXTRAS.get(protocol, "the fsspec implementation for it")
        raise ConfigError(f"{key}: {url!r} needs {needs}: {exc}") from None


def list_source_files(source: SourceConfig, index: int, download: DownloadConfig | None = None) -> list[FileTask]:
    """Every file of one source; ConfigError naming ``sources.N.<key>`` when nothing is there."""
    tasks: list[FileTask] = []
    for pattern in [*source.paths, *([source.list_file] if source.list_file else [])]:
        check_protocol(pattern, f"sources.{index}.{'paths' if pattern in source.paths else 'list_file'}")
    for pattern in source.paths:
        if is_remote(pattern) and not _has_glob(pattern):
            tasks.append(_task(source, index, pattern, _url_relpath(pattern)))  # checked when fetched
            continue
        fs, _, _ = fsspec.get_fs_token_paths(pattern, storage_options=source.storage_options)
        matched = _expand(fs, fs._strip_protocol(pattern))
        if not matched:
            raise ConfigError(f"sources.{index}.paths: {pattern!r} matches no file (source {source.name!r})")
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        vcs: dict[str, list[str]] = {}  # .git/ folder -> [its full path, its files...]
        for path, rel in matched:
            full = path if protocol in ("file", "local") or "://" in path else f"{protocol}://{path}"
            if source.format in ("code", "archive"):
                parts = rel.split("/")
                at = next((i for i, part in enumerate(parts[:-1]) if part in VCS_FOLDERS), None)
                if at is not None:  # one row per version-control folder, with its file count
                    folder = "/".join(parts[: at + 1])
                    vcs.setdefault(folder, [full[: len(full) - len(rel)] + folder]).append(rel)
                    continue
                if any(part.startswith(".") for part in parts):  # .github/, .eslintrc.js: a `hidden` row
                    tasks.append(FileTask(source=source.name, format="code", path=full, relpath=rel))
                    continue
            tasks.append(_task(source, index, full, rel))
        for folder, (full, *files) in vcs.items():
            tasks.append(FileTask(source=source.name, format="code", path=full, relpath=folder, vcs_files=len(files)))
    if source.list_file:
        for url, rel in read_list_file(source, index, download or DownloadConfig()):
            tasks.append(_task(source, index, url, rel))
    if source.max_files is not None:
        tasks = tasks[: source.max_files]
    return tasks


def list_all_files(sources: list[SourceConfig], download: DownloadConfig | None = None) -> list[FileTask]:
    tasks: list[FileTask] = []
    for index, source in enumerate(sources):
        tasks.extend(list_source_files(source, index, download))
    return tasks
