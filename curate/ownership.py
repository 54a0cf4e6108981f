"""What curate may delete: only what it created, as a marker it wrote proves.

A name is not proof (a user's ``stats/`` looks like curate's), so curate keeps its own records:

``OUTPUT_DIR/_curate_manifest.json``
    the top-level entries curate created in ``output_dir`` (written before it creates them) and,
    for each output folder it committed, the files it put there. A run replaces an output folder
    only when every file in it is listed; an ``output_dir`` holding anything unlisted is refused.
``_curate_owner.json`` inside a folder
    in each ``_staging/<run>/`` folder and each checkpoint chain: the ``output_dir`` of the
    pipeline that wrote it. Stale staging and old chains are removed only with this pipeline's
    marker, so a shared ``checkpoint.dir`` keeps other pipelines' chains and unrelated files.
``OUTPUT_DIR/_curate.lock`` (+ ``_curate.lock.json``: pid, host, start time)
    one run per ``output_dir``: a second run fails at once, naming the first.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from curate.config import ConfigError

MANIFEST = "_curate_manifest.json"
MANIFEST_FORMAT = "curate.output/1"
LOCK = "_curate.lock"
HOLDER = "_curate.lock.json"
OWNER_MARKER = "_curate_owner.json"
OWNER_FORMAT = "curate.owner/1"
#: curate's bookkeeping files: never deleted by curate, so allowed before the manifest exists
#: (a run killed between taking the lock and writing the manifest leaves only these).
BOOKKEEPING = frozenset({MANIFEST, f"{MANIFEST}.tmp", LOCK, HOLDER, f"{HOLDER}.tmp"})

_held: set[Path] = set()  # output dirs whose lock this process holds


class OwnershipError(ConfigError):
    """A path curate would write to or delete holds things curate did not create."""


class OutputDirBusy(ConfigError):
    """Another run holds the output_dir's lock."""


def identity(path: Path | str) -> str:
    """The absolute, symlink-free form of a path: how markers name a pipeline's output_dir."""
    return str(Path(path).resolve())


# --------------------------------------------------------------------------- the manifest


def read_manifest(output_dir: Path) -> dict[str, Any] | None:
    path = output_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return None
    return data


def _write_manifest(output_dir: Path, manifest: dict[str, Any]) -> None:
    tmp = output_dir / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(output_dir / MANIFEST)


def _new_manifest(output_dir: Path) -> dict[str, Any]:
    return {"format": MANIFEST_FORMAT, "output_dir": identity(output_dir), "entries": [], "files": {}}


def files_under(folder: Path) -> list[str]:
    """Every non-directory entry under ``folder`` (links included), relative, sorted."""
    if not folder.is_dir():
        return []
    out = []
    for parent, dirs, files in os.walk(folder):
        base = Path(parent).relative_to(folder)
        out += [(base / name).as_posix() for name in files]
        out += [(base / name).as_posix() for name in dirs if (Path(parent) / name).is_symlink()]
    return sorted(out)


def foreign_entries(output_dir: Path, configured: Iterable[str] = ()) -> list[str]:
    """What in ``output_dir`` curate's manifest does not vouch for: unlisted top-level entries,
    and files inside listed folders that curate did not write there. ``configured``: entries the
    config itself names as curate's folders (a checkpoint.dir or download cache inside output_dir),
    which curate never replaces wholesale."""
    if not output_dir.is_dir():
        return []
    manifest = read_manifest(output_dir) or _new_manifest(output_dir)
    listed = set(manifest["entries"]) | BOOKKEEPING | set(configured)
    foreign = sorted(entry.name for entry in output_dir.iterdir() if entry.name not in listed)
    for folder, files in sorted(manifest["files"].items()):
        known = set(files)
        foreign += [f"{folder}/{name}" for name in files_under(output_dir / folder) if name not in known]
    return foreign


def check_output_dir(output_dir: Path, configured: Iterable[str] = ()) -> None:
    """Refuse an output_dir that holds anything curate did not create (it replaces folders there)."""
    if output_dir.exists() and not output_dir.is_dir():
        raise OwnershipError(f"output_dir: {output_dir} is a file, not a folder")
    foreign = foreign_entries(output_dir, configured)
    if foreign:
        shown = ", ".join(foreign[:8]) + (f" and {len(foreign) - 8} more" if len(foreign) > 8 else "")
        raise OwnershipError(
            f"output_dir: {output_dir} holds {shown}, which curate did not create (its manifest {MANIFEST} "
            "does not list them); curate replaces its output folders there on every run, so it only uses a "
            "new or empty folder, or one it made itself. Choose another output_dir or move these out of it")


def claim(output_dir: Path, names: Iterable[str]) -> None:
    """List top-level entries in the manifest before curate creates them (under the lock)."""
    require_lock(output_dir)
    manifest = read_manifest(output_dir) or _new_manifest(output_dir)
    entries = sorted(set(manifest["entries"]) | set(names))
    if entries != manifest["entries"] or not (output_dir / MANIFEST).is_file():
        _write_manifest(output_dir, {**manifest, "entries": entries})


def record_files(output_dir: Path, files: dict[str, list[str]], keep_old: bool) -> None:
    """Record the files of committed output folders. ``keep_old`` lists old and new together
    while folders are being swapped, so a commit killed half-way leaves nothing unlisted."""
    require_lock(output_dir)
    manifest = read_manifest(output_dir) or _new_manifest(output_dir)
    recorded = dict(manifest["files"])
    for folder, names in files.items():
        recorded[folder] = sorted(set(names) | set(recorded.get(folder, []))) if keep_old else names
    _write_manifest(output_dir, {**manifest, "entries": sorted(set(manifest["entries"]) | set(files)),
                                 "files": recorded})


def created(output_dir: Path, entry: str) -> bool:
    """Whether the manifest says curate created this top-level entry of ``output_dir``."""
    manifest = read_manifest(output_dir)
    return manifest is not None and entry in manifest["entries"]


def forget(output_dir: Path, entries: Iterable[str]) -> None:
    """Drop removed top-level entries (and their recorded files) from the manifest."""
    gone = set(entries)
    if not gone:
        return
    require_lock(output_dir)
    manifest = read_manifest(output_dir) or _new_manifest(output_dir)
    _write_manifest(output_dir, {**manifest, "entries": sorted(set(manifest["entries"]) - gone),
                                 "files": {k: v for k, v in manifest["files"].items() if k not in gone}})


def first_component_inside(path: Path | str | None, output_dir: Path) -> str | None:
    """The top-level entry of ``output_dir`` that ``path`` lies under (None: outside it)."""
    if path is None:
        return None
    try:
        relative = Path(path).resolve().relative_to(output_dir.resolve())
    except ValueError:
        return None
    return relative.parts[0] if relative.parts else None


# --------------------------------------------------------------------------- inputs vs output_dir


def _local(path: str) -> str | None:
    if path.startswith("file://"):
        return path[len("file://"):]
    return None if "://" in path else path


def input_root(pattern: str) -> Path:
    """The folder a file, folder or glob reads from (a glob's part before its first wildcard)."""
    cut = min((i for i, ch in enumerate(pattern) if ch in "*?["), default=None)
    if cut is None:
        return Path(pattern)
    return Path(os.path.dirname(pattern[:cut]) or ".")


def check_overlap(output_dir: Path, sources: list, task_paths: Iterable[str]) -> None:
    """Refuse an output_dir inside an input folder (or glob root), or an input inside it."""
    out = output_dir.resolve()
    for index, source in enumerate(sources):
        named = [("paths", p) for p in source.paths] + ([("list_file", source.list_file)] if source.list_file else [])
        for key, pattern in named:
            local = _local(pattern)
            if local is None:
                continue
            root = input_root(local).resolve()
            if out == root or (root.is_dir() and out.is_relative_to(root)):
                raise ConfigError(f"output_dir: {output_dir} is inside the input {pattern!r} (sources.{index}.{key}); "
                                  "curate's outputs must not mix with what it reads")
            if root.is_relative_to(out):
                raise ConfigError(f"output_dir: {output_dir} contains the input {pattern!r} (sources.{index}.{key}); "
                                  "curate's outputs must not mix with what it reads")
    for path in task_paths:
        local = _local(path)
        if local is not None and Path(local).resolve().is_relative_to(out):
            raise ConfigError(f"output_dir: {output_dir} contains the input file {path!r}; "
                              "curate's outputs must not mix with what it reads")


# --------------------------------------------------------------------------- owner markers


def mark(folder: Path, output_dir: Path) -> None:
    """Say in ``folder`` that this pipeline (its output_dir) wrote it."""
    marker = {"format": OWNER_FORMAT, "output_dir": identity(output_dir), "pid": os.getpid(),
              "host": socket.gethostname(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (folder / OWNER_MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")


def owned_by(folder: Path, output_dir: Path) -> bool:
    """Whether ``folder`` is a real folder (not a link) carrying this pipeline's marker."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    try:
        marker = json.loads((folder / OWNER_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(marker, dict) and marker.get("format") == OWNER_FORMAT
            and marker.get("output_dir") == identity(output_dir))


def owned_children(root: Path, output_dir: Path) -> Iterator[Path]:
    """The folders directly in ``root`` that this pipeline's marker vouches for."""
    if root.is_dir() and not root.is_symlink():
        yield from (child for child in sorted(root.iterdir()) if owned_by(child, output_dir))


# --------------------------------------------------------------------------- the lock


def _holder_text(output_dir: Path) -> str:
    try:
        holder = json.loads((output_dir / HOLDER).read_text(encoding="utf-8"))
        return f"pid {holder['pid']} on host {holder['host']}, started {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process whose details were not recorded yet"


@contextmanager
def output_lock(output_dir: Path) -> Iterator[None]:
    """Hold ``output_dir``'s lock for a run; a second run fails at once, naming the first."""
    from filelock import FileLock, Timeout

    output_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(output_dir / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputDirBusy(f"output_dir: {output_dir} is in use by another curate run ({_holder_text(output_dir)}); "
                            "wait for it to finish or choose another output_dir") from None
    key = output_dir.resolve()
    try:
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        tmp = output_dir / f"{HOLDER}.tmp"
        tmp.write_text(json.dumps(holder) + "\n", encoding="utf-8")
        tmp.replace(output_dir / HOLDER)
        _held.add(key)
        yield
    finally:
        _held.discard(key)
        (output_dir / HOLDER).unlink(missing_ok=True)
        lock.release()


def require_lock(output_dir: Path) -> None:
    """Deleting or recording in output_dir is only safe while this process holds its lock."""
    if output_dir.resolve() not in _held:
        raise RuntimeError(f"{output_dir}: curate changes its records only while holding {LOCK}")
