"""A run killed with SIGKILL resumes where it stopped and ends with exactly the uninterrupted output.

One pipeline (web text over HTTP from a real server on 127.0.0.1, local math/junk/code, language
ID, filters, dedup, tokenize) is run once without interruption, then run again into another
output dir and killed three times: while downloading, after reading while dedup works, and while
tokenizing. The fourth attempt must finish with the same documents, rejects and tokens. Changing
one stage's options afterwards reruns that stage and what follows, nothing before it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.conftest import REPO, SAMPLES, run_pipeline
from tests.http_server import FaultServer

pytestmark = pytest.mark.slow  # about ten full runs: CI runs it with -m slow

WEB_FILES = sorted(p.name for p in (SAMPLES / "web").glob("*.jsonl"))
COMPARED = ["id", "text", "lang", "domain", "n_tokens", "dup_cluster", "dup_cluster_size"]


def pipeline(tmp_path: Path, server: FaultServer, name: str) -> Path:
    config = {
        "name": "resume",
        "output_dir": str(tmp_path / name),
        "sources": [
            {"name": "web", "format": "jsonl", "domain": "web", "fields": {"text": "text", "id": "id", "url": "url"},
             "paths": [f"{server.url}/web/{f}" for f in WEB_FILES]},
            {"name": "math", "paths": [str(SAMPLES / "math" / "*.jsonl")], "domain": "math",
             "fields": {"text": "body", "id": "problem_id", "url": "source_url"}},
            {"name": "junk", "paths": [str(SAMPLES / "junk" / "*.jsonl")], "domain": "web"},
            {"name": "code", "format": "code", "paths": [str(SAMPLES / "code")], "domain": "code"},
        ],
        "download": {"cache_dir": str(tmp_path / name / "download-cache"), "timeout_seconds": 60, "max_parallel": 2},
        "stages": {
            "langid": {"model": "lid.176"},
            "filter": {"filters": [{"name": "length", "min_chars": 200, "domains": ["web", "math"]},
                                   {"name": "gopher_quality", "domains": ["web"]},
                                   {"name": "code_quality", "domains": ["code"]}]},
            "dedup": {"threshold": 0.7, "keep_by": ["length"]},
            "tokenize": {"tokenizer": "qwen2.5"},
        },
        "ray": {"num_cpus": 2},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def start(config: Path, *overrides: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "curate.run", str(config), *overrides], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def kill_when(proc: subprocess.Popen, condition: Callable[[], bool], timeout: float = 300) -> None:
    """SIGKILL the driver as soon as ``condition`` holds; fail if the run ends first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            _reap(proc)
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before the kill point:\n{proc.stdout.read()}")
        time.sleep(0.02)
    _reap(proc)
    pytest.fail("kill point never reached")


def _reap(proc: subprocess.Popen) -> None:
    """Whatever the dead driver's local Ray left behind goes too (as on a machine that rebooted)."""
    with_group = True
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        with_group = False
    if with_group:
        time.sleep(0.5)


def read_groups(out: Path) -> list[Path]:
    return list(out.glob("_checkpoints/read-*/*.parquet"))


def boundary_done(out: Path, stage: str) -> bool:
    return any(out.glob(f"_checkpoints/*-{stage}-*/_COMPLETE"))


def frame(out: Path, folder: str, columns: list[str]) -> pl.DataFrame:
    df = pl.read_parquet(out / folder / "*.parquet")
    return df.select([c for c in columns if c in df.columns]).sort("id")


def assert_same_output(a: Path, b: Path) -> None:
    assert frame(a, "documents", COMPARED).equals(frame(b, "documents", COMPARED))
    rejected = ["id", "reject_stage", "reject_reason", "reject_detail"]
    assert frame(a, "rejected", rejected).equals(frame(b, "rejected", rejected))
    tokens = ["id", "input_ids"]
    assert frame(a, "tokens", tokens).equals(frame(b, "tokens", tokens))


def summary(out: Path) -> dict:
    return json.loads((out / "stats" / "summary.json").read_text())


@pytest.fixture(scope="module")
def server():
    srv = FaultServer(root=SAMPLES, slow_seconds=8).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, server) -> Path:
    tmp = tmp_path_factory.mktemp("resume_baseline")
    result = run_pipeline(str(pipeline(tmp, server, "baseline")))
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp / "baseline"


def test_killed_three_times_then_resumed_equals_uninterrupted(tmp_path: Path, server: FaultServer, baseline: Path):
    config = pipeline(tmp_path, server, "killed")
    out = tmp_path / "killed"

    # 1. While downloading: one web file answers only after 8 s; kill once another group is done.
    server.faults[f"/web/{WEB_FILES[-1]}"] = ["slow"]
    proc = start(config)
    kill_when(proc, lambda: len(read_groups(out)) >= 2)
    assert not boundary_done(out, "dedup") and not (out / "_SUCCESS").exists()
    finished_groups = {p.name for p in read_groups(out)}

    # 2. After every file is read, while language ID, filters and dedup work.
    requests_before = len(server.log)
    proc = start(config)
    kill_when(proc, lambda: len(read_groups(out)) == len(read_groups(baseline)))
    assert not boundary_done(out, "dedup")
    refetched = [r.path for r in server.log[requests_before:]]
    assert set(refetched) <= {f"/web/{f}" for f in WEB_FILES}
    assert finished_groups <= {p.name for p in read_groups(out)}  # finished files were kept, not redone

    # 3. While tokenizing and writing (after the dedup boundary).
    proc = start(config)
    kill_when(proc, lambda: boundary_done(out, "dedup"))
    assert not (out / "_SUCCESS").exists()

    # 4. The last attempt finishes from the dedup boundary.
    requests_before = len(server.log)
    result = run_pipeline(str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resuming" in result.stdout
    assert len(server.log) == requests_before  # nothing fetched again
    assert summary(out)["resumed_after"] == "dedup"
    assert_same_output(baseline, out)
    # The funnel of the resumed run still counts every stage, from the checkpoint's record.
    stages = {r["stage"]: r for r in summary(out)["stages"]}
    base = {r["stage"]: r for r in summary(baseline)["stages"]}
    for key in ("read", "langid", "filter", "dedup", "tokenize"):
        assert (stages[key]["docs_in"], stages[key]["docs_out"]) == (base[key]["docs_in"], base[key]["docs_out"]), key
    assert not list(out.glob("_staging/*"))


def test_changed_stage_reruns_from_that_stage(server: FaultServer, baseline: Path):
    config, out = baseline.parent / "baseline.yaml", baseline  # goes on from the uninterrupted run
    # A tokenize option: resumes after dedup; no file read again.
    requests_before = len(server.log)
    result = run_pipeline(str(config), "stages.tokenize.append_eos=false")
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary(out)["resumed_after"] == "dedup"
    assert len(server.log) == requests_before
    tokens = pl.read_parquet(out / "tokens" / "*.parquet")
    assert (tokens["input_ids"].list.last() != 151643).all()

    # A filter option: language ID and filters run again on the cached files; dedup follows.
    result = run_pipeline(str(config), "stages.filter.filters.0.min_chars=1500")
    assert result.returncode == 0, result.stdout + result.stderr
    after = summary(out)
    assert after["resumed_after"] is None
    assert len(server.log) == requests_before  # read from the per-file checkpoint, not downloaded
    read = next(r for r in after["stages"] if r["stage"] == "read")
    assert read["resumed_files"] == read["files"] > 0
    short = pl.read_parquet(out / "rejected" / "*.parquet").filter(pl.col("reject_reason") == "length.too_short")
    assert short.height > 0
    # Only the current chain's checkpoints are kept.
    names = sorted(re.sub(r"-[0-9a-f]{16}$", "", p.name) for p in (out / "_checkpoints").iterdir())
    assert names == ["02-dedup", "read"]

    # --fresh: the checkpoints are deleted and everything runs again.
    result = run_pipeline(str(config), "--fresh")
    assert result.returncode == 0, result.stdout + result.stderr
    read = next(r for r in summary(out)["stages"] if r["stage"] == "read")
    assert summary(out)["resumed_after"] is None and read["resumed_files"] == 0
