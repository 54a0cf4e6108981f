"""Resume a killed run: materialised stage boundaries, keyed by the config that produced them.

A run is a chain read -> stage 1 -> ... -> stage n -> write. Where redoing work is expensive the
chain is cut and the documents so far (kept and rejected alike) are written as Parquet under the
checkpoint folder (default ``OUTPUT_DIR/_checkpoints``):

``read-<hash>/<group>.parquet``
    one file per input file (or chunk of code files), written whole or not at all: a run killed
    while downloading re-reads only the files it had not finished.
``<n>-<stage>-<hash>/``
    everything after stage ``n``, with ``_COMPLETE`` (written last) holding the metrics of every
    stage up to here and, in ``_artifacts/``, the files upstream stages made (a trained scorer).

Each hash covers the stage's options and everything upstream (sources, the input files with size
and mtime when local, read options, earlier stages; not ``resources``, which change how work is spread, not what it produces), plus the
curate version. A rerun starts after the last complete boundary of the current chain, so changing
one stage's options reruns that stage and what follows, nothing before it. Boundaries go after
the stages where work is expensive: global stages (dedup, synthesis, distillation) and model
stages (``Stage.expensive``), unless the YAML lists them (``checkpoint.after``).

Each chain folder carries curate's owner marker naming the pipeline (its ``output_dir``) that
wrote it, and that ``output_dir`` is part of every hash, so pipelines sharing a ``checkpoint.dir``
never use, overwrite or delete each other's chains. When a run commits, this pipeline's other
chains (and its unfinished temp folders) are pruned; ``--fresh`` removes all of this pipeline's
chains first. Anything else in the folder (other pipelines' chains, unrelated files) is left alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import curate
from curate import ownership
from curate.config import LoadedConfig, PipelineConfig, StageSpec

COMPLETE_MARKER = "_COMPLETE"
ARTIFACTS = "_artifacts"


def _digest(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_facts(path: str) -> list:
    """A file's identity for checkpoint keys: path, plus size and mtime when it is local (edited = new)."""
    try:
        st = os.stat(path)
    except OSError:
        return [path]
    return [path, st.st_size, st.st_mtime_ns]


def read_key(loaded: LoadedConfig, tasks: list | None = None) -> str:
    """What determines the documents read: sources, read options, the input files and the code;
    plus the pipeline that owns the chain (its output_dir), so no two pipelines share a folder."""
    pipeline = loaded.pipeline
    inputs = sorted(file_facts(t.path) for t in tasks or [])
    return _digest(curate.__version__, [s.model_dump(mode="json") for s in pipeline.sources],
                   pipeline.read.model_dump(mode="json"), inputs, ownership.identity(pipeline.output_dir))


def stage_key(upstream: str, spec: StageSpec) -> str:
    options = spec.options.model_dump(mode="json", exclude={"resources"})
    return _digest(upstream, spec.key, f"{spec.stage_cls.__module__}.{spec.stage_cls.__qualname__}", options)


def checkpoint_root(pipeline: PipelineConfig) -> Path:
    """``checkpoint.dir``, or ``OUTPUT_DIR/_checkpoints`` when the YAML does not set it."""
    return Path(pipeline.checkpoint.dir) if pipeline.checkpoint.dir else Path(pipeline.output_dir) / "_checkpoints"


def wants_boundary(spec: StageSpec) -> bool:
    return spec.stage_cls.mode == "global" or spec.stage_cls.expensive


@dataclass(frozen=True)
class Boundary:
    """The dataset after stage ``index`` (0-based in ``loaded.stages``)."""

    index: int
    stage: str
    path: Path

    @property
    def complete(self) -> bool:
        """Written whole, and not missing a file skipped as unreachable (``on_error: skip``): resuming
        from such a boundary would freeze the outage into every rerun, so a rerun reads again."""
        if not (self.path / COMPLETE_MARKER).is_file():
            return False
        return not self.info().get("metrics", {}).get("read", {}).get("unreachable_files")

    def info(self) -> dict[str, Any]:
        return json.loads((self.path / COMPLETE_MARKER).read_text(encoding="utf-8"))


class Checkpoints:
    """The boundaries of one run's chain and the per-file read cache."""

    def __init__(self, loaded: LoadedConfig, tasks: list | None = None) -> None:
        cfg = loaded.pipeline.checkpoint
        self.output_dir = Path(loaded.pipeline.output_dir)
        self.root = checkpoint_root(loaded.pipeline)
        self.read_dir: Path | None = None
        self.boundaries: list[Boundary] = []
        chain = read_key(loaded, tasks)
        if cfg.after == "auto" or "read" in cfg.after:
            self.read_dir = self.root / f"read-{chain}"
        for index, spec in enumerate(loaded.stages):
            chain = stage_key(chain, spec)
            chosen = wants_boundary(spec) if cfg.after == "auto" else spec.key in cfg.after
            if chosen:
                self.boundaries.append(Boundary(index, spec.key, self.root / f"{index:02d}-{spec.key}-{chain}"))

    def latest_complete(self) -> Boundary | None:
        done = [b for b in self.boundaries if b.complete]
        return done[-1] if done else None

    def after(self, index: int) -> Boundary | None:
        return next((b for b in self.boundaries if b.index == index), None)

    def _marked_temp(self, final: Path) -> Path:
        """A new temp folder beside ``final``, marked as this pipeline's before anything goes in
        (so a run killed while writing leaves a folder that prune may remove)."""
        tmp = final.with_name(f"{final.name}.tmp-{uuid.uuid4().hex[:8]}")
        tmp.mkdir(parents=True)
        ownership.mark(tmp, self.output_dir)
        return tmp

    def _replace(self, tmp: Path, final: Path) -> None:
        """Move a finished temp folder into place, replacing only a folder of this pipeline."""
        if final.exists() or final.is_symlink():
            if not ownership.owned_by(final, self.output_dir):
                raise ownership.OwnershipError(f"checkpoint.dir: {final} exists but this pipeline's marker is not in it")
            shutil.rmtree(final)
        os.replace(tmp, final)

    def claim(self) -> None:
        """Create the chain's read cache folder, marked as this pipeline's, before workers write to it."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.read_dir is None or ownership.owned_by(self.read_dir, self.output_dir):
            return
        self._replace(self._marked_temp(self.read_dir), self.read_dir)

    def save(self, ds, boundary: Boundary, metrics: Callable[[], dict], artifacts: Path | None):
        """Write the Ray Dataset ``ds`` to the boundary and return it read back."""
        self.save_with(boundary, lambda tmp: ds.write_parquet(str(tmp)), metrics, artifacts)
        return self.load(boundary)

    def save_with(self, boundary: Boundary, write: Callable[[Path], None], metrics: Callable[[], dict],
                  artifacts: Path | None) -> None:
        """``write(folder)`` puts the documents there as Parquet files (a temp folder, renamed into
        place when complete). ``metrics`` is called once the data is written: the stats of every
        stage up to here."""
        tmp = self._marked_temp(boundary.path)
        write(tmp)
        if artifacts is not None and artifacts.is_dir() and any(artifacts.iterdir()):
            shutil.copytree(artifacts, tmp / ARTIFACTS)
        (tmp / COMPLETE_MARKER).write_text(json.dumps({"stage": boundary.stage, "metrics": metrics()}, indent=1),
                                           encoding="utf-8")
        self._replace(tmp, boundary.path)

    def load(self, boundary: Boundary):
        import ray

        from curate.schema import BASE_SCHEMA

        files = sorted(str(p) for p in boundary.path.glob("*.parquet"))
        if not files:
            return ray.data.from_arrow(BASE_SCHEMA.empty_table())
        return ray.data.read_parquet(files)

    def restore_artifacts(self, boundary: Boundary, artifacts: Path) -> None:
        saved = boundary.path / ARTIFACTS
        if saved.is_dir():
            shutil.copytree(saved, artifacts, dirs_exist_ok=True)

    def has_progress(self) -> bool:
        """Anything a rerun would not redo: a complete boundary or a finished read group."""
        return self.latest_complete() is not None or bool(self.read_dir and any(self.read_dir.glob("*.parquet")))

    def clear(self) -> None:
        """``--fresh``: remove every chain of this pipeline (its marker inside), nothing else."""
        for child in ownership.owned_children(self.root, self.output_dir):
            shutil.rmtree(child, ignore_errors=True)

    def prune(self) -> None:
        """Remove this pipeline's other chains (and unfinished temp folders) after a committed run;
        other pipelines' chains and anything without curate's marker stay."""
        keep = {b.path.name for b in self.boundaries} | ({self.read_dir.name} if self.read_dir else set())
        for child in ownership.owned_children(self.root, self.output_dir):
            if child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)


# --------------------------------------------------------------------------- per-file read cache


def group_key(encoded_tasks: str) -> str:
    """A read group's identity: its tasks, plus size and mtime of local files (edited = new)."""
    return _digest(encoded_tasks, [file_facts(task.get("path", "")) for task in json.loads(encoded_tasks)])


class GroupWriter:
    """Streams one read group's tables into ``<key>.parquet``; the file appears only when complete."""

    def __init__(self, read_dir: Path, key: str) -> None:
        read_dir.mkdir(parents=True, exist_ok=True)
        self.final = read_dir / f"{key}.parquet"
        self.tmp = read_dir / f".{key}.{uuid.uuid4().hex[:8]}.tmp"
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd")
        self.writer.write_table(table.cast(self.schema) if table.schema != self.schema else table)

    def commit(self, metrics: dict[str, float]) -> None:
        if self.writer is None:  # a file with no records still completes
            from curate.schema import BASE_SCHEMA

            self.writer = pq.ParquetWriter(self.tmp, BASE_SCHEMA, compression="zstd")
        self.writer.add_key_value_metadata({"curate.read_metrics": json.dumps(metrics)})
        self.writer.close()
        os.replace(self.tmp, self.final)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)


def cached_group(read_dir: Path, key: str) -> Path | None:
    path = read_dir / f"{key}.parquet"
    return path if path.is_file() else None


def cached_metrics(path: Path) -> dict[str, float]:
    meta = pq.read_metadata(path).metadata or {}
    return json.loads(meta.get(b"curate.read_metrics", b"{}"))
