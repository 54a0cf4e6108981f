"""Whole runs over HTTP sources served by a real server on 127.0.0.1, with and without faults."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import polars as pl
import pytest
import yaml
import zstandard

from tests.conftest import SAMPLES, run_pipeline
from tests.http_server import FaultServer


def _warc_bytes() -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    pages = [
        ("https://news.example/a", "utf-8", "<p>La bibliothèque municipale rouvre ses portes après deux ans de "
         "travaux, avec une nouvelle salle de lecture pour les enfants et des horaires élargis le samedi.</p>" * 3),
        ("https://news.example/b", "windows-1251", "<p>Городская библиотека снова открыла свои двери после долгого "
         "ремонта, и жители района уже записываются на новые курсы чтения.</p>" * 3),
    ]
    for url, charset, body in pages:
        html = f"<html><head><title>t</title></head><body><article>{body}</article></body></html>".encode(charset)
        headers = StatusAndHeaders("200 OK", [("Content-Type", f"text/html; charset={charset}")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(html), http_headers=headers))
    return buffer.getvalue()


@pytest.fixture()
def site(tmp_path: Path):
    """A web root with a gzip and a zstd JSONL dump, a WARC file and a Common-Crawl-style list file."""
    root = tmp_path / "www"
    (root / "dumps").mkdir(parents=True)
    (root / "dumps" / "a.jsonl.gz").write_bytes(gzip.compress((SAMPLES / "web" / "multilingual_a.jsonl").read_bytes()))
    (root / "dumps" / "b.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress((SAMPLES / "web" / "multilingual_b.jsonl").read_bytes()))
    (root / "crawl.warc.gz").write_bytes(_warc_bytes())
    (root / "paths.txt.gz").write_bytes(gzip.compress(b"dumps/a.jsonl.gz\ncrawl.warc.gz\n"))
    server = FaultServer(root).start()
    yield server
    server.stop()


def _pipeline(tmp_path: Path, server: FaultServer, name: str, extra_sources: list | None = None) -> Path:
    config = {
        "name": name,
        "output_dir": str(tmp_path / name / "out"),
        "download": {"cache_dir": str(tmp_path / name / "cache"), "backoff_seconds": 0.01,
                     "max_backoff_seconds": 0.05, "timeout_seconds": 2, "retries": 4},
        "sources": [
            {"name": "listed", "list_file": f"{server.url}/paths.txt.gz", "url_prefix": server.url},
            {"name": "direct", "paths": [f"{server.url}/dumps/b.jsonl.zst"]},
            *(extra_sources or []),
        ],
        "stages": {"langid": {"threshold": 0.5}, "tokenize": {}},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _documents(tmp_path: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(tmp_path / name / "out" / "documents" / "*.parquet").sort("id")


def test_faults_do_not_change_the_output(tmp_path: Path, site: FaultServer) -> None:
    clean = run_pipeline(str(_pipeline(tmp_path, site, "clean")))
    assert clean.returncode == 0, clean.stderr
    site.log.clear()
    site.faults.update({"/dumps/a.jsonl.gz": ["500", "truncate"], "/dumps/b.jsonl.zst": ["reset", "500"],
                        "/crawl.warc.gz": ["truncate"], "/paths.txt.gz": ["500"]})
    faulty = run_pipeline(str(_pipeline(tmp_path, site, "faulty")))
    assert faulty.returncode == 0, faulty.stderr
    assert all(not queue for queue in site.faults.values())  # every fault was really served
    a, b = _documents(tmp_path, "clean"), _documents(tmp_path, "faulty")
    assert a.height == 40 + 39 + 2
    assert a.select("id", "text", "lang", "url").equals(b.select("id", "text", "lang", "url"))
    assert {"listed/web-a-en-1", "direct/web-b-ind_Latn-1"} <= set(a["id"])
    warc = a.filter(pl.col("content_type") == "text/html")
    assert sorted(warc["charset"].to_list()) == ["utf-8", "windows-1251"]
    assert any("bibliothèque municipale" in t for t in warc["text"])
    assert any("Городская библиотека" in t for t in warc["text"])
    summary = json.loads((tmp_path / "faulty" / "out" / "stats" / "summary.json").read_text())
    read = summary["stages"][0]
    # one retry per injected fault on the data files (the list file is fetched by the driver)
    assert read["files"] == 3 and read["fetch_attempts"] == 3 + 5
    # A rerun finds everything in the download cache and fetches nothing.
    site.log.clear()
    again = run_pipeline(str(_pipeline(tmp_path, site, "faulty")))
    assert again.returncode == 0, again.stderr
    assert [r.path for r in site.log] == ["/paths.txt.gz"] or not site.log
    assert _documents(tmp_path, "faulty").select("id", "text").equals(b.select("id", "text"))


def test_unreachable_source_fails_the_run_or_is_skipped(tmp_path: Path, site: FaultServer) -> None:
    missing = {"name": "gone", "paths": [f"{site.url}/dumps/missing.jsonl"]}
    failed = run_pipeline(str(_pipeline(tmp_path, site, "fail", [missing])))
    assert failed.returncode == 1
    assert f"{site.url}/dumps/missing.jsonl" in failed.stderr and "HTTP 404" in failed.stderr
    assert "stage 'read' failed" in failed.stderr and "Traceback" not in failed.stderr
    skipped = run_pipeline(str(_pipeline(tmp_path, site, "skip", [{**missing, "on_error": "skip"}])))
    assert skipped.returncode == 0, skipped.stderr
    rejected = pl.read_parquet(tmp_path / "skip" / "out" / "rejected" / "*.parquet")
    row = rejected.filter(pl.col("source") == "gone").to_dicts()
    assert len(row) == 1 and row[0]["reject_reason"] == "unreachable" and "HTTP 404" in row[0]["reject_detail"]


def test_bad_inputs_land_in_rejected_with_reasons(tmp_path: Path) -> None:
    good = [json.dumps({"id": f"g{i}", "text": f"Document number {i} is perfectly fine text."}) for i in range(300)]
    raw = gzip.compress(("\n".join(good) + "\n").encode())
    corrupt = bytearray(raw)
    corrupt[len(raw) // 2 : len(raw) // 2 + 64] = b"\x00" * 64  # damage in the middle of the stream
    data = tmp_path / "data"
    data.mkdir()
    (data / "corrupt.jsonl.gz").write_bytes(bytes(corrupt))
    lines = [
        json.dumps({"id": "ok", "text": "A good line before the bad ones."}).encode(),
        b'{"id": "broken", "text": "no closing quote}',
        json.dumps({"id": "empty", "text": "  "}).encode(),
        b'{"id": "garbage", "text": "' + bytes(range(128, 256)) * 8 + b'"}',
        b'{"id": "huge", "text": "' + b"a" * (200 * 1024 * 1024) + b'"}',
        json.dumps({"id": "after", "text": "A good line after the huge one."}).encode(),
    ]
    (data / "bad.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    config = {"output_dir": str(tmp_path / "out"), "sources": [{"name": "bad", "paths": [str(data / "*.jsonl*")]}]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_pipeline(str(path))
    assert result.returncode == 0, result.stderr
    docs = pl.read_parquet(tmp_path / "out" / "documents" / "*.parquet")
    rejected = {r["id"]: r for r in pl.read_parquet(tmp_path / "out" / "rejected" / "*.parquet").to_dicts()}
    assert {"bad/ok", "bad/after"} <= set(docs["id"])
    assert rejected["bad:bad.jsonl:2"]["reject_reason"] == "malformed_json"
    assert rejected["bad/empty"]["reject_reason"] == "empty_text"
    assert rejected["bad:bad.jsonl:4"]["reject_reason"] == "invalid_encoding"
    huge = rejected["bad:bad.jsonl:5"]
    assert huge["reject_reason"] == "record_too_large" and "209715" in huge["reject_detail"]
    error = rejected["bad:corrupt.jsonl.gz#error"]
    assert error["reject_reason"] in ("corrupt_file", "truncated_file") and "line" in error["reject_detail"]
    kept_from_corrupt = docs.filter(pl.col("path") == "corrupt.jsonl.gz").height
    assert 0 < kept_from_corrupt < 300  # what came before the damage is kept
    summary = json.loads((tmp_path / "out" / "stats" / "summary.json").read_text())
    assert summary["rejected"] == len(rejected)
    assert {r["reason"] for r in summary["rejected_by_reason"]} >= {
        "malformed_json", "empty_text", "invalid_encoding", "record_too_large", error["reject_reason"]}
