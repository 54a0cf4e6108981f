"""Qwen as a quality judge: a score from the next-token distribution, not from generated text.

Each document is written into a rubric prompt (per domain) in the model's chat template; one
forward pass gives, at the assistant turn's first position, the probability of each score digit.
The score is their expected value (renormalised over the digits), with the most likely digit
and the probability mass on digits (how sure the model is that it is answering with a digit at
all) beside it. The same pass gives the document's mean token negative log-likelihood, given
the rubric text before it (CCNet-style perplexity, conditioned on the prompt prefix).

Batches are sorted by length and filled up to a token budget, left-padded so every row's last
position is its own last token, with position ids counted from each row's first real token:
a document's numbers do not depend on what it was batched with (tested). Documents longer than
``max_doc_tokens`` keep their first ``max_doc_tokens`` tokens (the judge reads the opening of a
document, as FineWeb-Edu's annotator did); ``truncated`` says when that happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from curate.models.loading import LoadedModel
from curate.models.prompting import ChatPrompt, ChatPrompter, left_padded, length_batches

SYSTEM_PROMPT = "You are a careful annotator of training data for language models."

#: Rubric per domain; ``{document}`` is where the document goes. Scores are 0..5.
DEFAULT_RUBRICS: dict[str, str] = {
    "web": (
        "Rate the following text for use in pretraining a language model, on a scale from 0 to 5.\n"
        "0: spam, boilerplate, navigation menus or unreadable text.\n"
        "1: mostly ads, lists of links or fragments with little content.\n"
        "2: readable but shallow, repetitive or promotional.\n"
        "3: coherent, informative text of general interest.\n"
        "4: well-written, accurate, with clear explanations useful for learning.\n"
        "5: outstanding educational value, like a good textbook or encyclopedia article.\n"
        "The text may be in any language; judge its content, not its language.\n\n"
        "Text:\n{document}\n\nAnswer with a single digit from 0 to 5."
    ),
    "code": (
        "Rate the following source file for use in training a code model, on a scale from 0 to 5.\n"
        "0: generated, minified, data-only or broken.\n"
        "1: mostly configuration, boilerplate or trivial code.\n"
        "2: working code with poor structure or no explanation.\n"
        "3: clear, idiomatic code.\n"
        "4: clear, idiomatic, well-documented code that teaches something.\n"
        "5: exemplary code, like a reference implementation or a tutorial.\n\n"
        "Code:\n{document}\n\nAnswer with a single digit from 0 to 5."
    ),
    "math": (
        "Rate the following mathematical text for use in training a model to reason, on a scale from 0 to 5.\n"
        "0: no mathematics, or garbled notation.\n"
        "1: numbers or formulas without explanation.\n"
        "2: a problem or result stated without reasoning.\n"
        "3: correct mathematics with some explanation.\n"
        "4: a clear step-by-step solution or derivation.\n"
        "5: rigorous, complete and instructive, like a good textbook solution.\n\n"
        "Text:\n{document}\n\nAnswer with a single digit from 0 to 5."
    ),
}
SCORE_DIGITS = tuple(range(6))


@dataclass(frozen=True)
class Judgement:
    score: float  # expected digit under the renormalised digit distribution
    label: int  # most likely digit
    confidence: float  # probability mass on the score digits
    nll: float  # mean negative log-likelihood per document token (nan: no tokens)
    doc_tokens: int
    truncated: bool
    error: str | None = None  # a served backend's request that failed after its retries: no judgement


class QwenJudge:
    """Scores documents with a loaded causal LM (see :func:`curate.models.loading.load_causal_lm`)."""

    def __init__(self, loaded: LoadedModel, rubrics: dict[str, str] | None = None, *,
                 max_doc_tokens: int = 512, token_budget: int = 8192, max_batch: int = 32,
                 perplexity: bool = True, system_prompt: str = SYSTEM_PROMPT) -> None:
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.rubrics = {**DEFAULT_RUBRICS, **(rubrics or {})}
        for domain, rubric in self.rubrics.items():
            if rubric.count("{document}") != 1:
                raise ValueError(f"rubric for {domain!r} must contain {{document}} exactly once")
        self.prompter = ChatPrompter(self.tokenizer, system_prompt)
        self.max_doc_tokens = max_doc_tokens
        self.token_budget = token_budget
        self.max_batch = max_batch
        self.perplexity = perplexity
        self.system_prompt = system_prompt
        self.digit_ids = [self._single_token(str(d)) for d in SCORE_DIGITS]
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id

    def _single_token(self, text: str) -> int:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"the tokenizer of {self.loaded.name} splits {text!r} into {len(ids)} tokens; "
                             "score digits must be single tokens")
        return ids[0]

    def rubric(self, domain: str) -> str:
        return self.rubrics[domain if domain in self.rubrics else "web"]

    def frame(self, domain: str) -> tuple[list[int], list[int]]:
        """Token ids before and after the document in ``domain``'s rubric, in the chat template."""
        return self.prompter.frame(self.rubric(domain))

    def prompt(self, text: str, domain: str) -> ChatPrompt:
        return self.prompts([text], [domain])[0]

    def prompts(self, texts: Sequence[str], domains: Sequence[str]) -> list[ChatPrompt]:
        return self.prompter.prompts(texts, [self.rubric(d) for d in domains], self.max_doc_tokens)

    def batches(self, prompts: Sequence[ChatPrompt]) -> list[list[int]]:
        """Indices of ``prompts`` grouped into length-sorted batches within the token budget."""
        return length_batches([len(p.ids) for p in prompts], self.token_budget, self.max_batch)

    def judge(self, texts: Sequence[str], domains: Sequence[str]) -> list[Judgement]:
        prompts = self.prompts(texts, domains)
        out: list[Judgement | None] = [None] * len(prompts)
        for group in self.batches(prompts):
            for i, judgement in zip(group, self._forward([prompts[i] for i in group])):
                out[i] = judgement
        return out  # type: ignore[return-value]

    def _forward(self, prompts: Sequence[ChatPrompt]) -> list[Judgement]:
        import torch

        ids, mask, positions = left_padded([p.ids for p in prompts], self.pad_id)
        width = ids.shape[1]
        device = self.loaded.device
        model = self.loaded.model
        with torch.inference_mode():
            hidden = model.get_decoder()(input_ids=ids.to(device), attention_mask=mask.to(device),
                                         position_ids=positions.to(device)).last_hidden_state
            head = model.get_output_embeddings()
            last = head(hidden[:, -1, :]).float().log_softmax(dim=-1)
            digit_logp = last[:, self.digit_ids].cpu().numpy()
            results = []
            for row, p in enumerate(prompts):
                offset = width - len(p.ids)
                nll = float("nan")
                if self.perplexity and p.doc_end > p.doc_start:
                    # positions doc_start-1 .. doc_end-2 predict the document's tokens
                    start, end = offset + p.doc_start - 1, offset + p.doc_end - 1
                    logp = head(hidden[row, start:end, :]).float().log_softmax(dim=-1)
                    target = ids[row, start + 1 : end + 1].to(logp.device)
                    nll = float(-logp.gather(1, target[:, None]).mean())
                probs = np.exp(digit_logp[row].astype(np.float64))
                mass = float(probs.sum())
                score = float((probs * np.array(SCORE_DIGITS)).sum() / mass) if mass > 0 else float("nan")
                results.append(Judgement(score, int(SCORE_DIGITS[int(probs.argmax())]), mass, nll,
                                         p.doc_end - p.doc_start, p.truncated))
        return results
