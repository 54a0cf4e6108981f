"""Batched generation with a causal LM: length-sorted batches, left padding, the model's stop tokens.

Greedy decoding (``temperature: 0``) is deterministic and a prompt's output does not depend on
what it was batched with (tested). Sampling is seeded per batch: the same inputs in the same
order give the same outputs, but a different batching may not (transformers draws one random
stream per batch); the seed is recorded with every generation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field

from curate.config import StrictModel
from curate.models.loading import LoadedModel
from curate.models.prompting import left_padded, length_batches


class SamplingConfig(StrictModel):
    temperature: float = Field(default=0.0, ge=0, description="0: greedy (deterministic).")
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_new_tokens: int = Field(default=256, gt=0)
    repetition_penalty: float = Field(default=1.0, gt=0)
    seed: int = 0


@dataclass(frozen=True)
class Generation:
    text: str
    new_tokens: int
    finish_reason: str  # "stop" (an end token), "length" (max_new_tokens) or "error" (no generation)
    error: str | None = None  # a served backend's request that failed after its retries


class Generator:
    def __init__(self, loaded: LoadedModel, sampling: SamplingConfig, *, token_budget: int = 16384,
                 max_batch: int = 16) -> None:
        self.loaded = loaded
        self.sampling = sampling
        self.token_budget = token_budget
        self.max_batch = max_batch
        tokenizer = loaded.tokenizer
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.stop_ids = self.end_tokens()

    def end_tokens(self) -> list[int]:
        """Every token that ends an answer: the generation config's, the tokenizer's EOS, and the
        chat template's end of turn (``<|im_end|>`` for Qwen)."""
        ids: set[int] = set()
        configured = getattr(self.loaded.model.generation_config, "eos_token_id", None)
        ids.update(configured if isinstance(configured, list) else [configured] if configured is not None else [])
        tokenizer = self.loaded.tokenizer
        if tokenizer.eos_token_id is not None:
            ids.add(tokenizer.eos_token_id)
        for token in ("<|im_end|>", "<|endoftext|>"):
            token_id = tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
                ids.add(token_id)
        return sorted(ids)

    def generate(self, prompts: Sequence[Sequence[int]]) -> list[Generation]:
        out: list[Generation | None] = [None] * len(prompts)
        budget = max(self.token_budget, max((len(p) for p in prompts), default=0) + self.sampling.max_new_tokens)
        lengths = [len(p) + self.sampling.max_new_tokens for p in prompts]
        for number, group in enumerate(length_batches(lengths, budget, self.max_batch)):
            for i, generation in zip(group, self._generate([prompts[i] for i in group], number)):
                out[i] = generation
        return out  # type: ignore[return-value]

    def _generate(self, prompts: Sequence[Sequence[int]], batch_number: int) -> list[Generation]:
        import torch

        s = self.sampling
        ids, mask, _ = left_padded(prompts, self.pad_id)
        device = self.loaded.device
        sample = s.temperature > 0
        kwargs = {"do_sample": sample, "max_new_tokens": s.max_new_tokens, "repetition_penalty": s.repetition_penalty,
                  "eos_token_id": self.stop_ids, "pad_token_id": self.pad_id}
        if sample:
            kwargs.update(temperature=s.temperature, top_p=s.top_p)
            torch.manual_seed(s.seed + batch_number)
        else:  # explicit, so a model's generation_config cannot turn sampling on
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            output = self.loaded.model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs)
        new = output[:, ids.shape[1]:].cpu().tolist()
        results = []
        stops = set(self.stop_ids)
        for tokens in new:
            end = next((k for k, t in enumerate(tokens) if t in stops), None)
            kept = tokens if end is None else tokens[:end]
            text = self.loaded.tokenizer.decode(kept, skip_special_tokens=True)
            results.append(Generation(text, len(kept), "length" if end is None else "stop"))
        return results
