"""Run filters from the ``filters`` library over documents; the first failing filter rejects.

Filters run in the order given, each on the text the previous one left (C4 line removal and PII
redaction rewrite it). The reason written to ``rejected/`` is ``<filter>.<tag>``
(``length.too_short``) with the numbers in ``reject_detail``. Filters with ``action: flag``
keep the document and write their reason to a ``<filter>_flag`` column instead. With
``keep_signals`` every signal becomes a column ``<filter>_<signal>`` for analysts.

The stage runs as an actor pool so filters with heavy state (benchmark n-gram indexes) build
it once per worker in ``setup()``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Union

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curate.config import ConfigError
from curate.schema import reject_rows, set_column
from curate.stage import Stage, StageConfig
from filters import FILTERS

FilterSpec = Annotated[Union[tuple(FILTERS.values())], Field(discriminator="name")]  # noqa: UP007


def setup_filters(filters: list, where: str) -> None:
    """Build each filter's state once on the driver so a missing benchmark file fails up front,
    naming the filter's place in the config (``where`` is the list's dotted key)."""
    for index, flt in enumerate(filters):
        try:
            flt.setup()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{where}.{index} ({flt.name}): {exc}") from None


class FilterConfig(StageConfig):
    filters: list[FilterSpec] = Field(min_length=1)
    keep_signals: bool = False

    @model_validator(mode="after")
    def _unique_names(self) -> FilterConfig:
        """A filter may appear more than once only for disjoint domains (``length`` with one bound
        for web pages and another for math problems): each document meets it at most once, so its
        signal columns stay unambiguous."""
        seen: dict[str, list[set[str] | None]] = {}
        for flt in self.filters:
            domains = None if flt.domains is None else set(flt.domains)
            for other in seen.get(flt.name, []):
                if domains is None or other is None or domains & other:
                    raise ValueError(
                        f"filter {flt.name!r} appears twice for the same documents; repeat a filter only "
                        f"with disjoint `domains` (e.g. one for [web], one for [math]), or use a second filter stage"
                    )
            seen.setdefault(flt.name, []).append(domains)
        return self


class FilterStage(Stage):
    name: ClassVar[str] = "filter"
    Config = FilterConfig
    mode = "actors"

    def __init__(self, config: FilterConfig, key: str | None = None) -> None:
        super().__init__(config, key)
        self._counted: dict[str, float] = {}  # filters' report() counts, until take_metrics()

    def signal_columns(self) -> list[str]:
        if not self.config.keep_signals:
            return []
        names = [f"{f.name}_{s}" for f in self.config.filters for s in f.signals]
        return list(dict.fromkeys(names))  # a filter repeated for other domains fills the same columns

    def flag_columns(self) -> list[str]:
        return list(dict.fromkeys(f"{f.name}_flag" for f in self.config.filters if f.action == "flag"))

    def output_columns(self) -> dict[str, pa.DataType]:
        return {**{name: pa.float64() for name in self.signal_columns()},
                **{name: pa.string() for name in self.flag_columns()}}

    def preflight(self) -> None:
        setup_filters(self.config.filters, f"stages.{self.key}.filters")

    def setup(self) -> None:
        for flt in self.config.filters:
            flt.setup()

    def summary(self, metrics: dict[str, float]) -> dict[str, Any] | None:
        """Each filter's own report (decontamination: documents per benchmark, items hit most)."""
        reports = {flt.name: part for flt in self.config.filters if (part := flt.summarize(metrics))}
        return reports or None

    def take_metrics(self) -> dict[str, float]:
        counted, self._counted = self._counted, {}
        return counted

    def process(self, batch: pa.Table) -> pa.Table:
        texts = batch.column("text").to_pylist()
        domains = batch.column("domain").to_pylist()
        langs = batch.column("lang").to_pylist() if "lang" in batch.column_names else [None] * len(texts)
        code_langs = batch.column("code_language").to_pylist() if "code_language" in batch.column_names else None
        n = len(texts)
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        columns: dict[str, list] = {name: [None] * n for name in self.output_columns()}
        keep_signals = bool(self.signal_columns())
        counted = self._counted
        changed = False
        for i in range(n):
            for flt in self.config.filters:
                if reasons[i] is not None and not keep_signals:
                    break  # already rejected and no signals wanted: skip the work
                if not flt.applies_to(domains[i], langs[i]):
                    continue
                if flt.wants_code_language and code_langs is not None:
                    text, signals, rejection = flt.check(texts[i], langs[i], code_language=code_langs[i])
                else:
                    text, signals, rejection = flt.check(texts[i], langs[i])
                if reasons[i] is None and text is not texts[i] and text != texts[i]:
                    texts[i], changed = text, True  # a rejected document's text is never rewritten
                if keep_signals:
                    for signal in flt.signals:
                        columns[f"{flt.name}_{signal}"][i] = signals.get(signal)
                for name, value in flt.for_language(langs[i]).report(signals).items():
                    counted[name] = counted.get(name, 0.0) + value
                if rejection is None:
                    continue
                if flt.action == "flag":
                    columns[f"{flt.name}_flag"][i] = f"{rejection.reason}: {rejection.detail}"
                elif reasons[i] is None:
                    reasons[i] = f"{flt.name}.{rejection.reason}"
                    details[i] = rejection.detail
        if changed:
            # rejected/ is the audit trail: a rejected row keeps the text it arrived with, not what
            # C4 line removal or PII redaction made of it before (or after) the rejecting filter.
            original = batch.column("text").to_pylist()
            texts = [original[i] if reasons[i] is not None else texts[i] for i in range(n)]
            batch = set_column(batch, "text", pa.array(texts, pa.large_string()))
        mask = np.array([r is not None for r in reasons], dtype=bool)
        batch = reject_rows(batch, mask, self.key, reasons, details)
        for name, dtype in self.output_columns().items():
            batch = set_column(batch, name, pa.array(columns[name], dtype))
        return batch
