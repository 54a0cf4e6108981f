"""Per-stage counts of a run, summed in one place (a small actor on Ray): workers report each
batch, the driver reads the totals for ``stats/summary.json`` and the progress display."""

from __future__ import annotations

import contextlib
import os
import sys
import time

from curate.ids import INPUT_METRIC, IdIndex

#: Metrics merged by maximum instead of sum.
MAX_METRICS = ("peak_rss_mb",)


class StatsTotals:
    """Sums per-batch metrics from every worker, keyed by stage, and knows what is in flight.

    On Ray it lives in one small actor (:func:`make_stats_actor`); the in-process executor
    (:mod:`curate.runtime.local`) holds one directly. Callers go through :func:`ask` and
    :func:`tell`, which work with either. ``started`` / ``record`` bracket each batch, so when a
    worker process dies (killed, out of memory) the driver can still say which stage and which
    input it was working on.
    """

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}
        self.in_flight: dict[tuple[str, int], tuple[str, float]] = {}
        self.ids = IdIndex()

    def claim_ids(self, file: str, digests) -> dict[str, int]:
        """Record ids are unique per run: see :mod:`curate.ids`."""
        return self.ids.claim(file, digests)

    def started(self, stage: str, where: str, pid: int) -> None:
        self.in_flight[(stage, pid)] = (where, time.time())

    def record(self, stage: str, metrics: dict[str, float], pid: int | None = None) -> None:
        self.in_flight.pop((stage, pid), None)
        total = self.stages.setdefault(stage, {"first_start": metrics["start"], "last_end": metrics["end"]})
        total["first_start"] = min(total["first_start"], metrics["start"])
        total["last_end"] = max(total["last_end"], metrics["end"])
        for key, value in metrics.items():
            if key in MAX_METRICS or key.startswith(INPUT_METRIC):  # a retried read reports its files again
                total[key] = max(total.get(key, 0), value)
            elif key not in ("start", "end"):
                total[key] = total.get(key, 0) + value

    def finished(self, stage: str, pid: int) -> None:
        self.in_flight.pop((stage, pid), None)

    def restore(self, stages: dict[str, dict[str, float]]) -> None:
        """Metrics of stages a resumed run skipped, as the checkpoint recorded them."""
        self.stages.update(stages)

    def snapshot(self) -> dict[str, dict[str, float]]:
        return self.stages

    def unfinished(self) -> list[tuple[str, str]]:
        """(stage, input) of batches started and never reported, oldest first."""
        return [(stage, where) for (stage, _), (where, _) in sorted(self.in_flight.items(), key=lambda kv: kv[1][1])]


def ask(stats, method: str, *args, timeout: float | None = None):
    """Call ``method`` on the run's stats (in process, or its Ray actor) and wait for the answer."""
    if isinstance(stats, StatsTotals):
        return getattr(stats, method)(*args)
    import ray

    return ray.get(getattr(stats, method).remote(*args), timeout=timeout)


def tell(stats, method: str, *args) -> None:
    """Call ``method`` on the run's stats without waiting (a Ray actor call is sent, not awaited)."""
    if isinstance(stats, StatsTotals):
        getattr(stats, method)(*args)
    else:
        getattr(stats, method).remote(*args)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def started(stats, stage: str, where: str) -> None:
    """Announce a batch before working on it; waits for the stats actor, because a worker that is
    killed right after would otherwise take the announcement with it."""
    if stats is not None:
        with contextlib.suppress(Exception):  # bookkeeping must never fail the work itself
            ask(stats, "started", stage, where, os.getpid(), timeout=30)


def report_batch(stats, stage: str, start: float, **metrics: float) -> None:
    if stats is not None:
        tell(stats, "record", stage, {"start": start, "end": time.time(), "batches": 1, "peak_rss_mb": peak_rss_mb(),
                                      **metrics}, os.getpid())


def make_stats_actor():
    import ray

    return ray.remote(num_cpus=0)(StatsTotals).remote()
