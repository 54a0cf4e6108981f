"""The JSONL reader's fast path (block reads, orjson, rows gathered as columns) gives exactly
what the line-by-line stdlib path gave."""

from __future__ import annotations

import gzip
import io
import json
import random
from pathlib import Path

import pyarrow as pa
import pytest

from curate.config import FieldMap, SourceConfig
from curate.readers import jsonl, read_file
from curate.readers.batch import Batch
from curate.readers.context import ReadContext
from curate.schema import BASE_SCHEMA
from curate.sources import list_source_files


def expected_lines(data: bytes, limit: int) -> list[tuple[bytes | None, int]]:
    """What a readline loop sees: each line without its newline (None past ``limit``) and its size."""
    lines = data.split(b"\n")
    out = [(line if len(line) <= limit else None, len(line) + 1) for line in lines[:-1]]
    if lines[-1]:
        out.append((lines[-1] if len(lines[-1]) <= limit else None, len(lines[-1])))
    return out


@pytest.mark.parametrize("block", [1, 3, 7, 64])
def test_split_lines_equals_a_readline_loop_whatever_the_block_size(monkeypatch, block: int) -> None:
    monkeypatch.setattr(jsonl, "BLOCK_BYTES", block)
    rng = random.Random(block)
    for _ in range(300):
        limit = rng.randint(0, 12)
        pieces = [bytes(rng.choice(b"ab\r{}") for _ in range(rng.choice([0, 1, limit, limit + 1, 30])))
                  for _ in range(rng.randint(0, 6))]
        data = b"\n".join(pieces) + rng.choice([b"", b"\n", b"\n\n"])
        got = list(jsonl.split_lines(io.BufferedReader(io.BytesIO(data)), limit))
        assert got == expected_lines(data, limit), (data, limit)


def test_a_line_past_the_limit_is_never_held_whole(monkeypatch) -> None:
    monkeypatch.setattr(jsonl, "BLOCK_BYTES", 4)
    data = b"ok\n" + b"x" * 1000 + b"\nend"
    got = list(jsonl.split_lines(io.BytesIO(data), 10))
    assert got == [(b"ok", 3), (None, 1001), (b"end", 3)]


def _read(tmp_path: Path, lines: list[str], **options) -> list[dict]:
    path = tmp_path / "records.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    source = SourceConfig(name="src", paths=[str(path)], fields=FieldMap(text="text", id="id", url="url"), **options)
    tables = [t for task in list_source_files(source, 0) for t in read_file(task, source, 3)]
    return pa.concat_tables(tables).to_pylist()


def test_values_orjson_reads_differently_come_out_as_the_stdlib_reads_them(tmp_path: Path) -> None:
    lines = [
        '{"id": 123456789012345678901234567890, "text": "an id past 64 bits"}',
        '{"id": "f", "text": "a float", "score": 0.1, "deep": {"x": [1, 2.5e300]}}',
        '{"id": "n", "text": "not a number", "v": NaN, "w": -Infinity}',
        '{"id": "b", "text": "big in a list", "list": [1, -99999999999999999999]}',
        '{"id": "u", "text": "caf\\u0065\\u0301", "url": "https://x.example/u", "tag": "\\u00e9"}',
        '{"id": "plain", "text": "an ordinary line"}',
    ]
    rows = _read(tmp_path, lines)
    by_id = {r["id"]: r for r in rows}
    assert list(by_id) == ["src/123456789012345678901234567890", "src/f", "src/n", "src/b", "src/u", "src/plain"]
    for line, row in zip(lines, rows):
        record = json.loads(line)
        extra = {k: v for k, v in record.items() if k not in ("id", "text", "url")}
        assert row["metadata"] == (json.dumps(extra, ensure_ascii=False) if extra else None)
        assert row["reject_reason"] is None
    assert by_id["src/u"]["text"] == "caf\u00e9" and by_id["src/u"]["url"] == "https://x.example/u"
    assert by_id["src/f"]["metadata"] == '{"score": 0.1, "deep": {"x": [1, 2.5e+300]}}'


def test_rejections_and_charsets_keep_their_place_among_fast_rows(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    latin = '{"id": "latin", "text": "Grüße aus Köln, schöne Grüße"}'.encode("cp1252")
    path.write_bytes(b'{"id": "a", "text": "first"}\n{"id": "b", "text": "   "}\n' + latin
                     + b'\n{"id": "c", "text": "unterminated\n{"id": "d", "text": "last"}\r\n')
    source = SourceConfig(name="src", paths=[str(path)], fields=FieldMap(text="text", id="id"))
    rows = pa.concat_tables([t for task in list_source_files(source, 0) for t in read_file(task, source, 2)]).to_pylist()
    assert [(r["id"], r["reject_reason"]) for r in rows] == [
        ("src/a", None), ("src/b", "empty_text"), ("src/latin", None), ("src:mixed.jsonl:4", "malformed_json"),
        ("src/d", None)]
    assert rows[2]["charset"] not in (None, "utf-8") and rows[2]["text"] == "Grüße aus Köln, schöne Grüße"
    assert [r["charset"] for r in rows if r["id"] != "src/latin"] == [None] * 4
    assert rows[3]["text"] == '{"id": "c", "text": "unterminated' and "line 4 (byte" in rows[3]["reject_detail"]
    assert rows[4]["text"] == "last"


def test_a_batch_equals_arrow_from_pylist_of_the_same_rows_as_dicts(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"")
    source = SourceConfig(name="src", paths=[str(path)])
    task = list_source_files(source, 0)[0]
    ctx = ReadContext(task, source, str(path))
    rows = [
        ctx.plain_document("k1", "one", "https://a.example", {"lang": "en"}),
        ctx.rejected("k2", b"\xffbad", "invalid_encoding", "why"),
        ctx.plain_document("k3", "three", None, {}),
        ctx.document("k4", "four", charset="cp1252", fetch_date="2024-01-01", path="inner/member.txt"),
        {"id": "odd", "text": "a dict without the constant columns"},
    ]
    as_dicts = [dict(zip(("id", "text", "url", "metadata"), r)) | {
        "source": "src", "domain": source.domain, "path": task.relpath, "input_file": task.path}
        if isinstance(r, tuple) else r for r in rows]
    batch = Batch(ctx)
    for row in rows:
        batch.add(row)
    assert batch.take().equals(pa.Table.from_pylist(as_dicts, schema=BASE_SCHEMA))
    assert len(batch) == 0
    batch.add(rows[0])
    assert batch.take().equals(pa.Table.from_pylist(as_dicts[:1], schema=BASE_SCHEMA))
