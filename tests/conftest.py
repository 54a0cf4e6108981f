"""Shared fixtures: the repository's samples, the real LID model, and one quickstart run."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
QUICKSTART = REPO / "pipelines" / "code_math.yaml"


def run_cli(*args: str, cwd: Path = REPO, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``python -m curate.run`` as a user would, in a fresh process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "curate.run", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def lid_model_path() -> Path:
    """The real lid.176 model; the README's test command installs it, so missing is a failure."""
    from curate.lang.models import resolve_model_path

    return resolve_model_path("lid.176")


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The quickstart pipeline run once, end to end on a local Ray, into a temp dir."""
    out = tmp_path_factory.mktemp("quickstart") / "out"
    result = run_cli(str(QUICKSTART), f"output_dir={out}")
    assert result.returncode == 0, f"quickstart failed:\n{result.stdout}\n{result.stderr}"
    return out, result


@pytest.fixture(scope="session")
def sample_texts() -> list[str]:
    """The text of every natural-language sample document and every code file we ship."""
    texts = []
    for path in sorted(SAMPLES.glob("**/*.jsonl")):
        for record in read_jsonl(path):
            texts.append(record.get("text") or record.get("body"))
    for path in sorted((SAMPLES / "code").rglob("*")):
        if path.is_file() and path.stat().st_size < 1_000_000:
            try:
                texts.append(path.read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                continue
    return [t for t in texts if t]


def shared_ray():
    """The test session's one local Ray (started on first use, stopped when pytest exits): runs in
    this process and tests that use Ray Data directly share it instead of each starting their own.
    ``dedup_slot`` is a custom resource the dedup resource test asks its tasks to hold."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=8, resources={"dedup_slot": 2}, include_dashboard=False,
                 logging_level="ERROR", log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


@pytest.fixture()
def ray_local():
    """Ray for tests that run Ray Data themselves (not through the CLI)."""
    return shared_ray()


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str


def run_pipeline(*args: str, cwd: Path = REPO) -> RunResult:
    """``python -m curate.run ARGS`` in this process, on the session's shared Ray: the same code
    path as the CLI (``curate.run.main``) without a new interpreter and a Ray start-up per run.
    Tests of exit codes seen by a shell, environment variables or killed processes use
    :func:`run_cli` instead."""
    from curate.run import main

    shared_ray()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return RunResult(code, out.getvalue(), err.getvalue())
