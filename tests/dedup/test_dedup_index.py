"""Incremental dedup (``dedup: {index: {write, read, prefer}}``): corpus B deduplicated against
corpus A's index decides B's documents as one run over A + B does (``prefer: best``), or so with
A's copies always kept (``prefer: earlier``), and never touches A."""

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


@pytest.mark.parametrize(("how", "prefer"), [
    (["executor=local"], "best"),  # one pass in the driver
    (["executor=local"], "earlier"),
    pytest.param(["executor=ray", "stages.dedup.single_pass_mb=0"], "earlier",  # Ray's shuffles: 3 Ray runs
                 marks=pytest.mark.slow),
])
def test_b_against_a_index_decides_b_as_a_joint_run_does(tmp_path: Path, how: list[str], prefer: str) -> None:
    """prefer: best equals a joint A + B run restricted to B's documents; prefer: earlier too,
    except that a new copy that would beat an earlier one is removed in its favour."""
    corpora(tmp_path)
    first = run_cli(str(pipeline(tmp_path, "run_a", ["a"], {"write": True})), *how)
    assert first.returncode == 0, first.stdout + first.stderr
    index = tmp_path / "run_a" / "artifacts" / "dedup" / "index"
    assert (index / "_index.json").is_file()
    a_before = decisions(tmp_path / "run_a")

    second = run_cli(str(pipeline(tmp_path, "run_b", ["b"], {"read": [str(index)], "prefer": prefer})), *how)
    assert second.returncode == 0, second.stdout + second.stderr
    joint = run_cli(str(pipeline(tmp_path, "joint", ["a", "b"], {})), *how)
    assert joint.returncode == 0, joint.stdout + joint.stderr

    incremental, together = decisions(tmp_path / "run_b"), decisions(tmp_path / "joint")
    expected = {k: v for k, v in together.items() if k.startswith("web/b")}
    a0_cluster_kept = "web/a0" if a_before["web/a0"] == (None, None) else "web/a1"
    if prefer == "earlier":  # the published copies stay the only ones
        expected["web/b-longer-a4"] = ("near_duplicate", "duplicate of web/a4")
        expected["web/b-longer-a0"] = ("near_duplicate", f"duplicate of {a0_cluster_kept}")
    else:  # they beat a4 and the a0/a1 pair: kept beside the earlier copies
        assert together["web/a4"][0] == "near_duplicate" and expected["web/b-longer-a4"] == (None, None)
    assert incremental == expected
    assert incremental["web/b-exact-a2"] == ("exact_duplicate", "duplicate of web/a2")
    assert incremental["web/b-near-a3"] == ("near_duplicate", "duplicate of web/a3")
    assert incremental["web/b-new-copy"] == ("near_duplicate", "duplicate of web/b-new")
    assert incremental["web/b-fresh"] == (None, None)
    assert decisions(tmp_path / "run_a") == a_before

    dedup = next(s for s in json.loads((tmp_path / "run_b" / "stats" / "summary.json").read_text())["stages"]
                 if s["stage"] == "dedup")
    assert dedup["index_documents"] == 8
    assert dedup["duplicates_of_earlier"] == (4 if prefer == "earlier" else 2)
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


def test_ray_tasks_write_and_read_the_index_as_the_local_path_does(tmp_path: Path) -> None:
    """Through Ray's shuffles the index is written by the tasks that hold the sketches and read
    by tasks (no process holds it whole): B's decisions equal the in-process path's."""
    corpora(tmp_path)
    on_ray = ["executor=ray", "stages.dedup.single_pass_mb=0"]
    for name, how in (("local", []), ("ray", on_ray)):
        first = run_cli(str(pipeline(tmp_path, f"a_{name}", ["a"], {"write": True})), *how)
        assert first.returncode == 0, first.stdout + first.stderr
        index = tmp_path / f"a_{name}" / "artifacts" / "dedup" / "index"
        assert json.loads((index / "_index.json").read_text())["documents"] == 8
        assert list((index / "sketches").glob("part-*.parquet"))
        second = run_cli(str(pipeline(tmp_path, f"b_{name}", ["b"], {"read": [str(index)]})), *how)
        assert second.returncode == 0, second.stdout + second.stderr
    assert decisions(tmp_path / "b_ray") == decisions(tmp_path / "b_local")
    assert decisions(tmp_path / "a_ray") == decisions(tmp_path / "a_local")
    removed = pl.read_parquet(tmp_path / "a_ray" / "artifacts" / "dedup" / "index" / "sketches" / "*.parquet")
    assert removed["removed"].sum() == 1  # a0 and a1 are near copies: one of them was removed
    dedup = next(s for s in json.loads((tmp_path / "b_ray" / "stats" / "summary.json").read_text())["stages"]
                 if s["stage"] == "dedup")
    assert dedup["index_documents"] == 8 and dedup["duplicates_of_earlier"] == 4 and dedup["shuffle_partitions"] > 0


def test_a_small_batch_against_a_larger_index_is_not_run_in_one_pass(tmp_path: Path) -> None:
    """The one-pass path reads every earlier sketch into the driver: whether to take it counts
    the index's sketches (estimated from its document count), not only the new batch's."""
    from curate.dedup.search import DuplicateSearch
    from curate.stages.dedup import DedupConfig
    from tests.stages.test_dedup import table

    corpora(tmp_path)
    b_rows = [json.loads(line) for line in (tmp_path / "b" / "b.jsonl").read_text().splitlines()]
    limit_mb = 0.02
    assert DuplicateSearch(DedupConfig(threshold=0.8)).sketch(table(b_rows)).nbytes < limit_mb * 2**20  # B alone fits
    first = run_cli(str(pipeline(tmp_path, "run_a", ["a"], {"write": True})))
    assert first.returncode == 0, first.stdout + first.stderr
    index = tmp_path / "run_a" / "artifacts" / "dedup" / "index"
    second = run_cli(str(pipeline(tmp_path, "run_b", ["b"], {"read": [str(index)]})), "executor=ray",
                     f"stages.dedup.single_pass_mb={limit_mb}")
    assert second.returncode == 0, second.stdout + second.stderr
    dedup = next(s for s in json.loads((tmp_path / "run_b" / "stats" / "summary.json").read_text())["stages"]
                 if s["stage"] == "dedup")
    assert dedup["shuffle_partitions"] > 0 and dedup["index_documents"] == 8
    assert decisions(tmp_path / "run_b")["web/b-exact-a2"] == ("exact_duplicate", "duplicate of web/a2")
