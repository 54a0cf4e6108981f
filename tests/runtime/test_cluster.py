"""A real multi-node Ray cluster on this machine runs the quickstart: same output as one node.

Two Ray nodes (a head and a worker, each its own raylet and object store, processes of this
test) stand in for two machines. ``python -m curate.run`` joins them through ``RAY_ADDRESS``,
as a user would on a cluster. The head gets one CPU and the worker four, so the actor pools
cannot all fit on the head: work has to cross nodes, and the cluster's actor table shows where
it ran.
The per-stage ``resources`` of the YAML are overridden to odd values and read back from the
actors Ray created, which shows they reach Ray rather than only the plan table.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import QUICKSTART, REPO, run_cli

DISTILL = REPO / "pipelines" / "quality_distill.yaml"

#: One quickstart run on two nodes: about 75 s on 2 idle cores (the single-node run it is compared
#: with is the suite's shared ``quickstart_run``).
pytestmark = pytest.mark.slow

#: Unusual values, so the actors that carry them can only be the stages we set them on.
LANGID_CPUS = 0.75
TOKENIZE_MEMORY_GB = 0.25


@pytest.fixture(scope="module")
def two_nodes():
    """Head (1 CPU) + worker (4 CPUs) on this machine, in a Ray temp dir of their own; always shut down.

    A started cluster records its address in ``<ray temp dir>/ray_current_cluster``, and a plain
    ``ray.init()`` anywhere on the machine then joins it instead of starting its own Ray. With
    ``RAY_TMPDIR`` private to this test (and inherited by the run it launches), no other run on
    the machine can stumble into these nodes, nor into a stale address if teardown is cut short.
    """
    from ray.cluster_utils import Cluster

    with tempfile.TemporaryDirectory(prefix="rc") as temp, pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_TMPDIR", temp)  # short on purpose: Ray's socket paths must stay under 108 bytes
        cluster = Cluster(shutdown_at_exit=True)
        try:
            # Nodes take this machine's own address: a driver given 127.0.0.1 swaps it for that
            # address before connecting, so nodes bound to loopback alone cannot be joined.
            cluster.add_node(num_cpus=1, include_dashboard=False, object_store_memory=200 * 1024**2)
            worker = cluster.add_node(num_cpus=4, object_store_memory=200 * 1024**2)
            cluster.wait_for_nodes()
            yield cluster, worker
        finally:
            cluster.shutdown()


@dataclass
class Actor:
    """What the cluster's GCS recorded about one actor of the run."""

    class_name: str
    node_id: str
    required: dict[str, float]


def recorded_actors(cluster) -> list[Actor]:
    """Every actor the GCS knows, with the node it ran on and the resources it asked for.

    Read straight from the GCS (the ``Cluster``'s own connection): Ray's state API would need a
    dashboard, and on a shared machine the default dashboard port may answer for another Ray.
    """
    from ray.core.generated import gcs_pb2

    accessor = cluster.global_state._connect_and_get_accessor()
    actors = []
    for blob in accessor.get_actor_table(None, None):
        data = gcs_pb2.ActorTableData.FromString(blob)
        actors.append(Actor(data.class_name, data.address.node_id.hex(), dict(data.required_resources)))
    return actors


@pytest.fixture(scope="module")
def cluster_run(two_nodes, tmp_path_factory):
    """The quickstart on the two-node cluster, and the actors the cluster ran for it."""
    cluster, worker = two_nodes
    out = tmp_path_factory.mktemp("cluster") / "out"
    result = run_cli(str(QUICKSTART), f"output_dir={out}",
                     f"stages.langid.resources.cpus={LANGID_CPUS}",
                     f"stages.tokenize.resources.memory_gb={TOKENIZE_MEMORY_GB}",
                     "stages.tokenize.resources.concurrency=1",
                     env={"RAY_ADDRESS": cluster.address}, timeout=420)
    assert result.returncode == 0, f"cluster run failed:\n{result.stdout}\n{result.stderr}"
    return out, result, recorded_actors(cluster), cluster.head_node.node_id, worker.node_id, cluster.address


def _documents(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "documents" / "*.parquet").select("id", "text", "n_tokens").sort("id")


def _tokens(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "tokens" / "*.parquet").select("id", "input_ids").sort("id")


def _rejected(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "rejected" / "*.parquet").select("id", "reject_stage", "reject_reason").sort("id")


def test_cluster_output_equals_single_node(cluster_run, quickstart_run) -> None:
    cluster_out, result, _, _, _, address = cluster_run
    single_out = quickstart_run[0]
    assert (cluster_out / "_SUCCESS").is_file()
    assert f"Ray: {address} · 5 CPUs" in result.stdout  # joined the two nodes (1 + 4 CPUs), not a local Ray
    documents = _documents(cluster_out)
    assert documents.height > 50
    assert documents.equals(_documents(single_out))
    assert _tokens(cluster_out).equals(_tokens(single_out))
    assert _rejected(cluster_out).equals(_rejected(single_out))


def test_work_ran_on_both_nodes(cluster_run) -> None:
    _, _, actors, head_id, worker_id, _ = cluster_run
    stage_actors = [a for a in actors if "MapWorker" in a.class_name]
    assert {a.node_id for a in actors if a.node_id} == {head_id, worker_id}, actors
    assert any(a.node_id == worker_id for a in stage_actors), f"no stage actor on the worker node: {stage_actors}"


def test_stage_resources_reach_ray(cluster_run) -> None:
    _, _, actors, *_ = cluster_run
    stage_actors = [a for a in actors if "MapWorker" in a.class_name]
    langid = [a for a in stage_actors if a.required.get("CPU") == LANGID_CPUS]
    tokenize = [a for a in stage_actors if a.required.get("memory") == TOKENIZE_MEMORY_GB * 1024**3]
    assert langid, [a.required for a in stage_actors]
    assert len(tokenize) == 1, [a.required for a in stage_actors]  # concurrency: 1 caps the pool at one actor
    assert tokenize[0].required.get("CPU") == 1.0


@pytest.fixture(scope="module")
def one_cpu_run(tmp_path_factory):
    """The quickstart as a job on a one-node cluster of one CPU (a small VM or CI runner), with
    the YAML's resources unchanged: the actor pools ask more CPUs than the cluster has."""
    from ray.cluster_utils import Cluster

    out = tmp_path_factory.mktemp("one_cpu") / "out"
    with tempfile.TemporaryDirectory(prefix="r1") as temp, pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_TMPDIR", temp)
        cluster = Cluster(shutdown_at_exit=True)
        try:
            cluster.add_node(num_cpus=1, include_dashboard=False, object_store_memory=200 * 1024**2)
            cluster.wait_for_nodes()
            result = run_cli(str(QUICKSTART), f"output_dir={out}", env={"RAY_ADDRESS": cluster.address}, timeout=420)
            # the other offline example: a judge actor (the model host) beside the scaled pools
            distill = run_cli(str(DISTILL), f"output_dir={out.parent / 'distill'}", env={"RAY_ADDRESS": cluster.address},
                              timeout=420)
        finally:
            cluster.shutdown()
    assert result.returncode == 0, f"one-CPU cluster run failed:\n{result.stdout}\n{result.stderr}"
    assert distill.returncode == 0, f"one-CPU cluster run failed:\n{distill.stdout}\n{distill.stderr}"
    return out, result


def test_one_cpu_cluster_runs_the_distillation_example_as_embedded(one_cpu_run, tmp_path) -> None:
    out = one_cpu_run[0].parent / "distill"
    embedded = run_cli(str(DISTILL), f"output_dir={tmp_path / 'out'}", timeout=420)
    assert embedded.returncode == 0, embedded.stdout + embedded.stderr
    assert _rejected(out).equals(_rejected(tmp_path / "out"))
    assert _documents_ids(out).equals(_documents_ids(tmp_path / "out"))


def _documents_ids(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "documents" / "*.parquet").select("id", "text").sort("id")


def test_one_cpu_cluster_runs_the_quickstart_with_the_same_output(one_cpu_run, quickstart_run) -> None:
    out, result = one_cpu_run
    assert "· 1 CPUs" in result.stdout and "Actor pools scaled to fit 1 CPUs" in result.stdout, result.stdout
    single_out = quickstart_run[0]
    assert _documents(out).equals(_documents(single_out))
    assert _tokens(out).equals(_tokens(single_out))
    assert _rejected(out).equals(_rejected(single_out))
