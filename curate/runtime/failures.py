"""Failures named by their stage: what a stage raised, a worker the OS killed, an exception
Ray wrapped on its way back to the driver."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator


class StageFailed(RuntimeError):
    """A stage raised; carries the stage key and a description of the cause."""

    def __init__(self, stage: str, cause: str, where: str = "") -> None:
        super().__init__(stage, cause, where)
        self.stage, self.cause, self.where = stage, cause, where

    def __str__(self) -> str:
        where = f" (on {self.where})" if self.where else ""
        return f"stage '{self.stage}' failed{where}: {self.cause}"


_REMOTE_FAILURE = re.compile(r"StageFailed: (stage '.*?' failed.*?)(?:\n\n|\Z)", re.S)


def find_stage_failure(exc: BaseException) -> StageFailed | str | None:
    """Our StageFailed from the exception chain, or its message from a remote traceback.

    Ray Data re-raises worker errors as ``RayTaskError(UserCodeException)`` whose text holds
    the worker's traceback, not our exception object; we read the message back from it.
    """
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if type(current) is StageFailed:  # not Ray's RayTaskError(StageFailed) subclass: its str is a traceback
            return current
        stack.extend([current.__cause__, current.__context__, getattr(current, "cause", None)])
    found = _REMOTE_FAILURE.search(str(exc))
    return found.group(1).strip() if found else None


#: What a global stage is doing while it is in flight (see worker_death).
GLOBAL_STEP = "its global step"


def memory_hint(stage: str) -> str:
    return (f"lower stages.{stage}.resources.batch_size or .concurrency, or set stages.{stage}.resources.memory_gb "
            "so Ray places fewer of its workers on a node")


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def worker_death(exc: BaseException, stats=None) -> StageFailed | None:
    """A worker process that died (killed, crashed, out of memory) after Ray's retries, as a StageFailed.

    Ray's error does not say which of our stages the process was running; the stats actor does:
    every batch is announced before it starts and cleared when it reports.
    """
    from ray import exceptions as rex

    kinds = [e for e in _exception_chain(exc)
             if isinstance(e, rex.OutOfMemoryError | rex.WorkerCrashedError | rex.RayActorError | rex.NodeDiedError)]
    if not kinds:
        return None
    unfinished: list[tuple[str, str]] = []
    if stats is not None:
        from curate.runtime.stats import ask

        with contextlib.suppress(Exception):
            unfinished = ask(stats, "unfinished", timeout=10)
    # A global stage is "in flight" from the moment it gathers its input, which runs the stages
    # before it: a batch-level entry names the culprit more precisely.
    unfinished.sort(key=lambda entry: entry[1] == GLOBAL_STEP)
    stage, where = unfinished[0] if unfinished else ("unknown", "")
    detail = str(kinds[0]).strip().splitlines()[0]
    if isinstance(kinds[0], rex.OutOfMemoryError):
        cause = f"out of memory: Ray's memory monitor killed its worker ({detail}); {memory_hint(stage)}"
    else:
        cause = (f"its worker process died ({type(kinds[0]).__name__}: {detail}) and Ray's retries "
                 f"(stages.{stage}.resources.max_retries) are used up; if the node ran out of memory: "
                 f"{memory_hint(stage)}")
    return StageFailed(stage, cause, where)
