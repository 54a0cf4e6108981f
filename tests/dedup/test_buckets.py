"""Bucketing by key with dictionary-encoded ids: the exploded (key, id) rows, the shuffle's split
of them, and the reducer's edges must equal what plain string ids give."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curate.dedup.lsh import band_hashes
from curate.dedup.search import DuplicateSearch
from curate.dedup.shuffle import _reduce, _split, partition_of


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
    pieces = [_split("key", partitions, DuplicateSearch.explode_keys, True, *blocks[at : at + 2])
              for at in range(0, len(blocks), 2)]  # two blocks per split task
    pieces = [[p] if partitions == 1 else p for p in pieces]
    found: set[tuple[str, str, bool]] = set()
    for i in range(partitions):
        found |= _edge_set(_reduce(DuplicateSearch.bucket_edges, {}, [len(pieces)], ["key"], None, 1.0,
                                   *[p[i] for p in pieces]))
    assert found == expected


def test_a_split_piece_carries_only_the_ids_it_uses_when_that_is_few():
    block = _sketch_block(0, 200, np.random.default_rng(3))
    pieces = _split("key", 64, DuplicateSearch.explode_keys, True, block)
    for piece in pieces:
        ids = piece.column("id").combine_chunks()
        assert len(ids.dictionary) <= max(1, piece.num_rows)  # cut down, not the block's 200 ids
        assert len(set(ids.dictionary.to_pylist())) == len(ids.dictionary)
    few = _split("key", 2, DuplicateSearch.explode_keys, True, block)
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


def test_a_reduce_over_its_memory_works_through_parts_of_its_partition_with_the_same_result():
    """The attach step's join over a partition whose pieces need more than ``working_bytes``:
    run part by part (equal keys kept together across both inputs), the edges equal one run's."""
    rng = np.random.default_rng(11)
    blocks = [_sketch_block(first, 80, rng) for first in range(0, 400, 80)]
    exploded = pa.concat_tables([DuplicateSearch.explode_keys(b) for b in blocks])
    edges = DuplicateSearch.bucket_edges(exploded)
    docs = pa.concat_tables([b.drop_columns(["keys"]) for b in blocks])
    whole = DuplicateSearch.attach_first_end(edges, docs)
    calls: list[int] = []

    def counted(e: pa.Table, d: pa.Table) -> pa.Table:
        calls.append(e.num_rows)
        return DuplicateSearch.attach_first_end(e, d)

    inputs = edges.nbytes + docs.nbytes
    parted = _reduce(counted, {}, [1, 1], ["a", "id"], inputs // 3 + 1, 1.0, edges, docs)
    assert len(calls) == 3 and sum(calls) == edges.num_rows  # split in 3, every edge in exactly one part
    assert parted.sort_by([("a", "ascending"), ("b", "ascending")]).equals(whole.sort_by([("a", "ascending"), ("b", "ascending")]))
    calls.clear()
    _reduce(counted, {}, [1, 1], ["a", "id"], inputs * 2, 1.0, edges, docs)
    assert len(calls) == 1  # within its memory: one call
    calls.clear()
    _reduce(counted, {}, [1, 1], ["a", None], inputs // 3, 1.0, edges, docs)
    assert len(calls) == 1  # an input that must not be re-split (a range partition) keeps it whole


def test_parts_of_a_reduce_with_several_returns_are_combined_place_by_place():
    table = pa.table({"u": [f"n{i}" for i in range(100)], "v": list(range(100))})

    def rows_and_count(t: pa.Table) -> tuple[pa.Table, int]:
        return t, t.num_rows

    out, count = _reduce(rows_and_count, {}, [1], ["u"], table.nbytes // 4, 1.0, table)
    assert count == 100 and sorted(out.column("v").to_pylist()) == list(range(100))


def test_the_second_split_is_independent_of_the_first():
    ids = pa.array([f"doc-{i}" for i in range(4000)])
    first, second = partition_of(ids, 4), partition_of(ids, 4, seed=1)
    for p in range(4):  # a partition's rows spread over every part of the re-split
        assert len(set(second[first == p].tolist())) == 4
    assert (partition_of(pa.DictionaryArray.from_arrays(pa.array(np.arange(4000)), ids), 4) == first).all()
