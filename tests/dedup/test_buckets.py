"""Bucketing by key with dictionary-encoded ids: the exploded (key, id) rows, the shuffle's split
of them, and the reducer's edges must equal what plain string ids give."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curate.dedup.lsh import band_hashes
from curate.dedup.search import DuplicateSearch
from curate.dedup.shuffle import _reduce, _split


def _sketch_block(first: int, count: int, rng: np.random.Generator) -> pa.Table:
    """Documents ``first .. first+count`` with 3 keys each drawn from a small pool, so buckets
    form within and across blocks; some documents have no keys."""
    keys = [[rng.integers(0, 40).item().to_bytes(8, "little") for _ in range(3)] if i % 7 else []
            for i in range(first, first + count)]
    ids = [f"doc-{i:05d}\0file-{i % 3}.jsonl\0{len(str(i))}" for i in range(first, first + count)]
    return pa.table({"id": pa.array(ids, pa.string()), "keys": pa.array(keys, pa.list_(pa.binary()))})


def _plain_explode(block: pa.Table) -> pa.Table:
    rows = [(key, doc) for doc, keys in zip(block.column("id").to_pylist(), block.column("keys").to_pylist())
            for key in keys]
    return pa.table({"key": pa.array([k for k, _ in rows], pa.binary()), "id": pa.array([d for _, d in rows], pa.string())})


def _edge_set(edges: pa.Table) -> set[tuple[str, str, bool]]:
    return set(zip(edges.column("a").to_pylist(), edges.column("b").to_pylist(), edges.column("exact").to_pylist()))


def test_exploded_ids_are_the_documents_ids_without_copying_them():
    block = _sketch_block(0, 50, np.random.default_rng(1))
    exploded = DuplicateSearch.explode_keys(block)
    assert pa.types.is_dictionary(exploded.schema.field("id").type)
    assert exploded.column("id").chunk(0).dictionary.equals(block.column("id").chunk(0))
    assert exploded.cast(pa.schema([("key", pa.binary()), ("id", pa.string())])).equals(_plain_explode(block))


@pytest.mark.parametrize("partitions", [1, 2, 64])
def test_shuffled_buckets_give_the_edges_plain_ids_give(partitions):
    rng = np.random.default_rng(partitions)
    blocks = [_sketch_block(first, 60, rng) for first in range(0, 300, 60)]
    expected = _edge_set(DuplicateSearch.bucket_edges(pa.concat_tables([_plain_explode(b) for b in blocks])))
    assert expected  # the key pool is small enough for buckets of two or more
    pieces = [_split(block, "key", partitions, DuplicateSearch.explode_keys) for block in blocks]
    pieces = [[p] if partitions == 1 else p for p in pieces]
    found: set[tuple[str, str, bool]] = set()
    for i in range(partitions):
        found |= _edge_set(_reduce(DuplicateSearch.bucket_edges, {}, [len(blocks)], *[p[i] for p in pieces]))
    assert found == expected


def test_a_split_piece_carries_only_the_ids_it_uses_when_that_is_few():
    block = _sketch_block(0, 200, np.random.default_rng(3))
    pieces = _split(block, "key", 64, DuplicateSearch.explode_keys)
    for piece in pieces:
        ids = piece.column("id").combine_chunks()
        assert len(ids.dictionary) <= max(1, piece.num_rows)  # cut down, not the block's 200 ids
        assert len(set(ids.dictionary.to_pylist())) == len(ids.dictionary)
    few = _split(block, "key", 2, DuplicateSearch.explode_keys)
    assert all(len(p.column("id").combine_chunks().dictionary) == 200 for p in few)  # most ids used: kept whole
    decoded = pa.concat_tables(pieces).column("id").to_pylist()
    assert sorted(decoded) == sorted(_plain_explode(block).column("id").to_pylist())


def test_band_hashes_written_into_a_strided_view_equal_the_returned_ones():
    signatures = np.random.default_rng(5).integers(0, 2**32, size=(33, 128), dtype=np.uint64).astype(np.uint32)
    expected = band_hashes(signatures, 9, 13)
    row_bytes = np.zeros((33, 17 + 72), np.uint8)  # a key row: 17 bytes of exact key, then the bands
    band_hashes(signatures, 9, 13, out=row_bytes[:, 17:].view("<u8"))
    np.testing.assert_array_equal(row_bytes[:, 17:].view("<u8"), expected)
    assert not row_bytes[:, :17].any()
