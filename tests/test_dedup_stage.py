"""Pieces of the dedup stage that need no Ray (the quickstart runs the whole global step on Ray)."""

from __future__ import annotations

import pyarrow as pa

from curate.schema import BASE_SCHEMA
from curate.stages.dedup import Dedup, DedupConfig, _union_find


def test_union_find_roots_are_smallest_ids() -> None:
    roots = _union_find([("b", "c"), ("a", "c"), ("x", "y")])
    assert roots == {"a": "a", "b": "a", "c": "a", "x": "x", "y": "x"}


def test_keys_exact_and_band_keys() -> None:
    text = "The river flooded the lower town after three days of heavy rain in the valley."
    rows = [{"id": "a", "text": text}, {"id": "b", "text": text.upper() + "!!"},
            {"id": "c", "text": "Completely different words about cooking rice with ginger and garlic today."},
            {"id": "dead", "text": text, "reject_stage": "langid", "reject_reason": "low_score"}]
    table = pa.Table.from_pylist([{"source": "t", "domain": "web", **r} for r in rows], schema=BASE_SCHEMA)
    stage = Dedup(DedupConfig(threshold=0.8))
    bands, _ = stage.band_parameters()
    keys = stage.keys(table).to_pylist()
    assert {k["id"] for k in keys} == {"a", "b", "c"}  # rejected rows take no part
    by_id = {}
    for k in keys:
        by_id.setdefault(k["id"], set()).add(k["key"])
    assert len(by_id["a"]) == 1 + bands
    exact_a = {k for k in by_id["a"] if k.startswith("x:")}
    assert exact_a == {k for k in by_id["b"] if k.startswith("x:")}  # case and punctuation normalised away
    assert by_id["a"] == by_id["b"] and not by_id["a"] & by_id["c"]
    assert "MinHash 128 perms" in stage.describe() and f"{bands} bands" in stage.describe()
