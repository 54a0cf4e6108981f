"""The run as one lazy Ray Dataset: read, each stage in its mode (tasks, an actor pool, or a
global stage's fit then per-batch pass), checkpoint boundaries, and the write to the sinks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate.config import LoadedConfig, StageSpec
from curate.runtime.failures import GLOBAL_STEP, StageFailed, find_stage_failure, worker_death
from curate.runtime.read import group_tasks, read_tasks
from curate.runtime.runner import StageRunner, run_stateless
from curate.runtime.stats import ask, started, tell
from curate.sources import FileTask


@dataclass
class PlannedStage:
    spec: StageSpec
    mode: str  # "tasks", "actors" or "global"
    ray_args: dict[str, Any]
    cores: float | None = None  # the CPUs the run has (a local Ray: the machine's cores)


def plan_stage(spec: StageSpec, cores: float, actor_cpu_scale: float = 1.0) -> PlannedStage:
    """How a stage runs: its mode and Ray options. An actor pool grows to half the ``cores`` the
    run has (per actor's CPUs), at least one: every actor is a process with its own imports and
    model, which a small machine pays for at start-up (a 1- or 2-core run gets one per stage).
    ``actor_cpu_scale`` (:func:`curate.stage.actor_cpu_scale`) shrinks what each actor
    asks of a cluster too small to hold every pool's first actor at its configured CPUs."""
    res = spec.options.resources
    mode = spec.stage_cls.mode
    ray_args: dict[str, Any] = res.ray_options(actor=mode == "actors")
    if mode == "actors" and actor_cpu_scale < 1.0:
        ray_args["num_cpus"] = round(res.cpus * actor_cpu_scale, 4)
    if res.batch_size:
        ray_args["batch_size"] = res.batch_size
    if mode == "global":
        return PlannedStage(spec, "global", ray_args, cores)
    if mode == "actors":
        size = res.concurrency or max(1, int(cores // max(res.cpus, 1e-9)) // 2)
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

    from curate.outputs import write_batch

    resume = checkpoints.latest_complete() if checkpoints is not None else None
    if resume is not None:
        ds = checkpoints.load(resume)
        if stats is not None:
            ask(stats, "restore", resume.info()["metrics"])
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
        return apply_global_stage(ds, stage.spec, stats, staging / "artifacts" / key if staging is not None else None,
                                  cores=stage.cores)
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


def apply_global_stage(ds, spec: StageSpec, stats=None, artifacts_dir: Path | None = None, cores: float | None = None):
    """A global stage on the dataset so far: ``fit`` on all of it (materialised once, since it is
    read twice), then the per-batch ``process`` with the fitted state, through :class:`StageRunner`
    in tasks, then the documents the stage made, if any, added in the run's schema."""
    import ray

    from curate.schema import conform_to_schema
    from curate.stage import FitContext

    key = spec.key
    instance = spec.stage_cls(spec.options, key=key)
    started(stats, key, GLOBAL_STEP)
    try:
        ds = ds.materialize()
        state = instance.fit(ds, FitContext(key=key, artifacts_dir=artifacts_dir, stats=stats, cores=cores))
        made = instance.documents_made()
    except Exception as exc:
        if find_stage_failure(exc) is not None:
            raise  # an upstream stage failed while this one gathered its input
        raise worker_death(exc, stats) or StageFailed(key, f"{type(exc).__name__}: {exc}") from exc
    if stats is not None:
        tell(stats, "finished", key, os.getpid())
    args = spec.options.resources.ray_options()
    out = ds.map_batches(run_stateless, fn_kwargs={"spec": spec, "stats": stats, "state": ray.put(state)},
                         batch_size=None, batch_format="pyarrow", **args)
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

    def metrics() -> dict[str, dict[str, float]]:
        if stats is None:
            return {}
        return {k: v for k, v in ask(stats, "snapshot").items() if k in upstream}

    # A worker that dies while this runs the upstream stages is turned into a StageFailed by the
    # run's own handler (run._execute), as for the final write.
    return checkpoints.save(ds, boundary, metrics, staging / "artifacts" if staging is not None else None)
