"""Turn the ``sources:`` of a config into a list of files to read, before any work starts.

Listing happens on the driver so that a path that matches nothing fails the run up front with
the key that named it. Reading happens in Ray tasks (:mod:`curate.readers`).
"""

from __future__ import annotations

import posixpath
from dataclasses import asdict, dataclass

import fsspec

from curate.config import ConfigError, SourceConfig

_FORMAT_SUFFIXES = {
    ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
}
_COMPRESSION_SUFFIXES = (".gz", ".zst", ".bz2", ".xz")


@dataclass(frozen=True)
class FileTask:
    """One file for one reader task."""

    source: str  # source name in the config
    format: str  # jsonl | parquet | code
    path: str  # full path or URL
    relpath: str  # path relative to the listed root (code: repo-relative path)

    def to_row(self) -> dict:
        return asdict(self)


def format_of(path: str) -> str | None:
    name = path.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return _FORMAT_SUFFIXES.get(posixpath.splitext(name)[1])


def _expand(fs, pattern: str) -> list[tuple[str, str]]:
    """(file, path relative to the pattern's root) for a file, folder or glob."""
    if any(ch in pattern for ch in "*?["):
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


def list_source_files(source: SourceConfig, index: int) -> list[FileTask]:
    """Every file of one source; ConfigError naming ``sources.N.paths`` when a path matches nothing."""
    tasks: list[FileTask] = []
    for pattern in source.paths:
        fs, _, _ = fsspec.get_fs_token_paths(pattern)
        stripped = fs._strip_protocol(pattern)
        matched = _expand(fs, stripped)
        if not matched:
            raise ConfigError(f"sources.{index}.paths: {pattern!r} matches no file (source {source.name!r})")
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        for path, rel in matched:
            full = path if protocol in ("file", "local") else f"{protocol}://{path}"
            if source.format == "code":
                fmt = "code"
            else:
                fmt = source.format or format_of(path)
                if fmt is None:
                    raise ConfigError(
                        f"sources.{index}.format: cannot infer the format of {path!r}; set format: jsonl|parquet|code"
                    )
            tasks.append(FileTask(source=source.name, format=fmt, path=full, relpath=rel))
    return tasks


def list_all_files(sources: list[SourceConfig]) -> list[FileTask]:
    tasks: list[FileTask] = []
    for index, source in enumerate(sources):
        tasks.extend(list_source_files(source, index))
    return tasks
