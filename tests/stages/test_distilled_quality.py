"""The distilled quality stage end to end: judge a sample with the stand-in, train a fastText
scorer, score everything; then reuse the saved scorer without the judge, with thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import REPO, run_cli, run_pipeline

pytest.importorskip("torch")


def pipeline(tmp_path: Path, name: str, stage: str) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"""name: {name}
output_dir: {tmp_path / name}
sources:
  - {{name: web, paths: ["{REPO}/samples/web/*.jsonl"], domain: web}}
  - {{name: junk, paths: ["{REPO}/samples/junk/*.jsonl"], domain: web}}
  - {{name: math, paths: ["{REPO}/samples/math/*.jsonl"], domain: math, fields: {{text: body, id: problem_id}}}}
stages:
  distilled_quality:
{stage}
""")
    return config


def outputs(out: Path) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    documents = pl.read_parquet(out / "documents" / "**" / "*.parquet")
    if list((out / "rejected").rglob("*.parquet")):
        rejected = pl.read_parquet(out / "rejected" / "**" / "*.parquet")
    else:  # nothing rejected
        rejected = documents.clear().with_columns(pl.lit(None, pl.String).alias(c) for c in
                                                  ("reject_stage", "reject_reason", "reject_detail"))
    summary = json.loads((out / "stats" / "summary.json").read_text())
    return documents, rejected, next(s for s in summary["stages"] if s["stage"] == "distilled_quality")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("distill")
    config = pipeline(tmp, "train", """    judge: {model: {id: curate/qwen2-standin}, max_doc_tokens: 64}
    sample_per_group: 30
    group_by: [domain]
    heldout: 0.25""")
    result = run_pipeline(str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp, tmp / "train", result


def test_judges_a_sample_per_group_and_scores_everything(trained) -> None:
    _, out, result = trained
    documents, rejected, stage = outputs(out)
    web = documents.filter(pl.col("domain") == "web").height + rejected.filter(pl.col("domain") == "web").height
    math = documents.filter(pl.col("domain") == "math").height
    assert web > 30 and math < 30
    assert stage["judged_docs"] == 30 + math  # capped per group
    assert stage["heldout_docs"] == round(stage["judged_docs"] * 0.25)
    assert 0 <= stage["heldout_f1"] <= 1 and "heldout_spearman" in stage
    assert documents["quality_score"].null_count() == 0 and documents["quality_score"].is_between(0, 5).all()
    judged = documents.filter(pl.col("quality_judge_score").is_not_null())
    assert judged.height + rejected["quality_judge_score"].drop_nulls().len() == stage["judged_docs"]
    assert (out / "artifacts" / "distilled_quality" / "scorer.bin").is_file()
    assert "trained a fastText scorer" in result.stdout and "held-out agreement" in result.stdout


def test_run_scores_equal_the_saved_scorer(trained) -> None:
    from curate.quality.distill import DistilledScorer

    _, out, _ = trained
    documents, _, _ = outputs(out)
    scorer = DistilledScorer.load(out / "artifacts" / "distilled_quality" / "scorer.bin")
    expected = scorer.score(documents["text"].to_list())
    assert (abs(documents["quality_score"].to_numpy() - expected) < 1e-9).all()


def test_saved_scorer_is_reused_without_the_judge_and_thresholds_reject(tmp_path) -> None:
    """The stand-in's judgements are noise, so this scorer learns a real signal instead (prose
    and math high, boilerplate low; see test_distill) and the run reuses it by path."""
    from curate.quality.distill import DistilledScorer
    from tests.quality.test_distill import judged_corpus

    texts, scores = judged_corpus()
    scorer_path = DistilledScorer.train(texts, scores).save(tmp_path / "scorer.bin")
    limit = 2.5
    # the judge is never needed: no model is named, and the hub is offline
    config = pipeline(tmp_path, "reuse", f"""    scorer: {scorer_path}
    thresholds: {{web: {limit}}}""")
    result = run_cli(str(config), env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    documents, rejected, stage = outputs(tmp_path / "reuse")
    assert "judged_docs" not in stage and documents["quality_judge_score"].null_count() == documents.height
    low = rejected.filter(pl.col("reject_stage") == "distilled_quality")
    assert low.height > 0 and (low["reject_reason"] == "low_quality").all()
    for row in low.to_dicts():
        assert row["domain"] == "web" and row["quality_score"] < limit
        assert row["reject_detail"] == f"distilled score {row['quality_score']:.3f} < {limit:g} (web)"
    assert (documents.filter(pl.col("domain") == "web")["quality_score"] >= limit).all()
    assert documents.filter(pl.col("domain") == "web").height > low.height  # prose kept
    assert set(low["source"]) >= {"junk"}
    scorer = DistilledScorer.load(scorer_path)
    assert (abs(documents["quality_score"].to_numpy() - scorer.score(documents["text"].to_list())) < 1e-9).all()


def test_config_needs_a_model_or_a_scorer(tmp_path) -> None:
    config = pipeline(tmp_path, "bad", "    sample_per_group: 10")
    result = run_pipeline(str(config))
    assert result.returncode == 2 and "set judge" in result.stdout + result.stderr
    flat = pipeline(tmp_path, "flat", "    model: {id: curate/qwen2-standin}\n    max_doc_tokens: 64")
    result = run_pipeline(str(flat))  # the judge's options outside their block: told where they go
    assert result.returncode == 2 and "max_doc_tokens, model: the judge's options go in a judge: block" in (
        result.stdout + result.stderr)
    missing = pipeline(tmp_path, "missing", f"    scorer: {tmp_path / 'nope.bin'}")
    result = run_pipeline(str(missing))
    assert result.returncode == 2 and "stages.distilled_quality.scorer" in result.stdout + result.stderr
