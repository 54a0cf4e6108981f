"""Defect 17: when Ray's GCS dies, Ray's core ends the driver itself; the user must see why."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, SAMPLES


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc (Linux)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _gcs_of(driver_pid: int) -> int | None:
    """The GCS server of the local Ray this driver started (not any other Ray on the machine)."""
    for pid in _descendants(driver_pid):
        try:
            if "gcs_server" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode():
                return pid
        except OSError:
            continue
    return None


@pytest.mark.slow
def test_dead_gcs_is_reported_on_the_terminal(tmp_path: Path) -> None:
    marker = tmp_path / "busy"
    config = {
        "name": "gcs",
        "output_dir": str(tmp_path / "out"),
        "sources": [{"name": "web", "paths": [str(SAMPLES / "web" / "*.jsonl")], "domain": "web"}],
        "stages": {"sleepy": {"uses": "tests.fault_stages:Sleepy", "marker": str(marker)}},
        "checkpoint": {"enabled": False},
        "ray": {"num_cpus": 2},
    }
    pipeline = tmp_path / "gcs.yaml"
    pipeline.write_text(yaml.safe_dump(config), encoding="utf-8")
    # Ray's core gives up on a dead GCS after this many seconds (60 by default), then exits.
    env = {**os.environ, "RAY_gcs_rpc_server_reconnect_timeout_s": "5", "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen([sys.executable, "-m", "curate.run", str(pipeline)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 180
        while not marker.exists():
            assert driver.poll() is None, driver.communicate()
            assert time.time() < deadline, "the run never reached its stage"
            time.sleep(0.5)
        gcs = _gcs_of(driver.pid)
        assert gcs is not None, "no GCS process under the driver"
        os.kill(gcs, signal.SIGKILL)
        stdout, stderr = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode != 0
    assert "the driver process ended without finishing" in stderr, stderr
    assert "GCS" in stderr, stderr  # Ray's own reason, shown on the terminal
    log = next((tmp_path / "out" / "_logs").glob("*.log"))
    assert f"Ray's own messages for this run: {log}" in stderr
    assert "GCS" in log.read_text(encoding="utf-8", errors="replace")
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_a_clean_run_prints_nothing_from_the_watcher(tmp_path: Path) -> None:
    """The watcher speaks only when the driver dies without saying goodbye."""
    log = tmp_path / "_logs" / "run.log"
    code = ("import os, sys; from pathlib import Path; from curate.ray_log import stderr_to_log\n"
            f"with stderr_to_log(Path({str(log)!r})):\n"
            "    os.write(2, b'[2026 E 1 2] something Ray said\\n')\n"
            "    if sys.argv[1] == 'die': os._exit(1)\n")
    clean = subprocess.run([sys.executable, "-c", code, "live"], cwd=REPO, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert clean.returncode == 0 and clean.stderr == "", clean.stderr
    died = subprocess.run([sys.executable, "-c", code, "die"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert died.returncode == 1
    assert "the driver process ended without finishing" in died.stderr
    assert "something Ray said" in died.stderr and str(log) in died.stderr
    assert log.read_text(encoding="utf-8").count("something Ray said") == 2
