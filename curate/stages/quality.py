"""Quality stage: a Qwen model judges every document (score, label, confidence, perplexity).

Runs as an actor pool: each actor loads the model once in ``setup()``; with ``resources.gpus``
the engine gives every actor its GPU share. Documents below their domain's ``thresholds`` go to
``rejected/`` as ``low_quality`` with the score and the threshold.

Columns: ``quality_score`` (expected score digit, 0-5), ``quality_label`` (most likely digit),
``quality_confidence`` (probability mass on the digits), ``quality_nll`` (mean token negative
log-likelihood of the document given the rubric prefix; with ``perplexity: true``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field

from curate.config import ConfigError
from curate.models.backend import JudgeOptions, make_backend
from curate.models.loading import ModelSpec, check_available
from curate.quality.thresholds import reject_low_scores
from curate.schema import reject_rows, set_column
from curate.stage import Resources, Stage, StageConfig


class QualityConfig(JudgeOptions, StageConfig):
    """The judge's options (rubrics, max_doc_tokens, ...: :class:`JudgeOptions`) at the stage's top level."""

    model: ModelSpec = Field(description="The judge: a hub id, a local directory or curate/qwen2-standin.")
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="Minimum quality_score per domain ('*' for any other domain).")
    resources: Resources = Resources(batch_size=64)


class QualityJudge(Stage):
    name: ClassVar[str] = "quality"
    Config = QualityConfig
    mode = "actors"
    expensive = True

    def output_columns(self) -> dict[str, pa.DataType]:
        return {"quality_score": pa.float64(), "quality_label": pa.int8(), "quality_confidence": pa.float64(),
                "quality_nll": pa.float64()}

    def describe(self) -> str:
        cfg = self.config
        limits = ", ".join(f"{d} >= {t:g}" for d, t in cfg.thresholds.items()) or "score only"
        where = f" on {len(cfg.model.base_url)} server(s)" if cfg.model.base_url else ""
        line = f"judge {cfg.model.id}{where}, first {cfg.max_doc_tokens} tokens, {limits}"
        if cfg.perplexity and cfg.model.base_url:  # the plan says so when the server cannot give it
            from curate.models.openai_backend import prompt_logprobs_missing

            missing = prompt_logprobs_missing(cfg.model)
            if missing:
                line += f"; perplexity off: {missing}, quality_nll stays empty"
        return line

    def preflight(self) -> None:
        """Find the model before any work: offline and missing fails here, naming it."""
        for domain, rubric in self.config.rubrics.items():
            if rubric.count("{document}") != 1:
                raise ConfigError(f"stages.{self.key}.rubrics.{domain}: must contain {{document}} exactly once")
        check_available(self.config.model, f"stages.{self.key}.model.id")

    def setup(self) -> None:
        self.backend = make_backend(self.config.model)
        self.backend.load()
        self.options = judge_options(self.config)


    def process(self, batch: pa.Table) -> pa.Table:
        texts = batch.column("text").to_pylist()
        domains = batch.column("domain").to_pylist()
        judged = self.backend.judge(texts, domains, self.options)
        scores = np.array([j.score for j in judged], dtype=np.float64)
        batch = set_column(batch, "quality_score", pa.array(scores, pa.float64()))
        batch = set_column(batch, "quality_label", pa.array([j.label for j in judged], pa.int8()))
        batch = set_column(batch, "quality_confidence", pa.array([j.confidence for j in judged], pa.float64()))
        nll = [j.nll if self.config.perplexity and j.nll == j.nll else None for j in judged]  # NaN -> null
        batch = set_column(batch, "quality_nll", pa.array(nll, pa.float64()))
        failed = np.array([j.error is not None for j in judged], dtype=bool)  # a served judge's lost requests
        batch = reject_rows(batch, failed, self.key, "inference_error", [j.error for j in judged])
        return reject_low_scores(batch, scores, self.config.thresholds, self.key, "judge")


def judge_options(config: JudgeOptions) -> JudgeOptions:
    """The judge's own options out of a config that carries them with others."""
    return JudgeOptions(**config.model_dump(include=set(JudgeOptions.model_fields)))
