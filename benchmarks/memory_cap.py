"""Run a command with a hard memory cap: a Linux memory cgroup that the kernel enforces.

A cap is the honest way to show that a run does not need the memory its input would take: give
the whole process tree (driver, raylet, GCS, workers, and Ray's shared-memory object store, whose
pages are charged to the cgroup that wrote them) a few GiB, feed it many times that, and see it
finish with no OOM kill. Page cache from reading inputs and writing outputs is charged too, but the
kernel reclaims it under the cap, so the cgroup's own peak reads close to the cap by design; the
sampled ``rss + shmem`` is the memory the run could not give back.

Needs a writable cgroup filesystem (root in most containers): cgroup v2 (``memory.max``) or v1
(``memory.limit_in_bytes``). :func:`available` says whether this machine has one.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

V2_ROOT = Path("/sys/fs/cgroup")
V1_ROOT = Path("/sys/fs/cgroup/memory")


def _root() -> tuple[Path, int] | None:
    """(parent folder for a new cgroup, cgroup version) or None when none is writable here."""
    if (V2_ROOT / "cgroup.controllers").exists() and "memory" in (V2_ROOT / "cgroup.controllers").read_text():
        own = Path("/proc/self/cgroup").read_text().strip().splitlines()[-1].split(":", 2)[2].lstrip("/")
        parent = V2_ROOT / own
        if os.access(parent, os.W_OK):
            return parent, 2
    if (V1_ROOT / "memory.limit_in_bytes").exists() and os.access(V1_ROOT, os.W_OK):
        return V1_ROOT, 1
    return None


def available() -> bool:
    return _root() is not None


class MemoryCap:
    """A fresh memory cgroup of ``limit_bytes``. Start the capped process with
    ``preexec_fn=cap.enter`` (its children inherit the cgroup); read the peaks after it ends.

    ``peak_unreclaimable`` is the largest ``rss + shmem`` sampled (v1 ``memory.stat``; v2 ``anon +
    shmem``): the process heaps plus the object store, without page cache."""

    def __init__(self, limit_bytes: int, interval: float = 0.5) -> None:
        root = _root()
        if root is None:
            raise RuntimeError("no writable memory cgroup here (needs root and a cgroup filesystem)")
        parent, self.version = root
        self.path = parent / f"curate-bench-{uuid.uuid4().hex[:8]}"
        self.path.mkdir()
        if self.version == 2:
            if not (self.path / "memory.max").exists():  # v2 gives a child memory files only when delegated
                self.path.rmdir()
                raise RuntimeError(f"cgroup v2: the memory controller is not enabled for children of {parent} "
                                   "(add +memory to its cgroup.subtree_control)")
            (self.path / "memory.max").write_text(str(limit_bytes))
            (self.path / "memory.swap.max").write_text("0")
        else:
            (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
        self.limit = limit_bytes
        self.interval = interval
        self.peak_unreclaimable = 0
        self.peak_charged = self.oom_kills = 0  # read by close()
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def enter(self) -> None:
        """Move the calling process into the cgroup (runs in the child, before exec)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def _stat(self) -> dict[str, int]:
        stat = {}
        for line in (self.path / "memory.stat").read_text().splitlines():
            key, value = line.split()
            stat[key] = int(value)
        return stat

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                stat = self._stat()
            except OSError:
                return
            used = stat.get("anon", 0) + stat.get("shmem", 0) if self.version == 2 else \
                stat.get("total_rss", 0) + stat.get("total_shmem", 0)
            self.peak_unreclaimable = max(self.peak_unreclaimable, used)
            time.sleep(self.interval)

    def _peak_charged(self) -> int:
        """The kernel's own peak of everything charged, page cache included."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        path = self.path / name
        return int(path.read_text()) if path.exists() else 0

    def _oom_kills(self) -> int:
        if self.version == 2:
            events = dict(line.split() for line in (self.path / "memory.events").read_text().splitlines())
            return int(events.get("oom_kill", 0))
        control = dict(line.split() for line in (self.path / "memory.oom_control").read_text().splitlines())
        return int(control.get("oom_kill", 0))

    def close(self) -> None:
        """Stop sampling, keep the kernel's counts (``peak_charged``, ``oom_kills``) and remove the
        cgroup (once every process in it has exited)."""
        self._stop.set()
        self._sampler.join()
        self.peak_charged, self.oom_kills = self._peak_charged(), self._oom_kills()
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:  # processes still leaving (Ray's reapers)
                time.sleep(0.2)
