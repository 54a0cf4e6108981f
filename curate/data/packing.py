"""Packing tokenized documents into fixed-length training sequences, keeping document boundaries.

Documents (each already ending in EOS) are concatenated in order and cut into sequences of
``seq_len + 1`` tokens (inputs and shifted targets share one row). ``doc_lens`` lists how many
tokens of each document piece a sequence holds, in order, so a trainer can build
``position_ids`` or a block-diagonal attention mask and never attend across documents; a
document cut at a sequence end continues at the start of the next one. The last partial
sequence is dropped, padded (with ``pad_id``, its length recorded as a piece of document -1),
or kept short, per ``last``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

LastPolicy = Literal["drop", "pad", "keep"]


@dataclass(frozen=True)
class PackedSequence:
    tokens: np.ndarray  # uint32, length seq_len + 1 (shorter only for last="keep")
    doc_lens: list[int]  # lengths of the document pieces in order; a pad piece is counted too
    doc_ids: list[str]  # the document each piece comes from ("" for padding)


def pack(documents: Iterable[tuple[str, np.ndarray]], seq_len: int, *, last: LastPolicy = "drop",
         pad_id: int = 0) -> Iterator[PackedSequence]:
    """Sequences of ``seq_len + 1`` tokens from ``(doc_id, tokens)`` pairs, in order."""
    if seq_len < 1:
        raise ValueError("seq_len must be positive")
    width = seq_len + 1
    buffer: list[np.ndarray] = []
    lens: list[int] = []
    ids: list[str] = []
    filled = 0
    for doc_id, tokens in documents:
        tokens = np.asarray(tokens, dtype=np.uint32)
        start = 0
        while start < len(tokens):
            take = min(width - filled, len(tokens) - start)
            buffer.append(tokens[start : start + take])
            lens.append(take)
            ids.append(doc_id)
            filled += take
            start += take
            if filled == width:
                yield PackedSequence(np.concatenate(buffer), lens, ids)
                buffer, lens, ids, filled = [], [], [], 0
    if filled and last != "drop":
        if last == "pad":
            buffer.append(np.full(width - filled, pad_id, dtype=np.uint32))
            lens.append(width - filled)
            ids.append("")
        yield PackedSequence(np.concatenate(buffer), lens, ids)


def unpack(sequences: Iterable[PackedSequence]) -> dict[str, np.ndarray]:
    """The documents back from their pieces (padding dropped): ``doc_id -> tokens``."""
    pieces: dict[str, list[np.ndarray]] = {}
    for seq in sequences:
        start = 0
        for length, doc_id in zip(seq.doc_lens, seq.doc_ids):
            if doc_id:
                pieces.setdefault(doc_id, []).append(seq.tokens[start : start + length])
            start += length
    return {doc_id: np.concatenate(parts) for doc_id, parts in pieces.items()}


def position_ids(doc_lens: list[int]) -> np.ndarray:
    """Positions restarting at 0 for every document piece (for attention that stays inside documents)."""
    return np.concatenate([np.arange(n, dtype=np.int32) for n in doc_lens]) if doc_lens else np.zeros(0, np.int32)
