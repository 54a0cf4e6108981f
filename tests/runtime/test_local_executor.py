"""``executor: local``: the run without Ray, in the driver and in processes forked from it.

The quickstart (read, LID, filters, the Qwen judge, synthesis, dedup, tokenize) must give the
stored digest of the Ray run row for row; a second run resumes from the first's checkpoints; a
repeated record id, a stage that raises and a worker the OS keeps killing fail the run naming the
stage, while a worker killed once is rerun without writing anything twice;
what the executor cannot run is refused before any work.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import QUICKSTART, SAMPLES, run_cli
from tests.run_digest import STORED, differences, summarize


def test_quickstart_on_the_local_executor_equals_the_ray_run(tmp_path: Path) -> None:
    """Two forked workers; the stored digest is the Ray run's (tests/test_quickstart.py checks it)."""
    out = tmp_path / "out"
    result = run_cli(str(QUICKSTART), f"output_dir={out}", "executor=local", "local.workers=2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert differences(summarize(out), json.loads(STORED.read_text())) == []
    summary = json.loads((out / "stats" / "summary.json").read_text())
    assert summary["executor"] == "local"
    assert "Executor: local (no Ray) · 2 worker process(es)" in result.stdout and "Ray:" not in result.stdout
    assert not list(out.rglob("_segments")), "the segments between stages are staging files, never outputs"


def _pipeline(tmp_path: Path, name: str, stages: dict, sources: list[dict] | None = None, **extra) -> Path:
    config = {
        "name": name,
        "output_dir": str(tmp_path / name),
        "sources": sources or [{"name": "web", "paths": [str(SAMPLES / "web" / "*.jsonl")], "domain": "web",
                                "fields": {"text": "text", "id": "id", "url": "url"}}],
        "stages": stages,
        "executor": "local",
        **extra,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


SMALL = {"langid": {"models": ["lid.176"]}, "filter": {"filters": [{"name": "length", "min_chars": 200}]},
         "dedup": {"threshold": 0.7}, "tokenize": {}}


def test_second_run_resumes_after_the_last_checkpoint_with_the_same_outputs(tmp_path: Path) -> None:
    config = _pipeline(tmp_path, "resume", SMALL, local={"workers": 1})
    first = run_cli(str(config))
    assert first.returncode == 0, first.stdout + first.stderr
    before = summarize(tmp_path / "resume")
    assert json.loads((tmp_path / "resume" / "stats" / "summary.json").read_text())["resumed_after"] is None

    second = run_cli(str(config))  # the chain's dedup boundary is complete: only tokenize and write rerun
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming" in second.stdout
    assert json.loads((tmp_path / "resume" / "stats" / "summary.json").read_text())["resumed_after"] == "dedup"
    assert differences(summarize(tmp_path / "resume"), before) == []


@pytest.mark.slow  # a Ray run, then a local one
def test_local_run_resumes_from_the_checkpoints_of_a_ray_run(tmp_path: Path) -> None:
    """The boundaries are the same Parquet folders whichever executor wrote them."""
    config = _pipeline(tmp_path, "mixed", SMALL, local={"workers": 2})
    on_ray = run_cli(str(config), "executor=ray")
    assert on_ray.returncode == 0, on_ray.stdout + on_ray.stderr
    ray_outputs = summarize(tmp_path / "mixed")

    local = run_cli(str(config))
    assert local.returncode == 0, local.stdout + local.stderr
    summary = json.loads((tmp_path / "mixed" / "stats" / "summary.json").read_text())
    assert (summary["executor"], summary["resumed_after"]) == ("local", "dedup")
    assert differences(summarize(tmp_path / "mixed"), ray_outputs) == []


def test_repeated_ids_across_files_fail_the_run_from_forked_workers(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a.jsonl", "b.jsonl"):
        (inputs / name).write_text(json.dumps({"id": "same", "text": f"Document of {name}. " * 20}) + "\n")
    sources = [{"name": "web", "paths": [str(inputs / "*.jsonl")], "domain": "web",
                "fields": {"text": "text", "id": "id"}}]  # ids: rekey, an id repeated across files fails
    result = run_cli(str(_pipeline(tmp_path, "ids", {"tokenize": {}}, sources, local={"workers": 2})))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stage 'read' failed" in result.stderr and "repeat ids of other files" in result.stderr
    assert not (tmp_path / "ids" / "_SUCCESS").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stage_that_raises_fails_the_run_naming_it(tmp_path: Path, workers: int) -> None:
    stages = {"hungry": {"uses": "tests.fault_stages:Hungry"}}
    result = run_cli(str(_pipeline(tmp_path, "hungry", stages, local={"workers": workers})))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stage 'hungry' failed (on a batch of" in result.stderr and "out of memory" in result.stderr
    assert "nothing was committed" in result.stderr
    assert not (tmp_path / "hungry" / "_SUCCESS").exists()


def test_a_worker_killed_after_writing_is_rerun_and_nothing_is_written_twice(tmp_path: Path) -> None:
    """The worker dies on its unit's second batch, after the first went to the sinks: the pool is
    replaced, the unit rerun, and the first attempt's part files swept before the commit."""
    marker = tmp_path / "kill-marker"  # absent: kill (and write it)
    calm_marker = tmp_path / "calm-marker"
    calm_marker.write_text("present: never kill")
    outputs = {}
    for name, armed in (("calm", calm_marker), ("killed", marker)):
        stages = {"killer": {"uses": "tests.fault_stages:KillOnceOnSecondBatch", "marker": str(armed)},
                  "tokenize": {}}
        result = run_cli(str(_pipeline(tmp_path, name, stages, local={"workers": 2}, read={"batch_rows": 3},
                                       checkpoint={"enabled": False})))
        assert result.returncode == 0, result.stdout + result.stderr
        outputs[name] = summarize(tmp_path / name)
    assert marker.is_file(), "the killer did kill"
    assert differences(outputs["killed"], outputs["calm"]) == []
    summary = json.loads((tmp_path / "killed" / "stats" / "summary.json").read_text())
    assert summary["removed_unlisted_parts"] > 0  # the first attempt's parts, swept


def test_a_worker_that_keeps_dying_fails_the_run_naming_the_stage(tmp_path: Path) -> None:
    stages = {"crash": {"uses": "tests.fault_stages:AlwaysKilled", "resources": {"max_retries": 1}}}
    result = run_cli(str(_pipeline(tmp_path, "crash", stages, local={"workers": 2})))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stage 'crash' failed" in result.stderr and "worker process died" in result.stderr
    assert "retries (1" in result.stderr
    assert not (tmp_path / "crash" / "_SUCCESS").exists()


@pytest.mark.parametrize(("extra", "stages", "named"), [
    ({"ray": {"address": "127.0.0.1:1"}}, {}, "ray.address"),
    ({"shards": {"seq_len": 64}}, {"tokenize": {}}, "shards:"),
    ({}, {"distilled_quality": {"judge": {"model": {"id": "curate/qwen2-standin"}}}}, "stages.distilled_quality"),
])
def test_what_the_local_executor_cannot_run_is_refused_before_any_work(tmp_path: Path, extra: dict, stages: dict,
                                                                       named: str) -> None:
    result = run_cli(str(_pipeline(tmp_path, "refused", stages, **extra)))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "config error" in result.stderr and named in result.stderr and "executor: ray" in result.stderr
    assert not (tmp_path / "refused").exists()
