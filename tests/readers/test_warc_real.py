"""WARC files as real crawlers write them: wget 1.21.3's WARC/1.0 layout (issue 17).

``tests/data/warc/wget-1.21.3-libffi-docs.warc.gz`` was written by GNU Wget 1.21.3
(``wget --tries=1 --warc-file=libffi-docs -O /dev/null URL...``) fetching three pages of libffi's
Texinfo HTML manual (Debian's /usr/share/doc/libffi8/html) from ``tests/data/warc/wget_serve.py``
on 127.0.0.1. That server sends ``Thread-Safety.html`` gzip-encoded with its last 2 bytes cut
(the gzip trailer) and ``Memory-Usage.html`` gzip-encoded with 8 bytes in the middle overwritten.
wget brackets every URI (``WARC-Target-URI: <http://...>``), writes one gzip member per record
and ends the file with its MANIFEST (a ``metadata`` record) and two ``resource`` records under
``metadata://gnu.org/software/wget/warc/``: its command line and its log.

Other cases are built in the same layout by hand (:func:`wget_record`): the fixture's own HTML,
its gzip trailer cut by 1 to 9 bytes.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import uuid
import zlib
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from curate import ownership
from curate.config import ConfigError, DownloadConfig, SourceConfig
from curate.outputs import commit as staged_output
from curate.outputs import write_batch
from curate.outputs.documents import DocumentsSink
from curate.outputs.rejected import RejectedSink
from curate.outputs.tokens import TokensSink
from curate.readers import read_file
from curate.runtime import read as read_path
from curate.sources import FileTask, list_source_files

WGET_WARC = Path(__file__).resolve().parents[1] / "data" / "warc" / "wget-1.21.3-libffi-docs.warc.gz"
PAGES = ["Introduction.html", "Thread-Safety.html", "Memory-Usage.html"]
BASE = "http://127.0.0.1:8765/"


def _read(path: Path, fmt: str = "warc") -> list[dict]:
    source = SourceConfig(name="crawl", paths=[str(path)], format=fmt)
    task = FileTask(source="crawl", format=fmt, path=str(path), relpath=path.name)
    return [row for table in read_file(task, source, batch_rows=100) for row in table.to_pylist()]


def _by_url(rows: list[dict]) -> dict[str, dict]:
    return {row["url"]: row for row in rows}


@pytest.fixture(scope="module")
def wget_rows() -> list[dict]:
    return _read(WGET_WARC)


# --------------------------------------------------------------------------- bugs 1 and 2


def test_wget_target_uri_loses_its_angle_brackets(wget_rows: list[dict]) -> None:
    assert [row["url"] for row in wget_rows] == [BASE + page for page in PAGES]
    intro = _by_url(wget_rows)[BASE + "Introduction.html"]
    assert intro["reject_reason"] is None
    assert "libffi" in intro["text"] and "foreign function interface" in intro["text"].lower()


def test_wget_metadata_resource_records_are_not_documents(wget_rows: list[dict]) -> None:
    raw = gzip.decompress(WGET_WARC.read_bytes())
    assert raw.count(b"WARC-Type: resource\r\n") == 2 and raw.count(b"WARC-Target-URI: <metadata://") == 3
    assert not [row for row in wget_rows if "metadata://" in (row["url"] or "")]
    assert not [row for row in wget_rows if "Opening WARC file" in (row["text"] or "")]  # wget.log
    assert not [row for row in wget_rows if '"--warc-file=' in (row["text"] or "")]  # wget_arguments.txt


# --------------------------------------------------------------------------- bug 3


def test_gzip_body_missing_its_trailer_is_kept_and_flagged(wget_rows: list[dict]) -> None:
    rows = _by_url(wget_rows)
    kept = rows[BASE + "Thread-Safety.html"]
    assert kept["reject_reason"] is None
    metadata = json.loads(kept["metadata"])
    assert metadata["body_truncated"] is True and "2 bytes" in metadata["warning"]
    assert "thread" in kept["text"].lower()
    corrupt = rows[BASE + "Memory-Usage.html"]
    assert corrupt["reject_reason"] == "invalid_content_encoding"
    assert "body_truncated" not in json.loads(corrupt["metadata"])


def _payload(digest_of: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(digest_of).digest()).decode()


def wget_record(rtype: str, uri: str, block: bytes, content_type: str) -> bytes:
    """One record as wget 1.21 writes it (header order, bracketed URIs, base32 SHA-1), gzipped alone."""
    lines = [
        "WARC/1.0", f"WARC-Type: {rtype}", f"WARC-Record-ID: <urn:uuid:{uuid.uuid4()}>",
        f"WARC-Target-URI: <{uri}>", "WARC-Date: 2026-12-03T06:50:28Z", "WARC-IP-Address: 127.0.0.1",
        f"WARC-Block-Digest: {_payload(block)}", f"Content-Type: {content_type}", f"Content-Length: {len(block)}",
    ]
    return gzip.compress(("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n")


def _intro_html() -> bytes:
    """The fixture's Introduction.html, as the server sent it."""
    raw = gzip.decompress(WGET_WARC.read_bytes())
    start = raw.index(b"<!DOCTYPE html")
    return raw[start : raw.index(b"</html>", start) + len(b"</html>\n")]


def _encoded_response(tmp_path: Path, coding: str, body: bytes) -> dict:
    http = (f"HTTP/1.0 200 OK\r\nServer: BaseHTTP/0.6 Python/3.11.7\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Encoding: {coding}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    path = tmp_path / "one.warc.gz"
    path.write_bytes(wget_record("response", BASE + "Introduction.html", http + body,
                                 "application/http;msgtype=response"))
    (row,) = _read(path)
    return row


@pytest.mark.parametrize("cut", [1, 2, 4, 8])
def test_gzip_trailer_cut_keeps_the_full_text(tmp_path: Path, cut: int) -> None:
    full = gzip.compress(_intro_html(), mtime=0)
    whole = _encoded_response(tmp_path, "gzip", full)
    row = _encoded_response(tmp_path, "gzip", full[:-cut])
    assert row["reject_reason"] is None and row["text"] == whole["text"]
    assert json.loads(row["metadata"])["body_truncated"] is True
    assert "body_truncated" not in json.loads(whole["metadata"])


def test_zlib_deflate_without_adler32_is_kept(tmp_path: Path) -> None:
    row = _encoded_response(tmp_path, "deflate", zlib.compress(_intro_html())[:-4])
    assert row["reject_reason"] is None and "libffi" in row["text"]
    assert json.loads(row["metadata"])["body_truncated"] is True


def test_gzip_cut_inside_the_data_or_with_a_wrong_crc_still_rejects(tmp_path: Path) -> None:
    full = gzip.compress(_intro_html(), mtime=0)
    assert _encoded_response(tmp_path, "gzip", full[:-9])["reject_reason"] == "invalid_content_encoding"
    bad_crc = full[:-8] + bytes([full[-8] ^ 0xFF]) + full[-7:-2]  # 6 of 8 trailer bytes, CRC wrong
    assert _encoded_response(tmp_path, "gzip", bad_crc)["reject_reason"] == "invalid_content_encoding"


# --------------------------------------------------------------------------- bug 4


def _lz4(data: bytes, path: Path) -> None:
    from fastwarc.stream_io import Lz4Writer

    with path.open("wb") as fh:
        writer = Lz4Writer(fh)
        writer.write(data)
        writer.close()


@pytest.mark.parametrize("name", ["crawl.warc.gz.bad", "crawl", "crawl.warc.lz4", "crawl.lz4", "crawl.dat"])
def test_warc_found_by_content_without_format(tmp_path: Path, name: str, wget_rows: list[dict]) -> None:
    path = tmp_path / name
    if name.endswith(".lz4"):
        _lz4(gzip.decompress(WGET_WARC.read_bytes()), path)
    elif name.endswith(".dat"):
        path.write_bytes(gzip.decompress(WGET_WARC.read_bytes()))
    else:
        shutil.copyfile(WGET_WARC, path)
    source = SourceConfig(name="crawl", paths=[str(path)])  # no format:
    (task,) = list_source_files(source, 0)
    assert task.format == "warc"
    rows = read_file(task, source, batch_rows=100)
    got = [(row["url"], row["reject_reason"], row["text"]) for table in rows for row in table.to_pylist()]
    assert got == [(row["url"], row["reject_reason"], row["text"]) for row in wget_rows]


def test_lz4_that_is_not_a_warc_is_a_clear_error(tmp_path: Path) -> None:
    jsonl = tmp_path / "docs.jsonl.lz4"
    _lz4(b'{"text": "A sentence that would be read as garbage if lz4 went undetected."}\n', jsonl)
    with pytest.raises(ConfigError, match="lz4-compressed"):
        list_source_files(SourceConfig(name="docs", paths=[str(jsonl)]), 0)
    with pytest.raises(ConfigError, match="lz4-compressed"):
        list_source_files(SourceConfig(name="docs", paths=[str(jsonl)], format="jsonl"), 0)
    other = tmp_path / "notes.bad"
    other.write_bytes(gzip.compress(b"not a web archive\n"))
    with pytest.raises(ConfigError, match="cannot infer the format"):
        list_source_files(SourceConfig(name="docs", paths=[str(other)]), 0)


# --------------------------------------------------------------------------- bug 5


def test_local_read_reports_the_file_size_as_bytes_in(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[tuple[str, dict]] = []
    monkeypatch.setattr(read_path, "report_batch", lambda stats, stage, start, **metrics: reported.append((stage, metrics)))
    source = SourceConfig(name="crawl", paths=[str(WGET_WARC)], format="warc")
    task = FileTask(source="crawl", format="warc", path=str(WGET_WARC), relpath=WGET_WARC.name)
    batch = pa.table({"tasks": [json.dumps([task.to_row()])]})
    tables = list(read_path.read_tasks(batch, {"crawl": source}, DownloadConfig(), 100))
    assert sum(t.num_rows for t in tables) == 3
    (read,) = [metrics for stage, metrics in reported if stage == "read"]
    assert read["bytes_in"] == WGET_WARC.stat().st_size == 11259


# --------------------------------------------------------------------------- bug 6


def _commit(out: Path, rows: list[dict]) -> None:
    with ownership.output_lock(out):
        staged_output.remove_stale_staging(out)
        staging = staged_output.new_staging_dir(out)
        with_tokens = any("input_ids" in row for row in rows)  # a run with a tokenize stage
        sinks = [DocumentsSink(), RejectedSink(), *([TokensSink("qwen2.5")] if with_tokens else [])]
        write_batch(pa.Table.from_pylist(rows), str(staging), sinks)
        staged_output.commit(staging, out)


def _doc(text: str, tokens: list[int] | None = None) -> dict:
    row = {"id": "crawl/1", "text": text, "domain": "web", "source": "crawl", "input_file": str(WGET_WARC),
           "reject_stage": None, "reject_reason": None, "reject_detail": None}
    return row | ({"input_ids": tokens} if tokens is not None else {})


def test_tokens_and_trainer_only_when_written_and_stale_ones_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _commit(out, [_doc("kept text", [1, 2, 3])])  # a run with a tokenize stage
    assert (out / "tokens").is_dir() and ownership.created(out, "tokens")
    _commit(out, [_doc("kept text")])  # the same output_dir, run without tokenize
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["artifacts", "documents", "rejected", "stats"]
    manifest = ownership.read_manifest(out)
    assert "tokens" not in manifest["entries"] and "tokens" not in manifest["files"]
    _commit(out, [_doc("kept text")])  # and again: nothing to remove, nothing created
    assert not (out / "tokens").exists() and not (out / "trainer").exists()


def test_a_tokens_folder_curate_did_not_make_is_never_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _commit(out, [_doc("kept text")])
    mine = out / "tokens"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's own file\n")
    with pytest.raises(ownership.OwnershipError):
        _commit(out, [_doc("kept text")])
    assert (mine / "notes.txt").read_text() == "the user's own file\n"


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_run_on_the_wget_warc(tmp_path: Path) -> None:
    """A real run (curate.run) on the wget file named without a suffix and no format: given."""
    from tests.conftest import run_pipeline

    data = tmp_path / "in"
    data.mkdir()
    shutil.copyfile(WGET_WARC, data / "libffi-docs")
    out = tmp_path / "out"
    config = {"name": "wget", "output_dir": str(out), "ray": {"num_cpus": 1},
              "sources": [{"name": "crawl", "paths": [str(data / "libffi-docs")], "domain": "web"}],
              "stages": {"filter": {"filters": [{"name": "length", "min_chars": 50}]}}}
    path = tmp_path / "wget.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = run_pipeline(str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((out / "stats" / "summary.json").read_text())
    read = next(row for row in summary["stages"] if row["stage"] == "read")
    assert read["bytes_in"] == WGET_WARC.stat().st_size
    assert read["docs_in"] == 3
    assert not (out / "tokens").exists() and not (out / "trainer").exists()
    import polars as pl

    docs = pl.read_parquet(out / "documents" / "*.parquet")
    assert sorted(docs["url"].to_list()) == [BASE + "Introduction.html", BASE + "Thread-Safety.html"]
