"""One Ray host for models: an actor that builds a :class:`~curate.models.backend.ModelBackend`
once and answers judge and generate calls. ``distilled_quality`` runs it as a Ray Data actor pool
over its sample (:meth:`ModelHost.__call__`); ``synthesize`` starts it as plain actors and sends
chunks of generation jobs (:meth:`ModelHost.generate`). The ``quality`` stage's actors host the
same backend in its ``setup()``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa


class ModelHost:
    """A backend, loaded once per actor. ``judge``: JudgeOptions as a dict (judging batches);
    ``sampling`` and ``max_doc_tokens``: how to generate."""

    def __init__(self, model: dict, judge: dict | None = None, sampling: dict | None = None,
                 max_doc_tokens: int = 1024) -> None:
        from curate.models.backend import JudgeOptions, make_backend
        from curate.models.loading import ModelSpec
        from curate.synth.generator import SamplingConfig

        self.backend = make_backend(ModelSpec(**model))
        self.backend.load()
        self.judge_options = JudgeOptions(**judge) if judge is not None else None
        self.sampling = SamplingConfig(**sampling) if sampling is not None else None
        self.max_doc_tokens = max_doc_tokens

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Judge a batch of documents: (id, text, score)."""
        texts = batch.column("text").to_pylist()
        judged = self.backend.judge(texts, batch.column("domain").to_pylist(), self.judge_options)
        return pa.table({"id": batch.column("id"), "text": batch.column("text"),
                         "score": pa.array([j.score for j in judged], pa.float64())})

    def generate(self, jobs: list[dict[str, Any]]) -> list[Any]:
        """Generations for jobs (``source_text``, ``template``, ``system_prompt``), in order."""
        return self.backend.generate(jobs, self.sampling, self.max_doc_tokens)
