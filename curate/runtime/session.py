"""The Ray session of a run: joining a cluster or starting a local one, and keeping Ray's own
messages out of the console (in ``OUTPUT_DIR/_logs``)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from curate.config import LoadedConfig
from curate.stage import actor_cpu_scale

logger = logging.getLogger("curate")


def _raylet_messages_to_stderr() -> None:
    """Send the raylet's warnings (worker start-up counts, ...) to stderr, i.e. the run's log file.

    Ray's driver prints them on stdout from a background thread, past logging; quiet mode
    promises Ray's own messages go to ``OUTPUT_DIR/_logs/``. The failures among them (dead
    workers, OOM kills) reach the user through our own error report.
    """
    with contextlib.suppress(ImportError, AttributeError):
        import ray._private.worker as ray_worker

        def to_stderr(data: dict, *args: Any, **kwargs: Any) -> None:
            for line in data.get("lines", []):
                print(f"({data.get('pid', 'ray')}) {line}", file=sys.stderr)

        if hasattr(ray_worker, "print_to_stdstream"):
            ray_worker.print_to_stdstream = to_stderr


def _quiet_ray_logging() -> None:
    _raylet_messages_to_stderr()
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    # Ray Data logs a failing task at ERROR before raising it; we report the failure ourselves.
    for name in ("ray", "ray.data", "ray.train", "ray.tune"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextlib.contextmanager
def stderr_to_file(path: Path | None) -> Iterator[None]:
    """Send this process's file descriptor 2 to ``path`` (None: leave it alone).

    Ray's C++ core worker writes warnings straight to fd 2, past Python's logging; in quiet mode
    they go to the run's log file instead of the user's terminal, except when Ray itself ends
    the driver (a dead GCS): then :mod:`curate.ray_log` shows why on the terminal.
    """
    if path is None:
        yield
        return
    from curate.ray_log import stderr_to_log

    with stderr_to_log(path):
        yield


def check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a ``host:port`` nobody answers on: Ray itself retries the GCS for minutes."""
    import socket

    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return  # "auto", ray:// client addresses: Ray resolves and reports those itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RuntimeError(f"no Ray cluster answers at {address} (RAY_ADDRESS / ray.address): {exc}") from None


def init_ray(loaded: LoadedConfig, verbose: bool = False) -> dict[str, Any]:
    """Join RAY_ADDRESS / ray.address if given, else start a local Ray sized to this machine."""
    if not verbose:
        _quiet_ray_logging()
    import ray

    ray_cfg = loaded.pipeline.ray
    address = ray_cfg.address or os.environ.get("RAY_ADDRESS")
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {
            "include_dashboard": False if address is None else None,
            "logging_level": logging.INFO if verbose else logging.ERROR,
            "log_to_driver": verbose,
            "configure_logging": True,
        }
        if address:
            check_reachable(address)
            kwargs["address"] = address
        else:
            # "local": always a new Ray of our own, even when `ray start` left a cluster on this host
            # (ray.init() would silently join that one).
            kwargs["address"] = "local"
            # Exactly the machine's cores: the actor pools are fitted into them below, as on a
            # joined cluster. (Padding Ray's CPUs with the actors' share, as curate once did, let
            # Ray prestart and run that many more worker processes, each importing ray.data and
            # pandas: ~12% more CPU seconds on a 20,000-document run, same output.)
            kwargs["num_cpus"] = ray_cfg.num_cpus or os.cpu_count() or 1
            if ray_cfg.object_store_memory_gb:
                kwargs["object_store_memory"] = int(ray_cfg.object_store_memory_gb * 1024**3)
            if ray_cfg.spill_dir:
                Path(ray_cfg.spill_dir).mkdir(parents=True, exist_ok=True)
                kwargs["_system_config"] = {"object_spilling_config": json.dumps(
                    {"type": "filesystem", "params": {"directory_path": str(ray_cfg.spill_dir)}})}
        context = ray.init(**{k: v for k, v in kwargs.items() if v is not None})
        dashboard_url = getattr(context, "dashboard_url", None)
    else:
        dashboard_url = None
    ctx = ray.data.DataContext.get_current()
    if not verbose:
        _quiet_ray_logging()  # again: importing ray.data installs its own logging config
    ctx.enable_progress_bars = verbose
    ctx.print_on_execution_start = verbose
    ctx.enable_auto_log_stats = False
    # Ray 2.60's read_parquet (datasource v2) starts a pool of 32 FooterReader actors to read
    # footers: ~9 CPU seconds of process start-up for a 40-file checkpoint on a 1-core run. The
    # v1 reader reads the footers of our few, known files in its read tasks.
    ctx.use_datasource_v2 = False
    resources = ray.cluster_resources()
    cpus = resources.get("CPU", 0)
    if cpus < 1:
        raise RuntimeError(f"the Ray cluster at {address} has {cpus:g} CPUs; a run needs at least 1")
    held = actor_cpus(loaded)
    scale = actor_cpu_scale(held, cpus)  # local or joined: the pools leave a CPU for the tasks
    return {"address": address or "local", "cpus": cpus, "cores": cpus, "gpus": resources.get("GPU", 0),
            "actor_cpus": held * scale, "actor_cpu_scale": scale,
            "dashboard_url": f"http://{dashboard_url}" if dashboard_url and "://" not in dashboard_url else dashboard_url}


def actor_cpus(loaded: LoadedConfig) -> float:
    """CPUs that the first actor of every actor-pool stage holds for the whole run."""
    return sum(spec.options.resources.cpus for spec in loaded.stages if spec.stage_cls.mode == "actors")
