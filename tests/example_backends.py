"""The README's "Extending" example of a model backend, run by tests/models/test_model_backend.py: the
in-process transformers model, with every request counted (a stand-in for a served engine's client)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curate.models.backend import JudgeOptions, ModelBackend, TransformersBackend


class CountingBackend(ModelBackend):
    """Judges and generates with the transformers backend, counting documents per call kind."""

    def load(self) -> None:
        self.inner = TransformersBackend(self.spec)
        self.inner.load()
        self.calls: dict[str, int] = {"judge": 0, "generate": 0}

    def judge(self, texts: Sequence[str], domains: Sequence[str], options: JudgeOptions) -> list[Any]:
        self.calls["judge"] += len(texts)
        return self.inner.judge(texts, domains, options)

    def generate(self, jobs: Sequence[dict[str, Any]], sampling: Any, max_doc_tokens: int) -> list[Any]:
        self.calls["generate"] += len(jobs)
        return self.inner.generate(jobs, sampling, max_doc_tokens)
