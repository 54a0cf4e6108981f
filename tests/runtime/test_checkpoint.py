"""Checkpoint keys: a change invalidates its own stage and what follows, never what comes before."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from curate.checkpoint import Checkpoints, GroupWriter, cached_group, cached_metrics, group_key
from curate.config import ConfigError, load_config
from curate.sources import list_all_files
from tests.conftest import QUICKSTART, SAMPLES


def boundaries(*overrides: str) -> dict[str, str]:
    loaded = load_config(QUICKSTART, list(overrides))
    tasks = list_all_files(loaded.pipeline.sources, loaded.pipeline.download)
    cp = Checkpoints(loaded, tasks)
    read = {"read": cp.read_dir.name} if cp.read_dir else {}
    return {**read, **{b.stage: b.path.name for b in cp.boundaries}}


def test_auto_boundaries_follow_model_and_global_stages() -> None:
    assert list(boundaries()) == ["read", "quality", "synthesize", "dedup"]


def test_a_change_invalidates_its_stage_and_what_follows() -> None:
    base = boundaries()
    changed = boundaries("stages.synthesize.max_documents=5")
    assert [k for k in base if base[k] != changed[k]] == ["synthesize", "dedup"]
    changed = boundaries("stages.langid.threshold=0.9")
    assert [k for k in base if base[k] != changed[k]] == ["quality", "synthesize", "dedup"]
    changed = boundaries("read.batch_rows=10")
    assert [k for k in base if base[k] != changed[k]] == list(base)


def test_resources_do_not_invalidate() -> None:
    """Resources change how work is spread, not what it makes (output_dir, by contrast, is part of the
    key since issue 16: pipelines sharing a checkpoint.dir must never take each other's chains)."""
    assert boundaries("stages.quality.resources.concurrency=2", "stages.dedup.resources.max_retries=1") == boundaries()


def test_an_edited_input_file_invalidates_everything(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(SAMPLES, copy / "samples")
    shutil.copy(QUICKSTART, copy / "code_math.yaml")
    cwd = os.getcwd()
    os.chdir(copy)
    try:
        loaded = load_config(copy / "code_math.yaml")
        before = Checkpoints(loaded, list_all_files(loaded.pipeline.sources, loaded.pipeline.download))
        with open(copy / "samples" / "junk" / os.listdir(copy / "samples" / "junk")[0], "a") as f:
            f.write('{"text": "one more line"}\n')
        after = Checkpoints(loaded, list_all_files(loaded.pipeline.sources, loaded.pipeline.download))
    finally:
        os.chdir(cwd)
    assert before.read_dir != after.read_dir
    assert all(a.path != b.path for a, b in zip(before.boundaries, after.boundaries))


def test_checkpoint_after_names_unknown_stages() -> None:
    with pytest.raises(ConfigError, match=r"checkpoint\.after: \['dedupe'\]"):
        load_config(QUICKSTART, ["checkpoint.after=[read, dedupe]"])
    assert list(boundaries("checkpoint.after=[langid, tokenize]")) == ["langid", "tokenize"]
    assert list(boundaries("checkpoint.after=[read, dedup]")) == ["read", "dedup"]


def test_a_read_group_appears_only_when_complete(tmp_path: Path) -> None:
    import pyarrow as pa

    from curate.schema import BASE_SCHEMA

    key = group_key('[{"path": "/nonexistent"}]')
    writer = GroupWriter(tmp_path, key)
    rows = [{"id": "a", "text": "x", "source": "s", "domain": "web"}]
    writer.write(pa.Table.from_pylist(rows, schema=BASE_SCHEMA))
    assert cached_group(tmp_path, key) is None  # still being written
    writer.commit({"files": 1, "docs_in": 1})
    path = cached_group(tmp_path, key)
    assert path is not None and cached_metrics(path) == {"files": 1, "docs_in": 1}
    aborted = GroupWriter(tmp_path, "other")
    aborted.write(pa.Table.from_pylist(rows, schema=BASE_SCHEMA))
    aborted.abort()
    assert cached_group(tmp_path, "other") is None and not list(tmp_path.glob(".*tmp"))
