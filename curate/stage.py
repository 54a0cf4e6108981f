"""The stage contract every pipeline step follows (after NeMo Curator 1.x).

A stage declares its options as a pydantic model, the resources one worker needs, and one
:attr:`Stage.mode`:

* ``"tasks"``: cheap to construct; each batch runs in a Ray task.
* ``"actors"``: heavy state (a model); an actor pool runs :meth:`Stage.setup` once per actor.
* ``"global"``: needs every document before deciding (dedup, a trained scorer, a generation
  plan). The engine calls :meth:`Stage.fit` once on the driver with the whole dataset and a
  :class:`FitContext`; what it returns is the stage's ``state``, which every worker's copy of the
  stage finds in ``self.state`` before the ordinary per-batch :meth:`Stage.process` runs (as
  tasks). Documents the stage makes (synthesis) come from :meth:`Stage.documents_made`.

Whatever the mode, :meth:`Stage.process` gets an Arrow table of live documents and returns it
with its columns added and, for filters, rows marked rejected (see
:func:`curate.schema.reject_rows`); it must not drop or reorder rows. The engine's runner counts
documents, bytes and time around it, so no stage reports or touches engine internals itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field

from curate.config import StrictModel


def actor_cpu_scale(held: float, cpus: float) -> float:
    """The factor on actors' CPUs that fits actors holding ``held`` CPUs on a cluster of ``cpus``:
    1 when they fit beside one whole CPU for the tasks that feed them, else the share of ``cpus - 1``
    (0 on a one-CPU cluster: the actors then share the CPU with the tasks, as on a local run, where
    Ray's CPUs are only a scheduling budget). Without it a small cluster could not place them beside
    any task and the run would wait forever."""
    room = max(cpus - 1.0, 0.0)
    return 1.0 if held <= room else room / held


class Resources(StrictModel):
    """What one worker of a stage needs; the engine turns it into Ray arguments."""

    cpus: float = Field(default=1.0, gt=0)
    gpus: float = Field(default=0.0, ge=0)
    memory_gb: float | None = Field(default=None, gt=0)
    concurrency: int | None = Field(default=None, gt=0, description="Actors in the pool (stages of mode actors).")
    batch_size: int | None = Field(default=None, gt=0, description="Documents per call; None keeps reader batches.")
    max_retries: int = Field(default=3, ge=0, description="Times Ray reruns a batch whose worker process died.")
    custom: dict[str, float] = Field(default_factory=dict,
                                     description="Custom Ray resources per worker, e.g. {highmem: 1} to pin to labelled nodes.")

    def ray_options(self, actor: bool = False) -> dict[str, Any]:
        """Ray arguments for one worker of the stage: what it asks for (``num_cpus``, ``num_gpus``,
        ``memory``, ``resources``) and how often it is rerun after its process died. The same for a
        stage's task pool, its actors and the tasks a global stage starts itself. Bounded retries,
        because Ray Data's default retries forever, which hangs a run on a poison batch."""
        options: dict[str, Any] = {"num_cpus": self.cpus}
        if actor:
            options.update(max_restarts=self.max_retries, max_task_retries=self.max_retries)
        else:
            options["max_retries"] = self.max_retries
        if self.gpus:
            options["num_gpus"] = self.gpus
        if self.memory_gb:
            options["memory"] = int(self.memory_gb * 1024**3)
        if self.custom:
            options["resources"] = dict(self.custom)
        return options

    def actor_options_on(self, cluster_cpus: float, actors: int = 1) -> dict[str, Any]:
        """``ray_options(actor=True)`` for ``actors`` actors a global stage starts itself (its model
        hosts), their CPUs shrunk by :func:`actor_cpu_scale` to fit a cluster of ``cluster_cpus``."""
        options = self.ray_options(actor=True)
        scale = actor_cpu_scale(self.cpus * actors, cluster_cpus)
        if scale < 1.0:
            options["num_cpus"] = round(self.cpus * scale, 4)
        return options


class StageConfig(StrictModel):
    """Options every stage accepts; stages subclass this with their own."""

    resources: Resources = Resources()


#: How a stage runs: per batch in tasks, per batch in an actor pool, or fit on everything first.
Mode = Literal["tasks", "actors", "global"]


@dataclass
class FitContext:
    """What the engine gives a global stage's :meth:`Stage.fit`: where its files go and how it
    reports numbers (summed into ``stats/summary.json`` under the stage's key)."""

    key: str
    #: The run's folder for files this stage makes (a trained scorer); None outside a run.
    artifacts_dir: Path | None = None
    #: The run's stats actor (or None): use :meth:`report`.
    stats: Any = None
    #: The CPUs the run has, to size the fit's own tasks (None: ask Ray).
    cores: float | None = None
    started: float = field(default_factory=time.time)

    def report(self, **metrics: float) -> None:
        """Numbers the fit counted (clusters, judged documents); the fit's time comes with them."""
        if self.stats is not None:
            from curate.runtime.stats import tell

            tell(self.stats, "record", self.key, {"start": self.started, "end": time.time(), **metrics})


class Stage:
    """Base class: subclass, set ``name`` and ``Config``, implement :meth:`process` (and
    :meth:`fit` for a global stage)."""

    name: ClassVar[str]
    Config: ClassVar[type[StageConfig]] = StageConfig
    mode: ClassVar[Mode] = "tasks"
    #: True: costly per document (a model); a resumable run materialises its output (curate.checkpoint).
    #: Global stages always are.
    expensive: ClassVar[bool] = False
    #: Numbers the stage reports beyond the runner's counts, shown per stage in
    #: ``stats/summary.json`` (name -> int or float), e.g. dedup's ``clusters``.
    extra_metrics: ClassVar[dict[str, type]] = {}
    #: A global stage whose :meth:`fit` also takes the in-process executor's dataset
    #: (:class:`curate.runtime.local.LocalDataset`), so it runs with ``executor: local``.
    fits_in_process: ClassVar[bool] = False
    #: A global stage's fitted state (what :meth:`fit` returned), set on every worker's copy.
    state: Any = None

    def __init__(self, config: StageConfig, key: str | None = None) -> None:
        self.config = config
        self.key = key or self.name

    def output_columns(self) -> dict[str, pa.DataType]:
        """Columns (name -> Arrow type) this stage adds. The engine fills them with nulls on rows
        the stage never sees (rejected earlier), so every batch it emits has one schema."""
        return {}

    def column_defaults(self) -> dict[str, object]:
        """Values of :meth:`output_columns` on rows the stage never sees (default: null), e.g.
        ``synthetic: false`` on documents rejected before synthesis."""
        return {}

    def tokens_made_with(self) -> str | None:
        """The tokenizer's name when this stage writes token ids (``input_ids``), which turns on
        the ``tokens`` output; None for every other stage."""
        return None

    def describe(self) -> str:
        """One line for the run plan (defaults to the class name)."""
        return type(self).__name__

    def preflight(self) -> None:
        """Checks on the driver before any work (a model file exists, ...); raise ConfigError."""

    def setup(self) -> None:
        """Load models or other heavy state. Runs once per actor for ``actors`` stages; the others
        are constructed per batch, so keep theirs trivial."""

    def fit(self, ds: Any, ctx: FitContext) -> Any:
        """A global stage's whole-dataset step (``ds``: the materialised Ray Dataset of the run so
        far, rejected rows included; a :class:`curate.runtime.local.LocalDataset` on the in-process
        executor, for stages that set :attr:`fits_in_process`); returns the state :meth:`process` reads in ``self.state``.
        It must be picklable and should be small (decisions, a model's bytes)."""
        raise NotImplementedError(f"{type(self).__name__} is a {self.mode} stage: it has no fit()")

    def documents_made(self) -> pa.Table | None:
        """New documents a global stage made in :meth:`fit` (synthesis), added to the run after
        its per-batch pass; None for stages that make none."""
        return None

    def process(self, batch: pa.Table) -> pa.Table:  # pragma: no cover - abstract
        raise NotImplementedError

    def summary(self, metrics: dict[str, float]) -> dict[str, Any] | None:
        """What the stage adds to ``stats/summary.json`` (``reports``) from its metrics summed over
        the run; default nothing."""
        return None

    def take_metrics(self) -> dict[str, float]:
        """Numbers the stage counted since the last call (per benchmark matches, ...). The runner
        adds them to the batch's stats, summed over the run into ``stats/summary.json``."""
        return {}
