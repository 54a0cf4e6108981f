"""Incremental dedup (``dedup: {index: {write, read}}``): corpus B deduplicated against corpus A's
index decides B's documents exactly as one run over A + B does, and never touches A."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.conftest import run_cli
from tests.stages.test_dedup import edit, words


def _write(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{folder.name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def corpora(root: Path) -> None:
    """A: 8 documents (a1 and a2 near copies of each other). B: exact and near copies of A's
    documents (shorter: A's copy wins), longer versions of A's (B's copy would win a joint run),
    a near copy of another B document, and new documents."""
    base = {i: words(220, seed=10 + i) for i in range(8)}
    a = [{"id": f"a{i}", "text": " ".join(base[i])} for i in range(8)]
    a[1]["text"] = " ".join(edit(base[0], 3, seed=1))  # a1 near a0, shorter or equal
    b_new = words(220, seed=99)
    b = [
        {"id": "b-exact-a2", "text": a[2]["text"].upper()},                          # exact copy of a2
        {"id": "b-near-a3", "text": " ".join(edit(base[3], 3, seed=5)[:-2])},         # shorter near copy of a3
        {"id": "b-longer-a4", "text": " ".join(base[4] + ["and", "some", "more"])},  # longer: wins a joint run
        {"id": "b-longer-a0", "text": " ".join(base[0] + ["plus", "a", "tail"])},    # joins the a0/a1 cluster
        {"id": "b-new", "text": " ".join(b_new)},
        {"id": "b-new-copy", "text": " ".join(edit(b_new, 3, seed=7)[:-1])},          # near copy of b-new
        {"id": "b-fresh", "text": " ".join(words(220, seed=123))},
    ]
    _write(root / "a", a)
    _write(root / "b", b)


def pipeline(root: Path, name: str, inputs: list[str], index: dict) -> Path:
    config = {
        "name": name,
        "output_dir": str(root / name),
        "sources": [{"name": "web", "paths": [str(root / i / "*.jsonl") for i in inputs], "domain": "web",
                     "fields": {"text": "text", "id": "id"}}],
        "stages": {"dedup": {"threshold": 0.8, "index": index}},
        "executor": "local",
        "local": {"workers": 1},
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def decisions(out: Path) -> dict[str, tuple]:
    """id -> (reject reason, detail) over documents and rejected."""
    kept = pl.read_parquet(out / "documents" / "*.parquet")
    rejected = pl.read_parquet(out / "rejected" / "*.parquet")
    found = {r["id"]: (None, None) for r in kept.select("id").to_dicts()}
    found.update({r["id"]: (r["reject_reason"], r["reject_detail"])
                  for r in rejected.select("id", "reject_reason", "reject_detail").to_dicts()})
    return found


@pytest.mark.parametrize("how", [["executor=local"],  # one pass in the driver
                                 ["executor=ray", "stages.dedup.single_pass_mb=0"]])  # Ray's shuffles
def test_b_against_a_index_equals_a_joint_run_restricted_to_b(tmp_path: Path, how: list[str]) -> None:
    corpora(tmp_path)
    first = run_cli(str(pipeline(tmp_path, "run_a", ["a"], {"write": True})), *how)
    assert first.returncode == 0, first.stdout + first.stderr
    index = tmp_path / "run_a" / "artifacts" / "dedup" / "index"
    assert (index / "_index.json").is_file()
    a_before = decisions(tmp_path / "run_a")

    second = run_cli(str(pipeline(tmp_path, "run_b", ["b"], {"read": [str(index)]})), *how)
    assert second.returncode == 0, second.stdout + second.stderr
    joint = run_cli(str(pipeline(tmp_path, "joint", ["a", "b"], {})), *how)
    assert joint.returncode == 0, joint.stdout + joint.stderr

    incremental, together = decisions(tmp_path / "run_b"), decisions(tmp_path / "joint")
    assert incremental == {k: v for k, v in together.items() if k.startswith("web/b")}
    assert incremental["web/b-exact-a2"] == ("exact_duplicate", "duplicate of web/a2")
    assert incremental["web/b-near-a3"] == ("near_duplicate", "duplicate of web/a3")
    assert incremental["web/b-longer-a4"] == (None, None)  # it beats a4: kept, and a4 stays published
    assert incremental["web/b-new-copy"] == ("near_duplicate", "duplicate of web/b-new")
    assert incremental["web/b-fresh"] == (None, None)
    assert together["web/a4"][0] == "near_duplicate"  # the joint run would have dropped a4 instead
    assert decisions(tmp_path / "run_a") == a_before

    dedup = next(s for s in json.loads((tmp_path / "run_b" / "stats" / "summary.json").read_text())["stages"]
                 if s["stage"] == "dedup")
    assert dedup["index_documents"] == 8 and dedup["duplicates_of_earlier"] == 2
    assert (dedup["shuffle_partitions"] > 0) == ("executor=ray" in how)  # the path the parameter names


def test_an_index_made_with_other_options_is_refused_before_any_work(tmp_path: Path) -> None:
    corpora(tmp_path)
    first = run_cli(str(pipeline(tmp_path, "run_a", ["a"], {"write": True})))
    assert first.returncode == 0, first.stdout + first.stderr
    index = tmp_path / "run_a" / "artifacts" / "dedup" / "index"
    result = run_cli(str(pipeline(tmp_path, "run_b", ["b"], {"read": [str(index)]})), "stages.dedup.ngram=3")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "stages.dedup.index.read" in result.stderr and "ngram: 5 there, 3 here" in result.stderr
    missing = run_cli(str(pipeline(tmp_path, "run_c", ["b"], {"read": [str(tmp_path / "nowhere")]})))
    assert missing.returncode == 2 and "is not a dedup index" in missing.stderr
    assert not (tmp_path / "run_b").exists() and not (tmp_path / "run_c").exists()
