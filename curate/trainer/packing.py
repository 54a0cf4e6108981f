"""Packing tokenized documents into fixed-length training sequences, keeping document boundaries.

Documents (each already ending in EOS) are concatenated in order and cut into sequences of
``seq_len + 1`` tokens (inputs and shifted targets share one row). ``doc_lens`` lists how many
tokens of each document piece a sequence holds, in order, so a trainer can build
``position_ids`` or a block-diagonal attention mask and never attend across documents; a
document cut at a sequence end continues at the start of the next one. The last partial
sequence is dropped, padded (with ``pad_id``, its length recorded as a piece of document -1),
or kept short, per ``last``.

:func:`pack` walks documents one by one (and keeps their ids, for tests and inspection);
:func:`pack_flat` gives the same sequences from one flat token buffer with numpy alone, which is
what the shard builder uses on a bucket of millions of documents.
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


@dataclass(frozen=True)
class PackedBatch:
    """Many packed sequences as flat buffers (the layout of Arrow list arrays)."""

    tokens: np.ndarray  # uint32, all sequences back to back
    offsets: np.ndarray  # int64, rows + 1: sequence r is tokens[offsets[r]:offsets[r + 1]]
    doc_lens: np.ndarray  # int32, the pieces of all sequences back to back
    doc_lens_offsets: np.ndarray  # int64, rows + 1: sequence r's pieces are doc_lens[o[r]:o[r + 1]]


def pack_flat(tokens: np.ndarray, doc_lengths: np.ndarray, seq_len: int, *, last: LastPolicy = "drop",
              pad_id: int = 0) -> PackedBatch:
    """:func:`pack` of the documents ``tokens`` holds back to back (``doc_lengths`` each), vectorised.

    The pieces are the spans between consecutive cut points, the cut points being the document
    ends and the sequence ends; a piece belongs to the sequence it starts in.
    """
    if seq_len < 1:
        raise ValueError("seq_len must be positive")
    width = seq_len + 1
    tokens = np.asarray(tokens, dtype=np.uint32)
    doc_ends = np.cumsum(np.asarray(doc_lengths, dtype=np.int64))
    if len(doc_ends) and doc_ends[-1] != len(tokens):
        raise ValueError(f"document lengths add up to {int(doc_ends[-1])}, not {len(tokens)} tokens")
    total = len(tokens)
    rest = total % width
    if rest and last == "drop":
        total -= rest
        tokens = tokens[:total]
    elif rest and last == "pad":
        tokens = np.concatenate([tokens, np.full(width - rest, pad_id, dtype=np.uint32)])
        total += width - rest  # the pad piece starts at the last document end
    if total == 0:
        empty = np.zeros(1, dtype=np.int64)
        return PackedBatch(tokens[:0], empty, np.zeros(0, dtype=np.int32), empty)
    rows = -(-total // width)
    offsets = np.minimum(np.arange(rows + 1, dtype=np.int64) * width, total)
    cuts = np.union1d(doc_ends[doc_ends <= total], offsets[1:])
    starts = np.concatenate([[0], cuts[:-1]]).astype(np.int64)
    pieces = (cuts - starts).astype(np.int32)
    piece_offsets = np.searchsorted(starts // width, np.arange(rows + 1), side="left").astype(np.int64)
    return PackedBatch(tokens, offsets, pieces, piece_offsets)


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
