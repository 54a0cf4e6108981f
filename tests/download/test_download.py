"""Downloads against a real HTTP server on 127.0.0.1 that fails in the ways real servers do."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from curate.config import DownloadConfig
from curate.download import ChecksumMismatch, DownloadError, cache_path, fetch
from tests.http_server import FaultServer

PAYLOAD = os.urandom(300_000) + b"tail-marker"


@pytest.fixture()
def server(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "data.bin").write_bytes(PAYLOAD)
    srv = FaultServer(root).start()
    yield srv
    srv.stop()


@pytest.fixture()
def config(tmp_path: Path) -> DownloadConfig:
    return DownloadConfig(cache_dir=str(tmp_path / "cache"), retries=4, backoff_seconds=0.01,
                          max_backoff_seconds=0.05, timeout_seconds=0.5)


def _fetch(server: FaultServer, config: DownloadConfig, **kw):
    return fetch(f"{server.url}/data.bin", config, **kw)


def test_plain_download_and_cache(server, config) -> None:
    result = _fetch(server, config)
    assert result.path.read_bytes() == PAYLOAD
    assert not result.from_cache and result.attempts == 1
    again = _fetch(server, config)
    assert again.from_cache and again.bytes_downloaded == 0
    assert len(server.requests_for("/data.bin")) == 1  # the rerun did not fetch again


def test_500_then_success(server, config) -> None:
    server.faults["/data.bin"] = ["500", "500"]
    result = _fetch(server, config)
    assert result.path.read_bytes() == PAYLOAD
    assert [r.status for r in server.requests_for("/data.bin")] == [500, 500, 200]


def test_resume_fetches_only_missing_bytes(server, config) -> None:
    server.faults["/data.bin"] = ["truncate"]  # half the body, then a clean close
    result = _fetch(server, config)
    assert result.path.read_bytes() == PAYLOAD
    first, second = server.requests_for("/data.bin")
    assert first.range is None and first.body_bytes == len(PAYLOAD) // 2
    assert second.status == 206 and second.range == f"bytes={first.body_bytes}-"
    assert first.body_bytes + second.body_bytes == len(PAYLOAD)  # nothing fetched twice


def test_connection_reset_mid_body_is_retried(server, config) -> None:
    server.faults["/data.bin"] = ["reset"]
    result = _fetch(server, config)
    assert result.path.read_bytes() == PAYLOAD and result.attempts == 2
    second = server.requests_for("/data.bin")[1]
    # An RST may discard bytes already in flight, so the client resumes from what it really kept.
    kept = int(second.range[6:-1]) if second.range else 0
    assert kept + second.body_bytes == len(PAYLOAD)


def test_server_without_range_support_restarts_cleanly(server, config) -> None:
    server.ranges = False
    server.faults["/data.bin"] = ["reset"]
    result = _fetch(server, config)
    assert result.path.read_bytes() == PAYLOAD
    assert [r.status for r in server.requests_for("/data.bin")] == [200, 200]


def test_partial_file_from_a_killed_run_is_resumed(server, config) -> None:
    target = cache_path(f"{server.url}/data.bin", config)
    target.parent.mkdir(parents=True)
    target.with_name(target.name + ".part").write_bytes(PAYLOAD[:123_456])
    result = _fetch(server, config)
    assert result.path.read_bytes() == PAYLOAD
    (request,) = server.requests_for("/data.bin")
    assert request.range == "bytes=123456-" and request.body_bytes == len(PAYLOAD) - 123_456


def test_slow_response_times_out_and_is_retried(server, config) -> None:
    server.slow_seconds = 1.5
    server.faults["/data.bin"] = ["slow"]
    result = _fetch(server, config)
    assert result.path.read_bytes() == PAYLOAD and result.attempts == 2


def test_checksums(server, config) -> None:
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    assert _fetch(server, config, checksum=f"sha256:{sha}").path.read_bytes() == PAYLOAD
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    assert fetch(f"{server.url}/data.bin?v=2", config, checksum=f"md5:{md5}").path.read_bytes() == PAYLOAD
    with pytest.raises(ChecksumMismatch, match=r"data.bin\?v=3: sha256 checksum mismatch: expected 0+, got " + sha):
        fetch(f"{server.url}/data.bin?v=3", config, checksum="sha256:" + "0" * 64)
    assert not cache_path(f"{server.url}/data.bin?v=3", config).exists()  # a bad file never counts as cached


def test_max_bytes_fetches_a_prefix(server, config) -> None:
    result = _fetch(server, config, max_bytes=1000)
    assert result.path.read_bytes() == PAYLOAD[:1000]
    (request,) = server.requests_for("/data.bin")
    assert request.range == "bytes=0-999" and request.body_bytes == 1000
    assert _fetch(server, config).path.read_bytes() == PAYLOAD  # the sample is cached apart from the whole


def test_not_found_fails_without_retrying(server, config) -> None:
    with pytest.raises(DownloadError, match=r"/missing.bin: HTTP 404"):
        fetch(f"{server.url}/missing.bin", config)
    assert len(server.requests_for("/missing.bin")) == 1


def test_unreachable_host_gives_up_after_retries(config) -> None:
    with pytest.raises(DownloadError, match=r"http://127.0.0.1:9/x.bin: gave up after 5 attempts"):
        fetch("http://127.0.0.1:9/x.bin", config)


def test_other_fsspec_filesystems_resume_by_seek(config) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/blob.bin", PAYLOAD)
    target = cache_path("memory://bucket/blob.bin", config)
    target.parent.mkdir(parents=True)
    target.with_name(target.name + ".part").write_bytes(PAYLOAD[:5000])
    result = fetch("memory://bucket/blob.bin", config)
    assert result.path.read_bytes() == PAYLOAD
    assert result.bytes_downloaded == len(PAYLOAD) - 5000
