"""Issue 16, read group: bad input files become accounted rows, never a stopped run or lost records.

Defects 4 (truncated .zst), 5 (corrupt compression, deep/huge JSON), 9 (max_record_bytes in
every reader), 12 (folder symlinks out of the tree) and 16 (YAML alias bombs). Every test writes
real files and reads them through the real readers, listing and config loader.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import tarfile
import time
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
import zstandard

from curate.config import ConfigError, SourceConfig, load_config
from curate.readers import read_file
from curate.sources import list_all_files
from tests.conftest import REPO, run_cli


def _rows(source: SourceConfig) -> list[dict]:
    """Every row read from the source's files, through listing and the real readers (local files
    are passed as their own local path, as the engine's fetch_for_read does)."""
    return [row for task in list_all_files([source]) for t in read_file(task, source, 1000, task.path)
            for row in t.to_pylist()]


def _jsonl(n: int, start: int = 0) -> bytes:
    return b"".join(json.dumps({"id": f"r{i}", "text": f"record number {i} " * 5}).encode() + b"\n"
                    for i in range(start, start + n))


def _kept(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["reject_reason"] is None]


def _reasons(rows: list[dict]) -> list[str]:
    return [r["reject_reason"] for r in rows if r["reject_reason"] is not None]


# --------------------------------------------------------------------------- 4: truncated compressed files


def _zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


@pytest.mark.parametrize("records", [300, 20_000], ids=["one-block", "multi-block"])
def test_truncated_zst_keeps_what_was_read_and_says_truncated(tmp_path: Path, records: int) -> None:
    data = _jsonl(records)
    packed = _zst(data)
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(packed[: len(packed) // 2])
    rows = _rows(SourceConfig(name="s", paths=[str(path)]))
    assert _reasons(rows) == ["truncated_file"], _reasons(rows)
    kept = [r["id"] for r in _kept(rows)]
    assert kept == [f"s/r{i}" for i in range(len(kept))]  # the records before the cut, in order
    assert len(kept) < records
    error = rows[-1]
    assert "truncated zstd" in error["reject_detail"]


def test_zst_with_several_frames_is_read_whole_and_a_cut_in_the_last_frame_is_reported(tmp_path: Path) -> None:
    first, second = _jsonl(1000), _jsonl(1000, start=1000)
    frames = _zst(first) + _zst(second)
    whole = tmp_path / "whole.jsonl.zst"
    whole.write_bytes(frames)
    rows = _rows(SourceConfig(name="s", paths=[str(whole)]))
    assert _reasons(rows) == [] and len(rows) == 2000
    cut = tmp_path / "cut.jsonl.zst"
    cut.write_bytes(frames[:-10])
    rows = _rows(SourceConfig(name="s", paths=[str(cut)]))
    assert _reasons(rows) == ["truncated_file"]
    assert len(_kept(rows)) >= 1000  # the whole first frame


def test_zst_junk_after_the_last_frame_is_a_corrupt_file_row_after_the_records(tmp_path: Path) -> None:
    path = tmp_path / "junk.jsonl.zst"
    path.write_bytes(_zst(_jsonl(100)) + b"this is not a zstd frame")
    rows = _rows(SourceConfig(name="s", paths=[str(path)]))
    assert len(_kept(rows)) == 100 and _reasons(rows) == ["corrupt_file"]


def test_cut_warc_zst_is_a_truncated_file(tmp_path: Path) -> None:
    from tests.test_warc import _write_warc

    plain = tmp_path / "crawl.warc"
    _write_warc(plain, gz=False)
    path = tmp_path / "crawl.warc.zst"
    packed = _zst(plain.read_bytes())
    path.write_bytes(packed[: len(packed) * 2 // 3])
    rows = _rows(SourceConfig(name="cc", format="warc", paths=[str(path)]))
    assert _reasons(rows)[-1:] == ["truncated_file"], [(r["reject_reason"], r["reject_detail"]) for r in rows]


@pytest.mark.parametrize("suffix,compress", [
    (".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress), (".zst", _zst),
])
def test_a_partial_last_line_is_part_of_the_truncation_not_a_malformed_record(
    tmp_path: Path, suffix: str, compress
) -> None:
    data = _jsonl(30_000)  # 3 MB: several compressed blocks of every kind (bz2's are 900 kB)
    packed = compress(data)
    path = tmp_path / f"cut.jsonl{suffix}"
    path.write_bytes(packed[: int(len(packed) * 0.6)])
    rows = _rows(SourceConfig(name="s", paths=[str(path)]))
    assert _reasons(rows) == ["truncated_file"], [(r["reject_reason"], r["reject_detail"]) for r in rows[-3:]]
    kept = _kept(rows)
    assert kept and len(kept) < 30_000
    assert [json.loads(line)["text"] for line in data.splitlines()[: len(kept)]] == [r["text"] for r in kept]


@pytest.mark.parametrize("suffix,compress", [
    (".tar.zst", _zst), (".tar.gz", gzip.compress), (".tar.bz2", bz2.compress), (".tar.xz", lzma.compress),
])
def test_a_cut_tar_keeps_the_members_before_the_cut(tmp_path: Path, suffix: str, compress) -> None:
    """tarfile's own decompression ended silently at the cut (a .tar.gz lost 106 of 300 members unsaid)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for i in range(300):
            data = (f"value_{i} = {i}\n" * 50).encode()
            info = tarfile.TarInfo(f"repo/m{i}.py")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    packed = compress(buffer.getvalue())
    path = tmp_path / f"repo{suffix}"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    rows = _rows(SourceConfig(name="c", format="code", domain="code", paths=[str(path)]))
    assert _reasons(rows) == ["truncated_file"]
    kept = [r["path"] for r in _kept(rows)]
    assert len(kept) < 300 and kept == [f"m{i}.py" for i in range(len(kept))]


# --------------------------------------------------------------------------- 5: one bad input never stops the run


@pytest.mark.parametrize("name", ["bad.jsonl.zst", "bad.jsonl.xz", "bad.jsonl.gz", "bad.jsonl.bz2"])
def test_garbage_compressed_jsonl_is_one_rejected_row(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(os.urandom(64) + b"not compressed at all\n" * 100)
    rows = _rows(SourceConfig(name="s", paths=[str(path)]))
    assert len(rows) == 1
    assert rows[0]["reject_reason"] in ("corrupt_file", "unreadable_file", "truncated_file")
    assert rows[0]["reject_detail"].startswith(str(path))


def test_garbage_tar_zst_is_one_rejected_row(tmp_path: Path) -> None:
    path = tmp_path / "repo.tar.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(4096))  # zstd magic, then noise
    rows = _rows(SourceConfig(name="s", format="code", paths=[str(path)], domain="code"))
    assert [r["reject_reason"] for r in rows] == ["corrupt_file"], rows


def test_deep_and_huge_json_are_rejected_records_and_the_file_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    huge = '{"id": "big", "text": "t", "n": ' + "7" * 5000 + "}"
    path.write_text("\n".join([
        json.dumps({"id": "a", "text": "before"}), deep, json.dumps({"id": "b", "text": "between"}),
        huge, json.dumps({"id": "c", "text": "after"}),
    ]) + "\n")
    rows = _rows(SourceConfig(name="s", paths=[str(path)]))
    assert [r["text"] for r in _kept(rows)] == ["before", "between", "after"]
    bad = [r for r in rows if r["reject_reason"] is not None]
    assert [r["reject_reason"] for r in bad] == ["malformed_json", "malformed_json"]
    assert "RecursionError" in bad[0]["reject_detail"] and "line 2" in bad[0]["reject_detail"]
    assert "digits" in bad[1]["reject_detail"] and "line 4" in bad[1]["reject_detail"]
    assert bad[1]["text"].startswith('{"id": "big"')  # the original text is kept


# --------------------------------------------------------------------------- 9: max_record_bytes in every reader


def test_parquet_rows_over_max_record_bytes_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    big = "x" * (20 * 1024 * 1024)
    pq.write_table(pa.table({"id": ["small", "big", "after"], "text": ["fine", big, "also fine"]}), path)
    rows = _rows(SourceConfig(name="s", paths=[str(path)]))
    assert [r["text"] for r in _kept(rows)] == ["fine", "also fine"]
    (bad,) = [r for r in rows if r["reject_reason"] is not None]
    assert bad["reject_reason"] == "record_too_large" and "max_record_bytes" in bad["reject_detail"]
    assert bad["text"] == ""


def test_code_and_archive_members_respect_max_record_bytes(tmp_path: Path) -> None:
    body = ("x = 1\n" * 400).encode()  # 2400 bytes of plain code
    tree = tmp_path / "repo"
    tree.mkdir()
    (tree / "big.py").write_bytes(body)
    (tree / "small.py").write_bytes(b"y = 2\n")
    with tarfile.open(tmp_path / "repo.tar.gz", "w:gz") as tar:
        for name in ("big.py", "small.py"):
            tar.add(tree / name, arcname=f"pkg/{name}")
    with zipfile.ZipFile(tmp_path / "repo.zip", "w") as archive:
        archive.write(tree / "big.py", "pkg/big.py")
        archive.write(tree / "small.py", "pkg/small.py")
    for path in (tree, tmp_path / "repo.tar.gz", tmp_path / "repo.zip"):
        source = SourceConfig(name="c", format="code", domain="code", paths=[str(path)],
                              max_file_bytes=1_000_000, max_record_bytes=1000)
        rows = _rows(source)
        by_path = {r["path"]: r for r in rows}
        assert by_path["small.py"]["reject_reason"] is None, path
        assert by_path["big.py"]["reject_reason"] == "record_too_large", (path, by_path["big.py"])


def test_text_and_jsonl_respect_max_record_bytes(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("word " * 500)
    (tmp_path / "small.txt").write_text("a few words")
    rows = _rows(SourceConfig(name="t", format="text", paths=[str(tmp_path / "*.txt")], max_record_bytes=1000))
    assert {r["path"]: r["reject_reason"] for r in rows} == {"big.txt": "record_too_large", "small.txt": None}


# --------------------------------------------------------------------------- 12: symlinks out of a folder


def _tree_with_links(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("hunter2 is the password\n")
    (outside / "other.jsonl").write_text(json.dumps({"id": "o", "text": "hunter3 outside record"}) + "\n")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a document inside the tree\n")
    os.symlink(outside / "secret.txt", tree / "escape.txt")
    os.symlink(tree / "a.txt", tree / "sub" / "inside.txt")  # inside the tree: fine
    os.symlink("/etc/passwd", tree / "passwd.txt")
    return tree, outside


def test_folder_sources_do_not_follow_symlinks_out_of_the_tree(tmp_path: Path) -> None:
    tree, _ = _tree_with_links(tmp_path)
    for paths in ([str(tree)], [str(tree / "**" / "*.txt")]):
        rows = _rows(SourceConfig(name="t", format="text", paths=paths))
        by_path = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
        assert by_path["escape.txt"]["reject_reason"] == "symlink", by_path["escape.txt"]
        assert by_path["passwd.txt"]["reject_reason"] == "symlink"
        assert "secret.txt" in by_path["escape.txt"]["reject_detail"]
        assert by_path["inside.txt"]["reject_reason"] is None  # a link inside the listed tree is read
        assert by_path["a.txt"]["reject_reason"] is None
        assert not any("hunter2" in r["text"] or "root:" in r["text"] for r in rows)
    # A glob's root is its folder: a link in tree/sub/ to tree/a.txt leads out of what it listed.
    rows = _rows(SourceConfig(name="t", format="text", paths=[str(tree / "sub" / "*.txt")]))
    assert [r["reject_reason"] for r in rows] == ["symlink"]


def test_jsonl_folder_link_out_is_rejected_but_a_named_link_is_read(tmp_path: Path) -> None:
    _, outside = _tree_with_links(tmp_path)
    tree = tmp_path / "data"
    tree.mkdir()
    os.symlink(outside / "other.jsonl", tree / "other.jsonl")
    rows = _rows(SourceConfig(name="j", format="jsonl", paths=[str(tree)]))
    assert [r["reject_reason"] for r in rows] == ["symlink"]
    named = _rows(SourceConfig(name="j", format="jsonl", paths=[str(tree / "other.jsonl")]))
    assert [r["text"] for r in named] == ["hunter3 outside record"]  # what the user named is read


# --------------------------------------------------------------------------- 16: YAML alias bombs


def _bomb(levels: int = 9) -> str:
    """A billion laughs in flow style (one line): each level lists the previous one nine times."""
    parts = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    parts += [f"&l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


def _config(tmp_path: Path, storage_options: str) -> Path:
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"text": "hello"}) + "\n")
    path = tmp_path / "bomb.yaml"
    path.write_text(
        f"name: bomb\noutput_dir: {tmp_path / 'out'}\n"
        f"sources:\n  - name: s\n    paths: [{data}]\n    storage_options: {{x: {storage_options}}}\n"
    )
    return path


def test_yaml_alias_bomb_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = _config(tmp_path, _bomb())
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert time.monotonic() - started < 10
    assert str(path) in str(caught.value) and "alias" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, "1"), [f"sources.0.storage_options.x={_bomb()}"])
    assert "override" in str(caught.value) and "alias" in str(caught.value)


def test_configs_with_a_few_anchors_still_load(tmp_path: Path) -> None:
    path = _config(tmp_path, "&opts {anon: true}")
    path.write_text(path.read_text() + "download: {timeout_seconds: 5}\n")
    loaded = load_config(path, ["sources.0.columns=&c [a, b]"])
    assert loaded.pipeline.sources[0].storage_options == {"x": {"anon": True}}
    for shipped in sorted((REPO / "pipelines").glob("*.yaml")):
        from curate.config import read_yaml

        assert read_yaml(shipped) == yaml.safe_load(shipped.read_text())


# --------------------------------------------------------------------------- all of it, end to end


@pytest.mark.slow  # one pipeline run on a local Ray: about a minute
def test_a_run_over_every_bad_input_finishes_and_accounts_for_each_file(tmp_path: Path) -> None:
    """One ``python -m curate.run`` over all the bad inputs: exit 0, each bad file has its rows."""
    data = tmp_path / "in"
    data.mkdir()
    packed = _zst(_jsonl(300))
    (data / "cut.jsonl.zst").write_bytes(packed[: len(packed) // 2])
    (data / "garbage.jsonl.zst").write_bytes(os.urandom(2048))
    (data / "garbage.jsonl.xz").write_bytes(os.urandom(2048))
    (data / "deep.jsonl").write_text("[" * 100_000 + "\n" + json.dumps({"id": "ok", "text": "after deep " * 20}) + "\n")
    (data / "digits.jsonl").write_text('{"n": ' + "9" * 5000 + "}\n" + json.dumps({"id": "ok2", "text": "after digits " * 20}) + "\n")
    os.symlink("/etc/passwd", data / "passwd.jsonl")
    rows = tmp_path / "rows"
    rows.mkdir()
    pq.write_table(pa.table({"id": ["big", "fine"], "text": ["y" * 3000, "fine " * 40]}), rows / "big.parquet")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "bad.tar.zst").write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(2048))
    config = {
        "name": "bad-inputs",
        "output_dir": str(tmp_path / "out"),
        "sources": [
            {"name": "web", "paths": [str(data)]},
            {"name": "rows", "paths": [str(rows)], "max_record_bytes": 2000},
            {"name": "code", "format": "code", "domain": "code", "paths": [str(repo)]},
        ],
        "stages": {},
        "ray": {"num_cpus": 2},
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_cli(str(path), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rejected = pa.concat_tables([pq.read_table(p) for p in sorted((tmp_path / "out" / "rejected").rglob("*.parquet"))])
    reasons = {(r["path"], r["reject_reason"]) for r in rejected.to_pylist()}
    assert {
        ("cut.jsonl.zst", "truncated_file"), ("garbage.jsonl.zst", "corrupt_file"), ("deep.jsonl", "malformed_json"),
        ("digits.jsonl", "malformed_json"), ("passwd.jsonl", "symlink"), ("big.parquet", "record_too_large"),
        ("bad.tar.zst", "corrupt_file"),
    } <= reasons, reasons
    assert any(p == "garbage.jsonl.xz" for p, _ in reasons)
    documents = pa.concat_tables([pq.read_table(p) for p in sorted((tmp_path / "out" / "documents").rglob("*.parquet"))])
    kept = {(r["path"], r["text"]) for r in documents.select(["path", "text"]).to_pylist()}
    # the records after each bad one are still read
    assert {("deep.jsonl", "after deep " * 20), ("digits.jsonl", "after digits " * 20), ("big.parquet", "fine " * 40)} <= kept
    assert not any("root:" in text for _, text in kept)
    every_input = {p.name for folder in (data, rows, repo) for p in folder.iterdir()}
    assert every_input == {path for path, _ in kept} | {path for path, _ in reasons}
