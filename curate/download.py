"""Fetch remote files into a local cache, surviving flaky servers.

* retries with exponential backoff and full jitter on 5xx/429/408, timeouts and connection
  resets; a body cut short is a failure too (its length is checked);
* resume: a partial download lives on as ``<cache>.part`` and the next attempt (or the next run)
  asks for the missing bytes only (HTTP ``Range``; ``seek`` for other fsspec filesystems); a
  server that ignores ``Range`` gets a clean restart;
* optional sha256/md5 checksums, checked before a file counts as downloaded;
* a per-file byte limit for sampling runs; and a cache so a rerun does not fetch again.

HTTP goes through ``requests`` with ``Accept-Encoding: identity`` so byte offsets mean bytes of
the file; s3://, gs://, hf:// and the rest go through fsspec with the filesystem's own
credential chain.
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

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
CHUNK_BYTES = 1 << 20
LOCAL_PROTOCOLS = ("", "file", "local")


class DownloadError(RuntimeError):
    """A file could not be fetched after the configured retries (or not at all)."""


class ChecksumMismatch(DownloadError):
    pass


class _Retryable(Exception):
    pass


@dataclass
class FetchResult:
    path: Path
    bytes_downloaded: int
    from_cache: bool
    attempts: int


def protocol_of(url: str) -> str:
    scheme = urlsplit(url).scheme
    return "" if len(scheme) <= 1 else scheme  # "C:\\..." has a one-letter scheme


def is_remote(url: str) -> bool:
    return protocol_of(url) not in LOCAL_PROTOCOLS


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


def _content_range_total(header: str | None) -> int | None:
    # "bytes 100-199/1000" -> 1000 ("*" when unknown)
    if not header or "/" not in header:
        return None
    total = header.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def _http_attempt(session, url: str, part: Path, config: DownloadConfig, max_bytes: int | None) -> int:
    """One HTTP request appending to ``part``; returns bytes received. Raises _Retryable on transient trouble."""
    import requests

    have = part.stat().st_size if part.exists() else 0
    if max_bytes is not None and have >= max_bytes:
        return 0
    headers = {"Accept-Encoding": "identity"}
    if have or max_bytes is not None:
        end = "" if max_bytes is None else str(max_bytes - 1)
        headers["Range"] = f"bytes={have}-{end}"
    try:
        response = session.get(url, headers=headers, stream=True, timeout=config.timeout_seconds)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
    with response:
        status = response.status_code
        if status == 416 and have:
            return 0  # we already hold every byte there is
        if status in RETRY_STATUS:
            raise _Retryable(f"HTTP {status}")
        if status >= 400:
            raise DownloadError(f"{url}: HTTP {status} {response.reason}")
        if status == 200 and have:
            have = 0  # the server ignored Range: start over
        mode = "ab" if status == 206 else "wb"
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        received = 0
        try:
            with open(part, mode) as out:
                for chunk in response.raw.stream(CHUNK_BYTES, decode_content=False):
                    if max_bytes is not None and have + received + len(chunk) > max_bytes:
                        chunk = chunk[: max_bytes - have - received]
                    out.write(chunk)
                    received += len(chunk)
                    if max_bytes is not None and have + received >= max_bytes:
                        return received
        except (requests.ConnectionError, requests.Timeout, OSError) as exc:
            raise _Retryable(f"connection lost after {have + received} bytes: {exc}") from exc
        except Exception as exc:  # urllib3 ProtocolError / ReadTimeoutError surface here
            if type(exc).__module__.startswith(("urllib3", "requests", "http")):
                raise _Retryable(f"connection lost after {have + received} bytes: {exc}") from exc
            raise
        if expected is not None and received < expected:
            raise _Retryable(f"body truncated: {received} of {expected} bytes")
        total = _content_range_total(response.headers.get("Content-Range"))
        if total is not None and have + received < total and (max_bytes is None or have + received < max_bytes):
            raise _Retryable(f"body truncated: have {have + received} of {total} bytes")
        return received


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
        raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
    return received


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
    while True:
        attempts += 1
        try:
            if session is not None:
                downloaded += _http_attempt(session, url, part, config, max_bytes)
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
        except _Retryable as exc:
            if attempts > config.retries:
                raise DownloadError(f"{url}: gave up after {attempts} attempts; last error: {exc}") from None
            time.sleep(backoff_delay(attempts, config))
    part.replace(target)
    meta.write_text(json.dumps({"url": url, "bytes": target.stat().st_size, "max_bytes": max_bytes,
                                "fetched_at": time.time()}))
    return FetchResult(target, downloaded, False, attempts)
