"""How much memory one task may use: what a global stage sizes its shuffle partitions from.

Three sources, the smallest wins: the stage's ``resources.memory_gb`` (what Ray reserves for
each of its tasks), Ray's ``memory`` resource of the smallest node divided among the tasks that
node runs at once, and on the driver's node this process's memory cgroup (Ray reads only the
root cgroup's limit, so a run confined to a nested cgroup would otherwise size from the whole
machine).
"""

from __future__ import annotations

import math
from pathlib import Path

#: Private memory of an idle Ray worker with pyarrow, numpy and polars imported; a task's
#: working memory is what is left of its share after this.
WORKER_BASELINE_BYTES = 300 * 2**20
#: The driver, raylet and GCS on the driver's node, charged to its cgroup beside the tasks (the
#: driver alone peaked at 0.88 GiB clustering 3M documents' edges).
NODE_DAEMONS_BYTES = 1280 * 2**20
#: The least working memory a task is sized for, however small the share works out.
MIN_WORKING_BYTES = 64 * 2**20

_CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_memory_limit(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = _CGROUP_ROOT) -> int | None:
    """The tightest memory limit on this process's cgroup and its ancestors (v1 or v2), or None
    when there is none (or no cgroup filesystem)."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits: list[int] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: one unified hierarchy
            base, name = root, "memory.max"
        elif "memory" in controllers.split(","):
            base, name = root / "memory", "memory.limit_in_bytes"
        else:
            continue
        folder = base / path.lstrip("/")
        while True:
            try:
                text = (folder / name).read_text().strip()
            except OSError:
                text = ""
            if text.isdigit() and int(text) < 2**60:  # v1 writes "no limit" as a huge number, v2 as "max"
                limits.append(int(text))
            if folder == base or base not in folder.parents:
                break
            folder = folder.parent
    return min(limits) if limits else None


def task_memory_bytes(task_cpus: float, memory_gb: float | None = None) -> int:
    """Memory one task of ``task_cpus`` CPUs may use: ``memory_gb`` when the stage sets it, else
    the smallest node's share (Ray's ``memory`` resource over its CPUs, times ``task_cpus``),
    capped on a one-node cluster by its cgroup, less the object store and the node's daemons."""
    import ray

    shares = [memory_gb * 2**30] if memory_gb else []
    alive = [node for node in ray.nodes() if node.get("Alive")]  # a dead node stays listed
    for node in alive:
        resources = node.get("Resources", {})
        if resources.get("CPU"):
            running = max(1, math.floor(resources["CPU"] / task_cpus))
            shares.append(resources.get("memory", 0) / running)
    limit = cgroup_memory_limit()
    if limit is not None and len(alive) == 1:  # the cgroup holds the whole one-node cluster
        cluster = ray.cluster_resources()
        free = limit - cluster.get("object_store_memory", 0) - NODE_DAEMONS_BYTES
        shares.append(max(0, free) / max(1, math.floor(cluster.get("CPU", 1) / task_cpus)))
    return int(min(shares)) if shares else 2**30


def working_bytes(task_bytes: int) -> int:
    """What a task may allocate for its work: its share less an idle worker's own memory."""
    return max(MIN_WORKING_BYTES, task_bytes - WORKER_BASELINE_BYTES)


def release_memory() -> None:
    """Hand freed memory back to the OS: Python's garbage, Arrow's pool, then glibc's heap.
    A Ray worker lives on after a task; without this, one that ran a large shuffle task keeps its
    peak as resident memory (0.37 GiB anonymous in an idle worker at 3M documents, the process the
    kernel then OOM-killed in a 3 GiB cgroup), and the driver keeps what ``fit`` built."""
    import contextlib
    import ctypes
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)
