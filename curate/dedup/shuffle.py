"""A small hash shuffle on Ray tasks: co-partition tables by a key, reduce each partition.

Dedup needs "group by band key" and two "join edges with documents" steps. Ray Data has both
(``groupby().map_groups``, ``join``), but on a small machine its hash shuffle starts aggregator
actors that cost seconds per call, and ``map_groups`` calls Python once per group (millions of
LSH buckets). Here each input block is split by a stable hash of its key column into
``partitions`` pieces (one map task per few blocks), and one reduce task per partition gets its
piece of every input, so a reducer sees whole groups and joins with vectorised Arrow code.
Pieces live in Ray's object store (spilled to disk when it fills): no task holds more than a
few blocks or one partition, and the driver holds only object references. A reducer whose
partition would take more memory than it is given works through it in parts (``_reduce``).

The trainer-shard builder uses the same shuffle as a range partition: its blocks are files that
``prepare`` reads, and the key column already holds each row's partition number
(``hash_key=False``), a contiguous range of the seeded order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from curate.runtime.memory import release_memory


@dataclass(frozen=True)
class ShuffleInput:
    """Blocks (object refs of Arrow tables, or anything ``prepare`` turns into one) to partition
    on ``key``: a stable hash of it, or with ``hash_key=False`` the key is the partition number."""

    blocks: Sequence[Any]
    key: str
    prepare: Callable[[Any], pa.Table] | None = None
    hash_key: bool = True
    blocks_per_task: int = 1  # blocks one split task takes (fewer, larger pieces in the object store)


def partition_of(column: pa.ChunkedArray | pa.Array, partitions: int, seed: int = 0) -> np.ndarray:
    """Partition number of every value: a hash that is stable across processes and machines
    (Python's ``hash`` of str is salted per process, so it cannot be used). Another ``seed``
    gives an independent split (a reducer splitting its own partition further)."""
    import polars as pl

    if pa.types.is_dictionary(column.type):  # hash the values, not the per-block indices
        column = column.cast(column.type.value_type)
    hashes = pl.Series(values=column).hash(seed=seed).to_numpy()  # stable within one polars version
    return (hashes % np.uint64(partitions)).astype(np.int64)


def _split_one(block: pa.Table, part: np.ndarray, partitions: int) -> list[pa.Table]:
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(partitions + 1))
    ordered = block.take(pa.array(order))
    return [_compact_dictionaries(ordered.slice(bounds[i], bounds[i + 1] - bounds[i])) for i in range(partitions)]


def _split(key: str, partitions: int, prepare, hash_key: bool, *blocks: Any) -> list[pa.Table] | pa.Table:
    """One map task: ``blocks`` (several, so the pieces number tasks x partitions, not blocks x
    partitions) prepared and split into one table per partition."""
    if not blocks:
        raise ValueError("a shuffle split task needs at least one block")
    pieces: list[list[pa.Table]] = [[] for _ in range(partitions)]
    for block in blocks:
        if prepare is not None:
            block = prepare(block)
        if hash_key:
            part = partition_of(block.column(key), partitions)
        else:
            part = block.column(key).to_numpy().astype(np.int64)
            if len(part) and (part.min() < 0 or part.max() >= partitions):
                raise ValueError(f"partition numbers in {key!r} outside [0, {partitions})")
        for i, piece in enumerate(_split_one(block, part, partitions) if partitions > 1 else [block]):
            pieces[i].append(piece)
    joined = [pa.concat_tables(p) if len(p) > 1 else p[0] for p in pieces]
    del blocks, block
    release_memory()
    return joined[0] if partitions == 1 else joined  # one return value: Ray stores it as is, not as a list


def _compact_dictionaries(piece: pa.Table) -> pa.Table:
    """The piece's dictionary columns cut down to the values its rows use, where that is under
    half the dictionary. A slice keeps (and Ray would send) the block's whole dictionary, once per
    partition: fine for a few partitions, more bytes than the decoded column for many."""
    for i, field in enumerate(piece.schema):
        if not pa.types.is_dictionary(field.type) or piece.column(i).null_count:
            continue
        column = piece.column(i).combine_chunks()
        indices = column.indices.to_numpy()
        used = np.unique(indices)
        if 2 * len(used) >= len(column.dictionary):
            continue
        remapped = np.searchsorted(used, indices).astype(indices.dtype)
        piece = piece.set_column(i, field, pa.DictionaryArray.from_arrays(remapped, column.dictionary.take(pa.array(used))))
    return piece


def _reduce(fn, kwargs: dict, sizes: list[int], keys: list[str | None], working_bytes: int | None,
            bytes_per_input_byte: float, *pieces: pa.Table) -> Any:
    """One reduce task: its piece of every input, concatenated, through ``fn``. When the memory
    that takes (``bytes_per_input_byte`` per input byte) is over ``working_bytes``, the partition
    is split again by an independent hash of each input's key and ``fn`` runs on one part at a
    time (rows with equal keys stay together): the task is split, not run over its memory."""
    tables, at = [], 0
    for size in sizes:
        parts = [p for p in pieces[at : at + size] if p.num_rows] or list(pieces[at : at + 1])
        tables.append(pa.concat_tables(parts) if len(parts) > 1 else parts[0])
        at += size
    need = sum(t.nbytes for t in tables) * bytes_per_input_byte
    parts = math.ceil(need / working_bytes) if working_bytes and all(keys) else 1
    if parts <= 1:
        result = fn(*tables, **kwargs)
    else:
        split = [_split_one(t, partition_of(t.column(k), parts, seed=1), parts) for t, k in zip(tables, keys)]
        result = _combine([fn(*[s[i] for s in split], **kwargs) for i in range(parts)])
        del split
    del tables, pieces
    release_memory()
    return result


def _combine(results: list[Any]) -> Any:
    """The results of one reduce's parts as one: tables concatenated, counts summed, each place
    of a tuple (a function with several returns) on its own."""
    first = results[0]
    if isinstance(first, tuple):
        return tuple(_combine([r[i] for r in results]) for i in range(len(first)))
    if isinstance(first, pa.Table):
        return pa.concat_tables(results)
    return sum(results)


def shuffle_reduce(fn: Callable[..., Any], partitions: int, *inputs: ShuffleInput,
                   per_partition: Sequence[dict] | None = None, task_options: dict[str, Any] | None = None,
                   num_returns: int = 1, working_bytes: int | None = None, bytes_per_input_byte: float = 1.0,
                   **kwargs) -> list[Any]:
    """``fn(table_1, ..., table_n, **kwargs)`` on each of ``partitions`` co-partitions of the
    inputs (rows of any input with equal keys meet in one call); object refs of the results.
    ``per_partition[i]`` adds keyword arguments for partition ``i`` only. ``task_options`` are
    Ray options for every split and reduce task (the calling stage's ``num_cpus``, ``memory``,
    custom ``resources``, ``max_retries``).

    With ``num_returns`` > 1, ``fn`` returns that many values and each partition's entry is a
    list of their refs (a table to shuffle again, and a count to read, say).

    With ``working_bytes``, a reduce task whose inputs would take more than that
    (``bytes_per_input_byte`` per byte of its pieces: what ``fn`` allocates beyond them) runs
    ``fn`` on parts of its partition in turn (inputs with ``hash_key=False`` are never split).

    Every input needs at least one block (an empty table is fine) so reducers see its schema.
    """
    import ray

    task_options = task_options or {}
    split = ray.remote(_split)
    reduce = ray.remote(_reduce).options(**task_options, num_returns=num_returns)
    pieces: list[list[list[Any]]] = []  # input -> block -> partition refs
    for item in inputs:
        if not item.blocks:
            raise ValueError(f"shuffle input on {item.key!r} has no blocks")
        per_block = []
        step = max(1, item.blocks_per_task)
        for at in range(0, len(item.blocks), step):
            refs = split.options(num_returns=partitions, **task_options).remote(
                item.key, partitions, item.prepare, item.hash_key, *item.blocks[at : at + step])
            per_block.append([refs] if partitions == 1 else list(refs))
        pieces.append(per_block)
    sizes = [len(p) for p in pieces]
    keys = [item.key if item.hash_key else None for item in inputs]
    if per_partition is not None and len(per_partition) != partitions:
        raise ValueError(f"per_partition has {len(per_partition)} entries for {partitions} partitions")
    return [
        reduce.remote(fn, kwargs | (per_partition[i] if per_partition else {}), sizes, keys, working_bytes,
                      bytes_per_input_byte, *[block[i] for per_block in pieces for block in per_block])
        for i in range(partitions)
    ]
