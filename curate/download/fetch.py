"""Fetch a URL into the local cache: the retry loop, the cache and its lock, checksums, fsspec.

HTTP attempts are :mod:`curate.download.http`; every other protocol (s3://, gs://, hf://, ...)
is one fsspec copy per attempt, resumed with ``seek``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from curate.config import DownloadConfig
from curate.download.errors import ChecksumMismatch, DownloadError, Retryable
from curate.download.http import CHUNK_BYTES, Pace, http_attempt
from curate.download.urls import protocol_of


@dataclass
class FetchResult:
    path: Path
    bytes_downloaded: int
    from_cache: bool
    attempts: int


def downloads_dir(config: DownloadConfig) -> Path:
    from curate.tokenizer import cache_dir

    return Path(config.cache_dir) if config.cache_dir else cache_dir() / "downloads"


def cache_path(url: str, config: DownloadConfig, max_bytes: int | None = None) -> Path:
    """Where a URL is cached; a byte-limited sample is cached apart from the whole file."""
    key = hashlib.sha256(f"{url}\n{max_bytes or ''}".encode()).hexdigest()[:20]
    name = os.path.basename(urlsplit(url).path) or "index"
    return downloads_dir(config) / f"{key}-{name}"


def backoff_delay(attempt: int, config: DownloadConfig) -> float:
    """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^(attempt-1))]."""
    ceiling = min(config.max_backoff_seconds, config.backoff_seconds * 2 ** (attempt - 1))
    return random.uniform(0, ceiling)


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path: Path, expected: str | None, url: str) -> None:
    if not expected:
        return
    algorithm, _, hexdigest = expected.partition(":")
    actual = file_digest(path, algorithm)
    if actual != hexdigest.lower():
        raise ChecksumMismatch(f"{url}: {algorithm} checksum mismatch: expected {hexdigest.lower()}, got {actual}")


def _fsspec_attempt(url: str, part: Path, max_bytes: int | None, storage_options: dict) -> int:
    """Copy from any fsspec filesystem, resuming with seek; transient errors are retried."""
    import fsspec

    have = part.stat().st_size if part.exists() else 0
    fs, path = fsspec.core.url_to_fs(url, **storage_options)
    received = 0
    try:
        with fs.open(path, "rb") as src, open(part, "ab") as out:
            src.seek(have)
            while max_bytes is None or have + received < max_bytes:
                want = CHUNK_BYTES if max_bytes is None else min(CHUNK_BYTES, max_bytes - have - received)
                chunk = src.read(want)
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
    except FileNotFoundError as exc:
        raise DownloadError(f"{url}: not found") from exc
    except PermissionError as exc:
        raise DownloadError(f"{url}: permission denied ({exc}); check the filesystem's credentials") from exc
    except (OSError, TimeoutError, ConnectionError) as exc:
        raise Retryable(f"{type(exc).__name__}: {exc}") from exc
    return received


def _sleep_before_retry(url: str, attempts: int, config: DownloadConfig, deadline: float | None,
                        exc: Exception) -> None:
    """Back off before the next attempt, unless that would pass the file's deadline."""
    delay = backoff_delay(attempts, config)
    if deadline is not None and time.monotonic() + delay > deadline:
        raise DownloadError(f"{url}: download.deadline_seconds={config.deadline_seconds:g} passed after "
                            f"{attempts} attempts; last error: {exc}")
    time.sleep(delay)


def fetch(
    url: str,
    config: DownloadConfig,
    *,
    checksum: str | None = None,
    max_bytes: int | None = None,
    storage_options: dict | None = None,
) -> FetchResult:
    """The local path of ``url``: from the cache when complete there, else downloaded into it.

    A file lock per cache entry keeps two workers (or two runs) from writing the same ``.part``.
    """
    from filelock import FileLock

    target = cache_path(url, config, max_bytes)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        return _fetch_locked(url, target, config, checksum, max_bytes, storage_options)


def _fetch_locked(url: str, target: Path, config: DownloadConfig, checksum: str | None, max_bytes: int | None,
                  storage_options: dict | None) -> FetchResult:
    meta = target.with_name(target.name + ".json")
    if target.exists() and meta.exists():
        try:
            verify_checksum(target, checksum, url)
            return FetchResult(target, 0, True, 0)
        except ChecksumMismatch:
            target.unlink()  # a bad cached copy: fetch again
    part = target.with_name(target.name + ".part")
    session = None
    if protocol_of(url) in ("http", "https"):
        import requests

        session = requests.Session()
    downloaded = 0
    attempts = 0
    checksum_retried = False
    deadline = None if config.deadline_seconds is None else time.monotonic() + config.deadline_seconds
    while True:
        attempts += 1
        try:
            if session is not None:
                downloaded += http_attempt(session, url, part, config, max_bytes, Pace(url, config, deadline))
            else:
                downloaded += _fsspec_attempt(url, part, max_bytes, storage_options or {})
            part.touch()
            verify_checksum(part, checksum, url)
            break
        except ChecksumMismatch:
            part.unlink(missing_ok=True)
            if checksum_retried:
                raise
            checksum_retried = True  # a corrupted transfer deserves one clean retry
        except Retryable as exc:
            if attempts > config.retries:
                raise DownloadError(f"{url}: gave up after {attempts} attempts; last error: {exc}") from None
            _sleep_before_retry(url, attempts, config, deadline, exc)
    part.replace(target)
    meta.write_text(json.dumps({"url": url, "bytes": target.stat().st_size, "max_bytes": max_bytes,
                                "fetched_at": time.time()}))
    return FetchResult(target, downloaded, False, attempts)
