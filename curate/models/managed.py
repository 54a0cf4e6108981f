"""Managed model servers: the run starts an inference engine (vLLM, SGLang, llama.cpp,
``transformers serve``) per replica, keeps it alive, and stops it when the run ends.

``model.server`` in a stage's YAML names the command; the run starts ``replicas`` of it before
any document is read, each in a Ray actor that Ray places (a GPU each when ``resources.gpus``
asks for one), waits for each to answer its health check, and gives the stage's workers their
URLs as ``base_url``. No scheduler of ours: Ray places the servers, the engine batches requests.

* **A server that dies is restarted** on the same host and port (the URL the workers hold stays
  right), up to ``max_restarts`` times. A server that stops answering its health check
  ``unhealthy_after`` times in a row (a CUDA OOM that wedged the engine) is killed and restarted,
  never waited on forever.
* **Its in-flight requests are sent again**: the workers' client sees the connection drop, waits
  for the server to come back (``ready_timeout_s``) or sends to another replica, and does not
  count that try against the request's retries (:class:`~curate.models.client.ServedClient`).
* **Stopped with the run**: the driver stops every replica when the run ends or fails; each server
  runs in its own process group, killed whole, and dies with its actor (``PR_SET_PDEATHSIG``)
  if the actor's process is killed first.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from curate.config import StrictModel

if TYPE_CHECKING:
    from curate.config import LoadedConfig
    from curate.models.loading import ModelSpec

#: What ``server.command`` may hold in braces; each is replaced as text, nothing else is read.
PLACEHOLDERS = ("{model}", "{served_name}", "{host}", "{port}")


class ServerResources(StrictModel):
    """What one replica asks Ray for. CPUs default to 0: the engine's scarce resource is its GPU,
    and a CPU held by a server on a small machine is one the stage's own tasks cannot use."""

    cpus: float = Field(default=0.0, ge=0)
    gpus: float = Field(default=0.0, ge=0)
    custom: dict[str, float] = Field(default_factory=dict, description="Custom Ray resources per replica.")


class ServerSpec(StrictModel):
    """``model.server``: an inference engine the run starts, watches and stops."""

    command: str = Field(description="The server's command line, e.g. 'vllm serve {model} --host {host} --port {port}'; "
                                     "{model}, {served_name}, {host} and {port} are filled in.")
    replicas: int = Field(default=1, gt=0, description="Servers to start; requests are balanced over them.")
    resources: ServerResources = Field(default_factory=lambda: ServerResources())
    api_path: str = Field(default="/v1", description="Where the OpenAI-compatible API lives on the server.")
    health_path: str = Field(default="/models", description="GET under api_path that answers 200 once the model is loaded.")
    ready_timeout_s: float = Field(default=900.0, gt=0, description="Longest wait for a (re)started server to answer.")
    health_interval_s: float = Field(default=10.0, gt=0, description="Seconds between health checks of a running server.")
    health_timeout_s: float = Field(default=10.0, gt=0, description="A health check not answered by then has failed.")
    unhealthy_after: int = Field(default=3, gt=0, description="Failed health checks in a row before a server is restarted.")
    max_restarts: int = Field(default=5, ge=0, description="Restarts per replica before it is given up.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables added for the server.")

    @field_validator("command")
    @classmethod
    def _has_a_port(cls, value: str) -> str:
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split the command into arguments: {exc}") from None
        if not argv:
            raise ValueError("the command is empty")
        if "{port}" not in value:
            raise ValueError("the command must place the server on {port} (the run picks a free one)")
        return value

    def argv(self, model: str, served_name: str, host: str, port: int) -> list[str]:
        values = {"{model}": model, "{served_name}": served_name, "{host}": host, "{port}": str(port)}
        out = []
        for arg in shlex.split(self.command):
            for placeholder, value in values.items():
                arg = arg.replace(placeholder, value)
            out.append(arg)
        return out


class ServerFailed(RuntimeError):
    """A managed server did not start, or died more often than ``max_restarts`` allows."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """In the server's process: receive SIGKILL when the process that started it dies."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not Linux: the run's stop() is the only stop
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ManagedServer:
    """One replica: its process, kept running by a keeper thread. Runs as a Ray actor on a
    cluster, or as a plain object in the driver with ``executor: local``.

    The keeper thread starts every process (a child dies with the thread that started it, under
    ``PR_SET_PDEATHSIG``, so one long-lived thread owns them all), waits for it to be ready,
    watches it, and restarts it when it exits or stops answering."""

    def __init__(self, server: dict[str, Any], model: str, served_name: str, host: str | None = None) -> None:
        self.spec = ServerSpec(**server)
        self.host = host or _node_address()
        self.port = _free_port(self.host)
        self.argv = self.spec.argv(model, served_name, self.host, self.port)
        self.url = f"http://{self.host}:{self.port}{self.spec.api_path}"
        self.log = Path(tempfile.mkdtemp(prefix="curate-server-")) / "server.log"
        self.restarts = 0
        self.error: str | None = None
        self.process: subprocess.Popen | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._keeper = threading.Thread(target=self._keep, name="curate-server-keeper", daemon=True)

    # -------------------------------------------------------------- the API (actor methods)

    def start(self) -> str:
        """Start the server and wait until it answers; its base URL. Raises :class:`ServerFailed`
        with the end of its log when it exits or does not answer within ``ready_timeout_s``."""
        self._keeper.start()
        self._ready.wait()
        if self.error is not None:
            raise ServerFailed(self.error)
        return self.url

    def status(self) -> dict[str, Any]:
        process = self.process
        return {"url": self.url, "pid": process.pid if process is not None else None,
                "running": process is not None and process.poll() is None and self._ready.is_set(),
                "restarts": self.restarts, "error": self.error}

    def stop(self) -> dict[str, Any]:
        """Stop the keeper and the server's whole process group; its last status."""
        self._stopping.set()
        if self.process is not None:
            _terminate(self.process)
        if self._keeper.is_alive():
            self._keeper.join(timeout=30)
        return self.status()

    # -------------------------------------------------------------- the keeper thread

    def _keep(self) -> None:
        first = True
        while not self._stopping.is_set():
            why = self._launch_and_wait_ready()
            if why is None:
                first = False
                self._ready.set()
                why = self._watch()
            if self._stopping.is_set():
                break
            self._ready.clear()
            if first:  # never came up: the command or the model is wrong, restarting will not help
                self.error = why
                break
            self.restarts += 1
            if self.restarts > self.spec.max_restarts:
                self.error = f"{why}; given up after {self.spec.max_restarts} restarts"
                break
        if self.process is not None:
            _terminate(self.process)
        self._ready.set()  # wake start() (and anyone waiting) with the error

    def _launch_and_wait_ready(self) -> str | None:
        """Start the process and wait for its health check; None when ready, else why not."""
        with open(self.log, "ab") as out:
            try:
                self.process = subprocess.Popen(
                    self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env={**os.environ, **self.spec.env}, start_new_session=True, preexec_fn=_die_with_parent)
            except OSError as exc:
                return f"cannot start {self.argv[0]!r}: {exc}"
        deadline = time.monotonic() + self.spec.ready_timeout_s
        while not self._stopping.is_set():
            code = self.process.poll()
            if code is not None:
                return f"the server exited with code {code} before it was ready: {self._log_tail()}"
            if self._healthy(timeout=min(self.spec.health_timeout_s, 5.0)):
                return None
            if time.monotonic() > deadline:
                _terminate(self.process)
                return f"no answer from {self.url}{self.spec.health_path} within ready_timeout_s={self.spec.ready_timeout_s:g}: {self._log_tail()}"
            self._stopping.wait(0.5)
        return "stopped"

    def _watch(self) -> str:
        """Watch a ready server until it exits or stops answering; why it is down."""
        failed_checks = 0
        next_check = time.monotonic() + self.spec.health_interval_s
        while not self._stopping.is_set():
            code = self.process.poll()
            if code is not None:
                return f"the server exited with code {code}"
            if time.monotonic() >= next_check:
                failed_checks = 0 if self._healthy(self.spec.health_timeout_s) else failed_checks + 1
                next_check = time.monotonic() + self.spec.health_interval_s
                if failed_checks >= self.spec.unhealthy_after:
                    _terminate(self.process)
                    return f"the server failed {failed_checks} health checks in a row (wedged)"
            self._stopping.wait(0.2)
        return "stopped"

    def _healthy(self, timeout: float) -> bool:
        import httpx

        try:
            return httpx.get(self.url + self.spec.health_path, timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def _log_tail(self, chars: int = 1500) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return text[-chars:].strip() or "(the log is empty)"


def _terminate(process: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM to the server's process group, SIGKILL after ``grace_s``."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _node_address() -> str:
    """This node's address as the rest of the cluster reaches it (127.0.0.1 outside Ray)."""
    try:
        import ray

        if ray.is_initialized():
            return ray.util.get_node_ip_address()
    except ImportError:  # pragma: no cover - ray is a base dependency
        pass
    return "127.0.0.1"


class ServerFleet:
    """The replicas of one stage's model server, started together and stopped together."""

    def __init__(self, where: str, model: ModelSpec, on_ray: bool) -> None:
        assert model.server is not None
        self.where = where
        self.model = model
        self.on_ray = on_ray
        self.replicas: list[Any] = []

    def start(self) -> list[str]:
        """Every replica started and ready; their base URLs. Raises :class:`ServerFailed` naming
        the config key (after stopping whatever did start)."""
        server = self.model.server
        args = (server.model_dump(), self.model.id, self.model.served_name or self.model.id)
        try:
            if self.on_ray:
                import ray

                options: dict[str, Any] = {"num_cpus": server.resources.cpus, "max_concurrency": 4, "max_restarts": 0}
                if server.resources.gpus:
                    options["num_gpus"] = server.resources.gpus
                if server.resources.custom:
                    options["resources"] = dict(server.resources.custom)
                actor = ray.remote(ManagedServer).options(**options)
                self.replicas = [actor.remote(*args) for _ in range(server.replicas)]
                return ray.get([r.start.remote() for r in self.replicas])
            self.replicas = [ManagedServer(*args, host="127.0.0.1") for _ in range(server.replicas)]
            return [r.start() for r in self.replicas]
        except Exception as exc:
            self.stop()
            cause = getattr(exc, "cause", None) or exc  # a Ray task error carries the actor's exception
            raise ServerFailed(f"{self.where}.server: {cause}") from None

    def statuses(self) -> list[dict[str, Any]]:
        if self.on_ray:
            import ray

            return ray.get([r.status.remote() for r in self.replicas])
        return [r.status() for r in self.replicas]

    def stop(self) -> list[dict[str, Any]]:
        """Stop every replica; their last statuses (restarts, errors) for the run's summary."""
        if not self.replicas:
            return []
        if self.on_ray:
            import ray

            last = []
            for replica in self.replicas:
                try:
                    last.append(ray.get(replica.stop.remote(), timeout=60))
                except Exception as exc:  # the actor is gone: Ray reaps it, its server died with it
                    last.append({"error": f"{type(exc).__name__}: {exc}"})
                ray.kill(replica)
        else:
            last = [r.stop() for r in self.replicas]
        self.replicas = []
        return last


def _models_in(options: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], ModelSpec]]:
    """(field path, model) of every ModelSpec with a ``server:`` block among a stage's options."""
    from pydantic import BaseModel

    from curate.models.loading import ModelSpec

    if isinstance(options, ModelSpec):
        if options.server is not None:
            yield path, options
        return
    if isinstance(options, BaseModel):
        for name in type(options).model_fields:
            yield from _models_in(getattr(options, name), (*path, name))


def _replaced(options: Any, path: tuple[str, ...], value: Any) -> Any:
    """``options`` with the field at ``path`` set to ``value`` (copies along the path)."""
    if not path:
        return value
    head = path[0]
    return options.model_copy(update={head: _replaced(getattr(options, head), path[1:], value)})


def managed_models(loaded: LoadedConfig) -> list[tuple[int, tuple[str, ...], ModelSpec]]:
    """(stage index, field path, model) of every model of the run with a ``server:`` block."""
    return [(index, path, model) for index, stage in enumerate(loaded.stages) for path, model in _models_in(stage.options)]


@contextmanager
def running_servers(loaded: LoadedConfig, on_ray: bool, report: list[dict[str, Any]]) -> Iterator[LoadedConfig]:
    """Start every managed server of the run; yield the config with their URLs as each model's
    ``base_url``; stop them all when the block ends, however it ends. Each replica's last status
    (URL, restarts, error) is appended to ``report``."""
    import dataclasses

    fleets: list[ServerFleet] = []
    stages = list(loaded.stages)
    try:
        for index, path, model in managed_models(loaded):
            fleet = ServerFleet(".".join(("stages", stages[index].key, *path)), model, on_ray)
            fleets.append(fleet)
            urls = fleet.start()
            # The workers see running servers (base_url), and wait for one that went down to come back.
            requests = model.requests.model_copy(update={"restart_wait_s": model.server.ready_timeout_s})
            served = model.model_copy(update={"base_url": urls, "server": None, "requests": requests})
            stages[index] = dataclasses.replace(stages[index], options=_replaced(stages[index].options, path, served))
        yield dataclasses.replace(loaded, stages=stages)
    finally:
        for fleet in fleets:
            for status in fleet.stop():
                report.append({"model": fleet.where, **status})
