"""Outputs are sinks chosen by ``outputs:``: each writes on the workers' batches, the commit makes
them visible together, and a new format is one module plus one registry line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from curate import ownership
from curate.config import load_config
from curate.outputs import FinalizeContext, output_sinks, write_batch
from curate.outputs.commit import commit, new_staging_dir
from curate.outputs.registry import SINKS
from curate.schema import BASE_SCHEMA
from tests.conftest import QUICKSTART
from tests.example_sinks import JsonLinesSink


def _batch() -> pa.Table:
    rows = [{"id": "a", "text": "kept one", "source": "s", "domain": "web", "input_file": "/in/x.jsonl"},
            {"id": "b", "text": "kept two", "source": "s", "domain": "web", "input_file": "/in/x.jsonl"},
            {"id": "c", "text": "junk", "source": "s", "domain": "web", "input_file": "/in/x.jsonl",
             "reject_stage": "filter", "reject_reason": "length.too_short"}]
    return pa.Table.from_pylist(rows, schema=BASE_SCHEMA)


def _run(out: Path, sinks: list, loaded=None) -> list[dict]:
    """What a run does with its sinks: stage, write a batch, finalise, commit."""
    with ownership.output_lock(out):
        staging = new_staging_dir(out, tuple(s.folder for s in sinks if s.always_present))
        records = write_batch(_batch(), str(staging), sinks).to_pylist()
        for sink in sinks:
            sink.finalize(staging, FinalizeContext(loaded=loaded, files=[r for r in records if r["record"] == "file"]))
        commit(staging, out)
    return records


def test_only_the_configured_outputs_are_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    loaded = load_config(QUICKSTART, [f"output_dir={out}", "outputs=[rejected]"])
    records = _run(out, output_sinks(loaded), loaded)
    assert [r["folder"] for r in records if r["record"] == "file"] == ["rejected"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["artifacts", "rejected", "stats"]
    # the counts the summary is built from do not depend on which outputs are written
    assert {(r["record"], r["rows"]) for r in records if r["record"] in ("kept", "input")} == {("kept", 2), ("input", 2)}


def test_a_new_output_format_is_a_module_and_a_registry_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SINKS, "jsonl", JsonLinesSink)  # the one line a new format adds to the registry
    out = tmp_path / "out"
    loaded = load_config(QUICKSTART, [f"output_dir={out}", "outputs=[documents, jsonl]"])
    sinks = output_sinks(loaded)
    assert [s.name for s in sinks] == ["documents", "jsonl"]
    _run(out, sinks, loaded)
    (part,) = (out / "jsonl").glob("*.jsonl")  # committed with the rest, recorded as curate's
    assert [json.loads(line)["id"] for line in part.read_text().splitlines()] == ["a", "b"]
    assert ownership.created(out, "jsonl") and (out / "documents").is_dir() and not (out / "rejected").exists()


def test_the_tokens_output_refuses_rows_without_token_ids(tmp_path: Path) -> None:
    from curate.outputs.tokens import TokensSink

    with pytest.raises(ValueError, match="input_ids"):
        _run(tmp_path / "out", [TokensSink("qwen2.5")])
