"""The dedup decisions as every worker reads them: one Arrow table, not a Python dict.

The per-batch pass after ``fit`` needs each clustered document's decision on every worker. As a
dict of tuples that is a few hundred bytes a document, unpickled into every worker process
(450,000 decisions took ~0.4 GiB per worker at 3M documents). As an Arrow table sorted by a
64-bit hash of the row key it is its column bytes once, in Ray's object store, mapped by every
worker without a copy; a batch looks its keys up with a binary search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCHEMA = pa.schema([("hash", pa.uint64()), ("key", pa.string()), ("cluster", pa.string()),
                    ("cluster_size", pa.int32()), ("reason", pa.string()), ("kept", pa.string())])


class Decision(NamedTuple):
    cluster: str
    cluster_size: int
    reason: str | None  # None: the copy the cluster keeps
    kept: str


def key_hashes(keys: Sequence[str] | pa.Array) -> np.ndarray:
    """A 64-bit hash of each row key; the same in every process of one installation."""
    import polars as pl

    return pl.Series(values=keys, dtype=pl.String).hash(seed=0).to_numpy()


class DecisionTable:
    """Row key -> :class:`Decision` for the clustered documents (every other one is unclustered)."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table.combine_chunks() if table.num_rows else SCHEMA.empty_table()
        self._hashes: np.ndarray | None = None

    @classmethod
    def from_mapping(cls, decisions: Mapping[str, tuple[str, int, str | None, str]]) -> DecisionTable:
        values = list(decisions.values())
        return cls.from_rows(pa.table({
            "key": pa.array(list(decisions), pa.string()),
            "cluster": pa.array([v[0] for v in values], pa.string()),
            "cluster_size": pa.array([v[1] for v in values], pa.int32()),
            "reason": pa.array([v[2] for v in values], pa.string()),
            "kept": pa.array([v[3] for v in values], pa.string()),
        }))

    @classmethod
    def from_rows(cls, rows: pa.Table) -> DecisionTable:
        """From a table of decisions (``key``, ``cluster``, ``cluster_size``, ``reason``, ``kept``:
        what the clustering tasks return), hashed and sorted without a Python object per row."""
        rows = rows.select(SCHEMA.names[1:]).combine_chunks()
        hashes = pa.array(key_hashes(rows.column("key").chunk(0) if rows.num_rows else []), pa.uint64())
        table = rows.add_column(0, "hash", hashes).cast(SCHEMA)
        return cls(table.sort_by([("hash", "ascending"), ("key", "ascending")]))

    def removed(self, keys: Sequence[str]) -> np.ndarray:
        """Whether each key is a copy its cluster does not keep."""
        at = self.positions(keys)
        if not len(self):
            return np.zeros(len(keys), bool)
        reasons = self.table.column("reason").take(pa.array(np.where(at >= 0, at, 0)))
        return (at >= 0) & pc.is_valid(reasons).to_numpy(zero_copy_only=False)

    def __len__(self) -> int:
        return self.table.num_rows

    def __reduce__(self):  # the table only: the hash view is rebuilt over the mapped buffer
        return (DecisionTable, (self.table,))

    def positions(self, keys: Sequence[str]) -> np.ndarray:
        """Row of each key in the table, -1 where it has no decision."""
        if self._hashes is None:
            self._hashes = self.table.column("hash").to_numpy()  # zero-copy over the table's buffer
        hashes = self._hashes
        wanted = key_hashes(keys)
        found = np.searchsorted(hashes, wanted)
        found[found >= len(hashes)] = -1
        hit = found >= 0
        hit[hit] = hashes[found[hit]] == wanted[hit]
        found[~hit] = -1
        stored = self.table.column("key")
        candidates = np.flatnonzero(hit)
        same = pc.equal(stored.take(pa.array(found[candidates])),
                        pa.array([keys[i] for i in candidates.tolist()], pa.string())).to_numpy(zero_copy_only=False)
        for i in candidates[~same].tolist():  # a 64-bit collision: the key may sit further on
            at = int(found[i])
            while at < len(hashes) and hashes[at] == wanted[i] and stored[at].as_py() != keys[i]:
                at += 1
            found[i] = at if at < len(hashes) and hashes[at] == wanted[i] else -1
        return found

    def lookup(self, keys: Sequence[str]) -> list[Decision | None]:
        at = self.positions(keys)
        rows = self.table.take(pa.array(np.where(at >= 0, at, 0))).to_pydict() if len(self) else {}
        return [Decision(rows["cluster"][i], rows["cluster_size"][i], rows["reason"][i], rows["kept"][i]) if p >= 0
                else None for i, p in enumerate(at.tolist())]

    def get(self, key: str) -> Decision | None:
        return self.lookup([key])[0]
