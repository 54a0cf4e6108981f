"""Run a pipeline on Ray Data: read -> stages -> write, streaming over Arrow batches.

A stage's :attr:`~curate.stage.Stage.mode` says how it runs: ``tasks`` in Ray tasks, ``actors``
in actor pools (``setup()`` once per actor), ``global`` as ``fit()`` on the whole dataset, then
the same per-batch pass in tasks (:func:`apply_global_stage`). Every per-batch pass is wrapped by
:class:`StageRunner`, which hides already-rejected rows from the stage, keeps one schema per
batch, reports per-stage metrics to a small stats actor, and turns any exception into
:class:`StageFailed` naming the stage.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.config import DownloadConfig, LoadedConfig, SourceConfig, StageSpec
from curate.ids import INPUT_METRIC, CachedIds, FileIds, IdIndex, input_metric
from curate.schema import BASE_SCHEMA, add_missing_columns, alive_mask, text_bytes
from curate.sources import FileTask

logger = logging.getLogger("curate")

#: Code files are small: read this many per task instead of one task per file.
CODE_FILES_PER_TASK = 64


class StageFailed(RuntimeError):
    """A stage raised; carries the stage key and a description of the cause."""

    def __init__(self, stage: str, cause: str, where: str = "") -> None:
        super().__init__(stage, cause, where)
        self.stage, self.cause, self.where = stage, cause, where

    def __str__(self) -> str:
        where = f" (on {self.where})" if self.where else ""
        return f"stage '{self.stage}' failed{where}: {self.cause}"


_REMOTE_FAILURE = re.compile(r"StageFailed: (stage '.*?' failed.*?)(?:\n\n|\Z)", re.S)


def find_stage_failure(exc: BaseException) -> StageFailed | str | None:
    """Our StageFailed from the exception chain, or its message from a remote traceback.

    Ray Data re-raises worker errors as ``RayTaskError(UserCodeException)`` whose text holds
    the worker's traceback, not our exception object; we read the message back from it.
    """
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if type(current) is StageFailed:  # not Ray's RayTaskError(StageFailed) subclass: its str is a traceback
            return current
        stack.extend([current.__cause__, current.__context__, getattr(current, "cause", None)])
    found = _REMOTE_FAILURE.search(str(exc))
    return found.group(1).strip() if found else None


#: What a global stage is doing while it is in flight (see worker_death).
GLOBAL_STEP = "its global step"


def memory_hint(stage: str) -> str:
    return (f"lower stages.{stage}.resources.batch_size or .concurrency, or set stages.{stage}.resources.memory_gb "
            "so Ray places fewer of its workers on a node")


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def worker_death(exc: BaseException, stats=None) -> StageFailed | None:
    """A worker process that died (killed, crashed, out of memory) after Ray's retries, as a StageFailed.

    Ray's error does not say which of our stages the process was running; the stats actor does:
    every batch is announced before it starts and cleared when it reports.
    """
    import ray
    from ray import exceptions as rex

    kinds = [e for e in _exception_chain(exc)
             if isinstance(e, rex.OutOfMemoryError | rex.WorkerCrashedError | rex.RayActorError | rex.NodeDiedError)]
    if not kinds:
        return None
    unfinished: list[tuple[str, str]] = []
    if stats is not None:
        with contextlib.suppress(Exception):
            unfinished = ray.get(stats.unfinished.remote(), timeout=10)
    # A global stage is "in flight" from the moment it gathers its input, which runs the stages
    # before it: a batch-level entry names the culprit more precisely.
    unfinished.sort(key=lambda entry: entry[1] == GLOBAL_STEP)
    stage, where = unfinished[0] if unfinished else ("unknown", "")
    detail = str(kinds[0]).strip().splitlines()[0]
    if isinstance(kinds[0], rex.OutOfMemoryError):
        cause = f"out of memory: Ray's memory monitor killed its worker ({detail}); {memory_hint(stage)}"
    else:
        cause = (f"its worker process died ({type(kinds[0]).__name__}: {detail}) and Ray's retries "
                 f"(stages.{stage}.resources.max_retries) are used up; if the node ran out of memory: "
                 f"{memory_hint(stage)}")
    return StageFailed(stage, cause, where)


# --------------------------------------------------------------------------- ray session


def _raylet_messages_to_stderr() -> None:
    """Send the raylet's warnings (worker start-up counts, ...) to stderr, i.e. the run's log file.

    Ray's driver prints them on stdout from a background thread, past logging; quiet mode
    promises Ray's own messages go to ``OUTPUT_DIR/_logs/``. The failures among them (dead
    workers, OOM kills) reach the user through our own error report.
    """
    with contextlib.suppress(ImportError, AttributeError):
        import ray._private.worker as ray_worker

        def to_stderr(data: dict, *args: Any, **kwargs: Any) -> None:
            for line in data.get("lines", []):
                print(f"({data.get('pid', 'ray')}) {line}", file=sys.stderr)

        if hasattr(ray_worker, "print_to_stdstream"):
            ray_worker.print_to_stdstream = to_stderr


def _quiet_ray_logging() -> None:
    _raylet_messages_to_stderr()
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    # Ray Data logs a failing task at ERROR before raising it; we report the failure ourselves.
    for name in ("ray", "ray.data", "ray.train", "ray.tune"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextlib.contextmanager
def stderr_to_file(path: Path | None) -> Iterator[None]:
    """Send this process's file descriptor 2 to ``path`` (None: leave it alone).

    Ray's C++ core worker writes warnings straight to fd 2, past Python's logging; in quiet mode
    they go to the run's log file instead of the user's terminal, except when Ray itself ends
    the driver (a dead GCS): then :mod:`curate.ray_log` shows why on the terminal.
    """
    if path is None:
        yield
        return
    from curate.ray_log import stderr_to_log

    with stderr_to_log(path):
        yield


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a ``host:port`` nobody answers on: Ray itself retries the GCS for minutes."""
    import socket

    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return  # "auto", ray:// client addresses: Ray resolves and reports those itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RuntimeError(f"no Ray cluster answers at {address} (RAY_ADDRESS / ray.address): {exc}") from None


def init_ray(loaded: LoadedConfig, verbose: bool = False) -> dict[str, Any]:
    """Join RAY_ADDRESS / ray.address if given, else start a local Ray sized to this machine."""
    if not verbose:
        _quiet_ray_logging()
    import ray

    ray_cfg = loaded.pipeline.ray
    address = ray_cfg.address or os.environ.get("RAY_ADDRESS")
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {
            "include_dashboard": False if address is None else None,
            "logging_level": logging.INFO if verbose else logging.ERROR,
            "log_to_driver": verbose,
            "configure_logging": True,
        }
        if address:
            _check_reachable(address)
            kwargs["address"] = address
        else:
            # "local": always a new Ray of our own, even when `ray start` left a cluster on this host
            # (ray.init() would silently join that one).
            kwargs["address"] = "local"
            # Each actor pool holds its CPUs for the whole run; on a small machine that would leave
            # no CPU for the read/filter/write tasks and the run would stall. Ray CPUs are only a
            # scheduling budget, so the local cluster gets the actors' share on top of the cores.
            kwargs["num_cpus"] = (ray_cfg.num_cpus or os.cpu_count() or 1) + actor_cpus(loaded)
            if ray_cfg.object_store_memory_gb:
                kwargs["object_store_memory"] = int(ray_cfg.object_store_memory_gb * 1024**3)
            if ray_cfg.spill_dir:
                Path(ray_cfg.spill_dir).mkdir(parents=True, exist_ok=True)
                kwargs["_system_config"] = {"object_spilling_config": json.dumps(
                    {"type": "filesystem", "params": {"directory_path": str(ray_cfg.spill_dir)}})}
        context = ray.init(**{k: v for k, v in kwargs.items() if v is not None})
        dashboard_url = getattr(context, "dashboard_url", None)
    else:
        dashboard_url = None
    ctx = ray.data.DataContext.get_current()
    if not verbose:
        _quiet_ray_logging()  # again: importing ray.data installs its own logging config
    ctx.enable_progress_bars = verbose
    ctx.print_on_execution_start = verbose
    ctx.enable_auto_log_stats = False
    resources = ray.cluster_resources()
    cpus = resources.get("CPU", 0)
    if cpus - actor_cpus(loaded) < 1:
        raise RuntimeError(
            f"the actor pools need {actor_cpus(loaded):g} CPUs for their first actors and the cluster has {cpus:g}: "
            "nothing would be left for the other stages. Lower stages.<name>.resources.cpus or add nodes."
        )
    return {"address": address or "local", "cpus": cpus, "gpus": resources.get("GPU", 0),
            "actor_cpus": actor_cpus(loaded),
            "dashboard_url": f"http://{dashboard_url}" if dashboard_url and "://" not in dashboard_url else dashboard_url}


def actor_cpus(loaded: LoadedConfig) -> float:
    """CPUs that the first actor of every actor-pool stage holds for the whole run."""
    return sum(spec.options.resources.cpus for spec in loaded.stages if spec.stage_cls.mode == "actors")


# --------------------------------------------------------------------------- metrics


#: Metrics merged by maximum instead of sum.
MAX_METRICS = ("peak_rss_mb",)


def _stats_actor_class():
    import ray

    @ray.remote(num_cpus=0)
    class StatsCollector:
        """Sums per-batch metrics from every worker, keyed by stage, and knows what is in flight.

        ``started`` / ``record`` bracket each batch, so when a worker process dies (killed, out of
        memory) the driver can still say which stage and which input it was working on.
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

    return StatsCollector


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def _started(stats, stage: str, where: str) -> None:
    """Announce a batch before working on it; waits for the stats actor, because a worker that is
    killed right after would otherwise take the announcement with it."""
    if stats is not None:
        import ray

        with contextlib.suppress(Exception):  # bookkeeping must never fail the work itself
            ray.get(stats.started.remote(stage, where, os.getpid()), timeout=30)


def _report(stats, stage: str, start: float, **metrics: float) -> None:
    if stats is not None:
        stats.record.remote(stage, {"start": start, "end": time.time(), "batches": 1, "peak_rss_mb": peak_rss_mb(),
                                    **metrics}, os.getpid())


# --------------------------------------------------------------------------- reading


def fetch_for_read(task: FileTask, source: SourceConfig, download: DownloadConfig) -> tuple[str, dict[str, float]]:
    """A local path to read ``task`` from (fetched into the cache when remote), and fetch metrics."""
    from curate.download import fetch, is_remote, verify_checksum

    checksum = next((source.checksums[k] for k in (task.path, task.relpath, posixpath.basename(task.relpath))
                     if k in source.checksums), None)
    if not is_remote(task.path):
        if checksum:
            verify_checksum(Path(task.path), checksum, task.path)
        return task.path, {}
    result = fetch(task.path, download, checksum=checksum, max_bytes=source.max_bytes,
                   storage_options=source.storage_options)
    return str(result.path), {"downloaded_bytes": result.bytes_downloaded, "cached_files": int(result.from_cache),
                              "fetch_attempts": result.attempts}


def size_on_disk(path: str) -> int:
    """Bytes the read stage takes in: the input file as stored (compressed), local or downloaded."""
    try:
        return os.path.getsize(path.removeprefix("file://"))
    except OSError:  # vanished or unreadable: the reader reports it as a row of its own
        return 0


def read_tasks(
    batch: pa.Table, sources: dict[str, SourceConfig], download: DownloadConfig, batch_rows: int, stats=None,
    read_dir: str | None = None,
) -> Iterator[pa.Table]:
    """Ray UDF: each input row is a JSON list of FileTasks (a read group); yields document batches.

    A file that cannot be fetched fails the run (StageFailed naming the URL) unless its source
    says ``on_error: skip``, in which case one rejected row records it. With ``read_dir`` every
    finished group is also kept as one Parquet file there, and a group found there is served from
    it (a resumed run does not fetch or parse it again); a group with a skipped file is not kept.
    """
    from curate import checkpoint

    pending: list[pa.Table] = []
    pending_rows = 0
    for encoded in batch.column("tasks").to_pylist():
        cache_dir = Path(read_dir) if read_dir else None
        key = checkpoint.group_key(encoded) if cache_dir else ""
        hit = checkpoint.cached_group(cache_dir, key) if cache_dir else None
        if hit is not None:
            tables = _replay_group(hit, batch_rows, stats)
            writer = None
        else:
            writer = checkpoint.GroupWriter(cache_dir, key) if cache_dir else None
            tables = _read_group(encoded, sources, download, batch_rows, stats, writer)
        for table in tables:
            pending.append(table)
            pending_rows += table.num_rows
            if pending_rows >= batch_rows:
                yield pa.concat_tables(pending)
                pending, pending_rows = [], 0
    if pending:
        yield pa.concat_tables(pending)


def _read_group(encoded: str, sources: dict[str, SourceConfig], download: DownloadConfig, batch_rows: int,
                stats, writer) -> Iterator[pa.Table]:
    from curate.download import DownloadError
    from curate.readers import read_file
    from curate.readers.context import ReadContext

    group_metrics: dict[str, float] = {}
    skipped = False
    try:
        for task_dict in json.loads(encoded):
            task = FileTask(**task_dict)
            source = sources[task.source]
            start = time.time()
            _started(stats, "read", task.path)
            rows = alive = nbytes = size = 0
            fetched: dict[str, float] = {}
            file_ids = FileIds.for_task(task, source)
            try:
                try:
                    local_path, fetched = fetch_for_read(task, source, download)
                    size = size_on_disk(local_path)
                    tables = read_file(task, source, batch_rows, local_path)
                except DownloadError as exc:
                    if source.on_error != "skip":
                        raise
                    skipped, fetched = True, {"unreachable_files": 1}
                    row = ReadContext(task, source, task.path).file_error("unreachable", str(exc))
                    tables = iter([pa.Table.from_pylist([row], schema=BASE_SCHEMA)])
                for table in tables:
                    rows += table.num_rows
                    alive += int(pc.sum(alive_mask(table)).as_py() or 0)
                    nbytes += text_bytes(table)
                    file_ids.add(table)
                    if writer is not None:
                        writer.write(table)
                    yield table
                file_ids.check(stats)
            except Exception as exc:
                raise StageFailed("read", f"{type(exc).__name__}: {exc}", where=task.path) from exc
            metrics = {"files": 1, "docs_in": rows, "docs_out": alive, "rejected": rows - alive, "bytes_in": size,
                       "bytes_out": nbytes, "seconds": time.time() - start, **fetched,
                       input_metric(task.source, task.path): rows}
            for name, value in metrics.items():
                group_metrics[name] = group_metrics.get(name, 0) + value
            _report(stats, "read", start, **metrics)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        # A skipped file is not read: keeping the group would freeze the outage into the cache,
        # so the next run fetches it again.
        if skipped:
            writer.abort()
        else:
            writer.commit(group_metrics)


def _replay_group(path: Path, batch_rows: int, stats) -> Iterator[pa.Table]:
    """A group finished by an earlier attempt: its documents and its read metrics, from the cache."""
    import pyarrow.parquet as pq

    from curate.checkpoint import cached_metrics

    start = time.time()
    metrics = cached_metrics(path)
    cached_ids = CachedIds()
    for record_batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        table = pa.Table.from_batches([record_batch])
        cached_ids.add(table)
        yield table
    cached_ids.check(stats)
    metrics.pop("seconds", None)
    _report(stats, "read", start, **metrics, resumed_files=metrics.get("files", 0), seconds=time.time() - start)


def group_tasks(tasks: list[FileTask]) -> list[dict[str, str]]:
    """One Ray input row per data file, and per chunk of code files."""
    rows: list[dict[str, str]] = []
    code: list[FileTask] = []
    for task in tasks:
        if task.format == "code":
            code.append(task)
        else:
            rows.append({"tasks": json.dumps([task.to_row()])})
    for i in range(0, len(code), CODE_FILES_PER_TASK):
        rows.append({"tasks": json.dumps([t.to_row() for t in code[i : i + CODE_FILES_PER_TASK]])})
    return rows


# --------------------------------------------------------------------------- stages


class StageRunner:
    """Wrap a stage for Ray: alive rows in, same schema out, metrics reported, errors named."""

    def __init__(self, spec: StageSpec, stats=None, state: Any = None) -> None:
        self.stage = spec.stage_cls(spec.options, key=spec.key)
        self.key = spec.key
        self.stats = stats
        self.declared = self.stage.output_columns()
        self.defaults = self.stage.column_defaults()
        try:
            self.stage.setup()
        except Exception as exc:
            raise StageFailed(self.key, f"setup() raised {type(exc).__name__}: {exc}") from exc
        if state is not None:  # a global stage's fitted state (an object ref on the cluster)
            import ray

            self.stage.state = ray.get(state) if isinstance(state, ray.ObjectRef) else state

    def __call__(self, batch: pa.Table) -> pa.Table:
        start = time.time()
        mask = alive_mask(batch)
        alive = batch.filter(mask)
        dead = batch.filter(pc.invert(mask))
        bytes_in = text_bytes(alive)
        if alive.num_rows:
            where = f"a batch of {alive.num_rows} documents from {alive.column('id')[0].as_py()!r}"
            _started(self.stats, self.key, where)
            try:
                processed = self.stage.process(alive)
            except MemoryError as exc:
                raise StageFailed(self.key, f"out of memory (MemoryError: {exc}); {memory_hint(self.key)}",
                                  where=where) from exc
            except Exception as exc:
                raise StageFailed(self.key, f"{type(exc).__name__}: {exc}", where=where) from exc
            if processed.num_rows != alive.num_rows:
                raise StageFailed(self.key, f"process() returned {processed.num_rows} rows for {alive.num_rows}; "
                                  "stages must mark rejects, not drop rows")
            missing = [c for c in self.declared if c not in processed.column_names]
            if missing:
                raise StageFailed(self.key, f"process() did not add its declared columns {missing}")
        else:
            processed = add_missing_columns(alive, self.declared, self.defaults)
        dead = add_missing_columns(dead, self.declared, self.defaults).select(processed.column_names).cast(processed.schema)
        out_alive = alive_mask(processed)
        docs_out = int(pc.sum(out_alive).as_py() or 0)
        _report(self.stats, self.key, start, docs_in=alive.num_rows, docs_out=docs_out,
                rejected=alive.num_rows - docs_out, bytes_in=bytes_in,
                bytes_out=text_bytes(processed.filter(out_alive)), seconds=time.time() - start,
                **self.stage.take_metrics())
        return pa.concat_tables([processed, dead])


def run_stateless(batch: pa.Table, spec: StageSpec, stats=None, state: Any = None) -> pa.Table:
    """Ray task UDF for stages without heavy state (constructing them is cheap)."""
    return StageRunner(spec, stats, state)(batch)


# --------------------------------------------------------------------------- the plan


@dataclass
class PlannedStage:
    spec: StageSpec
    mode: str  # "tasks", "actors" or "global"
    ray_args: dict[str, Any]


def plan_stage(spec: StageSpec, cluster_cpus: float) -> PlannedStage:
    res = spec.options.resources
    mode = spec.stage_cls.mode
    ray_args: dict[str, Any] = res.ray_options(actor=mode == "actors")
    if res.batch_size:
        ray_args["batch_size"] = res.batch_size
    if mode == "global":
        return PlannedStage(spec, "global", ray_args)
    if mode == "actors":
        size = res.concurrency or max(1, int(cluster_cpus // max(res.cpus, 1e-9)) // 2)
        return PlannedStage(spec, "actors", {**ray_args, "pool": (1, max(1, size))})
    return PlannedStage(spec, "tasks", ray_args)


def build_dataset(
    loaded: LoadedConfig, tasks: list[FileTask], planned: list[PlannedStage], stats, staging: Path, sinks: list,
    checkpoints=None,
):
    """The lazy Ray Dataset for the whole run (executed by iterating it): read, the stages, and
    :func:`curate.outputs.write_batch` giving every batch to the ``sinks`` (files under ``staging``).

    With ``checkpoints`` (:class:`curate.checkpoint.Checkpoints`) the run starts after the last
    complete boundary of its chain, and materialises every boundary it passes.
    """
    import ray

    from curate.outputs import write_batch

    resume = checkpoints.latest_complete() if checkpoints is not None else None
    if resume is not None:
        ds = checkpoints.load(resume)
        if stats is not None:
            ray.get(stats.restore.remote(resume.info()["metrics"]))
        if staging is not None:
            checkpoints.restore_artifacts(resume, staging / "artifacts")
        remaining = planned[resume.index + 1:]
    else:
        ds = _read_dataset(loaded, tasks, stats, checkpoints.read_dir if checkpoints is not None else None)
        remaining = planned
    for stage in remaining:
        ds = _apply_stage(ds, stage, stats, staging)
        boundary = checkpoints.after(planned.index(stage)) if checkpoints is not None else None
        if boundary is not None:
            upstream = {"read", *(p.spec.key for p in planned[: planned.index(stage) + 1])}
            ds = _save_boundary(ds, checkpoints, boundary, stats, upstream, staging)
    return ds.map_batches(write_batch, fn_kwargs={"staging": str(staging), "sinks": sinks}, batch_size=None,
                          batch_format="pyarrow")


def _read_dataset(loaded: LoadedConfig, tasks: list[FileTask], stats, read_dir: Path | None):
    import ray

    sources = {s.name: s for s in loaded.pipeline.sources}
    rows = group_tasks(tasks)
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    download = loaded.pipeline.download
    return ds.map_batches(
        read_tasks,
        batch_size=1,
        batch_format="pyarrow",
        compute=ray.data.TaskPoolStrategy(size=download.max_parallel),
        max_retries=loaded.pipeline.read.max_retries,
        fn_kwargs={"sources": sources, "download": download, "batch_rows": loaded.pipeline.read.batch_rows,
                   "stats": stats, "read_dir": str(read_dir) if read_dir else None},
    )


def _apply_stage(ds, stage: PlannedStage, stats, staging: Path | None):
    import ray

    args = dict(stage.ray_args)
    batch_size = args.pop("batch_size", None)
    key = stage.spec.key
    if stage.mode == "global":
        # files a global stage makes (a trained scorer) are run outputs
        return apply_global_stage(ds, stage.spec, stats, staging / "artifacts" / key if staging is not None else None)
    if stage.mode == "actors":
        low, high = args.pop("pool")
        return ds.map_batches(
            StageRunner,
            fn_constructor_kwargs={"spec": stage.spec, "stats": stats},
            compute=ray.data.ActorPoolStrategy(min_size=low, max_size=high),
            batch_size=batch_size,
            batch_format="pyarrow",
            **args,
        )
    return ds.map_batches(
        run_stateless,
        fn_kwargs={"spec": stage.spec, "stats": stats},
        batch_size=batch_size,
        batch_format="pyarrow",
        **args,
    )


def apply_global_stage(ds, spec: StageSpec, stats=None, artifacts_dir: Path | None = None):
    """A global stage on the dataset so far: ``fit`` on all of it (materialised once, since it is
    read twice), then the per-batch ``process`` with the fitted state, through :class:`StageRunner`
    in tasks, then the documents the stage made, if any, added in the run's schema."""
    import ray

    from curate.schema import conform_to_schema
    from curate.stage import FitContext

    key = spec.key
    instance = spec.stage_cls(spec.options, key=key)
    _started(stats, key, GLOBAL_STEP)
    try:
        ds = ds.materialize()
        state = instance.fit(ds, FitContext(key=key, artifacts_dir=artifacts_dir, stats=stats))
        made = instance.documents_made()
    except Exception as exc:
        if find_stage_failure(exc) is not None:
            raise  # an upstream stage failed while this one gathered its input
        raise worker_death(exc, stats) or StageFailed(key, f"{type(exc).__name__}: {exc}") from exc
    if stats is not None:
        stats.finished.remote(key, os.getpid())
    args = spec.options.resources.ray_options()
    out = ds.map_batches(run_stateless, fn_kwargs={"spec": spec, "stats": stats, "state": ray.put(state)},
                         batch_size=spec.options.resources.batch_size, batch_format="pyarrow", **args)
    if made is None or made.num_rows == 0:
        return out
    # The pass's schema without running it (out.schema() would run the pass once more): the
    # materialised input's, plus the stage's declared columns that the runner guarantees.
    schema = ds.schema()
    schema = getattr(schema, "base_schema", schema)
    for name, dtype in instance.output_columns().items():
        if name not in schema.names:
            schema = schema.append(pa.field(name, dtype))
    return out.union(ray.data.from_arrow(conform_to_schema(made, schema)))


def _save_boundary(ds, checkpoints, boundary, stats, upstream: set[str], staging: Path | None):
    """Materialise the dataset at a checkpoint boundary (this runs every stage before it)."""
    import ray

    def metrics() -> dict[str, dict[str, float]]:
        if stats is None:
            return {}
        return {k: v for k, v in ray.get(stats.snapshot.remote()).items() if k in upstream}

    # A worker that dies while this runs the upstream stages is turned into a StageFailed by the
    # run's own handler (run._execute), as for the final write.
    return checkpoints.save(ds, boundary, metrics, staging / "artifacts" if staging is not None else None)


def make_stats_actor():
    return _stats_actor_class().remote()
