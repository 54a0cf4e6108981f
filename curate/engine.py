"""Run a pipeline on Ray Data: read -> stages -> write, streaming over Arrow batches.

Stateless stages run as Ray tasks; stateful stages (models) run in actor pools, ``setup()``
once per actor. Every stage is wrapped by :class:`StageRunner`, which hides already-rejected
rows from the stage, keeps one schema per batch, reports per-stage metrics to a small stats
actor, and turns any exception into :class:`StageFailed` naming the stage.
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
from curate.schema import BASE_SCHEMA, alive_mask, text_bytes
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


# --------------------------------------------------------------------------- ray session


def _quiet_ray_logging() -> None:
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    # Ray Data logs a failing task at ERROR before raising it; we report the failure ourselves.
    for name in ("ray", "ray.data", "ray.train", "ray.tune"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextlib.contextmanager
def stderr_to_file(path: Path | None) -> Iterator[None]:
    """Send this process's file descriptor 2 to ``path`` (None: leave it alone).

    Ray's C++ core worker writes warnings straight to fd 2, past Python's logging; in quiet mode
    they go to the run's log file instead of the user's terminal.
    """
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


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
            kwargs["address"] = address
        else:
            # Each actor pool holds its CPUs for the whole run; on a small machine that would leave
            # no CPU for the read/filter/write tasks and the run would stall. Ray CPUs are only a
            # scheduling budget, so the local cluster gets the actors' share on top of the cores.
            kwargs["num_cpus"] = (ray_cfg.num_cpus or os.cpu_count() or 1) + actor_cpus(loaded)
            if ray_cfg.object_store_memory_gb:
                kwargs["object_store_memory"] = int(ray_cfg.object_store_memory_gb * 1024**3)
        ray.init(**{k: v for k, v in kwargs.items() if v is not None})
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
            "actor_cpus": actor_cpus(loaded)}


def actor_cpus(loaded: LoadedConfig) -> float:
    """CPUs that the first actor of every stateful stage's pool holds for the whole run."""
    return sum(spec.options.resources.cpus for spec in loaded.stages if spec.stage_cls.stateful)


# --------------------------------------------------------------------------- metrics


def _stats_actor_class():
    import ray

    @ray.remote(num_cpus=0)
    class StatsCollector:
        """Sums per-batch metrics from every worker, keyed by stage."""

        def __init__(self) -> None:
            self.stages: dict[str, dict[str, float]] = {}

        def record(self, stage: str, metrics: dict[str, float]) -> None:
            total = self.stages.setdefault(stage, {"first_start": metrics["start"], "last_end": metrics["end"]})
            total["first_start"] = min(total["first_start"], metrics["start"])
            total["last_end"] = max(total["last_end"], metrics["end"])
            for key, value in metrics.items():
                if key not in ("start", "end"):
                    total[key] = total.get(key, 0) + value

        def snapshot(self) -> dict[str, dict[str, float]]:
            return self.stages

    return StatsCollector


def _report(stats, stage: str, start: float, **metrics: float) -> None:
    if stats is not None:
        stats.record.remote(stage, {"start": start, "end": time.time(), "batches": 1, **metrics})


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


def read_tasks(
    batch: pa.Table, sources: dict[str, SourceConfig], download: DownloadConfig, batch_rows: int, stats=None
) -> Iterator[pa.Table]:
    """Ray UDF: each input row is a JSON list of FileTasks; yields document batches.

    A file that cannot be fetched fails the run (StageFailed naming the URL) unless its source
    says ``on_error: skip``, in which case one rejected row records it.
    """
    from curate.download import DownloadError
    from curate.readers import read_file
    from curate.readers.context import ReadContext

    pending: list[pa.Table] = []
    pending_rows = 0
    for encoded in batch.column("tasks").to_pylist():
        for task_dict in json.loads(encoded):
            task = FileTask(**task_dict)
            source = sources[task.source]
            start = time.time()
            rows = alive = nbytes = 0
            fetched: dict[str, float] = {}
            try:
                try:
                    local_path, fetched = fetch_for_read(task, source, download)
                    tables = read_file(task, source, batch_rows, local_path)
                except DownloadError as exc:
                    if source.on_error != "skip":
                        raise
                    row = ReadContext(task, source, task.path).file_error("unreachable", str(exc))
                    tables = iter([pa.Table.from_pylist([row], schema=BASE_SCHEMA)])
                for table in tables:
                    rows += table.num_rows
                    alive += int(pc.sum(alive_mask(table)).as_py() or 0)
                    nbytes += text_bytes(table)
                    pending.append(table)
                    pending_rows += table.num_rows
                    if pending_rows >= batch_rows:
                        yield pa.concat_tables(pending)
                        pending, pending_rows = [], 0
            except Exception as exc:
                raise StageFailed("read", f"{type(exc).__name__}: {exc}", where=task.path) from exc
            _report(stats, "read", start, files=1, docs_in=rows, docs_out=alive, rejected=rows - alive,
                    bytes_in=0, bytes_out=nbytes, seconds=time.time() - start, **fetched)
    if pending:
        yield pa.concat_tables(pending)


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


def _null_columns(table: pa.Table, columns: dict[str, pa.DataType]) -> pa.Table:
    for name, dtype in columns.items():
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, dtype))
    return table


class StageRunner:
    """Wrap a stage for Ray: alive rows in, same schema out, metrics reported, errors named."""

    def __init__(self, spec: StageSpec, stats=None) -> None:
        self.stage = spec.stage_cls(spec.options, key=spec.key)
        self.key = spec.key
        self.stats = stats
        self.declared = self.stage.output_columns()
        try:
            self.stage.setup()
        except Exception as exc:
            raise StageFailed(self.key, f"setup() raised {type(exc).__name__}: {exc}") from exc

    def __call__(self, batch: pa.Table) -> pa.Table:
        start = time.time()
        mask = alive_mask(batch)
        alive = batch.filter(mask)
        dead = batch.filter(pc.invert(mask))
        bytes_in = text_bytes(alive)
        if alive.num_rows:
            try:
                processed = self.stage.process(alive)
            except Exception as exc:
                first = alive.column("id")[0].as_py()
                raise StageFailed(
                    self.key, f"{type(exc).__name__}: {exc}", where=f"a batch of {alive.num_rows} documents from {first!r}"
                ) from exc
            if processed.num_rows != alive.num_rows:
                raise StageFailed(self.key, f"process() returned {processed.num_rows} rows for {alive.num_rows}; "
                                  "stages must mark rejects, not drop rows")
            missing = [c for c in self.declared if c not in processed.column_names]
            if missing:
                raise StageFailed(self.key, f"process() did not add its declared columns {missing}")
        else:
            processed = _null_columns(alive, self.declared)
        dead = _null_columns(dead, self.declared).select(processed.column_names).cast(processed.schema)
        out_alive = alive_mask(processed)
        docs_out = int(pc.sum(out_alive).as_py() or 0)
        _report(self.stats, self.key, start, docs_in=alive.num_rows, docs_out=docs_out,
                rejected=alive.num_rows - docs_out, bytes_in=bytes_in,
                bytes_out=text_bytes(processed.filter(out_alive)), seconds=time.time() - start)
        return pa.concat_tables([processed, dead])


def run_stateless(batch: pa.Table, spec: StageSpec, stats=None) -> pa.Table:
    """Ray task UDF for stages without heavy state (constructing them is cheap)."""
    return StageRunner(spec, stats)(batch)


# --------------------------------------------------------------------------- the plan


@dataclass
class PlannedStage:
    spec: StageSpec
    mode: str  # "tasks" or "actors"
    ray_args: dict[str, Any]


def plan_stage(spec: StageSpec, cluster_cpus: float) -> PlannedStage:
    res = spec.options.resources
    ray_args: dict[str, Any] = {"num_cpus": res.cpus}
    if res.gpus:
        ray_args["num_gpus"] = res.gpus
    if res.memory_gb:
        ray_args["memory"] = int(res.memory_gb * 1024**3)
    if res.batch_size:
        ray_args["batch_size"] = res.batch_size
    if spec.stage_cls.global_stage:
        return PlannedStage(spec, "global", ray_args)
    if spec.stage_cls.stateful:
        size = res.concurrency or max(1, int(cluster_cpus // max(res.cpus, 1e-9)) // 2)
        return PlannedStage(spec, "actors", {**ray_args, "pool": (1, max(1, size))})
    return PlannedStage(spec, "tasks", ray_args)


def build_dataset(
    loaded: LoadedConfig, tasks: list[FileTask], planned: list[PlannedStage], sink_fn, sink_kwargs: dict, stats
):
    """The lazy Ray Dataset for the whole run (executed by iterating it)."""
    import ray

    sources = {s.name: s for s in loaded.pipeline.sources}
    rows = group_tasks(tasks)
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    download = loaded.pipeline.download
    ds = ds.map_batches(
        read_tasks,
        batch_size=1,
        batch_format="pyarrow",
        compute=ray.data.TaskPoolStrategy(size=download.max_parallel),
        fn_kwargs={"sources": sources, "download": download, "batch_rows": loaded.pipeline.read.batch_rows,
                   "stats": stats},
    )
    for stage in planned:
        args = dict(stage.ray_args)
        batch_size = args.pop("batch_size", None)
        if stage.mode == "global":
            instance = stage.spec.stage_cls(stage.spec.options, key=stage.spec.key)
            if "staging" in sink_kwargs:  # files a global stage makes (a trained scorer) are run outputs
                instance.artifacts_dir = Path(sink_kwargs["staging"]) / "artifacts" / stage.spec.key
            ds = instance.run_global(ds, stats)
        elif stage.mode == "actors":
            low, high = args.pop("pool")
            ds = ds.map_batches(
                StageRunner,
                fn_constructor_kwargs={"spec": stage.spec, "stats": stats},
                compute=ray.data.ActorPoolStrategy(min_size=low, max_size=high),
                batch_size=batch_size,
                batch_format="pyarrow",
                **args,
            )
        else:
            ds = ds.map_batches(
                run_stateless,
                fn_kwargs={"spec": stage.spec, "stats": stats},
                batch_size=batch_size,
                batch_format="pyarrow",
                **args,
            )
    return ds.map_batches(sink_fn, fn_kwargs=sink_kwargs, batch_size=None, batch_format="pyarrow")


def make_stats_actor():
    return _stats_actor_class().remote()
