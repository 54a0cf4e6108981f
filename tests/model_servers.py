"""Real model servers on 127.0.0.1 for the served-backend tests, and a proxy that breaks them.

* :func:`start_transformers_serve`: ``transformers serve`` (transformers' own OpenAI-compatible
  server) with the project's stand-in model, started as a subprocess and stopped after;
  :func:`start_llama_server`: llama.cpp's (llama-cpp-python's), which returns logprobs.
* :class:`FaultProxy`: a real HTTP server that forwards each POST to an upstream server, except
  when told to fail: ``proxy.faults`` is a list consumed one per request (``"429"``: Too Many
  Requests with ``Retry-After: 0``; ``"500"``; ``"reset"``: the connection closed with no answer;
  ``"hang"``: no answer for ``hang_seconds``, longer than the client's timeout), and
  ``proxy.fail_when`` fails every request whose body holds that text (a document no retry will
  save), ``proxy.hang_when`` leaves every such request unanswered. Every request that reached the upstream is counted in ``proxy.forwarded``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen | None, timeout: float, log: Path | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}: {log.read_text()[-2000:] if log else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"no answer from {url} within {timeout:.0f} s: {log.read_text()[-2000:] if log else ''}")


@contextlib.contextmanager
def serve(command: list[str], port: int, health: str, log: Path, timeout: float = 180):
    """A server process on 127.0.0.1:``port``, waited for until ``health`` answers; yields its
    ``/v1`` base URL and stops it after."""
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    try:
        wait_healthy(f"http://127.0.0.1:{port}{health}", process, timeout, log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def start_transformers_serve(model_dir: Path, log: Path):
    """``transformers serve MODEL`` on a free port; yields its ``/v1`` base URL."""
    port = free_port()
    cli = Path(sys.executable).with_name("transformers")
    with serve([str(cli), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port)], port, "/health", log) as url:
        yield url


@contextlib.contextmanager
def start_llama_server(gguf: Path, log: Path):
    """llama-cpp-python's OpenAI-compatible server with a GGUF model (prompt logprobs on)."""
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
               "--n_ctx", "2048", "--logits_all", "true", "--n_threads", "2", "--verbose", "false"]
    with serve(command, port, "/v1/models", log, timeout=120) as url:
        yield url


@dataclass
class FaultProxy:
    upstream: str  # the real server's base URL, e.g. http://127.0.0.1:8000/v1
    hang_seconds: float = 5.0
    faults: list[str] = field(default_factory=list)
    fail_when: str | None = None
    hang_when: str | None = None
    forwarded: int = 0
    answered_faults: list[str] = field(default_factory=list)

    def start(self) -> FaultProxy:
        state = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # health and model lists pass straight through
                self._forward(b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    fault = state.faults.pop(0) if state.faults else None
                if fault is None and state.fail_when and state.fail_when.encode() in body:
                    fault = "500"
                if fault is None and state.hang_when and state.hang_when.encode() in body:
                    fault = "hang"
                if fault is not None:
                    state.answered_faults.append(fault)
                    return self._fail(fault)
                self._forward(body)

            def _fail(self, fault: str) -> None:
                if fault == "reset":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if fault == "hang":
                    time.sleep(state.hang_seconds)
                    self.close_connection = True
                    return
                status = int(fault)
                payload = b'{"error": "injected by the test proxy"}'
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, body: bytes) -> None:
                target = state.upstream.rstrip("/") + self.path.removeprefix("/v1")
                request = urllib.request.Request(target, data=body or None, method=self.command,
                                                 headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=300) as answer:
                        status, payload = answer.status, answer.read()
                except urllib.error.HTTPError as exc:
                    status, payload = exc.code, exc.read()
                if self.command == "POST":
                    with lock:
                        state.forwarded += 1
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
