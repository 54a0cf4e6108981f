"""Issue 16, network defects: each against a real HTTP server on 127.0.0.1 that misbehaves on purpose.

6 an outage frozen into the read cache; 7 a trickling server; 8 a 206 from the wrong offset;
10 an unasked Content-Encoding; 11 a remote list naming local files; 13 signed URLs (query
strings); 14 a redirect loop under ``on_error: skip``.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
import yaml

from curate.config import ConfigError, DownloadConfig, SourceConfig
from curate.download import DownloadError, cache_path, fetch
from curate.engine import StageFailed, read_tasks
from curate.sources import FileTask, list_source_files
from tests.conftest import SAMPLES, run_cli
from tests.http_server import FaultServer

RECORDS = [{"id": f"r{i}", "text": f"Record number {i} is a perfectly ordinary line of text."} for i in range(200)]
JSONL = ("\n".join(json.dumps(r) for r in RECORDS) + "\n").encode()


@pytest.fixture()
def server(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "data.jsonl").write_bytes(JSONL)
    (root / "data.jsonl.gz").write_bytes(gzip.compress(JSONL))
    srv = FaultServer(root).start()
    yield srv
    srv.stop()


@pytest.fixture()
def config(tmp_path: Path) -> DownloadConfig:
    return DownloadConfig(cache_dir=str(tmp_path / "cache"), retries=2, backoff_seconds=0.01,
                          max_backoff_seconds=0.05, timeout_seconds=0.5)


def _read(url: str, config: DownloadConfig, read_dir: Path | None = None, **source_options) -> pa.Table:
    """Every row the real read path yields for one URL (fetch, reader, read cache), without Ray."""
    source = SourceConfig(name="web", paths=[url], **source_options)
    tasks = list_source_files(source, 0, config)
    batch = pa.table({"tasks": [json.dumps([t.to_row() for t in tasks])]})
    tables = list(read_tasks(batch, {"web": source}, config, 10_000, read_dir=str(read_dir) if read_dir else None))
    return pa.concat_tables(tables) if tables else pa.table({})


def _kept(table: pa.Table) -> list[str]:
    """The texts of the documents kept, in order (texts, not ids, which are the ids group's business)."""
    return [r["text"] for r in table.to_pylist() if r["reject_reason"] is None]


TEXTS = [r["text"] for r in RECORDS]


# --------------------------------------------------------------------------- 6: outage frozen into the cache


def test_a_skipped_outage_is_fetched_again_by_the_next_run(server, config, tmp_path: Path) -> None:
    url = f"{server.url}/data.jsonl"
    read_dir = tmp_path / "checkpoints" / "read-x"
    server.faults["/data.jsonl"] = ["500"] * (config.retries + 1)  # down for every attempt of this run
    first = _read(url, config, read_dir, on_error="skip").to_pylist()
    assert [r["reject_reason"] for r in first] == ["unreachable"] and "HTTP 500" in first[0]["reject_detail"]
    server.log.clear()  # the server heals
    second = _read(url, config, read_dir, on_error="skip")
    assert [r.status for r in server.requests_for("/data.jsonl")] == [200]  # the rerun asked again
    assert _kept(second) == TEXTS
    server.log.clear()  # and a read that worked is served from the read cache, as before
    assert _kept(_read(url, config, read_dir, on_error="skip")) == TEXTS
    assert not server.log


@pytest.mark.slow
def test_a_skipped_outage_is_not_frozen_into_a_checkpoint_boundary(server, tmp_path: Path) -> None:
    """The whole run: an outage under on_error: skip, then the server heals and the same command reruns.

    With a dedup stage the run also leaves a checkpoint boundary; a rerun must not resume from it.
    """
    sample = SAMPLES / "web" / "multilingual_a.jsonl"
    (Path(server.root) / "a.jsonl").write_bytes(sample.read_bytes())
    config = {
        "output_dir": str(tmp_path / "out"),
        "download": {"cache_dir": str(tmp_path / "cache"), "retries": 1, "backoff_seconds": 0.01,
                     "max_backoff_seconds": 0.05, "timeout_seconds": 5},
        "sources": [{"name": "web", "paths": [f"{server.url}/a.jsonl"], "on_error": "skip"}],
        "stages": {"dedup": {}},
        "ray": {"num_cpus": 2},
    }
    path = tmp_path / "outage.yaml"
    path.write_text(yaml.safe_dump(config))
    server.faults["/a.jsonl"] = ["500", "500"]
    down = run_cli(str(path))
    assert down.returncode == 0, down.stderr
    assert _rejected(tmp_path / "out")["reject_reason"].to_list() == ["unreachable"]
    server.log.clear()
    healed = run_cli(str(path))
    assert healed.returncode == 0, healed.stderr
    assert [r.status for r in server.requests_for("/a.jsonl")] == [200]
    out = tmp_path / "out"
    kept = pl.read_parquet(out / "documents" / "*.parquet")
    rejected = _rejected(out)
    assert "unreachable" not in rejected["reject_reason"].to_list()
    lines = sample.read_text(encoding="utf-8").splitlines()
    assert kept.height > 0 and kept.height + rejected.height == len(lines)  # every record accounted for


def _rejected(out: Path) -> pl.DataFrame:
    files = sorted((out / "rejected").glob("*.parquet"))
    return pl.read_parquet(files) if files else pl.DataFrame({"reject_reason": []}, schema={"reject_reason": pl.Utf8})


# --------------------------------------------------------------------------- 7: a server that trickles


def test_a_trickling_server_is_cut_off_by_the_throughput_floor(server, config) -> None:
    # Each byte arrives well within the 0.5 s read timeout, so only a throughput floor can stop it.
    server.faults["/data.jsonl"] = ["trickle"] * (config.retries + 1)
    start = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch(f"{server.url}/data.jsonl", config)
    message = str(caught.value)
    assert f"{server.url}/data.jsonl" in message and "download.min_bytes_per_second=1024" in message
    assert time.monotonic() - start < 10  # the file would take len(JSONL) * 0.02 s = 4 min
    assert len(server.requests_for("/data.jsonl")) == config.retries + 1


def test_a_trickled_attempt_is_resumed_by_the_next_one(server, config) -> None:
    server.faults["/data.jsonl"] = ["trickle"]
    result = fetch(f"{server.url}/data.jsonl", config)
    assert result.path.read_bytes() == JSONL and result.attempts == 2
    first, second = server.requests_for("/data.jsonl")
    assert second.range is not None and int(second.range[6:-1]) > 0  # kept what trickled in


def test_deadline_seconds_bounds_the_whole_file(server, tmp_path: Path) -> None:
    config = DownloadConfig(cache_dir=str(tmp_path / "cache"), retries=20, backoff_seconds=0.01,
                            max_backoff_seconds=0.05, timeout_seconds=5, min_bytes_per_second=0,
                            deadline_seconds=1)
    server.faults["/data.jsonl"] = ["trickle"] * 21
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"download\.deadline_seconds=1 passed") as caught:
        fetch(f"{server.url}/data.jsonl", config)
    assert f"{server.url}/data.jsonl" in str(caught.value)
    assert time.monotonic() - start < 4


def test_download_options_are_typed(tmp_path: Path) -> None:
    from pydantic import ValidationError

    assert DownloadConfig().min_bytes_per_second > 0  # on by default
    with pytest.raises(ValidationError, match="deadline_seconds"):
        DownloadConfig(deadline_seconds=0)


# --------------------------------------------------------------------------- 8: 206 from the wrong offset


@pytest.mark.parametrize("fault", ["range_from_zero", "range_overlap"])
def test_a_206_from_another_offset_is_not_appended(server, config, fault: str) -> None:
    server.faults["/data.jsonl"] = ["truncate", fault]
    result = fetch(f"{server.url}/data.jsonl", config)
    assert result.path.read_bytes() == JSONL  # not the first half followed by the whole file
    first, second = server.requests_for("/data.jsonl")
    assert second.status == 206 and second.range == f"bytes={first.body_bytes}-"


def test_a_206_range_from_zero_reads_every_record_once(server, config) -> None:
    server.faults["/data.jsonl"] = ["truncate", "range_from_zero"]
    ids = _kept(_read(f"{server.url}/data.jsonl", config))
    assert ids == TEXTS


def test_a_stale_partial_longer_than_the_file_starts_over(server, config) -> None:
    """416 says the file has fewer bytes than the partial we hold: that partial is not the file."""
    url = f"{server.url}/data.jsonl"
    target = cache_path(url, config)
    target.parent.mkdir(parents=True)
    target.with_name(target.name + ".part").write_bytes(JSONL[:100] + b"X" * 50_000)
    assert fetch(url, config).path.read_bytes() == JSONL
    assert [r.status for r in server.requests_for("/data.jsonl")] == [416, 200]


# --------------------------------------------------------------------------- 10: unasked Content-Encoding


def test_an_unasked_gzip_coding_is_undone(server, config) -> None:
    server.faults["/data.jsonl"] = ["gzip"]
    result = fetch(f"{server.url}/data.jsonl", config)
    assert result.path.read_bytes() == JSONL
    assert server.requests_for("/data.jsonl")[0].status == 200


def test_an_unasked_gzip_coding_keeps_every_record(server, config) -> None:
    server.faults["/data.jsonl"] = ["gzip"]
    assert _kept(_read(f"{server.url}/data.jsonl", config)) == TEXTS


def test_a_gz_file_labelled_gzip_is_stored_as_the_file(server, config) -> None:
    """The classic trap: the label describes the file; decoding it would store the wrong bytes."""
    server.faults["/data.jsonl.gz"] = ["gzip_label"]
    result = fetch(f"{server.url}/data.jsonl.gz", config)
    assert result.path.read_bytes() == gzip.compress(JSONL) == (Path(server.root) / "data.jsonl.gz").read_bytes()
    assert _kept(_read(f"{server.url}/data.jsonl.gz", config)) == TEXTS


def test_a_gzip_label_on_plain_bytes_keeps_the_bytes(server, config) -> None:
    server.faults["/data.jsonl"] = ["gzip_label"]  # the label lies: the body is plain JSONL
    assert fetch(f"{server.url}/data.jsonl", config).path.read_bytes() == JSONL


def test_a_coded_reply_to_a_resume_starts_over(server, config) -> None:
    server.faults["/data.jsonl"] = ["truncate", "gzip"]
    result = fetch(f"{server.url}/data.jsonl", config)
    assert result.path.read_bytes() == JSONL  # not the plain first half followed by gzip bytes
    first, second = server.requests_for("/data.jsonl")
    assert first.range is None and second.range == f"bytes={first.body_bytes}-" and second.status == 200


def test_a_broken_coded_transfer_is_not_resumed_by_offset(server, config) -> None:
    # Byte offsets into a decoded body are not offsets into the coded one: start over, no Range.
    server.faults["/data.jsonl"] = ["gzip_reset", "gzip"]
    result = fetch(f"{server.url}/data.jsonl", config)
    assert result.path.read_bytes() == JSONL
    first, second = server.requests_for("/data.jsonl")
    assert second.range is None and second.status == 200


# --------------------------------------------------------------------------- 11: remote list naming local files


def _list_source(server: FaultServer, lines: list[str], **kw) -> SourceConfig:
    (Path(server.root) / "paths.txt").write_text("\n".join(lines) + "\n")
    return SourceConfig(name="listed", list_file=f"{server.url}/paths.txt", format="text", **kw)


@pytest.mark.parametrize(("entry", "prefixed"), [("{secret}", False), ("file://{secret}", False),
                                                 ("file://{secret}", True)])
def test_a_remote_list_cannot_name_local_files(server, config, tmp_path: Path, entry: str, prefixed: bool) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    lines = ["data.jsonl", entry.format(secret=secret)] if prefixed else [entry.format(secret=secret)]
    source = _list_source(server, lines, url_prefix=server.url if prefixed else None)
    with pytest.raises(ConfigError, match=r"^sources\.0\.list_file: .*local") as caught:
        list_source_files(source, 0, config)
    assert str(secret) in str(caught.value)


def test_a_remote_list_absolute_path_is_under_url_prefix(server, config) -> None:
    source = _list_source(server, ["/data.jsonl"], url_prefix=server.url)
    (task,) = list_source_files(source, 0, config)
    assert task.path == f"{server.url}/data.jsonl" and task.relpath == "data.jsonl"


def test_a_remote_list_with_a_local_url_prefix_is_refused(server, config, tmp_path: Path) -> None:
    source = _list_source(server, ["secret.txt"], url_prefix=str(tmp_path))
    with pytest.raises(ConfigError, match=r"^sources\.0\.list_file: "):
        list_source_files(source, 0, config)


def test_a_local_list_may_name_local_files(config, tmp_path: Path) -> None:
    data = tmp_path / "mine.jsonl"
    data.write_bytes(JSONL)
    listing = tmp_path / "paths.txt"
    listing.write_text(f"{data}\n")
    (task,) = list_source_files(SourceConfig(name="mine", list_file=str(listing)), 0, config)
    assert task.path == str(data)


# --------------------------------------------------------------------------- 13: signed URLs


SIGNED = "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0a1b2c&X-Amz-Expires=3600"


@pytest.mark.parametrize("name", ["data.jsonl", "data.jsonl.gz"])
def test_a_signed_url_is_one_file_not_a_glob(server, config, name: str) -> None:
    url = f"{server.url}/{name}{SIGNED}"
    (task,) = list_source_files(SourceConfig(name="web", paths=[url]), 0, config)
    assert task == FileTask(source="web", format="jsonl", path=url, relpath=name)
    assert cache_path(url, config).name.endswith(f"-{name}")
    assert _kept(_read(url, config)) == TEXTS
    assert server.requests_for(f"/{name}")  # the query string reached the server's path


# --------------------------------------------------------------------------- 14: redirect loop


def test_a_redirect_loop_is_a_download_error(server, config) -> None:
    server.faults["/data.jsonl"] = ["redirect"] * 100
    with pytest.raises(DownloadError, match="redirect") as caught:
        fetch(f"{server.url}/data.jsonl", config)
    assert f"{server.url}/data.jsonl" in str(caught.value)


def test_a_redirect_loop_is_skipped_with_on_error_skip(server, config) -> None:
    server.faults["/data.jsonl"] = ["redirect"] * 100
    rows = _read(f"{server.url}/data.jsonl", config, on_error="skip").to_pylist()
    assert [r["reject_reason"] for r in rows] == ["unreachable"] and "redirect" in rows[0]["reject_detail"]


def test_a_redirect_loop_fails_the_run_naming_the_url(server, config) -> None:
    server.faults["/data.jsonl"] = ["redirect"] * 100
    with pytest.raises(StageFailed, match="redirect") as caught:
        _read(f"{server.url}/data.jsonl", config)
    assert f"{server.url}/data.jsonl" in str(caught.value)


@pytest.mark.parametrize("bad", ["http://127.0.0.1:99999/x.jsonl", "http://exa mple.com/x.jsonl"])
def test_an_unparseable_url_is_a_download_error(config, bad: str) -> None:
    with pytest.raises(DownloadError, match="InvalidURL") as caught:
        fetch(bad, config)
    assert bad in str(caught.value)


def test_an_unparseable_url_is_a_config_error_naming_the_key(server, config) -> None:
    with pytest.raises(ConfigError, match=r"^sources\.0\.paths: .*not a valid URL"):
        list_source_files(SourceConfig(name="web", paths=["http://[::1/x.jsonl"]), 0, config)
    source = _list_source(server, ["http://[::1/x.jsonl"], url_prefix=server.url)
    with pytest.raises(ConfigError, match=r"^sources\.0\.list_file: .*not a valid URL"):
        list_source_files(source, 0, config)
