"""Clusters found by Ray tasks (large-star / small-star rounds, :mod:`curate.dedup.components`)
equal the driver's union-find: on random graphs with long paths (many rounds), and through the
dedup stage on corpora with planted duplicates and chains of near-copies."""

from __future__ import annotations

import random

import pyarrow as pa

from curate.dedup.clusters import union_find
from curate.dedup.components import star_forest
from tests.stages.test_dedup import edit, planted_corpus, run_with_summary, words


def random_graph(seed: int) -> list[tuple[str, str]]:
    """Components of every shape: a long path with its nodes in random id order (the rounds'
    worst case here), a clique, stars, random sparse pieces and single edges."""
    rng = random.Random(seed)
    names = [f"n{i:04d}" for i in range(600)]
    rng.shuffle(names)
    nodes = iter(names)
    edges = []
    path = [next(nodes) for _ in range(80)]
    edges += list(zip(path, path[1:]))
    clique = [next(nodes) for _ in range(12)]
    edges += [(a, b) for i, a in enumerate(clique) for b in clique[i + 1:]]
    for _ in range(5):
        centre, leaves = next(nodes), [next(nodes) for _ in range(rng.randint(2, 9))]
        edges += [(leaf, centre) for leaf in leaves]
    sparse = [next(nodes) for _ in range(200)]
    edges += [(rng.choice(sparse), rng.choice(sparse)) for _ in range(150)]
    edges += [(next(nodes), next(nodes)) for _ in range(30)]
    return [(a, b) for a, b in edges if a != b]


def test_star_forest_links_every_node_to_its_components_smallest_id(ray_local) -> None:
    for seed in range(3):
        edges = random_graph(seed)
        random.Random(seed).shuffle(edges)
        blocks = [ray_local.put(pa.table({"a": [a for a, _ in part], "b": [b for _, b in part]}))
                  for part in (edges[i::4] for i in range(4))]
        stars, rounds = star_forest(blocks, partitions=3)
        found = pa.concat_tables(ray_local.get(stars)).to_pydict()
        labels = dict(zip(found["u"], found["v"]))
        roots = union_find(edges)
        assert labels == {node: root for node, root in roots.items() if node != root}
        assert rounds >= 3  # the 80-node path takes several rounds: the loop really iterates


def chains(count: int, length: int) -> list[dict]:
    """Chains of near-copies: each edits a few words of the one before, so neighbours are
    duplicates and the chain's ends are not; ids in shuffled order, mixed quality scores."""
    rows = []
    rng = random.Random(7)
    for c in range(count):
        text = words(200, seed=40 + c)
        order = list(range(length))
        rng.shuffle(order)
        for i in range(length):
            rows.append({"id": f"chain{c}-{order[i]:02d}", "text": " ".join(text), "quality_score": rng.choice([None, 0.2, 0.7])})
            text = edit(text, 4, seed=1000 * c + i)
    return rows


def test_the_stage_decides_alike_whether_the_driver_or_ray_tasks_find_the_clusters(ray_local) -> None:
    rows = planted_corpus()[0] + chains(3, 12)
    columns = ("reject_reason", "reject_detail", "dup_cluster", "dup_cluster_size")
    driver, driver_metrics = run_with_summary(ray_local, rows, blocks=4, threshold=0.8, shuffle_partitions=3)
    on_ray, ray_metrics = run_with_summary(ray_local, rows, blocks=4, threshold=0.8, shuffle_partitions=3,
                                           driver_edges_mb=0)
    decided = [{i: tuple(r[c] for c in columns) for i, r in out.items()} for out in (driver, on_ray)]
    assert decided[0] == decided[1]
    for name in ("candidate_edges", "false_positive_edges", "clusters", "kept_not_longest"):
        assert driver_metrics[name] == ray_metrics[name], name
    assert driver_metrics.get("cluster_rounds", 0) == 0 and ray_metrics["cluster_rounds"] >= 2
    # the chains are real multi-hop clusters: more members than any one document's duplicates
    assert max(r["dup_cluster_size"] or 0 for r in on_ray.values()) >= 6
    assert sum(r["reject_stage"] == "dedup" for r in on_ray.values()) >= 20
