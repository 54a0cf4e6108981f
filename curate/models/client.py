"""Requests to OpenAI-compatible servers (vLLM, SGLang, llama.cpp, ``transformers serve``) that
do not stop a corpus-sized job: bounded, balanced, timed out, retried, and failed one by one.

* **Bounded and balanced**: at most ``max_in_flight`` requests per server at once; each request
  goes to the server with the fewest in flight (the engine batches what arrives together).
* **Timed out, never waited on forever**: a server that stops answering (a CUDA OOM that wedged
  it, a lost node) costs one ``timeout_s``, and the request is retried elsewhere.
* **Retried** on connection errors, timeouts, 429 and 5xx, after an exponential backoff with full
  jitter (``Retry-After`` honoured), on another server when there is one.
* **Sent again after a restart** (``restart_wait_s``): a try lost because its server went down
  (its health check fails too) goes to another server at once, or waits for that one to come
  back, and does not count as a retry; this is how a managed server's in-flight requests survive
  its restart (:mod:`curate.models.managed`).
* **Failed one by one**: a request that still fails comes back as a :class:`RequestFailed` in
  its place, so one bad document becomes one ``inference_error`` row, not a dead job.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from curate.config import StrictModel

#: Most tries of one request sent again, uncounted, because its server went down and came back.
MAX_RESENDS = 5

#: HTTP statuses worth another try: the server is busy or broken now, the request is fine.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class RequestOptions(StrictModel):
    """How a served backend sends requests (``model.requests``)."""

    max_in_flight: int = Field(default=8, gt=0, description="Requests at once per server (the engine batches them).")
    timeout_s: float = Field(default=120.0, gt=0, description="Per request; a wedged server is given up on after this.")
    retries: int = Field(default=4, ge=0, description="More tries per request after the first.")
    backoff_s: float = Field(default=0.5, ge=0, description="Base of the exponential backoff between tries.")
    backoff_max_s: float = Field(default=30.0, ge=0, description="Longest wait between two tries.")
    max_error_rate: float = Field(
        default=0.01, ge=0, le=1,
        description="Share of a worker's requests that may fail (after their retries) before the stage fails.")
    min_requests: int = Field(
        default=50, gt=0, description="Requests a worker makes before max_error_rate is enforced (a rate needs a sample).")
    restart_wait_s: float = Field(
        default=0.0, ge=0,
        description="How long to wait for a server that went down to come back (restarted) before a try counts against "
                    "retries; a run sets it for the servers it manages (model.server), set it for servers something "
                    "else restarts. 0: do not wait.")


@dataclass(frozen=True)
class RequestFailed:
    """A request that failed after every try, in the place of its answer."""

    cause: str
    attempts: int


class InferenceFailed(RuntimeError):
    """Too many requests failed (past ``max_error_rate``), or the server cannot do what is asked."""


@dataclass
class Server:
    url: str
    in_flight: int = 0
    sent: int = 0
    failed: int = 0
    failing: int = 0  # failed tries in a row
    rest_until: float = 0.0  # a failing server gets no request before this (unless all are failing)


class ServedClient:
    """Posts JSON bodies to one or more servers and returns their JSON answers in order."""

    def __init__(self, urls: Sequence[str], options: RequestOptions, api_key_env: str | None = None) -> None:
        import httpx

        if not urls:
            raise ValueError("a served backend needs at least one base_url")
        self.options = options
        self.servers = [Server(url.rstrip("/")) for url in urls]
        self._lock = threading.Condition()
        headers = {"Content-Type": "application/json"}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise InferenceFailed(f"model.api_key_env names {api_key_env}, which is not set in the environment")
            headers["Authorization"] = f"Bearer {key}"
        limit = options.max_in_flight * len(self.servers)
        self.http = httpx.Client(headers=headers, timeout=options.timeout_s,
                                 limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit))
        self.requests = 0
        self.failures = 0
        self.resent = 0  # tries sent again after their server went down (not counted as retries)

    def close(self) -> None:
        self.http.close()

    def post_all(self, path: str, bodies: Sequence[dict[str, Any]],
                 on_answer: Callable[[int, dict[str, Any]], None] | None = None) -> list[dict[str, Any] | RequestFailed]:
        """Every body posted to ``path`` (as many at once as the servers take); answers in order.
        ``on_answer(i, answer)`` is called as each answer arrives (to keep it at once)."""
        if not bodies:
            return []

        def send(i: int) -> dict[str, Any] | RequestFailed:
            answer = self.post(path, bodies[i])
            if on_answer is not None and not isinstance(answer, RequestFailed):
                on_answer(i, answer)
            return answer

        workers = min(len(bodies), self.options.max_in_flight * len(self.servers))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="curate-request") as pool:
            answers = list(pool.map(send, range(len(bodies))))
        with self._lock:
            self.requests += len(answers)
            self.failures += sum(isinstance(a, RequestFailed) for a in answers)
        return answers

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | RequestFailed:
        """One request, retried; its answer or why it failed. A try lost because its server went
        down and came back (``restart_wait_s``) is sent again without counting against ``retries``."""
        cause = "no attempt"
        last: Server | None = None
        attempt = resent = 0
        while True:
            server = self._acquire(avoid=last, attempt=attempt)
            answer, cause, retry, wait = None, "interrupted", False, None
            try:
                answer, cause, retry, wait = self._try(server, path, body)
            finally:
                # a refused request (HTTP 4xx) says nothing about the server's health
                self._release(server, ok=answer is not None or not retry)
            if answer is not None:
                return answer
            if not retry:
                return RequestFailed(cause, attempt + resent + 1)
            last = server
            if resent < MAX_RESENDS and self._back_after_restart(server):
                resent += 1
                with self._lock:
                    self.resent += 1
                continue
            attempt += 1
            if attempt > self.options.retries:
                return RequestFailed(cause, attempt + resent)
            ceiling = min(self.options.backoff_max_s, self.options.backoff_s * 2 ** (attempt - 1))
            time.sleep(wait if wait is not None else random.uniform(0, ceiling))  # full jitter

    def _back_after_restart(self, server: Server) -> bool:
        """After a failed try (``restart_wait_s`` > 0): whether it failed because ``server`` was down
        and the request can go again at once: another server is well, or this one came back within
        ``restart_wait_s``. False when the server answers its health check (the request, not the
        server, is the trouble) or stays down."""
        wait_s = self.options.restart_wait_s
        if wait_s <= 0 or self._answers_health(server):
            return False
        with self._lock:
            if any(s is not server and s.failing == 0 for s in self.servers):
                return True
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0)))
            if self._answers_health(server):
                with self._lock:
                    server.failing, server.rest_until = 0, 0.0
                    self._lock.notify_all()
                return True
        return False

    def _answers_health(self, server: Server) -> bool:
        import httpx

        try:
            return self.http.get(server.url + "/models", timeout=min(self.options.timeout_s, 10.0)).status_code == 200
        except httpx.HTTPError:
            return False

    def _try(self, server: Server, path: str, body: dict[str, Any]) -> tuple[dict | None, str, bool, float | None]:
        """(answer, why not, worth another try, seconds the server asked us to wait)."""
        import httpx

        try:
            response = self.http.post(server.url + path, json=body)
        except httpx.TimeoutException:
            return None, f"{server.url}: no answer within timeout_s={self.options.timeout_s:g}", True, None
        except httpx.TransportError as exc:
            return None, f"{server.url}: {type(exc).__name__}: {exc}", True, None
        if response.status_code != 200:
            cause = f"{server.url}: HTTP {response.status_code}: {response.text[:300]}"
            return None, cause, response.status_code in RETRY_STATUSES, _retry_after(response.headers.get("retry-after"))
        try:
            answer = response.json()
        except ValueError:
            return None, f"{server.url}: the answer is not JSON: {response.text[:200]!r}", True, None
        if not isinstance(answer, dict):
            return None, f"{server.url}: the answer is not a JSON object: {response.text[:200]!r}", True, None
        return answer, "", False, None

    def _acquire(self, avoid: Server | None, attempt: int) -> Server:
        """A server for a try, waiting while none may take it: the one with the fewest requests in
        flight among those that may (not ``avoid`` when there is a choice).

        A server whose last try failed rests (the backoff, doubling while it keeps failing). While
        another server is well, a failing one gets, once rested, a single probe, and only a
        request's first try, so retries are not spent on it; when none is well, every rested
        server takes tries, so a run against a dead server fails within its retries, not never.
        """
        with self._lock:
            while True:
                now = time.monotonic()
                any_well = any(s.failing == 0 for s in self.servers)
                open_ = [s for s in self.servers if self._may_take(s, now, any_well, attempt)]
                if len(open_) > 1 and avoid in open_:
                    open_.remove(avoid)
                if open_:
                    server = min(open_, key=lambda s: (s.failing > 0, s.in_flight, s.sent))
                    server.in_flight += 1
                    server.sent += 1
                    return server
                resting = [s.rest_until - now for s in self.servers if s.rest_until > now]
                self._lock.wait(timeout=min(resting) if resting else None)

    def _may_take(self, server: Server, now: float, any_well: bool, attempt: int) -> bool:
        if server.in_flight >= self.options.max_in_flight:
            return False
        if server.failing == 0:
            return True
        return server.rest_until <= now and (not any_well or (attempt == 0 and server.in_flight == 0))

    def _release(self, server: Server, ok: bool) -> None:
        with self._lock:
            server.in_flight -= 1
            if ok:
                server.failing, server.rest_until = 0, 0.0
            else:
                server.failed += 1
                server.failing += 1
                rest = min(self.options.backoff_max_s, self.options.backoff_s * 2 ** (server.failing - 1))
                server.rest_until = time.monotonic() + rest
            self._lock.notify_all()

    def check_error_rate(self, what: str) -> None:
        """Raise :class:`InferenceFailed` once more than ``max_error_rate`` of the requests failed."""
        options = self.options
        if self.requests >= options.min_requests and self.failures > options.max_error_rate * self.requests:
            raise InferenceFailed(
                f"{what}: {self.failures} of {self.requests} requests failed after {options.retries} retries "
                f"(more than max_error_rate={options.max_error_rate:g}); servers: "
                + ", ".join(f"{s.url} ({s.failed} failed tries of {s.sent})" for s in self.servers))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (capped at a minute), else None."""
    try:
        return min(60.0, max(0.0, float(value))) if value else None
    except ValueError:
        return None
