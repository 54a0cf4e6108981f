"""Issue 16: an adversarial probe's 17 defects, each reproduced and kept fixed.

Tried as an attacker or an unlucky user would: folders curate did not create, shared checkpoint
folders, two runs at once, colliding ids, cut and garbage compressed files, deep and huge JSON,
oversized rows, symlinks out of the tree, YAML alias bombs, servers that trickle, send the wrong
range, gzip unasked, loop redirects or fail, remote lists naming local files, signed URLs, and a
dead Ray GCS. Everything runs the real code: real files, real readers, a real HTTP server on
127.0.0.1, real commits, real second processes, and ``python -m curate.run`` end to end (slow).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
import zstandard

from curate import ownership, run
from curate.checkpoint import Checkpoints, GroupWriter, group_key
from curate.config import ConfigError, DownloadConfig, FieldMap, SourceConfig, load_config
from curate.download import DownloadError, cache_path, fetch
from curate.ids import DuplicateIdError, IdIndex, id_digests, id_of_key, row_keys
from curate.outputs import commit as staged_output
from curate.outputs import write_batch
from curate.readers import read_file
from curate.runtime.failures import StageFailed
from curate.runtime.read import read_tasks
from curate.schema import BASE_SCHEMA
from curate.sources import FileTask, list_all_files, list_source_files
from tests.conftest import REPO, SAMPLES, run_pipeline
from tests.http_server import FaultServer

# ==================================================================================================
# Defects 1, 2, 15: curate deletes only what it created; one run per output_dir
# ==================================================================================================


def write_config(tmp_path: Path, output_dir: str, paths: list[str] | None = None, **extra) -> Path:
    config = {"name": "own", "output_dir": output_dir,
              "sources": [{"name": "math", "paths": paths or [str(SAMPLES / "math" / "*.jsonl")], "domain": "math",
                           "fields": {"text": "body", "id": "problem_id"}}],
              **extra}
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def stage_a_run(output_dir: Path, texts: list[str]) -> Path:
    """A staging folder holding real Parquet parts, as the writers leave it."""
    rows = [{"id": f"d{i}", "text": text, "source": "s", "domain": "web"} for i, text in enumerate(texts)]
    staging = staged_output.new_staging_dir(output_dir)
    write_batch(pa.Table.from_pylist(rows, schema=BASE_SCHEMA), str(staging))
    staged_output.write_json(staging / "stats" / "summary.json", {"documents": len(rows)})
    return staging


def dry_run(config: Path, *overrides: str, capsys) -> tuple[int, str]:
    code = run.main([str(config), *overrides, "--dry-run"])
    return code, capsys.readouterr().err


# --------------------------------------------------------------------------- 1. commit


def test_commit_keeps_folders_curate_did_not_create(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mine"
    (out / "stats").mkdir(parents=True)
    (out / "stats" / "notes.txt").write_text("my notes")
    (out / "documents").mkdir()
    (out / "documents" / "thesis.txt").write_text("my thesis")

    code, err = dry_run(write_config(tmp_path, str(out)), capsys=capsys)
    assert code == 2 and "output_dir" in err and "documents" in err and "stats" in err

    with ownership.output_lock(out):
        staging = stage_a_run(out, ["a document"])
        with pytest.raises(ownership.OwnershipError, match="output_dir"):
            staged_output.commit(staging, out)
    assert (out / "stats" / "notes.txt").read_text() == "my notes"
    assert (out / "documents" / "thesis.txt").read_text() == "my thesis"
    assert not (out / staged_output.SUCCESS_MARKER).exists()


def test_a_rerun_replaces_its_own_folders_but_not_a_file_added_to_them(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    config = write_config(tmp_path, str(out))
    for texts in (["first run"], ["second run", "two documents"]):
        with ownership.output_lock(out):
            staged_output.commit(stage_a_run(out, texts), out)
        assert dry_run(config, capsys=capsys)[0] == 0  # curate's own output: fine to run into again
    parts = list((out / "documents").glob("*.parquet"))
    assert len(parts) == 1 and pa.parquet.read_table(parts[0]).num_rows == 2  # the first run's part is gone
    assert (out / staged_output.SUCCESS_MARKER).is_file() and not (out / "_staging").exists()

    (out / "stats" / "notes.txt").write_text("mine")
    code, err = dry_run(config, capsys=capsys)
    assert code == 2 and "stats/notes.txt" in err and "output_dir" in err
    with ownership.output_lock(out), pytest.raises(ownership.OwnershipError):
        staged_output.commit(stage_a_run(out, ["third run"]), out)
    assert (out / "stats" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("value", ["", "/", "~", str(Path.home())])
def test_empty_root_or_home_output_dir_is_a_config_error(tmp_path: Path, value: str, capsys) -> None:
    code, err = dry_run(write_config(tmp_path, "out"), f"output_dir={value}", capsys=capsys)
    assert code == 2 and "output_dir" in err


def test_output_dir_overlapping_an_input_is_a_config_error(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_text('{"text": "hello"}\n')
    cases = [  # (output_dir, input paths)
        (data, [str(data / "a.jsonl")]),  # the input's own folder, as a file path
        (data / "out", [str(data / "*.jsonl")]),  # inside a glob's root
        (data / "out", [str(data)]),  # inside an input folder
        (tmp_path, [str(data / "a.jsonl")]),  # an input inside output_dir
    ]
    (tmp_path / "cfg").mkdir()
    for output_dir, paths in cases:
        config = write_config(tmp_path / "cfg", str(output_dir), paths)
        code, err = dry_run(config, capsys=capsys)
        assert code == 2 and "output_dir" in err and "input" in err, (output_dir, paths, err)
    assert (data / "a.jsonl").read_text() == '{"text": "hello"}\n'


def test_working_folders_may_not_be_output_dir_or_what_a_run_replaces(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    for key, value in [("checkpoint.dir", out), ("checkpoint.dir", out / "stats" / "ckpt"),
                       ("download.cache_dir", out / "_staging" / "cache"), ("ray.spill_dir", out)]:
        code, err = dry_run(write_config(tmp_path, str(out)), f"{key}={value}", capsys=capsys)
        assert code == 2 and key in err, (key, value, err)
    (tmp_path / "a_file").write_text("x")
    code, err = dry_run(write_config(tmp_path, str(tmp_path / "a_file")), capsys=capsys)
    assert code == 2 and "output_dir" in err and (tmp_path / "a_file").read_text() == "x"


# --------------------------------------------------------------------------- 2. checkpoint.dir


def make_chain(config: Path, *overrides: str) -> Checkpoints:
    """A pipeline's read chain with one cached group, as a run leaves it (no Ray needed)."""
    loaded = load_config(config, list(overrides))
    checkpoints = Checkpoints(loaded, [])
    checkpoints.claim()
    writer = GroupWriter(checkpoints.read_dir, group_key('[{"path": "x"}]'))
    writer.write(pa.Table.from_pylist([{"id": "a", "text": "x", "source": "s", "domain": "web"}], schema=BASE_SCHEMA))
    writer.commit({"files": 1})
    return checkpoints


def test_prune_and_fresh_remove_only_this_pipelines_chains(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "datasets").mkdir(parents=True)
    (shared / "datasets" / "keep.parquet").write_text("someone's data")
    (shared / "notes.txt").write_text("unrelated")
    mine = write_config(tmp_path, str(tmp_path / "mine"), checkpoint={"dir": str(shared)})
    other_config = tmp_path / "other" / "own.yaml"
    other_config.parent.mkdir()
    other = make_chain(write_config(other_config.parent, str(tmp_path / "other_out"), checkpoint={"dir": str(shared)}))
    old = make_chain(mine, "read.batch_rows=10")  # this pipeline, an earlier config
    current = make_chain(mine)
    assert len({old.read_dir, current.read_dir, other.read_dir}) == 3  # the same config elsewhere: its own chain

    current.prune()
    assert not old.read_dir.exists() and current.read_dir.is_dir() and other.read_dir.is_dir()
    assert (shared / "notes.txt").is_file() and (shared / "datasets" / "keep.parquet").is_file()

    current.clear()  # --fresh
    assert not current.read_dir.exists() and other.read_dir.is_dir()
    assert (shared / "notes.txt").is_file() and (shared / "datasets" / "keep.parquet").is_file()


def test_a_folder_named_like_a_chain_is_not_taken_for_one(tmp_path: Path) -> None:
    config = write_config(tmp_path, str(tmp_path / "out"), checkpoint={"dir": str(tmp_path / "ckpt")})
    checkpoints = Checkpoints(load_config(config), [])
    checkpoints.read_dir.mkdir(parents=True)
    (checkpoints.read_dir / "data.parquet").write_text("not curate's")
    with pytest.raises(ownership.OwnershipError, match="checkpoint.dir"):
        checkpoints.claim()
    checkpoints.clear()
    checkpoints.prune()
    assert (checkpoints.read_dir / "data.parquet").read_text() == "not curate's"


@pytest.mark.parametrize("value", ["", "/", str(Path.home())])
def test_empty_root_or_home_checkpoint_dir_is_a_config_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="checkpoint.dir"):
        load_config(write_config(tmp_path, str(tmp_path / "out")), [f"checkpoint.dir={value}"])


# --------------------------------------------------------------------------- 15. one run per output_dir

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from curate import ownership
    from curate.outputs import commit as staged_output
    from tests.test_adversarial import stage_a_run
    out = Path(sys.argv[1])
    with ownership.output_lock(out):
        staged_output.commit(stage_a_run(out, ["an earlier run"]), out)
        staging = staged_output.new_staging_dir(out)
        print(staging, flush=True)
        time.sleep(120)
""")


def test_a_second_run_fails_fast_naming_the_first_and_keeps_its_staging(tmp_path: Path, capsys) -> None:
    from curate import publish

    out = tmp_path / "out"
    (tmp_path / "bucket").mkdir()
    config = write_config(tmp_path, str(out), publish={"to": (tmp_path / "bucket").as_uri()})
    first = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        line = first.stdout.readline().strip()
        assert line, "the process holding the lock did not start"
        staging = Path(line)
        assert staging.is_dir()
        code = run.main([str(config)])
        err = capsys.readouterr().err
        assert code == 2 and f"pid {first.pid}" in err and "output_dir" in err and "started" in err
        assert staging.is_dir()  # the first run's staging is untouched
        assert publish.main([str(config)]) == 2  # nor may an upload read folders a run is replacing
        assert f"pid {first.pid}" in capsys.readouterr().err
    finally:
        first.kill()
        first.wait()

    foreign = out / "_staging" / "not-curates"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    with ownership.output_lock(out):  # the first run died: its lock is free, its staging stale
        staged_output.remove_stale_staging(out)
    assert not staging.exists() and (foreign / "keep.txt").is_file()


def test_stale_staging_is_removed_only_under_the_lock(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with ownership.output_lock(out):
        staging = staged_output.new_staging_dir(out)
    with pytest.raises(RuntimeError, match="lock"):
        staged_output.remove_stale_staging(out)
    assert staging.is_dir()


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_reruns_into_its_own_output_dir_keep_working_and_spare_a_shared_checkpoint_dir(tmp_path: Path) -> None:

    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("unrelated")
    out = tmp_path / "out"
    config = write_config(tmp_path, str(out), checkpoint={"dir": str(shared)}, ray={"num_cpus": 2},
                          stages={"filter": {"filters": [{"name": "length", "min_chars": 200}]}})
    first = run_pipeline(str(config))
    assert first.returncode == 0, first.stdout + first.stderr
    first_chain = {p.name for p in shared.iterdir()} - {"notes.txt"}
    again = run_pipeline(str(config), "read.batch_rows=7")  # a new read chain; the first one is this pipeline's to prune
    assert again.returncode == 0, again.stdout + again.stderr
    assert (out / "_SUCCESS").is_file() and list((out / "documents").glob("*.parquet"))
    assert (shared / "notes.txt").read_text() == "unrelated"
    assert first_chain and not first_chain & {p.name for p in shared.iterdir()}


# ==================================================================================================
# Defects 4, 5, 9, 12, 16: bad input files become accounted rows
# ==================================================================================================


def _rows(source: SourceConfig) -> list[dict]:
    """Every row read from the source's files, through listing and the real readers (local files
    are passed as their own local path, as the engine's fetch_for_read does)."""
    return [row for task in list_all_files([source]) for t in read_file(task, source, 1000, task.path)
            for row in t.to_pylist()]


def _jsonl(n: int, start: int = 0) -> bytes:
    return b"".join(json.dumps({"id": f"r{i}", "text": f"record number {i} " * 5}).encode() + b"\n"
                    for i in range(start, start + n))


def _kept_rows(rows: list[dict]) -> list[dict]:
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
    kept = [r["id"] for r in _kept_rows(rows)]
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
    assert len(_kept_rows(rows)) >= 1000  # the whole first frame


def test_zst_junk_after_the_last_frame_is_a_corrupt_file_row_after_the_records(tmp_path: Path) -> None:
    path = tmp_path / "junk.jsonl.zst"
    path.write_bytes(_zst(_jsonl(100)) + b"this is not a zstd frame")
    rows = _rows(SourceConfig(name="s", paths=[str(path)]))
    assert len(_kept_rows(rows)) == 100 and _reasons(rows) == ["corrupt_file"]


def test_cut_warc_zst_is_a_truncated_file(tmp_path: Path) -> None:
    from tests.readers.test_warc import _write_warc

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
    kept = _kept_rows(rows)
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
    kept = [r["path"] for r in _kept_rows(rows)]
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
    assert [r["text"] for r in _kept_rows(rows)] == ["before", "between", "after"]
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
    assert [r["text"] for r in _kept_rows(rows)] == ["fine", "also fine"]
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


def _words(name: str, i: int) -> str:
    """A distinct text per record that dedup's normalisation (digits dropped) keeps distinct."""
    return f"{name} record " + " ".join(chr(97 + (i * 7 + k) % 26) * (1 + i // 26) for k in range(12))


@pytest.mark.slow  # one pipeline run on a local Ray: about a minute
def test_a_run_over_every_bad_input_finishes_and_accounts_for_each_file(tmp_path: Path) -> None:
    """One ``python -m curate.run`` over all the bad inputs at once, local and remote: exit 0, each
    bad file has its rows, the records after a bad one are kept, ids are unique, and for every
    input file documents + rejected = records read (``stats/summary.json`` ``inputs``)."""
    data = tmp_path / "in"
    data.mkdir()
    packed = _zst(_jsonl(300))
    (data / "cut.jsonl.zst").write_bytes(packed[: len(packed) // 2])
    (data / "garbage.jsonl.zst").write_bytes(os.urandom(2048))
    (data / "garbage.jsonl.xz").write_bytes(os.urandom(2048))
    (data / "deep.jsonl").write_text("[" * 100_000 + "\n" + json.dumps({"id": "ok", "text": "after deep " * 20}) + "\n")
    (data / "digits.jsonl").write_text('{"n": ' + "9" * 5000 + "}\n" + json.dumps({"id": "ok2", "text": "after digits " * 20}) + "\n")
    (data / "empty.jsonl").write_text("")
    (data / "nul.jsonl").write_bytes(b'{"id": "nul", "text": "a\x00b"}\n\xff\xfe garbage \x00\n')
    os.symlink("/etc/passwd", data / "passwd.jsonl")
    rows = tmp_path / "rows"
    rows.mkdir()
    pq.write_table(pa.table({"id": ["big", "fine"], "text": ["y" * 3000, "fine " * 40]}), rows / "big.parquet")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "bad.tar.zst").write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(2048))
    shards = tmp_path / "shards"  # per-file ids 1..3 in both shards; one exact copy across them
    shards.mkdir()
    for n, texts in ((1, ["alpha", "beta", "gamma"]), (2, ["delta", "beta", "epsilon"])):
        (shards / f"shard{n}.jsonl").write_text("".join(
            json.dumps({"id": i, "text": f"{word} " * 30 + f"shard {n}" * (word != "beta")}) + "\n"
            for i, word in enumerate(texts, 1)))
    www = tmp_path / "www"
    www.mkdir()
    for name in ("gzipped.jsonl", "signed.jsonl", "ranged.jsonl", "looping.jsonl"):
        (www / name).write_text("".join(json.dumps({"id": f"{name}-{i}", "text": _words(name, i)}) + "\n"
                                        for i in range(50)))
    server = FaultServer(www).start()
    server.faults["/gzipped.jsonl"] = ["gzip"]
    server.faults["/ranged.jsonl"] = ["truncate", "range_from_zero"]
    server.faults["/looping.jsonl"] = ["redirect"] * 200
    remote = [f"{server.url}/gzipped.jsonl", f"{server.url}/signed.jsonl?X-Amz-Signature=abc%2F*&X-Amz-Expires=60",
              f"{server.url}/ranged.jsonl", f"{server.url}/looping.jsonl"]
    config = {
        "name": "bad-inputs",
        "output_dir": str(tmp_path / "out"),
        "sources": [
            {"name": "web", "paths": [str(data)]},
            {"name": "rows", "paths": [str(rows)], "max_record_bytes": 2000},
            {"name": "code", "format": "code", "domain": "code", "paths": [str(repo)]},
            {"name": "shards", "paths": [str(shards / "*.jsonl")], "ids": "file"},
            {"name": "remote", "format": "jsonl", "paths": remote, "on_error": "skip"},
        ],
        "download": {"cache_dir": str(tmp_path / "cache"), "retries": 2, "backoff_seconds": 0.01},
        "stages": {"dedup": {"near": False}},
        "ray": {"num_cpus": 2},
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        result = run_pipeline(str(path))
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = tmp_path / "out"
    rejected = pq.read_table(out / "rejected").to_pylist()
    documents = pq.read_table(out / "documents").to_pylist()
    reasons = {(r["path"], r["reject_reason"]) for r in rejected}
    assert {
        ("cut.jsonl.zst", "truncated_file"), ("garbage.jsonl.zst", "corrupt_file"), ("deep.jsonl", "malformed_json"),
        ("digits.jsonl", "malformed_json"), ("passwd.jsonl", "symlink"), ("big.parquet", "record_too_large"),
        ("bad.tar.zst", "corrupt_file"), ("looping.jsonl", "unreachable"), ("shard2.jsonl", "exact_duplicate"),
    } <= reasons, reasons
    assert any(p == "garbage.jsonl.xz" for p, _ in reasons)
    kept = {(r["path"], r["text"]) for r in documents}
    # the records after each bad one are still read
    assert {("deep.jsonl", "after deep " * 20), ("digits.jsonl", "after digits " * 20), ("big.parquet", "fine " * 40)} <= kept
    assert not any("root:" in text for _, text in kept)
    every_input = {p.name for folder in (data, rows, repo, shards) for p in folder.iterdir()} - {"empty.jsonl"}
    assert every_input <= {path for path, _ in kept} | {path for path, _ in reasons}
    # each remote file once: no body stored gzipped, no range appended twice, the signed URL read as a file
    for name in ("gzipped.jsonl", "signed.jsonl", "ranged.jsonl"):
        assert sorted(r["text"] for r in documents if r["path"] == name) == sorted(
            _words(name, i) for i in range(50)), name
    # the unique shard documents are all kept; the exact copy is one document, not two or none
    shard_texts = [r["text"] for r in documents if r["source"] == "shards"]
    assert len(shard_texts) == 5 and len(set(shard_texts)) == 5
    ids = [r["id"] for r in documents + rejected]
    assert len(ids) == len(set(ids)), "two records share an id"
    summary = json.loads((out / "stats" / "summary.json").read_text())
    accounted = {(i["source"], i["path"]): i for i in summary["inputs"]}
    listed = [*(str(p) for folder in (data, rows, repo, shards) for p in folder.iterdir()), *remote]
    assert {path for _, path in accounted} == set(listed)
    for entry in accounted.values():
        assert entry["documents"] + entry["rejected"] == entry["records"], entry
    assert sum(i["documents"] for i in accounted.values()) == len(documents)
    assert sum(i["rejected"] for i in accounted.values()) == len(rejected)


# ==================================================================================================
# Defect 3 and every input accounted for: unique ids, dedup by unique keys
# ==================================================================================================


# Long enough that each is its own document to dedup (5-word shingles), distinct from each other.
ID_TEXTS = {name: " ".join(f"{name}{i} word{i * 7 % 13} thing{i % 5}" for i in range(40))
         for name in ("alpha", "beta", "gamma", "delta", "omega")}


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _source(paths: list[str], **kw) -> SourceConfig:
    return SourceConfig(name="src", paths=paths, fields=FieldMap(text="text", id="id", url=None), **kw)


def _read_ids(source: SourceConfig) -> pa.Table:
    return pa.concat_tables([t for task in list_source_files(source, 0) for t in read_file(task, source, 100)])


def _shards(tmp_path: Path) -> Path:
    """Two shards of one source, both numbering their records from 1.

    shard1: 1 alpha, 2 beta, 3 alpha (an exact copy of 1 in its own file)
    shard2: 1 gamma (unique), 2 beta (the same text and id as shard1's 2), 3 delta (unique, but
    its id is the id of shard1's duplicate)
    """
    _write_jsonl(tmp_path / "shards" / "shard1.jsonl",
                 [{"id": 1, "text": ID_TEXTS["alpha"]}, {"id": 2, "text": ID_TEXTS["beta"]}, {"id": 3, "text": ID_TEXTS["alpha"]}])
    _write_jsonl(tmp_path / "shards" / "shard2.jsonl",
                 [{"id": 1, "text": ID_TEXTS["gamma"]}, {"id": 2, "text": ID_TEXTS["beta"]}, {"id": 3, "text": ID_TEXTS["delta"]}])
    return tmp_path / "shards"


# --------------------------------------------------------------------------- reading (no Ray)


def test_int_and_string_id_in_one_file_are_rekeyed_not_merged(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "a.jsonl", [{"id": 7, "text": "seven as a number"},
                                               {"id": "7", "text": "seven as a string"},
                                               {"id": 7, "text": "seven again"}])
    table = _read_ids(_source([str(path)]))
    assert table.column("id").to_pylist() == ["src/7", "src/a.jsonl:7", "src/a.jsonl:7#2"]
    assert _read_ids(_source([str(path)])).column("id").to_pylist() == table.column("id").to_pylist()  # deterministic


def test_ids_error_mode_refuses_a_repeated_id_naming_it(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "a.jsonl", [{"id": 7, "text": "x"}, {"id": "7", "text": "y"}])
    with pytest.raises(DuplicateIdError, match=r"id '7' appears twice in .*a\.jsonl \(again at line 2"):
        _read_ids(_source([str(path)], ids="error"))


def test_ids_file_mode_scopes_every_id_by_its_file(tmp_path: Path) -> None:
    folder = _shards(tmp_path)
    ids = _read_ids(_source([str(folder / "*.jsonl")], ids="file")).column("id").to_pylist()
    assert ids == [f"src/shard{s}.jsonl:{i}" for s in (1, 2) for i in (1, 2, 3)]


def test_an_id_equal_to_a_position_key_cannot_collide(tmp_path: Path) -> None:
    # line 1 has no id, so it is known by its place; line 2 claims exactly that place as its id
    path = _write_jsonl(tmp_path / "a.jsonl", [{"text": ID_TEXTS["alpha"]}, {"id": "a.jsonl:1", "text": ID_TEXTS["beta"]}])
    ids = _read_ids(_source([str(path)])).column("id").to_pylist()
    assert ids == ["src:a.jsonl:1", "src/a.jsonl:1"]  # two namespaces: ':' or '/' after the source name


def test_every_row_names_its_input_file_and_keys_are_unique(tmp_path: Path) -> None:
    folder = _shards(tmp_path)
    table = _read_ids(_source([str(folder / "*.jsonl")]))
    assert table.column("id").to_pylist() == ["src/1", "src/2", "src/3"] * 2  # kept as given: stable ids
    assert set(table.column("input_file").to_pylist()) == {str(folder / "shard1.jsonl"), str(folder / "shard2.jsonl")}
    keys = row_keys(table)
    assert len(set(keys)) == 6 and [id_of_key(k) for k in keys] == table.column("id").to_pylist()
    assert sorted(keys)[0].startswith("src/1\0")  # keys sort by id first: "the smallest id breaks ties"


def test_repeated_archive_member_names_get_distinct_ids(tmp_path: Path) -> None:
    import io
    import tarfile

    path = tmp_path / "repo.tar"
    with tarfile.open(path, "w") as tar:
        for body in (b"x = 1\n", b"x = 2\n"):  # tar appends a newer version under the same name
            info = tarfile.TarInfo("pkg/mod.py")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    source = SourceConfig(name="code", format="archive", paths=[str(path)], domain="code")
    ids = _read_ids(source).column("id").to_pylist()
    assert len(ids) == 2 and len(set(ids)) == 2, ids


def test_id_index_finds_repeats_across_files_and_tolerates_retries() -> None:
    index = IdIndex()
    a = id_digests([f"src/{i}" for i in range(1000)])
    assert index.claim("a.jsonl", a) == {}
    for k in range(20):  # many small files: runs merge, lookups still find every earlier file
        assert index.claim(f"f{k}.jsonl", id_digests([f"src/f{k}-{i}" for i in range(50)])) == {}
    assert index.claim("a.jsonl", a) == {}  # the same file again (a retried task) is not its own repeat
    assert index.claim("b.jsonl", id_digests(["src/5", "src/new", "src/f3-7", "src/f3-8"])) == {"a.jsonl": 1, "f3.jsonl": 2}
    assert len(index.runs) < 8
    assert index.claim("c.jsonl", np.empty(0, np.uint64)) == {}


# --------------------------------------------------------------------------- on a local Ray


def test_dedup_decides_by_unique_keys_not_shared_ids(ray_local, tmp_path: Path) -> None:
    """Old behaviour: shard2's unique delta (id 3) was rejected as a duplicate because shard1's
    id 3 was, and the true pair beta/beta sharing id 2 was kept twice."""
    from curate.stages.dedup import Dedup, DedupConfig

    table = _read_ids(_source([str(_shards(tmp_path) / "*.jsonl")]))
    from curate.config import StageSpec
    from curate.runtime.plan import apply_global_stage

    out = apply_global_stage(ray_local.data.from_arrow(table).repartition(2), StageSpec("dedup", Dedup, DedupConfig(near=False)))
    rows = {(r["input_file"].rsplit("/", 1)[1], r["id"]): r for r in out.take_all()}
    rejected = {k: (r["reject_reason"], r["reject_detail"]) for k, r in rows.items() if r["reject_stage"]}
    assert rejected == {("shard1.jsonl", "src/3"): ("exact_duplicate", "duplicate of src/1"),
                        ("shard2.jsonl", "src/2"): ("exact_duplicate", "duplicate of src/2")}
    assert rows[("shard2.jsonl", "src/3")]["text"] == ID_TEXTS["delta"]  # the unique document is kept


def test_ids_repeated_across_files_fail_the_read_naming_both(ray_local, tmp_path: Path) -> None:
    from curate.config import DownloadConfig
    from curate.runtime.failures import StageFailed
    from curate.runtime.read import read_group
    from curate.runtime.stats import make_stats_actor

    folder = _shards(tmp_path)
    source = _source([str(folder / "*.jsonl")])
    stats = make_stats_actor()
    groups = [json.dumps([t.to_row()]) for t in list_source_files(source, 0)]
    assert sum(t.num_rows for t in read_group(groups[0], {"src": source}, DownloadConfig(), 100, stats, None)) == 3
    with pytest.raises(StageFailed) as failed:
        list(read_group(groups[1], {"src": source}, DownloadConfig(), 100, stats, None))
    message = str(failed.value)
    assert "shard2.jsonl" in message and "3 of them also in" in message and "shard1.jsonl" in message
    assert "set ids: file" in message
    # scoped by file, the same shards read cleanly: their ids cannot repeat across files
    scoped = source.model_copy(update={"ids": "file"})
    stats = make_stats_actor()
    for group in groups:
        assert sum(t.num_rows for t in read_group(group, {"src": scoped}, DownloadConfig(), 100, stats, None)) == 3


def test_a_retried_read_is_neither_its_own_repeat_nor_counted_twice(ray_local, tmp_path: Path) -> None:
    """Ray retries a read task whose worker died: its files are read and reported again."""
    from curate.config import DownloadConfig
    from curate.ids import input_metric
    from curate.runtime.read import read_group
    from curate.runtime.stats import make_stats_actor

    source = _source([str(_shards(tmp_path) / "shard1.jsonl")])
    group = json.dumps([t.to_row() for t in list_source_files(source, 0)])
    stats = make_stats_actor()
    for _attempt in range(2):
        assert sum(t.num_rows for t in read_group(group, {"src": source}, DownloadConfig(), 100, stats, None)) == 3
    read = ray_local.get(stats.snapshot.remote())["read"]
    assert read[input_metric("src", str(tmp_path / "shards" / "shard1.jsonl"))] == 3
    assert read["docs_in"] == 6  # the stage's own totals still count the work done


# --------------------------------------------------------------------------- every input accounted for


def test_sink_and_summary_account_for_every_input(tmp_path: Path) -> None:
    from curate.ids import input_metric
    from curate.outputs import write_batch
    from curate.outputs.commit import new_staging_dir
    from curate.ownership import output_lock
    from curate.run import InputsUnaccounted, account_inputs, check_inputs
    from curate.schema import reject_rows

    folder = _shards(tmp_path)
    _write_jsonl(folder / "shard3.jsonl", [{"id": 9, "text": ID_TEXTS["omega"]}, {"id": 10, "text": " "}])
    source = _source([str(folder / "*.jsonl")], ids="file")
    table = _read_ids(source)
    table = reject_rows(table, np.arange(table.num_rows) == 0, "filter", "too_short")
    synthetic = pa.Table.from_pylist([{"id": "synthetic/rephrase/src/1", "text": "made by a stage", "source": "synthesize"}],
                                     schema=table.schema)
    with output_lock(tmp_path / "out"):  # a run makes its staging folder under the output_dir's lock
        staging = new_staging_dir(tmp_path / "out")
    records = [*write_batch(table.slice(0, 4), str(staging)).to_pylist(),
               *write_batch(pa.concat_tables([table.slice(4), synthetic]), str(staging)).to_pylist()]
    read = {input_metric("src", str(folder / f"shard{s}.jsonl")): n for s, n in ((1, 3), (2, 3), (3, 2))}
    inputs, generated = account_inputs(records, read)
    by_file = {Path(i["path"]).name: (i["records"], i["documents"], i["rejected"]) for i in inputs}
    # shard1: one row rejected by a stage; shard3: the blank text rejected while reading
    assert by_file == {"shard1.jsonl": (3, 2, 1), "shard2.jsonl": (3, 3, 0), "shard3.jsonl": (2, 1, 1)}
    assert generated == {"documents": 1, "rejected": 0}
    check_inputs(inputs)
    lost = [r for r in records if not (r["record"] == "input" and (r["input"] or "").endswith("shard2.jsonl"))]
    with pytest.raises(InputsUnaccounted, match=r"1 input file\(s\) not accounted for .*shard2\.jsonl \(source src\): "
                                                 r"read 3, documents 0 \+ rejected 0"):
        check_inputs(account_inputs(lost, read)[0])


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow  # two full runs
def test_run_with_repeated_ids_keeps_unique_documents_and_accounts_for_inputs(tmp_path: Path) -> None:
    folder = _shards(tmp_path)
    config = tmp_path / "ids.yaml"
    config.write_text(json.dumps({
        "name": "ids", "output_dir": str(tmp_path / "out"),
        "sources": [{"name": "src", "paths": [str(folder / "*.jsonl")], "ids": "file"}],
        "stages": {"dedup": {"near": False}},
    }), encoding="utf-8")
    result = run_pipeline(str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    documents = pq.read_table(tmp_path / "out" / "documents").to_pylist()
    rejected = pq.read_table(tmp_path / "out" / "rejected").to_pylist()
    assert sorted(d["id"] for d in documents) == ["src/shard1.jsonl:1", "src/shard1.jsonl:2",
                                                  "src/shard2.jsonl:1", "src/shard2.jsonl:3"]
    assert {(r["id"], r["reject_reason"], r["reject_detail"]) for r in rejected} == {
        ("src/shard1.jsonl:3", "exact_duplicate", "duplicate of src/shard1.jsonl:1"),
        ("src/shard2.jsonl:2", "exact_duplicate", "duplicate of src/shard1.jsonl:2")}
    summary = json.loads((tmp_path / "out" / "stats" / "summary.json").read_text())
    assert [(Path(i["path"]).name, i["records"], i["documents"], i["rejected"]) for i in summary["inputs"]] == [
        ("shard1.jsonl", 3, 2, 1), ("shard2.jsonl", 3, 2, 1)]
    assert summary["generated"] == {"documents": 0, "rejected": 0}
    # the default (ids kept as given) refuses the same shards, naming both files, and commits nothing
    again = run_pipeline(str(config), f"output_dir={tmp_path / 'out2'}", "sources.0.ids=rekey")
    assert again.returncode == 1
    assert "shard1.jsonl" in again.stderr and "shard2.jsonl" in again.stderr and "ids: file" in again.stderr
    assert not (tmp_path / "out2" / "_SUCCESS").exists()


def test_two_inputs_of_one_source_with_one_relative_path_are_a_config_error(tmp_path: Path) -> None:
    """Their records would get the same place-derived ids (<source>:x.jsonl:1)."""
    from curate.config import ConfigError
    from curate.ids import check_distinct_files
    from curate.sources import list_all_files

    for folder in ("a", "b"):
        _write_jsonl(tmp_path / folder / "x.jsonl", [{"text": "no id here"}])
    sources = [SourceConfig(name="web", paths=[str(tmp_path / "*.jsonl")]),
               SourceConfig(name="src", paths=[str(tmp_path / "a" / "*.jsonl"), str(tmp_path / "b" / "*.jsonl")])]
    _write_jsonl(tmp_path / "top.jsonl", [{"text": "fine"}])
    with pytest.raises(ConfigError, match=r"sources\.1\.paths: .*a/x\.jsonl and .*b/x\.jsonl are both 'x\.jsonl'"):
        check_distinct_files(sources, list_all_files(sources))
    twice = [SourceConfig(name="src", paths=[str(tmp_path / "a" / "*.jsonl"), str(tmp_path / "a" / "x.jsonl")])]
    with pytest.raises(ConfigError, match=r"sources\.0\.paths: .*a/x\.jsonl is listed more than once"):
        check_distinct_files(twice, list_all_files(twice))
    check_distinct_files(sources[:1], list_all_files(sources[:1]))  # one folder: distinct


# ==================================================================================================
# Defects 6, 7, 8, 10, 11, 13, 14: downloads and source listing against a misbehaving server
# ==================================================================================================


RECORDS = [{"id": f"r{i}", "text": f"Record number {i} is a perfectly ordinary line of text."} for i in range(200)]
JSONL = ("\n".join(json.dumps(r) for r in RECORDS) + "\n").encode()


@pytest.fixture()
def server(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "data.jsonl").write_bytes(JSONL)
    (root / "data.jsonl.gz").write_bytes(gzip.compress(JSONL, mtime=0))
    srv = FaultServer(root).start()
    yield srv
    srv.stop()


@pytest.fixture()
def config(tmp_path: Path) -> DownloadConfig:
    return DownloadConfig(cache_dir=str(tmp_path / "cache"), retries=2, backoff_seconds=0.01,
                          max_backoff_seconds=0.05, timeout_seconds=0.5)


def _read_url(url: str, config: DownloadConfig, read_dir: Path | None = None, **source_options) -> pa.Table:
    """Every row the real read path yields for one URL (fetch, reader, read cache), without Ray."""
    source = SourceConfig(name="web", paths=[url], **source_options)
    tasks = list_source_files(source, 0, config)
    batch = pa.table({"tasks": [json.dumps([t.to_row() for t in tasks])]})
    tables = list(read_tasks(batch, {"web": source}, config, 10_000, read_dir=str(read_dir) if read_dir else None))
    return pa.concat_tables(tables) if tables else pa.table({})


def _kept_texts(table: pa.Table) -> list[str]:
    """The texts of the documents kept, in order (texts, not ids, which are the ids group's business)."""
    return [r["text"] for r in table.to_pylist() if r["reject_reason"] is None]


NET_TEXTS = [r["text"] for r in RECORDS]


# --------------------------------------------------------------------------- 6: outage frozen into the cache


def test_a_skipped_outage_is_fetched_again_by_the_next_run(server, config, tmp_path: Path) -> None:
    url = f"{server.url}/data.jsonl"
    read_dir = tmp_path / "checkpoints" / "read-x"
    server.faults["/data.jsonl"] = ["500"] * (config.retries + 1)  # down for every attempt of this run
    first = _read_url(url, config, read_dir, on_error="skip").to_pylist()
    assert [r["reject_reason"] for r in first] == ["unreachable"] and "HTTP 500" in first[0]["reject_detail"]
    server.log.clear()  # the server heals
    second = _read_url(url, config, read_dir, on_error="skip")
    assert [r.status for r in server.requests_for("/data.jsonl")] == [200]  # the rerun asked again
    assert _kept_texts(second) == NET_TEXTS
    server.log.clear()  # and a read that worked is served from the read cache, as before
    assert _kept_texts(_read_url(url, config, read_dir, on_error="skip")) == NET_TEXTS
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
    down = run_pipeline(str(path))
    assert down.returncode == 0, down.stderr
    assert _rejected(tmp_path / "out")["reject_reason"].to_list() == ["unreachable"]
    server.log.clear()
    healed = run_pipeline(str(path))
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
    ids = _kept_texts(_read_url(f"{server.url}/data.jsonl", config))
    assert ids == NET_TEXTS


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
    assert _kept_texts(_read_url(f"{server.url}/data.jsonl", config)) == NET_TEXTS


def test_a_gz_file_labelled_gzip_is_stored_as_the_file(server, config) -> None:
    """The classic trap: the label describes the file; decoding it would store the wrong bytes."""
    server.faults["/data.jsonl.gz"] = ["gzip_label"]
    result = fetch(f"{server.url}/data.jsonl.gz", config)
    assert result.path.read_bytes() == gzip.compress(JSONL, mtime=0) == (Path(server.root) / "data.jsonl.gz").read_bytes()
    assert _kept_texts(_read_url(f"{server.url}/data.jsonl.gz", config)) == NET_TEXTS


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
    assert _kept_texts(_read_url(url, config)) == NET_TEXTS
    assert server.requests_for(f"/{name}")  # the query string reached the server's path


# --------------------------------------------------------------------------- 14: redirect loop


def test_a_redirect_loop_is_a_download_error(server, config) -> None:
    server.faults["/data.jsonl"] = ["redirect"] * 100
    with pytest.raises(DownloadError, match="redirect") as caught:
        fetch(f"{server.url}/data.jsonl", config)
    assert f"{server.url}/data.jsonl" in str(caught.value)


def test_a_redirect_loop_is_skipped_with_on_error_skip(server, config) -> None:
    server.faults["/data.jsonl"] = ["redirect"] * 100
    rows = _read_url(f"{server.url}/data.jsonl", config, on_error="skip").to_pylist()
    assert [r["reject_reason"] for r in rows] == ["unreachable"] and "redirect" in rows[0]["reject_detail"]


def test_a_redirect_loop_fails_the_run_naming_the_url(server, config) -> None:
    server.faults["/data.jsonl"] = ["redirect"] * 100
    with pytest.raises(StageFailed, match="redirect") as caught:
        _read_url(f"{server.url}/data.jsonl", config)
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


# ==================================================================================================
# Defect 17: a dead GCS is reported on the terminal
# ==================================================================================================


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc (Linux)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _gcs_of(driver_pid: int) -> int | None:
    """The GCS server of the local Ray this driver started (not any other Ray on the machine)."""
    for pid in _descendants(driver_pid):
        try:
            if "gcs_server" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode():
                return pid
        except OSError:
            continue
    return None


@pytest.mark.slow
def test_dead_gcs_is_reported_on_the_terminal(tmp_path: Path) -> None:
    marker = tmp_path / "busy"
    config = {
        "name": "gcs",
        "output_dir": str(tmp_path / "out"),
        "sources": [{"name": "web", "paths": [str(SAMPLES / "web" / "*.jsonl")], "domain": "web"}],
        "stages": {"sleepy": {"uses": "tests.fault_stages:Sleepy", "marker": str(marker)}},
        "checkpoint": {"enabled": False},
        "ray": {"num_cpus": 2},
    }
    pipeline = tmp_path / "gcs.yaml"
    pipeline.write_text(yaml.safe_dump(config), encoding="utf-8")
    # Ray's core gives up on a dead GCS after this many seconds (60 by default), then exits.
    env = {**os.environ, "RAY_gcs_rpc_server_reconnect_timeout_s": "5", "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen([sys.executable, "-m", "curate.run", str(pipeline)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 180
        while not marker.exists():
            assert driver.poll() is None, driver.communicate()
            assert time.time() < deadline, "the run never reached its stage"
            time.sleep(0.5)
        gcs = _gcs_of(driver.pid)
        assert gcs is not None, "no GCS process under the driver"
        os.kill(gcs, signal.SIGKILL)
        stdout, stderr = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode != 0
    assert "the driver process ended without finishing" in stderr, stderr
    assert "GCS" in stderr, stderr  # Ray's own reason, shown on the terminal
    log = next((tmp_path / "out" / "_logs").glob("*.log"))
    assert f"Ray's own messages for this run: {log}" in stderr
    assert "GCS" in log.read_text(encoding="utf-8", errors="replace")
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_a_clean_run_prints_nothing_from_the_watcher(tmp_path: Path) -> None:
    """The watcher speaks only when the driver dies without saying goodbye."""
    log = tmp_path / "_logs" / "run.log"
    code = ("import os, sys; from pathlib import Path; from curate.ray_log import stderr_to_log\n"
            f"with stderr_to_log(Path({str(log)!r})):\n"
            "    os.write(2, b'[2026 E 1 2] something Ray said\\n')\n"
            "    if sys.argv[1] == 'die': os._exit(1)\n")
    clean = subprocess.run([sys.executable, "-c", code, "live"], cwd=REPO, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert clean.returncode == 0 and clean.stderr == "", clean.stderr
    died = subprocess.run([sys.executable, "-c", code, "die"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert died.returncode == 1
    assert "the driver process ended without finishing" in died.stderr
    assert "something Ray said" in died.stderr and str(log) in died.stderr
    assert log.read_text(encoding="utf-8").count("something Ray said") == 2
