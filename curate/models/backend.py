"""The one interface every model stage talks to: a :class:`ModelBackend`.

``quality``, ``distilled_quality`` and ``synthesize`` never touch a model directly: they ask a
backend to *judge* documents (the score-digit distribution of a rubric prompt, and optionally the
document's perplexity) or to *generate* text for prompts built from a template and a source
document. Which backend runs is the ``model:`` block's ``backend``: ``transformers`` (default,
the model loaded in-process, one copy per Ray actor) or ``openai`` (an OpenAI-compatible server:
vLLM, SGLang, llama.cpp, ``transformers serve``; :mod:`curate.models.openai_backend`).

Hosting is the same for all three stages (:mod:`curate.models.host`): a Ray actor that builds the
backend once and answers judge or generate calls.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from curate.config import StrictModel
from curate.models.loading import ModelSpec


class JudgeOptions(StrictModel):
    """How the judge reads documents: the ``judge`` part of ``quality`` and ``distilled_quality``."""

    rubrics: dict[str, str] = Field(
        default_factory=dict, description="Rubric per domain, overriding the built-in ones; must contain {document}.")
    max_doc_tokens: int = Field(default=512, gt=0, description="Tokens of each document the judge reads (its opening).")
    token_budget: int = Field(default=8192, gt=0, description="Padded tokens per forward pass.")
    max_batch: int = Field(default=32, gt=0)
    perplexity: bool = Field(default=True, description="Also compute quality_nll (costs a vocabulary projection per token).")


class ModelBackend(ABC):
    """A model that can judge and generate; built on the worker that uses it, then :meth:`load`."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    @abstractmethod
    def load(self) -> None:
        """Make the model ready (load weights, or connect to a server); called once per worker."""

    @abstractmethod
    def judge(self, texts: Sequence[str], domains: Sequence[str], options: JudgeOptions) -> list[Any]:
        """One :class:`curate.quality.judge.Judgement` per document, in order."""

    @abstractmethod
    def generate(self, jobs: Sequence[dict[str, Any]], sampling: Any, max_doc_tokens: int) -> list[Any]:
        """One :class:`curate.synth.generator.Generation` per job (``source_text``, ``template``,
        ``system_prompt``), sampled as ``sampling`` (:class:`curate.synth.generator.SamplingConfig`)."""

    def judge_for(self, options: JudgeOptions) -> Any:
        """The :class:`curate.quality.judge.QwenJudge` for ``options`` over ``self.loaded`` (its
        rubrics framed and digit ids found once per option set)."""
        from curate.quality.judge import QwenJudge

        judges = self.__dict__.setdefault("_judges", {})
        key = options.model_dump_json()
        if key not in judges:
            judges[key] = QwenJudge(self.loaded, options.rubrics, max_doc_tokens=options.max_doc_tokens,
                                    token_budget=options.token_budget, max_batch=options.max_batch,
                                    perplexity=options.perplexity)
        return judges[key]


class TransformersBackend(ModelBackend):
    """The model in this process with transformers (CPU or the worker's GPU)."""

    def load(self) -> None:
        from curate.models.loading import load_causal_lm

        self.loaded = load_causal_lm(self.spec)
        self._generators: dict[str, Any] = {}

    def judge(self, texts: Sequence[str], domains: Sequence[str], options: JudgeOptions) -> list[Any]:
        return self.judge_for(options).judge(texts, domains) if texts else []

    def generate(self, jobs: Sequence[dict[str, Any]], sampling: Any, max_doc_tokens: int) -> list[Any]:
        from curate.models.prompting import ChatPrompter
        from curate.synth.generator import Generator

        key = sampling.model_dump_json()
        if key not in self._generators:
            self._generators[key] = Generator(self.loaded, sampling)
        prompter = ChatPrompter(self.loaded.tokenizer)
        prompts = prompter.prompts([j["source_text"] for j in jobs], [j["template"] for j in jobs],
                                   max_doc_tokens, [j["system_prompt"] for j in jobs])
        return self._generators[key].generate([p.ids for p in prompts])


from curate.models.openai_backend import OpenAIBackend  # noqa: E402  (it builds on ModelBackend above)

#: Backends by the name a ``model:`` block gives as ``backend``.
BACKENDS: dict[str, type[ModelBackend]] = {"transformers": TransformersBackend, "openai": OpenAIBackend}


def make_backend(spec: ModelSpec) -> ModelBackend:
    """The backend a ``model:`` block asks for, built but not loaded."""
    return BACKENDS[spec.backend](spec)
