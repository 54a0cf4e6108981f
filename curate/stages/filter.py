"""Run filters from the ``filters`` library over documents; the first failing filter rejects.

The reason written to ``rejected/`` is ``<filter>.<tag>`` (``length.too_short``) with the
numbers in ``reject_detail``; with ``keep_signals`` every signal becomes a column
``<filter>_<signal>`` for analysts.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Union

import numpy as np
import pyarrow as pa
from pydantic import Field

from curate.schema import reject_rows, set_column
from curate.stage import Stage, StageConfig
from filters import FILTERS

FilterSpec = Annotated[Union[tuple(FILTERS.values())], Field(discriminator="name")]  # noqa: UP007


class FilterConfig(StageConfig):
    filters: list[FilterSpec] = Field(min_length=1)
    keep_signals: bool = False


class FilterStage(Stage):
    name: ClassVar[str] = "filter"
    Config = FilterConfig

    def signal_columns(self) -> list[str]:
        if not self.config.keep_signals:
            return []
        return [f"{f.name}_{s}" for f in self.config.filters for s in f.signals]

    def output_columns(self) -> dict[str, pa.DataType]:
        return {name: pa.float64() for name in self.signal_columns()}

    def process(self, batch: pa.Table) -> pa.Table:
        texts = batch.column("text").to_pylist()
        domains = batch.column("domain").to_pylist()
        n = len(texts)
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        columns = {name: [None] * n for name in self.signal_columns()}
        for flt in self.config.filters:
            for i, (text, domain) in enumerate(zip(texts, domains)):
                if not flt.applies_to(domain):
                    continue
                if reasons[i] is not None and not columns:
                    continue  # already rejected and no signals wanted: skip the work
                signals, rejection = flt.check(text)
                for signal, value in signals.items():
                    if columns:
                        columns[f"{flt.name}_{signal}"][i] = value
                if rejection is not None and reasons[i] is None:
                    reasons[i] = f"{flt.name}.{rejection.reason}"
                    details[i] = rejection.detail
        mask = np.array([r is not None for r in reasons], dtype=bool)
        batch = reject_rows(batch, mask, self.key, reasons, details)
        for name, values in columns.items():
            batch = set_column(batch, name, pa.array(values, pa.float64()))
        return batch
