"""The README's cluster path as a user takes it: ``ray start --head`` with the dashboard, then
``ray job submit --working-dir . -- python -m curate.run pipelines/code_math.yaml``.

The head gets every port of its own (a second Ray on the machine, another test's or a user's, would
otherwise collide on the dashboard agent's default port) and Ray 2.60's token authentication, with
the token handed to the head and to the submitting client through ``RAY_AUTH_TOKEN``. The job's
outputs must equal the embedded run's.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
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
        # --block keeps `ray start` running as the parent of this head's processes, so the test stops
        # exactly them by their process group; `ray stop` would stop every Ray on the machine,
        # the test session's own included.
        head = subprocess.Popen(
            [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--num-cpus=2",
             "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--temp-dir={temp}",
             *(f"{flag}={port}" for flag, port in ports.items())],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_for_port(ports["--dashboard-port"], head)
            job_env = {**env, "RAY_ADDRESS": f"http://127.0.0.1:{ports['--dashboard-port']}"}
            result = _ray("job", "submit", "--working-dir", ".", "--",
                          "python", "-m", "curate.run", "pipelines/code_math.yaml", f"output_dir={out}",
                          env=job_env, timeout=600)
        finally:
            _stop_group(head)
    return out, result


def _wait_for_port(port: int, head: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert head.poll() is None, f"ray start --head exited with {head.returncode}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            time.sleep(2)  # the job API comes up with the dashboard's modules, just after its port
            return
        time.sleep(0.5)
    raise AssertionError(f"the head's dashboard did not answer on port {port} in {timeout:.0f} s")


def _stop_group(head: subprocess.Popen) -> None:
    """SIGTERM to the head's process group (ray start stops what it started), SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=wait)
            if sig == signal.SIGTERM:
                time.sleep(2)  # its children get the same signal; give them a moment before SIGKILL


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
