"""A real multi-node Ray cluster on 127.0.0.1 runs the quickstart: same output as one node.

Two Ray nodes (a head and a worker, each its own raylet and object store, processes of this
test) stand in for two machines. ``python -m curate.run`` joins them through ``RAY_ADDRESS``,
as a user would on a cluster. The head gets one CPU and the worker four, so the actor pools
cannot all fit on the head: work has to cross nodes, and Ray's state API shows where it ran.
The per-stage ``resources`` of the YAML are overridden to odd values and read back from the
actors Ray created, which shows they reach Ray rather than only the plan table.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.conftest import QUICKSTART, run_cli

#: Unusual values, so the actors that carry them can only be the stages we set them on.
LANGID_CPUS = 0.75
TOKENIZE_MEMORY_GB = 0.25


@pytest.fixture(scope="module")
def two_nodes():
    """Head (1 CPU) + worker (4 CPUs, custom resource ``worker_node``) on 127.0.0.1; always shut down."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False,
        "object_store_memory": 200 * 1024**2,
    })
    try:
        worker = cluster.add_node(num_cpus=4, node_ip_address="127.0.0.1", resources={"worker_node": 1},
                                  object_store_memory=200 * 1024**2)
        cluster.wait_for_nodes()
        yield cluster, worker
    finally:
        cluster.shutdown()


@pytest.fixture(scope="module")
def cluster_run(two_nodes, tmp_path_factory):
    """The quickstart on the two-node cluster, then what Ray recorded about its actors and tasks."""
    import ray
    from ray.util.state import list_actors, list_tasks

    cluster, worker = two_nodes
    out = tmp_path_factory.mktemp("cluster") / "out"
    result = run_cli(str(QUICKSTART), f"output_dir={out}",
                     f"stages.langid.resources.cpus={LANGID_CPUS}",
                     f"stages.tokenize.resources.memory_gb={TOKENIZE_MEMORY_GB}",
                     "stages.tokenize.resources.concurrency=1",
                     env={"RAY_ADDRESS": cluster.address})
    assert result.returncode == 0, f"cluster run failed:\n{result.stdout}\n{result.stderr}"
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    try:
        actors = list_actors(detail=True, limit=10_000, raise_on_missing_output=False)
        tasks = list_tasks(detail=True, limit=10_000, raise_on_missing_output=False)
    finally:
        ray.shutdown()
    return out, result, actors, tasks, cluster.head_node.node_id, worker.node_id


def _documents(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "documents" / "*.parquet").select("id", "text", "n_tokens").sort("id")


def _tokens(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "tokens" / "*.parquet").select("id", "input_ids").sort("id")


def _rejected(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "rejected" / "*.parquet").select("id", "reject_stage", "reject_reason").sort("id")


def test_cluster_output_equals_single_node(cluster_run, quickstart_run) -> None:
    cluster_out, result, *_ = cluster_run
    single_out = quickstart_run[0]
    assert (cluster_out / "_SUCCESS").is_file()
    assert "127.0.0.1" in result.stdout  # the plan names the cluster it joined, not "local"
    documents = _documents(cluster_out)
    assert documents.height > 50
    assert documents.equals(_documents(single_out))
    assert _tokens(cluster_out).equals(_tokens(single_out))
    assert _rejected(cluster_out).equals(_rejected(single_out))


def test_work_ran_on_both_nodes(cluster_run) -> None:
    _, _, actors, tasks, head_id, worker_id = cluster_run
    nodes = {t.node_id for t in tasks if t.state == "FINISHED" and t.node_id} | {a.node_id for a in actors}
    assert worker_id in nodes, "nothing ran on the worker node"
    assert head_id in nodes, "nothing ran on the head node"
    on_worker = [a for a in actors if a.node_id == worker_id and "MapWorker" in a.class_name]
    assert on_worker, "no stage actor was placed on the worker node"


def test_stage_resources_reach_ray(cluster_run) -> None:
    _, _, actors, *_ = cluster_run
    stage_actors = [a for a in actors if "MapWorker" in a.class_name]
    langid = [a for a in stage_actors if a.required_resources.get("CPU") == LANGID_CPUS]
    tokenize = [a for a in stage_actors if a.required_resources.get("memory") == int(TOKENIZE_MEMORY_GB * 1024**3)]
    assert langid, [a.required_resources for a in stage_actors]
    assert len(tokenize) == 1, [a.required_resources for a in stage_actors]  # concurrency: 1 caps the pool
    assert tokenize[0].required_resources.get("CPU") == 1.0
