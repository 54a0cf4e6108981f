"""Readers turn JSONL (plain/gz/zst), Parquet and source folders into documents, losing nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.config import FieldMap, SourceConfig
from curate.readers import read_file
from curate.schema import BASE_SCHEMA
from curate.sources import list_source_files
from tests.conftest import SAMPLES

RECORDS = [
    {"doc": "a1", "body": "Erste Zeile eines Dokuments.", "link": "https://a.example/1", "lang_hint": "de"},
    {"doc": "a2", "body": "Caf\u0065\u0301 au lait", "link": None},  # decomposed é -> NFC
    {"doc": "a3", "body": "   "},  # blank text
    {"doc": "a4", "title": "no body at all"},
    {"doc": "a5", "body": 42},
]
FIELDS = FieldMap(text="body", id="doc", url="link")


def _source(fmt: str | None, paths: list[str], **kw) -> SourceConfig:
    return SourceConfig(name="src", format=fmt, paths=paths, fields=FIELDS, **kw)


def _read_all(source: SourceConfig, batch_rows: int = 2) -> pa.Table:
    tables = [t for task in list_source_files(source, 0) for t in read_file(task, source, batch_rows)]
    for t in tables:
        assert t.schema == BASE_SCHEMA
        assert t.num_rows <= batch_rows
    return pa.concat_tables(tables)


def _jsonl_bytes() -> bytes:
    lines = [json.dumps(r) for r in RECORDS[:2]] + ['{"doc": "broken", "body": "unterminated'] + [
        json.dumps(r) for r in RECORDS[2:]
    ] + ["", "[1, 2, 3]"]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_jsonl_formats_with_field_map_and_rejects(tmp_path: Path, suffix: str) -> None:
    data = _jsonl_bytes()
    if suffix.endswith(".gz"):
        data = gzip.compress(data)
    elif suffix.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"dump{suffix}"
    path.write_bytes(data)
    table = _read_all(_source(None, [str(path)]))
    rows = {r["id"].removeprefix("src/"): r for r in table.to_pylist()}
    assert table.num_rows == 7  # every non-blank line became a row: 2 kept, 5 rejected
    assert rows["a1"]["text"] == "Erste Zeile eines Dokuments."
    assert rows["a1"]["url"] == "https://a.example/1"
    assert json.loads(rows["a1"]["metadata"]) == {"lang_hint": "de"}
    assert rows["a2"]["text"] == "Caf\u00e9 au lait"
    assert rows["a1"]["reject_reason"] is None and rows["a2"]["reject_reason"] is None
    assert rows["a3"]["reject_reason"] == "empty_text"
    assert rows["a4"]["reject_reason"] == "missing_text"
    assert rows["a5"]["reject_reason"] == "text_not_a_string"
    broken = [r for r in rows.values() if r["reject_reason"] == "malformed_json"]
    assert len(broken) == 1 and "line 3" in broken[0]["reject_detail"] and "unterminated" in broken[0]["text"]
    assert any(r["reject_reason"] == "not_an_object" for r in rows.values())
    assert {r["reject_stage"] for r in rows.values() if r["reject_reason"]} == {"read"}
    assert {r["source"] for r in rows.values()} == {"src"}


def test_parquet_with_field_map(tmp_path: Path) -> None:
    path = tmp_path / "dump.parquet"
    pq.write_table(pa.Table.from_pylist([{"doc": f"p{i}", "body": f"text {i}", "link": None, "extra": i}
                                         for i in range(5)]), path, row_group_size=2)
    table = _read_all(_source(None, [str(path)]))
    assert table.column("id").to_pylist() == [f"src/p{i}" for i in range(5)]
    assert table.column("text").to_pylist() == [f"text {i}" for i in range(5)]
    assert json.loads(table.column("metadata")[3].as_py()) == {"extra": 3}


def test_max_records_limits_each_file(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps({"doc": str(i), "body": "x"}) + "\n" for i in range(10)))
    assert _read_all(_source("jsonl", [str(path)], max_records=3)).num_rows == 3


def test_ids_default_to_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "noid.jsonl"
    path.write_text('{"body": "one"}\n{"body": "two"}\n')
    source = SourceConfig(name="src", paths=[str(path)], fields=FieldMap(text="body", id=None, url=None))
    ids = _read_all(source).column("id").to_pylist()
    assert ids == ["src:noid.jsonl:1", "src:noid.jsonl:2"]
    assert _read_all(source).column("id").to_pylist() == ids  # stable across reads


def test_code_folder(tmp_path: Path) -> None:
    source = SourceConfig(name="code", format="code", paths=[str(SAMPLES / "code")], domain="code",
                          max_file_bytes=1_000_000)
    rows = {r["path"]: r for r in _read_all(source, batch_rows=100).to_pylist()}
    assert rows["python/textstats.py"]["code_language"] == "python"
    assert rows["rust/src/tokenizer.rs"]["code_language"] == "rust"
    assert rows["python/textstats.py"]["text"] == (SAMPLES / "code/python/textstats.py").read_text()
    assert rows["python/textstats.py"]["id"] == "code:python/textstats.py"
    assert rows["assets/logo.png"]["reject_reason"] == "binary"
    assert rows["data/huge_table.py"]["reject_reason"] == "oversized"
    assert "max_file_bytes" in rows["data/huge_table.py"]["reject_detail"]
    kept_languages = {r["code_language"] for r in rows.values() if r["reject_reason"] is None}
    assert {"python", "rust", "go", "javascript", "typescript", "cpp", "java"} <= kept_languages


def test_code_reader_rejects_undecodable_and_unknown(tmp_path: Path) -> None:
    (tmp_path / "latin1.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
    (tmp_path / "notes.unknownext").write_text("hello")
    source = SourceConfig(name="c", format="code", paths=[str(tmp_path)], domain="code")
    reasons = {r["path"]: r["reject_reason"] for r in _read_all(source, 10).to_pylist()}
    assert reasons == {"latin1.py": "not_utf8", "notes.unknownext": "unknown_language"}


def test_parquet_column_selection(tmp_path: Path) -> None:
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({"doc": ["w1"], "body": ["text"], "link": [None], "keep": [1], "drop": ["big"]}), path)
    table = _read_all(_source(None, [str(path)], columns=["keep"]))
    assert json.loads(table.column("metadata")[0].as_py()) == {"keep": 1}


def test_plain_text_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Plain text document one.\nSecond line.")
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(b"Zweites Dokument, gepackt."))
    (tmp_path / "blank.txt").write_text("   \n")
    source = SourceConfig(name="txt", paths=[str(tmp_path / "*.txt*")])
    rows = {r["path"]: r for r in _read_all(source, 10).to_pylist()}
    assert rows["a.txt"]["text"] == "Plain text document one.\nSecond line." and rows["a.txt"]["id"] == "txt:a.txt"
    assert rows["b.txt.gz"]["text"] == "Zweites Dokument, gepackt."
    assert rows["blank.txt"]["reject_reason"] == "empty_text"


def test_list_file_with_url_prefix(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    for name in ("x.jsonl", "y.jsonl"):
        (tmp_path / "data" / name).write_text(json.dumps({"doc": name, "body": "t"}) + "\n")
    listing = tmp_path / "paths.txt.gz"
    listing.write_bytes(gzip.compress(b"data/x.jsonl\n# a comment\n\ndata/y.jsonl\n"))
    source = SourceConfig(name="l", list_file=str(listing), url_prefix=str(tmp_path), fields=FIELDS, max_files=5)
    tasks = list_source_files(source, 0)
    assert [t.relpath for t in tasks] == ["data/x.jsonl", "data/y.jsonl"]
    assert [t.path for t in tasks] == [str(tmp_path / "data" / "x.jsonl"), str(tmp_path / "data" / "y.jsonl")]
    assert len(list_source_files(source.model_copy(update={"max_files": 1}), 0)) == 1
