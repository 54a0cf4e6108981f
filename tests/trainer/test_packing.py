"""Packing tokenized documents into fixed-length sequences (issue 8 groundwork)."""

from __future__ import annotations

import numpy as np
import pytest

from curate.tokenizer import load_tokenizer
from curate.trainer.packing import pack, pack_flat, position_ids, unpack


@pytest.fixture(scope="module")
def documents(sample_texts) -> list[tuple[str, np.ndarray]]:
    tokenizer = load_tokenizer("qwen2.5")
    texts = sample_texts[:40]
    return [(f"d{i}", np.array(ids + [tokenizer.eos_id], dtype=np.uint32))
            for i, ids in enumerate(tokenizer.encode_batch(texts))]


@pytest.mark.parametrize("seq_len", [7, 128, 2048])
@pytest.mark.parametrize("last", ["drop", "pad", "keep"])
def test_packing_round_trip_reproduces_every_document(documents, seq_len, last) -> None:
    sequences = list(pack(documents, seq_len, last=last, pad_id=151643))
    total = sum(len(t) for _, t in documents)
    full = [s for s in sequences if len(s.tokens) == seq_len + 1 and "" not in s.doc_ids]  # not padded
    assert len(full) == total // (seq_len + 1)
    for seq in sequences:
        assert sum(seq.doc_lens) == len(seq.tokens) and len(seq.doc_lens) == len(seq.doc_ids)
        assert len(position_ids(seq.doc_lens)) == len(seq.tokens)
    if last == "drop":
        assert len(sequences) == len(full)
        return
    assert len(sequences) == len(full) + (1 if total % (seq_len + 1) else 0)
    if last == "pad":
        assert all(len(s.tokens) == seq_len + 1 for s in sequences)
    back = unpack(sequences)
    assert list(back) == [doc_id for doc_id, _ in documents]  # order kept
    for doc_id, tokens in documents:
        np.testing.assert_array_equal(back[doc_id], tokens)


def test_document_boundaries_and_positions() -> None:
    docs = [("a", np.array([1, 2, 3])), ("b", np.array([4, 5, 6, 7, 8])), ("c", np.array([9]))]
    seqs = list(pack(docs, 3, last="pad", pad_id=0))
    assert [s.tokens.tolist() for s in seqs] == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 0, 0, 0]]
    assert [s.doc_lens for s in seqs] == [[3, 1], [4], [1, 3]]
    assert [s.doc_ids for s in seqs] == [["a", "b"], ["b"], ["c", ""]]
    assert position_ids([3, 1]).tolist() == [0, 1, 2, 0]
    with pytest.raises(ValueError):
        list(pack(docs, 0))


@pytest.mark.parametrize("seq_len", [1, 7, 128, 2048])
@pytest.mark.parametrize("last", ["drop", "pad", "keep"])
def test_pack_flat_gives_the_same_sequences_as_pack(documents, seq_len, last) -> None:
    expected = list(pack(documents, seq_len, last=last, pad_id=151643))
    flat = np.concatenate([t for _, t in documents])
    batch = pack_flat(flat, np.array([len(t) for _, t in documents]), seq_len, last=last, pad_id=151643)
    assert len(batch.offsets) - 1 == len(expected)
    for r, seq in enumerate(expected):
        np.testing.assert_array_equal(batch.tokens[batch.offsets[r] : batch.offsets[r + 1]], seq.tokens)
        assert batch.doc_lens[batch.doc_lens_offsets[r] : batch.doc_lens_offsets[r + 1]].tolist() == seq.doc_lens
    assert batch.offsets[-1] == len(batch.tokens) and batch.doc_lens_offsets[-1] == len(batch.doc_lens)


def test_pack_flat_of_nothing_and_of_wrong_lengths() -> None:
    empty = pack_flat(np.zeros(0, np.uint32), np.zeros(0, np.int64), 4, last="pad")
    assert len(empty.tokens) == 0 and empty.offsets.tolist() == [0]
    with pytest.raises(ValueError, match="add up"):
        pack_flat(np.arange(5, dtype=np.uint32), np.array([2, 2]), 4)
