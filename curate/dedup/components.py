"""Clusters of duplicates on Ray tasks, for edge lists past the driver's budget.

The verified edges never meet in one process. Connected components come from alternating
**large-star** and **small-star** rounds (Kiveris, Lattanzi, Mirrokni, Rastogi, Vassilvitskii:
"Connected Components in MapReduce and Beyond", SoCC 2014), each round one shuffle of the edge
list by node (:func:`curate.dedup.shuffle.shuffle_reduce`), until every component is a star
around its smallest id, which is then every member's cluster id: the same root the driver's
union-find picks. The edges are then sent to their cluster's partition, where the same
:func:`curate.dedup.clusters.decide` as on the driver picks the copy to keep, so the decisions
are identical whichever way the clusters were found.

* Large-star: every node links each *larger* neighbour to the smallest id of its neighbourhood
  (itself included).
* Small-star: every node links its *smaller* neighbours and itself to the smallest of them.

Each large-star reducer also counts the nodes that are neither a star's centre (no smaller
neighbour) nor a leaf (exactly one neighbour, smaller): none anywhere means the input is already
a forest of stars, and the rounds stop. Kiveris et al. prove O(log^2 n) rounds; a bound of
:data:`MAX_ROUNDS` turns a bug into an error instead of a run that never ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from curate.dedup.clusters import DocFacts, KeepCriterion, decide, kept_not_longest
from curate.ids import id_of_key

MAX_ROUNDS = 200
_EDGES = pa.schema([("u", pa.string()), ("v", pa.string())])
DECISIONS = pa.schema([("key", pa.string()), ("cluster", pa.string()), ("cluster_size", pa.int64()),
                       ("reason", pa.string()), ("kept", pa.string())])


_FACT_COLUMNS = [f"{name}_{side}" for side in "ab" for name in ("length", "quality_score", "fetch_date")]


def accepted_edges(candidates: pa.Table, threshold: float, verify: str) -> tuple[pa.Table, int, int]:
    """One partition (by ``b``) of the verified candidate edges: each pair once, if it is a
    duplicate (exact, or similar enough), with both ends' facts; and the partition's counts of
    candidate pairs and of pairs verification turned down. The same rules as the driver's
    ``DuplicateSearch._decide``; a pair's rows all meet in one partition."""
    import polars as pl

    df = pl.from_arrow(candidates)
    duplicate = pl.lit(True) if verify == "none" else pl.col("exact") | (pl.col("similarity") >= threshold)
    pairs = df.group_by("a", "b").agg(pl.col("exact").any(), duplicate.any().alias("duplicate"),
                                      *[pl.col(c).first() for c in _FACT_COLUMNS])
    turned_down = pairs.filter(~pl.col("duplicate")).height
    kept = pairs.filter(pl.col("duplicate")).drop("duplicate").to_arrow()
    schema = pa.schema([candidates.schema.field(name) for name in ("a", "b", "exact", *_FACT_COLUMNS)])
    return kept.select(schema.names).cast(schema), pairs.height, turned_down


def _uv(table: pa.Table) -> pa.Table:
    """The edges as (u, v): accepted edges' (a, b), or a round's own (u, v)."""
    names = ["u", "v"] if "u" in table.column_names else ["a", "b"]
    return table.select(names).rename_columns(["u", "v"]).cast(_EDGES)


def _frame(table: pa.Table):
    import polars as pl

    return pl.from_arrow(_uv(table))


def both_directions(edges: pa.Table) -> pa.Table:
    """Each undirected edge as (u, v) and (v, u): a large-star reducer sees all of u's neighbours."""
    edges = _uv(edges)
    return pa.concat_tables([edges, pa.table({"u": edges.column("v"), "v": edges.column("u")})])


def larger_first(edges: pa.Table) -> pa.Table:
    """Each edge as (larger id, smaller id): a small-star reducer sees all of u's smaller neighbours."""
    import pyarrow.compute as pc

    edges = _uv(edges)
    swap = pc.less(edges.column("u"), edges.column("v"))
    return pa.table({"u": pc.if_else(swap, edges.column("v"), edges.column("u")),
                     "v": pc.if_else(swap, edges.column("u"), edges.column("v"))})


def large_star(edges: pa.Table) -> tuple[pa.Table, int]:
    """One partition of a large-star round (both directions of every edge of its nodes): the new
    edges, and how many of its nodes are neither a star's centre nor its leaf."""
    import polars as pl

    df = _frame(edges).unique()
    per_node = df.group_by("u").agg(pl.col("v").min().alias("m"), pl.len().alias("degree"),
                                    (pl.col("v") < pl.col("u")).sum().alias("smaller"))
    not_star = per_node.filter((pl.col("smaller") > 0) & ~((pl.col("degree") == 1) & (pl.col("smaller") == 1))).height
    per_node = per_node.with_columns(pl.when(pl.col("m") < pl.col("u")).then(pl.col("m")).otherwise(pl.col("u")).alias("m"))
    out = (df.join(per_node.select("u", "m"), on="u").filter(pl.col("v") > pl.col("u"))
           .select(pl.col("v").alias("u"), pl.col("m").alias("v")).unique())
    return out.to_arrow().cast(_EDGES), not_star


def small_star(edges: pa.Table) -> pa.Table:
    """One partition of a small-star round (edges as (larger, smaller)): each node's smaller
    neighbours and the node itself, linked to the smallest of them."""
    import polars as pl

    df = _frame(edges).unique()
    m = df.group_by("u").agg(pl.col("v").min().alias("m"))
    linked = df.join(m, on="u").filter(pl.col("v") != pl.col("m")).select(pl.col("v").alias("u"), pl.col("m").alias("v"))
    own = m.select(pl.col("u"), pl.col("m").alias("v"))
    return pl.concat([linked, own]).unique().to_arrow().cast(_EDGES)


def star_forest(edge_blocks: Sequence[Any], partitions: int, **shuffle_options: Any) -> tuple[list[Any], int]:
    """Object refs of (u, v) tables linking every node of the graph ``edge_blocks`` holds (tables
    with ``u`` and ``v``) to its component's smallest id (the smallest ids themselves appear only
    as ``v``); and the number of large-star rounds it took."""
    import ray

    from curate.dedup.shuffle import ShuffleInput, shuffle_reduce

    blocks = list(edge_blocks)
    for rounds in range(1, MAX_ROUNDS + 1):
        results = shuffle_reduce(large_star, partitions, ShuffleInput(blocks, "u", both_directions),
                                 num_returns=2, **shuffle_options)
        blocks = [edges for edges, _ in results]
        if sum(ray.get([not_star for _, not_star in results])) == 0:  # the input was a star forest
            return blocks, rounds
        blocks = shuffle_reduce(small_star, partitions, ShuffleInput(blocks, "u", larger_first), **shuffle_options)
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} large-star rounds")


def with_cluster(edges: pa.Table, stars: pa.Table) -> pa.Table:
    """One partition (by ``a``) of the accepted edges, each with its cluster id (the smallest id of
    its component: ``a``'s star centre, or ``a`` when it is the centre)."""
    import pyarrow.compute as pc

    centres = _uv(stars).rename_columns(["a", "cluster"])
    joined = edges.join(centres, keys="a", join_type="left outer")
    return joined.set_column(joined.schema.get_field_index("cluster"), "cluster",
                             pc.coalesce(joined.column("cluster"), joined.column("a")))


def decide_clusters(edges: pa.Table, keep_by: Sequence[KeepCriterion], preferred: frozenset[str] = frozenset(),
                    ) -> tuple[pa.Table, int, int]:
    """One partition (by cluster) of the accepted edges: :func:`decide` on its whole clusters,
    as a table of decisions (cluster and kept copy as document ids, as the per-batch pass writes
    them), how many of its clusters kept another copy than the longest, and how many clusters
    it holds (a cluster's edges all meet in one partition, so the counts add up)."""
    rows = edges.to_pydict()
    facts: dict[str, DocFacts] = {}
    for i, (a, b) in enumerate(zip(rows["a"], rows["b"])):
        for side, doc_id in (("a", a), ("b", b)):
            facts[doc_id] = DocFacts(rows[f"length_{side}"][i], rows[f"quality_score_{side}"][i], rows[f"fetch_date_{side}"][i])
    decisions = decide(list(zip(rows["a"], rows["b"], rows["exact"])), facts, keep_by, preferred=preferred)
    table = pa.table({"key": list(decisions), "cluster": [id_of_key(d.cluster) for d in decisions.values()],
                      "cluster_size": [d.cluster_size for d in decisions.values()],
                      "reason": [d.reason for d in decisions.values()],
                      "kept": [id_of_key(d.kept) for d in decisions.values()]},
                     schema=DECISIONS)
    return table, kept_not_longest(decisions, facts), len({d.cluster for d in decisions.values()})
