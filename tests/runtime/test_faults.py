"""Faults: dead workers are retried without changing the output; a stage that keeps failing or runs
out of memory stops the run with the stage, the input and the cause; a 200 MB document is rejected
by rule while the reading worker's memory stays bounded."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.conftest import SAMPLES, run_cli, shared_ray

BIG_DOC_BYTES = 200 * 1024**2


def write_pipeline(tmp_path: Path, name: str, stages: dict, big: Path) -> Path:
    config = {
        "name": name,
        "output_dir": str(tmp_path / name),
        "sources": [
            {"name": "web", "paths": [str(SAMPLES / "web" / "*.jsonl")], "domain": "web",
             "fields": {"text": "text", "id": "id", "url": "url"}},
            {"name": "big", "paths": [str(big)], "domain": "web"},
        ],
        "stages": stages,
        "checkpoint": {"enabled": False},
        "ray": {"num_cpus": 2},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    """One 200 MB JSON line (a runaway scraped page) between two ordinary documents."""
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    chunk = "All work and no play makes Jack a dull boy. " * 1000
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"id": "small-1", "text": "A short ordinary document. " * 20}) + "\n")
        f.write('{"id": "huge", "text": "')
        for _ in range(BIG_DOC_BYTES // len(chunk) + 1):
            f.write(chunk)
        f.write('"}\n')
        f.write(json.dumps({"id": "small-2", "text": "Another short ordinary document. " * 20}) + "\n")
    return path


def killers(tmp_path: Path, armed: bool) -> dict:
    marker = tmp_path / ("armed" if armed else "disarmed")
    marker.mkdir(exist_ok=True)
    return {
        "task_killer": {"uses": "tests.fault_stages:KillOnceTask", "marker": str(marker / "task")},
        "langid": {"model": "lid.176"},
        "actor_killer": {"uses": "tests.fault_stages:KillOnceActor", "marker": str(marker / "actor")},
        "tokenize": {},
    }


@pytest.mark.slow  # two full runs
def test_killed_workers_are_retried_and_output_is_unchanged(tmp_path: Path, big_file: Path) -> None:
    calm = killers(tmp_path, armed=False)
    for stage in ("task", "actor"):
        (tmp_path / "disarmed" / stage).write_text("present: never kill")
    result = run_cli(str(write_pipeline(tmp_path, "calm", calm, big_file)))
    assert result.returncode == 0, result.stdout + result.stderr

    result = run_cli(str(write_pipeline(tmp_path, "killed", killers(tmp_path, armed=True), big_file)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "armed" / "task").exists() and (tmp_path / "armed" / "actor").exists()  # both did kill

    for folder, columns in (("documents", ["id", "text", "lang", "n_tokens"]), ("tokens", ["id", "input_ids"]),
                            ("rejected", ["id", "reject_stage", "reject_reason"])):
        calm_df = pl.read_parquet(tmp_path / "calm" / folder / "*.parquet").select(columns).sort("id")
        killed_df = pl.read_parquet(tmp_path / "killed" / folder / "*.parquet").select(columns).sort("id")
        assert calm_df.equals(killed_df), folder

    # The 200 MB record was rejected by rule, its neighbours kept, and the reader never held it.
    rejected = pl.read_parquet(tmp_path / "killed" / "rejected" / "*.parquet")
    huge = rejected.filter(pl.col("reject_reason") == "record_too_large")
    assert huge.height == 1 and "max_record_bytes" in huge["reject_detail"][0]
    kept = set(pl.read_parquet(tmp_path / "killed" / "documents" / "*.parquet")["id"].to_list())
    assert {"big/small-1", "big/small-2"} <= kept or {"small-1", "small-2"} <= kept
    summary = json.loads((tmp_path / "killed" / "stats" / "summary.json").read_text())
    read = next(r for r in summary["stages"] if r["stage"] == "read")
    # A Ray worker with pyarrow loaded sits near 200 MB; holding the line once as bytes and once as
    # str would add 400 MB more. The reader skips it in 1 MiB pieces instead.
    assert read["peak_rss_mb"] < 200 + BIG_DOC_BYTES / 2**20, read


def test_stage_whose_worker_keeps_dying_fails_the_run(tmp_path: Path, big_file: Path) -> None:
    stages = {"crash": {"uses": "tests.fault_stages:AlwaysKilled", "resources": {"max_retries": 1}}}
    result = run_cli(str(write_pipeline(tmp_path, "crash", stages, big_file)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stage 'crash' failed (on a batch of" in result.stderr
    assert "worker process died" in result.stderr and "max_retries" in result.stderr
    assert "nothing was committed" in result.stderr
    assert not (tmp_path / "crash" / "_SUCCESS").exists()


def test_out_of_memory_names_the_stage_and_a_remedy(tmp_path: Path, big_file: Path) -> None:
    stages = {"hungry": {"uses": "tests.fault_stages:Hungry"}}
    result = run_cli(str(write_pipeline(tmp_path, "hungry", stages, big_file)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stage 'hungry' failed (on a batch of" in result.stderr
    assert "out of memory" in result.stderr
    assert "stages.hungry.resources.batch_size" in result.stderr


def test_ray_out_of_memory_error_is_reported_as_such() -> None:
    """Ray's memory monitor kills a worker: the error names the stage that was running, with a hint."""
    import ray
    from ray.exceptions import OutOfMemoryError

    from curate.runtime.failures import worker_death
    from curate.runtime.stats import make_stats_actor

    shared_ray()
    stats = make_stats_actor()
    ray.get(stats.started.remote("judge", "a batch of 64 documents from 'web/1'", 4242))
    ray.get(stats.started.remote("tokenize", "a batch of 64 documents from 'web/9'", 4343))
    ray.get(stats.record.remote("tokenize", {"start": 0.0, "end": 1.0}, 4343))
    error = OutOfMemoryError("Task was killed due to the node running low on memory.")
    failure = worker_death(error, stats)
    assert failure is not None and failure.stage == "judge"
    assert failure.where == "a batch of 64 documents from 'web/1'"
    assert "out of memory" in failure.cause and "stages.judge.resources.batch_size" in failure.cause
    assert worker_death(ValueError("not a worker death"), stats) is None
