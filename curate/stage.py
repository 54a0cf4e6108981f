"""The stage contract every pipeline step follows (after NeMo Curator 1.x).

A stage declares its options as a pydantic model, the resources one worker needs, and whether
it holds heavy state. Stateless stages run as Ray tasks; stateful ones (models) run in an actor
pool where :meth:`Stage.setup` runs once per actor. :meth:`Stage.process` gets an Arrow table
of live documents and returns it with its columns added and, for filters, rows marked rejected
(see :func:`curate.schema.reject_rows`); it must not drop or reorder rows.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from curate.config import StrictModel


class Resources(StrictModel):
    """What one worker of a stage needs; the engine turns it into Ray arguments."""

    cpus: float = Field(default=1.0, gt=0)
    gpus: float = Field(default=0.0, ge=0)
    memory_gb: float | None = Field(default=None, gt=0)
    concurrency: int | None = Field(default=None, gt=0, description="Actors in the pool (stateful stages).")
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


class StageConfig(StrictModel):
    """Options every stage accepts; stages subclass this with their own."""

    resources: Resources = Resources()


class Stage:
    """Base class: subclass, set ``name`` and ``Config``, implement :meth:`process`."""

    name: ClassVar[str]
    Config: ClassVar[type[StageConfig]] = StageConfig
    #: True: heavy state (models), run as an actor pool with setup() once per actor.
    stateful: ClassVar[bool] = False
    #: True: needs every document before deciding (dedup); the engine calls ``run_global(ds, stats)``.
    global_stage: ClassVar[bool] = False
    #: True: costly per document (a model); a resumable run materialises its output (curate.checkpoint).
    expensive: ClassVar[bool] = False

    def __init__(self, config: StageConfig, key: str | None = None) -> None:
        self.config = config
        self.key = key or self.name

    def output_columns(self) -> dict[str, pa.DataType]:
        """Columns (name -> Arrow type) this stage adds. The engine fills them with nulls on rows
        the stage never sees (rejected earlier), so every batch it emits has one schema."""
        return {}

    def describe(self) -> str:
        """One line for the run plan (defaults to the class name)."""
        return type(self).__name__

    def preflight(self) -> None:
        """Checks on the driver before any work (a model file exists, ...); raise ConfigError."""

    def setup(self) -> None:
        """Load models or other heavy state. Runs once per actor for stateful stages; stateless
        stages are constructed per batch, so keep theirs trivial."""

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
