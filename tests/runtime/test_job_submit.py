"""The README's cluster path as a user takes it: ``ray start --head`` with the dashboard, then
``ray job submit --working-dir . -- python -m curate.run pipelines/code_math.yaml``.

The head gets every port of its own (a second Ray on the machine, another test's or a user's, would
otherwise collide on the dashboard agent's default port) and Ray 2.60's token authentication, with
the token handed to the head and to the submitting client through ``RAY_AUTH_TOKEN``. The job's
outputs must equal the embedded run's.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import REPO

#: A head start, a quickstart job and a stop: about 2 minutes on 2 idle cores.
pytestmark = pytest.mark.slow

PORT_FLAGS = ("--port", "--dashboard-port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
              "--node-manager-port", "--object-manager-port", "--metrics-export-port", "--runtime-env-agent-port",
              "--ray-client-server-port")


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _ray(*args: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    ray = str(Path(sys.executable).with_name("ray"))
    return subprocess.run([ray, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def submitted_job(tmp_path_factory):
    if shutil.which("ray", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the ray CLI is not installed beside this Python")
    pytest.importorskip("ray.dashboard.modules.job", reason='ray job submit needs ray[default] (pip install -e ".[dev]")')
    out = tmp_path_factory.mktemp("job") / "out"
    with tempfile.TemporaryDirectory(prefix="rj") as temp:
        ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
        env = {**os.environ, "RAY_TMPDIR": temp, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
               "RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("RAY_ADDRESS", None)
        start = _ray("start", "--head", "--num-cpus=2", "--include-dashboard=true", "--dashboard-host=127.0.0.1",
                     f"--temp-dir={temp}", *(f"{flag}={port}" for flag, port in ports.items()), env=env)
        try:
            assert start.returncode == 0, start.stdout + start.stderr
            job_env = {**env, "RAY_ADDRESS": f"http://127.0.0.1:{ports['--dashboard-port']}"}
            result = _ray("job", "submit", "--working-dir", ".", "--",
                          "python", "-m", "curate.run", "pipelines/code_math.yaml", f"output_dir={out}",
                          env=job_env, timeout=600)
        finally:
            _ray("stop", "--force", env=env, timeout=120)
    return out, result


def _frame(out: Path, folder: str, columns: list[str]) -> pl.DataFrame:
    return pl.read_parquet(out / folder / "*.parquet").select(columns).sort("id")


def test_ray_job_submit_runs_the_quickstart_with_the_embedded_outputs(submitted_job, quickstart_run) -> None:
    out, result = submitted_job
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "succeeded" in (result.stdout + result.stderr).lower()
    assert (out / "_SUCCESS").is_file()
    single = quickstart_run[0]
    for folder, columns in (("documents", ["id", "text", "n_tokens"]), ("tokens", ["id", "input_ids"]),
                            ("rejected", ["id", "reject_stage", "reject_reason"])):
        assert _frame(out, folder, columns).equals(_frame(single, folder, columns)), folder
