"""The README's "Extending" example, kept here so a test runs exactly that code (test_stage_contract)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.schema import alive_mask, reject_rows
from curate.stage import FitContext, Mode, Stage, StageConfig


class LongTailConfig(StageConfig):
    quantile: float = Field(default=0.99, gt=0, le=1, description="Longer than this share of documents: rejected.")


class LongTail(Stage):
    """Rejects the longest documents of the run: longer than ``quantile`` of all live documents."""

    name: ClassVar[str] = "long_tail"
    Config = LongTailConfig
    mode: ClassVar[Mode] = "global"

    def fit(self, ds, ctx: FitContext) -> float:
        lengths = [pc.utf8_length(batch.filter(alive_mask(batch)).column("text")).to_numpy(zero_copy_only=False)
                   for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None)]
        limit = float(np.quantile(np.concatenate(lengths), self.config.quantile))
        ctx.report(length_limit=limit)  # summed into stats/summary.json under this stage
        return limit  # every worker's copy finds it in self.state

    def process(self, batch: pa.Table) -> pa.Table:
        too_long = pc.greater(pc.utf8_length(batch.column("text")), self.state).to_numpy(zero_copy_only=False)
        return reject_rows(batch, too_long, self.key, "too_long", f"over {self.state:.0f} characters")
