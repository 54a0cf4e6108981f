"""The decisions table every worker reads: the same answers as the dict it is built from."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from curate.dedup.lookup import Decision, DecisionTable


def _decisions(n: int) -> dict[str, tuple[str, int, str | None, str]]:
    return {f"doc-{i}\0file-{i % 5}.jsonl\0{len(str(i))}": (f"doc-{i - i % 3}", 3, None if i % 3 == 0 else "near_duplicate",
                                                             f"doc-{i - i % 3}") for i in range(n)}


def test_lookups_equal_the_mapping_and_miss_what_it_lacks():
    decisions = _decisions(5000)
    table = DecisionTable.from_mapping(decisions)
    keys = list(decisions)[::7] + ["absent\0\x000", "doc-1\0file-1.jsonl\x002"]  # a near miss of a real key
    found = table.lookup(keys)
    assert found[:-2] == [Decision(*decisions[k]) for k in keys[:-2]]
    assert found[-2:] == [None, None]
    assert table.get(keys[0]) == Decision(*decisions[keys[0]])


def test_empty_table_finds_nothing():
    assert DecisionTable.from_mapping({}).lookup(["a", "b"]) == [None, None]


def test_keys_that_share_a_hash_are_told_apart(monkeypatch: pytest.MonkeyPatch):
    import curate.dedup.lookup as lookup

    def colliding(keys):
        return np.array([7 if str(k).startswith("x") else 1 for k in keys], dtype=np.uint64)

    monkeypatch.setattr(lookup, "key_hashes", colliding)  # every "x" key hashes alike
    decisions = {"x1": ("x1", 2, None, "x1"), "x2": ("x1", 2, "near_duplicate", "x1"), "y": ("y", 2, None, "y")}
    table = DecisionTable.from_mapping(decisions)
    assert table.lookup(["x2", "x1", "x3", "y"]) == [Decision(*decisions["x2"]), Decision(*decisions["x1"]), None,
                                                      Decision(*decisions["y"])]


def test_a_pickled_table_answers_alike():
    table = DecisionTable.from_mapping(_decisions(100))
    again = pickle.loads(pickle.dumps(table))
    keys = list(_decisions(100))
    assert again.lookup(keys) == table.lookup(keys)


def test_a_table_of_decision_rows_answers_as_the_mapping_does():
    import pyarrow as pa

    decisions = _decisions(3000)
    keys = list(decisions)
    rows = pa.table({"key": keys, "cluster": [v[0] for v in decisions.values()],
                     "cluster_size": pa.array([v[1] for v in decisions.values()], pa.int64()),
                     "reason": [v[2] for v in decisions.values()], "kept": [v[3] for v in decisions.values()]})
    from_rows = DecisionTable.from_rows(pa.concat_tables([rows.slice(0, 1000), rows.slice(1000)]))  # two chunks
    asked = keys[::3] + ["absent\0\x000"]
    assert from_rows.lookup(asked) == DecisionTable.from_mapping(decisions).lookup(asked)
    assert from_rows.removed(asked).tolist() == [decisions[k][2] is not None for k in keys[::3]] + [False]
    assert DecisionTable.from_rows(rows.slice(0, 0)).removed(["a"]).tolist() == [False]
