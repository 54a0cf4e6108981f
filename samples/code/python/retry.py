"""Retry helper with exponential backoff and jitter.

Used around flaky network calls such as fetching remote shards. The delay
before attempt ``n`` (0-based) is ``min(cap, base * 2**n)`` scaled by a random
factor in ``[1 - jitter, 1]`` so that many clients do not retry in lockstep.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class RetryError(RuntimeError):
    """Raised when every attempt failed; ``__cause__`` is the last error."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"gave up after {attempts} attempts")
        self.attempts = attempts


def backoff_delays(attempts: int, base: float = 0.5, cap: float = 30.0,
                   jitter: float = 0.25, rng: random.Random | None = None):
    """Yield the sleep duration before each retry (``attempts - 1`` values)."""
    rng = rng or random.Random()
    for n in range(attempts - 1):
        delay = min(cap, base * (2 ** n))
        yield delay * (1.0 - jitter * rng.random())


def retry(attempts: int = 4,
          exceptions: tuple[type[BaseException], ...] = (Exception,),
          base: float = 0.5,
          cap: float = 30.0,
          sleep: Callable[[float], None] = time.sleep):
    """Decorator: call the wrapped function up to ``attempts`` times.

    Only exceptions listed in ``exceptions`` trigger a retry; anything else
    propagates immediately.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs) -> T:
            delays = backoff_delays(attempts, base, cap)
            last_exc: BaseException | None = None
            for attempt in range(1, attempts + 1):
                try:
                    return fn(*args, **kwargs)
                except exceptions as exc:  # type: ignore[misc]
                    last_exc = exc
                    if attempt == attempts:
                        break
                    delay = next(delays)
                    log.warning("%s failed (attempt %d/%d): %s; retrying in %.2fs",
                                fn.__name__, attempt, attempts, exc, delay)
                    sleep(delay)
            raise RetryError(attempts) from last_exc

        return wrapper

    return decorate


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    calls = {"n": 0}

    @retry(attempts=5, exceptions=(ConnectionError,), base=0.01)
    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionError("connection reset by peer")
        return "ok"

    print(flaky(), "after", calls["n"], "calls")
