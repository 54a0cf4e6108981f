"""From verified duplicate edges to one kept document per cluster (driver side, no Ray).

The edge list is the only corpus-dependent thing the driver holds: a few dozen bytes per
duplicate edge, nothing per unique document. Past a few hundred million edges this step is the
one to distribute (alternating large-star / small-star rounds as Ray Data groupbys, each round a
shuffle of the edge list, until no label changes); the inputs and outputs here stay the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

KeepCriterion = Literal["quality_score", "length", "fetch_date"]
DEFAULT_KEEP_BY: tuple[KeepCriterion, ...] = ("quality_score", "length", "fetch_date")


@dataclass(frozen=True)
class DocFacts:
    """What the keep policy compares."""

    length: int
    quality_score: float | None = None
    fetch_date: str | None = None


@dataclass(frozen=True)
class Decision:
    cluster: str  # the smallest id in the cluster: stable across runs and partition counts
    cluster_size: int
    kept: str  # the id this document's cluster keeps (itself when kept)
    reason: str | None  # exact_duplicate / near_duplicate; None when kept


def union_find(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """id -> root for every id in ``edges`` (roots are the smallest id of each component)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            parent[rb] = ra
    return {x: find(x) for x in parent}


def rank_key(doc_id: str, facts: DocFacts, keep_by: Sequence[KeepCriterion]) -> tuple:
    """Sort key: the document to keep sorts first. Missing values lose to present ones; the id
    breaks every tie, so the choice never depends on the order edges arrived in."""
    key: list = []
    for criterion in keep_by:
        if criterion == "quality_score":
            score = facts.quality_score
            key.append(-score if score is not None and not math.isnan(score) else math.inf)
        elif criterion == "length":
            key.append(-facts.length)
        elif criterion == "fetch_date":  # earliest capture first (ISO 8601 sorts as text)
            key.append((facts.fetch_date is None, facts.fetch_date or ""))
        else:
            raise ValueError(f"unknown keep criterion {criterion!r}")
    key.append(doc_id)
    return tuple(key)


def decide(
    edges: Sequence[tuple[str, str, bool]],
    facts: dict[str, DocFacts],
    keep_by: Sequence[KeepCriterion] = DEFAULT_KEEP_BY,
    preferred: frozenset[str] | set[str] = frozenset(),
) -> dict[str, Decision]:
    """One decision per document that has a verified duplicate edge ``(a, b, exact)``.

    Documents in one connected component form a cluster; the best by ``keep_by`` is kept and
    every other member loses to it. A member whose normalised text equals that of a better
    member (its exact group's best) is an ``exact_duplicate``; the best of each exact group
    other than the kept document's is a ``near_duplicate``. A cluster with ``preferred`` members
    keeps the best of those (incremental dedup: the earlier corpus's documents).
    """
    roots = union_find((a, b) for a, b, _ in edges)
    members: dict[str, list[str]] = {}
    for doc_id, root in roots.items():
        members.setdefault(root, []).append(doc_id)
    exact_roots = union_find((a, b) for a, b, exact in edges if exact)  # exact-duplicate groups

    def rank(doc_id: str) -> tuple:  # ``preferred`` documents (already published) before any other
        return (doc_id not in preferred, *rank_key(doc_id, facts.get(doc_id, DocFacts(0)), keep_by))

    group_best: dict[str, str] = {}
    for doc_id, group in exact_roots.items():
        best = group_best.get(group)
        if best is None or rank(doc_id) < rank(best):
            group_best[group] = doc_id
    decisions: dict[str, Decision] = {}
    for root, ids in members.items():
        kept = min(ids, key=rank)
        for doc_id in ids:
            group = exact_roots.get(doc_id)
            if doc_id == kept:
                reason = None
            elif group is not None and group_best[group] != doc_id:
                reason = "exact_duplicate"
            else:
                reason = "near_duplicate"
            decisions[doc_id] = Decision(root, len(ids), kept, reason)
    return decisions


def kept_not_longest(decisions: dict[str, Decision], facts: dict[str, DocFacts]) -> int:
    """Clusters whose kept document is not their longest (ties: the smallest id), i.e. where
    ``keep_by`` chose differently from a length-only policy (a better quality score, say)."""
    members: dict[str, list[str]] = {}
    kept: dict[str, str] = {}
    for doc_id, decision in decisions.items():
        members.setdefault(decision.cluster, []).append(doc_id)
        kept[decision.cluster] = decision.kept

    def longest(ids: list[str]) -> str:
        return min(ids, key=lambda d: (-facts.get(d, DocFacts(0)).length, d))
    return sum(kept[cluster] != longest(ids) for cluster, ids in members.items())
