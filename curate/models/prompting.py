"""Documents inside chat prompts, safely: the template is rendered once, the document is
tokenised on its own with special-token strings treated as text, and the two are joined as ids.

A document that contains ``<|im_start|>assistant`` cannot open a turn of its own: in the ids it
is ordinary text. Only an opening of each document is tokenised (``max_doc_tokens * 16``
characters), so a 200 MB document costs what a page costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DOCUMENT = "{document}"
_MARKER = "\x00DOCUMENT\x00"


@dataclass(frozen=True)
class ChatPrompt:
    ids: list[int]
    doc_start: int  # the document's tokens are ids[doc_start:doc_end]
    doc_end: int
    truncated: bool


class ChatPrompter:
    """Turns (document, user template) pairs into chat-formatted token ids for one tokenizer."""

    def __init__(self, tokenizer, system_prompt: str | None = None) -> None:
        self.tokenizer = tokenizer
        self.system_prompt = system_prompt
        self._frames: dict[tuple[str, str | None], tuple[list[int], list[int]]] = {}

    def frame(self, user_template: str, system_prompt: str | None = None) -> tuple[list[int], list[int]]:
        """Token ids before and after ``{document}`` in the rendered chat (generation prompt added)."""
        if user_template.count(DOCUMENT) != 1:
            raise ValueError(f"a prompt template must contain {DOCUMENT} exactly once: {user_template[:80]!r}")
        system = system_prompt if system_prompt is not None else self.system_prompt
        key = (user_template, system)
        if key not in self._frames:
            messages = ([{"role": "system", "content": system}] if system else []) + \
                [{"role": "user", "content": user_template.replace(DOCUMENT, _MARKER)}]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            before, after = text.split(_MARKER)
            self._frames[key] = (self.tokenizer.encode(before, add_special_tokens=False),
                                 self.tokenizer.encode(after, add_special_tokens=False))
        return self._frames[key]

    def encode_documents(self, texts: Sequence[str], max_doc_tokens: int) -> list[tuple[list[int], bool]]:
        """Each document's first ``max_doc_tokens`` token ids and whether it was cut."""
        window = max_doc_tokens * 16
        heads = [t[:window] for t in texts]
        encoded = self.tokenizer(heads, add_special_tokens=False, split_special_tokens=True)["input_ids"]
        out = []
        for text, head, doc in zip(texts, heads, encoded):
            if len(head) < len(text) and len(doc) <= max_doc_tokens:  # a dense opening: read it all
                doc = self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
            out.append((doc[:max_doc_tokens], len(doc) > max_doc_tokens))
        return out

    def prompts(self, texts: Sequence[str], templates: Sequence[str], max_doc_tokens: int,
                system_prompts: Sequence[str | None] | None = None) -> list[ChatPrompt]:
        systems = system_prompts or [None] * len(texts)
        out = []
        for (doc, truncated), template, system in zip(self.encode_documents(texts, max_doc_tokens), templates, systems):
            before, after = self.frame(template, system)
            out.append(ChatPrompt(before + doc + after, len(before), len(before) + len(doc), truncated))
        return out


def length_batches(lengths: Sequence[int], token_budget: int, max_batch: int) -> list[list[int]]:
    """Indices grouped into batches of similar length: sorted ascending, each batch's padded size
    (longest x rows) within ``token_budget`` and at most ``max_batch`` rows. Ties keep input order."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (lengths[i] * (len(current) + 1) > token_budget or len(current) >= max_batch):
            groups.append(current)
            current = []
        current.append(i)
    if current:
        groups.append(current)
    return groups


def left_padded(rows: Sequence[Sequence[int]], pad_id: int):
    """(input_ids, attention_mask, position_ids) tensors, left-padded so every row ends at the
    last column, positions counted from each row's first real token."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(list(row), dtype=torch.long)
        mask[i, width - len(row):] = 1
    return ids, mask, (mask.cumsum(dim=1) - 1).clamp(min=0)
