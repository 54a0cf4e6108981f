"""The in-process executor (``executor: local``): the run on this machine without Ray.

The same readers, :class:`~curate.runtime.runner.StageRunner`, global-stage fits, checkpoints and
sinks as the Ray path (:mod:`curate.runtime.plan`), driven by the driver itself, as datatrove's
``LocalPipelineExecutor`` and Data-Juicer's default executor do. A Ray run pays for every process
it starts (Ray's daemons, each worker and actor importing ``ray.data``, pandas and our stages:
about half the CPU of a 20,000-document run on one core); this one pays for one interpreter, plus
``local.workers - 1`` processes forked from it, which inherit its imports and loaded models.

The run is cut into *segments* where every document must be seen before going on: before a
global stage (its :meth:`~curate.stage.Stage.fit` reads everything) and at checkpoint boundaries.
A segment's unit of work is one read group (the first segment) or one file of the segment before;
each unit's batches go through the segment's runners and end in an Arrow IPC file (read back
memory-mapped), a checkpoint's Parquet file, or the sinks. With ``workers > 1`` the units go to a
pool of forked processes, each reporting its stats back with its result.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.config import ConfigError, LoadedConfig
from curate.ids import duplicate_id_error
from curate.runtime.failures import GLOBAL_STEP, StageFailed
from curate.runtime.read import group_tasks, read_tasks
from curate.runtime.runner import StageRunner
from curate.runtime.stats import StatsTotals, started
from curate.sources import FileTask

#: Folder under the run's staging folder for the documents between segments (removed with it).
SEGMENTS = "_segments"


def local_workers(loaded: LoadedConfig) -> int:
    """``local.workers``, else the machine's cores (what this process may run on)."""
    configured = loaded.pipeline.local.workers
    if configured:
        return configured
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def check_local(loaded: LoadedConfig) -> None:
    """What ``executor: local`` cannot run, refused before any work (ConfigError naming the key)."""
    pipeline = loaded.pipeline
    if pipeline.ray.address or os.environ.get("RAY_ADDRESS"):
        raise ConfigError("executor: local runs without Ray, but ray.address (or RAY_ADDRESS) names a cluster; "
                          "use executor: ray to run there")
    if pipeline.shards is not None:
        raise ConfigError("shards: trainer shards are built with Ray tasks; use executor: ray")
    for spec in loaded.stages:
        if spec.stage_cls.mode == "global" and not spec.stage_cls.fits_in_process:
            raise ConfigError(f"stages.{spec.key}: {spec.stage_cls.name}'s global step runs on Ray (its models are "
                              "Ray actors); use executor: ray")


# --------------------------------------------------------------------------- the dataset between segments


@dataclass
class LocalDataset:
    """The documents between two segments, kept and rejected alike: Arrow IPC files (read back
    memory-mapped, no copy) or a checkpoint's Parquet files. What a global stage's ``fit`` gets
    on this executor (stages that accept it set ``Stage.fits_in_process``)."""

    files: list[Path]
    batch_rows: int = 2000
    workers: int = 1

    def schema(self) -> pa.Schema:
        """The first file's schema (every file has the run's schema at this point)."""
        from curate.schema import BASE_SCHEMA

        if not self.files:
            return BASE_SCHEMA
        path = self.files[0]
        if path.suffix == ".parquet":
            return pq.read_schema(path)
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).schema

    def read_file(self, path: Path) -> pa.Table:
        if path.suffix == ".parquet":
            return pq.read_table(path)
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).read_all()

    def file_tables(self, path: Path, batch_rows: int | None = None) -> Iterator[pa.Table]:
        """One file's documents in batches of ``batch_rows`` (an IPC file's are zero-copy slices of
        the mapped file; a Parquet file is decoded one batch at a time)."""
        step = batch_rows or self.batch_rows
        if path.suffix == ".parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=step):
                yield pa.Table.from_batches([batch])
            return
        table = self.read_file(path)
        for offset in range(0, table.num_rows, step):
            yield table.slice(offset, step)

    def tables(self, batch_rows: int | None = None) -> Iterator[pa.Table]:
        for path in self.files:
            yield from self.file_tables(path, batch_rows)

    def map_tables(self, fn: Callable[[pa.Table], pa.Table], batch_rows: int | None = None) -> list[pa.Table]:
        """``fn`` over every slice, the files spread over the worker processes; results in file order."""
        def one_file(index: int, stats) -> list[pa.Table]:
            return [fn(table) for table in self.file_tables(self.files[index], batch_rows)]

        per_file = run_units(len(self.files), one_file, self.workers, None, lambda i: str(self.files[i]), "map")
        return [table for tables in per_file for table in tables]


# --------------------------------------------------------------------------- units of work over processes


class WorkerStats(StatsTotals):
    """A forked worker's stats: kept as a log that the driver replays into the run's totals when
    the unit's result comes back (record ids are claimed there, against every file of the run)."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, tuple]] = []

    def claim_ids(self, file: str, digests) -> dict[str, int]:
        self.log.append(("claim_ids", (file, digests)))
        return {}

    def record(self, stage: str, metrics: dict[str, float], pid: int | None = None) -> None:
        self.log.append(("record", (stage, metrics, pid)))


@dataclass
class _Units:
    """What the forked workers find in memory: the function to run on unit ``i``."""

    run: Callable[[int, Any], Any]
    runners: list[StageRunner] = field(default_factory=list)


_UNITS: _Units | None = None


def _unit_in_worker(index: int) -> tuple[Any, list[tuple[str, tuple]]]:
    assert _UNITS is not None, "worker forked without its units"
    stats = WorkerStats()
    for runner in _UNITS.runners:
        runner.stats = stats
    return _UNITS.run(index, stats), stats.log


def run_units(count: int, run: Callable[[int, Any], Any], workers: int, stats, describe: Callable[[int], str],
              what: str, runners: list[StageRunner] | None = None, replay: Callable | None = None,
              on_result: Callable[[Any], None] | None = None, retries: int = 0) -> list[Any]:
    """``run(i, stats)`` for every unit ``i`` (in this process, or in ``workers`` processes forked
    now, so they hold everything built so far); results in unit order. ``replay`` takes a worker's
    stats log into the run's totals; ``on_result`` sees each result as it comes (progress).

    A worker process that dies (killed, out of memory) breaks the pool: a new pool reruns every
    unit without a result, at most ``retries`` times (as Ray reruns a dead worker's batch). A unit
    reports its stats only with its result, so a rerun unit is counted once; what a killed unit
    wrote is overwritten by its rerun, or, for the sinks' part files, swept before the commit
    (:func:`curate.outputs.remove_unlisted_parts`).
    """
    global _UNITS
    results: list[Any] = [None] * count
    if workers <= 1 or count <= 1:
        for i in range(count):
            results[i] = run(i, stats)
            if on_result is not None:
                on_result(results[i])
        return results
    _UNITS = _Units(run, runners or [])
    finished = [False] * count
    deaths = 0
    try:
        while not all(finished):
            todo = [i for i in range(count) if not finished[i]]
            died: tuple[BrokenProcessPool, int] | None = None
            with ProcessPoolExecutor(max_workers=min(workers, len(todo)),
                                     mp_context=multiprocessing.get_context("fork")) as pool:
                futures = {pool.submit(_unit_in_worker, i): i for i in todo}
                pending = set(futures)
                try:
                    while pending and died is None:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            i = futures[future]
                            try:
                                result, log = future.result()
                            except BrokenProcessPool as exc:
                                died = died or (exc, i)
                                continue
                            if replay is not None:
                                replay(log)
                            results[i], finished[i] = result, True
                            if on_result is not None:
                                on_result(result)
                except BaseException:
                    for future in pending:
                        future.cancel()
                    raise
            if died is not None:
                deaths += 1
                if deaths > retries:
                    raise StageFailed(what, f"a worker process died (killed, or out of memory) and the retries ({retries}: "
                                      "the smallest max_retries of the stages in this step) are used up; lower "
                                      "local.workers or read.batch_rows", where=describe(died[1])) from died[0]
    finally:
        _UNITS = None
    return results


# --------------------------------------------------------------------------- the executor


class LocalExecutor:
    """Runs one pipeline on this machine: see the module docstring."""

    def __init__(self, loaded: LoadedConfig, tasks: list[FileTask], planned: list, stats: StatsTotals,
                 staging: Path, sinks: list, checkpoints=None, workers: int = 1) -> None:
        self.loaded, self.tasks, self.planned, self.stats = loaded, tasks, planned, stats
        self.staging, self.sinks, self.checkpoints, self.workers = staging, sinks, checkpoints, workers
        self.batch_rows = loaded.pipeline.read.batch_rows
        self.sources = {s.name: s for s in loaded.pipeline.sources}
        self.file_source = {t.path: t.source for t in tasks}
        self.groups = group_tasks(tasks)  # the first segment's units
        self.segment = 0
        #: Documents a global stage made (synthesis): their file, and that stage's runner, which
        #: they skip (on Ray they join the flow after its per-batch pass too).
        self.made: dict[Path, StageRunner] = {}

    # -- stats from the workers

    def replay(self, log: list[tuple[str, tuple]]) -> None:
        for method, args in log:
            if method == "record":
                self.stats.record(*args)
            else:
                file, digests = args
                clashes = self.stats.claim_ids(file, digests)
                if clashes:
                    source = self.file_source.get(file, "?")
                    mode = self.sources[source].ids if source in self.sources else "?"
                    error = duplicate_id_error(source, file, mode, clashes)
                    raise StageFailed("read", f"{type(error).__name__}: {error}", where=file) from error

    # -- the run

    def run(self, on_records: Callable[[list[dict]], None] | None = None) -> list[dict]:
        """Every segment, then the sinks; returns the writers' records (as the Ray path's)."""
        checkpoints = self.checkpoints
        resume = checkpoints.latest_complete() if checkpoints is not None else None
        source: LocalDataset | None
        if resume is not None:
            source = self.dataset(sorted(resume.path.glob("*.parquet")))
            self.stats.restore(resume.info()["metrics"])
            checkpoints.restore_artifacts(resume, self.staging / "artifacts")
            remaining = self.planned[resume.index + 1:]
        else:
            source, remaining = None, self.planned  # None: the read groups
        pending: list[StageRunner] = []
        for stage in remaining:
            index = self.planned.index(stage)
            if stage.mode == "global":
                before = source
                source = self.materialize(source, pending)
                if source is not before:
                    self.release(before)
                state, made = self.fit(stage, source)
                runner = StageRunner(stage.spec, self.stats, state)
                if made is not None and made.num_rows:
                    source = self.add_made(source, made, stage, runner)
                pending = [runner]
            else:
                pending.append(StageRunner(stage.spec, self.stats))
            boundary = checkpoints.after(index) if checkpoints is not None else None
            if boundary is not None:
                upstream = {"read", *(p.spec.key for p in self.planned[: index + 1])}
                before = source
                source = self.save_boundary(source, pending, boundary, upstream)
                self.release(before)
                pending = []
        records = self.write(source, pending, on_records)
        self.release(source)
        return records

    def release(self, source: LocalDataset | None) -> None:
        """Delete a consumed segment's files (only ours: under the staging folder's SEGMENTS)."""
        if source is None:
            return
        ours = (self.staging / SEGMENTS).resolve()
        for path in source.files:
            if path.resolve().is_relative_to(ours):
                path.unlink(missing_ok=True)

    def dataset(self, files: list[Path]) -> LocalDataset:
        return LocalDataset(files, self.batch_rows, self.workers)

    def retries(self, source: LocalDataset | None, runners: list[StageRunner]) -> int:
        """Reruns of a step's units after a worker died: the smallest ``max_retries`` of its stages
        (``read.max_retries`` when it reads)."""
        limits = [r.max_retries for r in runners]
        if source is None:
            limits.append(self.loaded.pipeline.read.max_retries)
        return min(limits, default=0)

    def unit_count(self, source: LocalDataset | None) -> tuple[int, Callable[[int], str]]:
        if source is None:
            groups = self.groups
            return len(groups), lambda i: ", ".join(t["path"] for t in json.loads(groups[i]["tasks"])[:3])
        return len(source.files), lambda i: str(source.files[i])

    def unit_batches(self, source: LocalDataset | None, runners: list[StageRunner]) -> Callable[[int, Any], Iterator[pa.Table]]:
        """For unit ``i``: its batches (read, or from the previous segment) through ``runners``."""
        groups = self.groups if source is None else None
        read_dir = self.checkpoints.read_dir if self.checkpoints is not None else None
        pipeline = self.loaded.pipeline

        def batches(i: int, stats) -> Iterator[pa.Table]:
            if groups is not None:
                tables = read_tasks(pa.table({"tasks": [groups[i]["tasks"]]}), self.sources, pipeline.download,
                                    self.batch_rows, stats, str(read_dir) if read_dir else None)
            else:
                tables = source.file_tables(source.files[i])
            skip = self.made.get(source.files[i]) if source is not None else None
            chosen = [r for r in runners if r is not skip]
            for table in tables:
                yield apply_runners(chosen, table)

        return batches

    def materialize(self, source: LocalDataset | None, runners: list[StageRunner]) -> LocalDataset:
        """The documents so far as one IPC file per unit (nothing to do when no stage ran since)."""
        if source is not None and not runners:
            return source
        folder = self.staging / SEGMENTS / f"{self.segment:02d}"
        self.segment += 1
        folder.mkdir(parents=True, exist_ok=True)
        batches = self.unit_batches(source, runners)

        def unit(i: int, stats) -> str | None:
            path = folder / f"unit-{i:05d}.arrow"
            return str(path) if write_ipc(path, batches(i, stats)) else None

        count, describe = self.unit_count(source)
        paths = run_units(count, unit, self.workers, self.stats, describe, runners[0].key if runners else "read",
                          runners, self.replay, retries=self.retries(source, runners))
        return self.dataset([Path(p) for p in paths if p])

    def fit(self, stage, source: LocalDataset) -> tuple[Any, pa.Table | None]:
        from curate.stage import FitContext

        key = stage.spec.key
        instance = stage.spec.stage_cls(stage.spec.options, key=key)
        started(self.stats, key, GLOBAL_STEP)
        artifacts = self.staging / "artifacts" / key
        try:
            state = instance.fit(source, FitContext(key=key, artifacts_dir=artifacts, stats=self.stats,
                                                    cores=float(self.workers)))
            made = instance.documents_made()
        except StageFailed:
            raise
        except Exception as exc:
            raise StageFailed(key, f"{type(exc).__name__}: {exc}") from exc
        self.stats.finished(key, os.getpid())
        return state, made

    def add_made(self, source: LocalDataset, made: pa.Table, stage, runner: StageRunner) -> LocalDataset:
        """``source`` plus a file of the documents ``stage`` made, in the run's schema (the
        source's plus the stage's declared columns)."""
        from curate.schema import conform_to_schema

        schema = source.schema()
        for name, dtype in runner.declared.items():
            if name not in schema.names:
                schema = schema.append(pa.field(name, dtype))
        folder = self.staging / SEGMENTS / f"made-{stage.spec.key}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "made.arrow"
        write_ipc(path, iter([conform_to_schema(made, schema)]))
        self.made[path] = runner
        return self.dataset([*source.files, path])

    def save_boundary(self, source: LocalDataset | None, runners: list[StageRunner], boundary, upstream: set[str]) -> LocalDataset:
        """The documents after ``boundary``'s stage as the checkpoint's Parquet files (as the Ray
        path writes them: either executor resumes from the other's checkpoints)."""
        batches = self.unit_batches(source, runners)
        count, describe = self.unit_count(source)

        def write(tmp: Path) -> None:
            def unit(i: int, stats) -> None:
                write_parquet(tmp / f"part-{i:05d}.parquet", batches(i, stats))

            run_units(count, unit, self.workers, self.stats, describe, runners[0].key if runners else "read",
                      runners, self.replay, retries=self.retries(source, runners))

        def metrics() -> dict[str, dict[str, float]]:
            return {k: v for k, v in self.stats.snapshot().items() if k in upstream}

        self.checkpoints.save_with(boundary, write, metrics, self.staging / "artifacts")
        return self.dataset(sorted(boundary.path.glob("*.parquet")))

    def write(self, source: LocalDataset | None, runners: list[StageRunner],
              on_records: Callable[[list[dict]], None] | None) -> list[dict]:
        from curate.outputs import write_batch

        batches = self.unit_batches(source, runners)
        staging = str(self.staging)

        def unit(i: int, stats) -> list[dict]:
            return [row for table in batches(i, stats) for row in write_batch(table, staging, self.sinks).to_pylist()]

        count, describe = self.unit_count(source)
        per_unit = run_units(count, unit, self.workers, self.stats, describe, runners[0].key if runners else "write",
                             runners, self.replay, on_records, retries=self.retries(source, runners))
        return [row for rows in per_unit for row in rows]


def apply_runners(runners: list[StageRunner], table: pa.Table) -> pa.Table:
    """One batch through the segment's stages, each in slices of its ``resources.batch_size``."""
    for runner in runners:
        size = runner.batch_size
        if size and table.num_rows > size:
            table = pa.concat_tables([runner(table.slice(o, size)) for o in range(0, table.num_rows, size)])
        else:
            table = runner(table)
    return table


def write_tables(path: Path, tables: Iterator[pa.Table], open_writer: Callable[[str, pa.Schema], Any]) -> bool:
    """``tables`` (one schema: the runners guarantee it; the first one's order wins) into one file
    opened by ``open_writer(path, schema)``; False when there were none (no file)."""
    writer = None
    schema = None
    try:
        for table in tables:
            if writer is None:
                schema = table.schema
                writer = open_writer(str(path), schema)
            writer.write_table(table if table.schema.equals(schema) else table.select(schema.names).cast(schema))
    finally:
        if writer is not None:
            writer.close()
    return writer is not None


def write_ipc(path: Path, tables: Iterator[pa.Table]) -> bool:
    """An uncompressed Arrow IPC file (read back memory-mapped)."""
    return write_tables(path, tables, pa.ipc.new_file)


def write_parquet(path: Path, tables: Iterator[pa.Table]) -> bool:
    """A checkpoint's Parquet file."""
    return write_tables(path, tables, pq.ParquetWriter)
