"""Issue 16, ownership: curate deletes only what it created (defects 1, 2 and 15).

Every case runs the real code on real folders: a real commit of real Parquet parts, real
checkpoint chains, ``python -m curate.run``'s ``main`` (it fails before Ray starts), and a real
second process holding the output_dir lock.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from curate import ownership, run, sink
from curate.checkpoint import Checkpoints, GroupWriter, group_key
from curate.config import ConfigError, load_config
from curate.schema import BASE_SCHEMA
from tests.conftest import REPO, SAMPLES


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
    staging = sink.new_staging_dir(output_dir)
    sink.write_batch(pa.Table.from_pylist(rows, schema=BASE_SCHEMA), str(staging))
    sink.write_json(staging / "stats" / "summary.json", {"documents": len(rows)})
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
            sink.commit(staging, out)
    assert (out / "stats" / "notes.txt").read_text() == "my notes"
    assert (out / "documents" / "thesis.txt").read_text() == "my thesis"
    assert not (out / sink.SUCCESS_MARKER).exists()


def test_a_rerun_replaces_its_own_folders_but_not_a_file_added_to_them(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    config = write_config(tmp_path, str(out))
    for texts in (["first run"], ["second run", "two documents"]):
        with ownership.output_lock(out):
            sink.commit(stage_a_run(out, texts), out)
        assert dry_run(config, capsys=capsys)[0] == 0  # curate's own output: fine to run into again
    parts = list((out / "documents").glob("*.parquet"))
    assert len(parts) == 1 and pa.parquet.read_table(parts[0]).num_rows == 2  # the first run's part is gone
    assert (out / sink.SUCCESS_MARKER).is_file() and not (out / "_staging").exists()

    (out / "stats" / "notes.txt").write_text("mine")
    code, err = dry_run(config, capsys=capsys)
    assert code == 2 and "stats/notes.txt" in err and "output_dir" in err
    with ownership.output_lock(out), pytest.raises(ownership.OwnershipError):
        sink.commit(stage_a_run(out, ["third run"]), out)
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
    from curate import ownership, sink
    from tests.test_adversarial_own import stage_a_run
    out = Path(sys.argv[1])
    with ownership.output_lock(out):
        sink.commit(stage_a_run(out, ["an earlier run"]), out)
        staging = sink.new_staging_dir(out)
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
        staging = Path(first.stdout.readline().strip())
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
        sink.remove_stale_staging(out)
    assert not staging.exists() and (foreign / "keep.txt").is_file()


def test_stale_staging_is_removed_only_under_the_lock(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with ownership.output_lock(out):
        staging = sink.new_staging_dir(out)
    with pytest.raises(RuntimeError, match="lock"):
        sink.remove_stale_staging(out)
    assert staging.is_dir()


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_reruns_into_its_own_output_dir_keep_working_and_spare_a_shared_checkpoint_dir(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("unrelated")
    out = tmp_path / "out"
    config = write_config(tmp_path, str(out), checkpoint={"dir": str(shared)}, ray={"num_cpus": 2},
                          stages={"filter": {"filters": [{"name": "length", "min_chars": 200}]}})
    first = run_cli(str(config))
    assert first.returncode == 0, first.stdout + first.stderr
    first_chain = {p.name for p in shared.iterdir()} - {"notes.txt"}
    again = run_cli(str(config), "read.batch_rows=7")  # a new read chain; the first one is this pipeline's to prune
    assert again.returncode == 0, again.stdout + again.stderr
    assert (out / "_SUCCESS").is_file() and list((out / "documents").glob("*.parquet"))
    assert (shared / "notes.txt").read_text() == "unrelated"
    assert first_chain and not first_chain & {p.name for p in shared.iterdir()}
