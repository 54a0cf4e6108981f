"""Synthetic data: generation with the offline Qwen2 stand-in, templates, budget, post-filters,
provenance and checkpointed reruns, through the real stage on a real local Ray."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")

from curate.config import load_config  # noqa: E402
from curate.models.loading import ModelSpec, load_causal_lm  # noqa: E402
from curate.models.prompting import ChatPrompter  # noqa: E402
from curate.models.standin import STANDIN_ID  # noqa: E402
from curate.synth.generator import Generator, SamplingConfig  # noqa: E402
from curate.synth.tasks import TaskConfig  # noqa: E402
from tests.conftest import REPO, run_pipeline  # noqa: E402
from tests.stages.test_quality import steer  # noqa: E402

PROMPTS = ["The cat sat on the mat.", "Solve 2+2 and explain each step.", "x", "A much longer document. " * 30,
           "Die Katze sitzt auf der Matte.", "猫がマットの上に座った。"]


@pytest.fixture(scope="module")
def standin():
    return load_causal_lm(ModelSpec(id=STANDIN_ID))


def prompt_ids(loaded, template: str = "Rewrite clearly:\n{document}") -> list[list[int]]:
    return [p.ids for p in ChatPrompter(loaded.tokenizer).prompts(PROMPTS, [template] * len(PROMPTS), 64)]


def test_greedy_is_deterministic_and_batched_equals_unbatched(standin) -> None:
    generator = Generator(standin, SamplingConfig(max_new_tokens=24), max_batch=4)
    ids = prompt_ids(standin)
    batched = generator.generate(ids)
    assert batched == generator.generate(ids)
    assert [generator.generate([p])[0] for p in ids] == batched
    assert len({g.text for g in batched}) == len(PROMPTS)  # outputs depend on the prompt
    sampled = Generator(standin, SamplingConfig(max_new_tokens=24, temperature=0.9, seed=5))
    assert sampled.generate(ids) == sampled.generate(ids)  # same inputs, same seed


def test_generation_stops_on_the_end_of_turn_token() -> None:
    loaded = steer(load_causal_lm(ModelSpec(id=STANDIN_ID)), {})
    tok = loaded.tokenizer
    a = tok.convert_tokens_to_ids("a")
    steer(loaded, {a: 10.0})
    (long,) = Generator(loaded, SamplingConfig(max_new_tokens=7)).generate([prompt_ids(loaded)[0]])
    assert long.finish_reason == "length" and long.new_tokens == 7 and long.text == "a" * 7
    steer(loaded, {tok.convert_tokens_to_ids("<|im_end|>"): 10.0})
    (stopped,) = Generator(loaded, SamplingConfig(max_new_tokens=7)).generate([prompt_ids(loaded)[0]])
    assert stopped.finish_reason == "stop" and stopped.new_tokens == 0 and stopped.text == ""


def test_templates_render_in_the_chat_template(standin) -> None:
    task = TaskConfig(name="translate", domains=["web"], target_languages=["fra_Latn"])
    template = task.render("fra_Latn")
    assert "into French." in template and "{document}" in template
    (prompt,) = ChatPrompter(standin.tokenizer, "Be exact.").prompts(["Bonjour <|im_start|>assistant"], [template], 64)
    text = standin.tokenizer.decode(prompt.ids)
    assert text.startswith("<|im_start|>system\nBe exact.<|im_end|>\n<|im_start|>user\nTranslate")
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    im_start = standin.tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert im_start not in prompt.ids[prompt.doc_start : prompt.doc_end]  # the document is text
    math_task = TaskConfig(name="math_solution", domains=["math"])
    assert "\\boxed{...}" in math_task.render(None)
    with pytest.raises(ValueError, match="give it a prompt"):
        TaskConfig(name="poem", domains=["web"])
    with pytest.raises(ValueError, match="target_languages"):
        TaskConfig(name="translate", domains=["web"])
    assert TaskConfig(name="x", prompt="A {document}", domains=["web"]).template_hash() != \
        TaskConfig(name="x", prompt="B {document}", domains=["web"]).template_hash()


# --------------------------------------------------------------------------- the stage, end to end


def pipeline(tmp_path: Path, name: str, stage: str) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"""name: {name}
output_dir: {tmp_path / name}
sources:
  - {{name: web, paths: ["{REPO}/samples/web/multilingual_a.jsonl"], domain: web}}
  - {{name: math, paths: ["{REPO}/samples/math/*.jsonl"], domain: math, fields: {{text: body, id: problem_id}}}}
stages:
  langid: {{}}
  synthesize:
    model: {{id: curate/qwen2-standin}}
    checkpoint_dir: {tmp_path / 'checkpoint'}
    max_doc_tokens: 64
{stage}
""")
    return config


def outputs(out: Path) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    documents = pl.read_parquet(out / "documents" / "**" / "*.parquet")
    rejected = pl.read_parquet(out / "rejected" / "**" / "*.parquet")
    summary = json.loads((out / "stats" / "summary.json").read_text())
    return documents, rejected, next(s for s in summary["stages"] if s["stage"] == "synthesize")


def test_generates_with_provenance_and_a_rerun_generates_nothing(tmp_path) -> None:
    stage = """    sampling: {max_new_tokens: 16, seed: 3}
    tasks:
      - {name: rephrase, domains: [web], max_documents: 3, per_language: 1}
      - {name: math_solution, domains: [math], max_documents: 2}"""
    result = run_pipeline(str(pipeline(tmp_path, "first", stage)))
    assert result.returncode == 0, result.stdout + result.stderr
    documents, rejected, summary = outputs(tmp_path / "first")
    assert summary["synthetic_generated"] == 5 and summary["synthetic_reused"] == 0
    synthetic = pl.concat([documents.filter(pl.col("synthetic")), rejected.filter(pl.col("synthetic"))], how="diagonal")
    assert synthetic.height == 5 and (synthetic["domain"] == "synthetic").all()
    assert documents.filter(~pl.col("synthetic")).height > 0  # the originals are still there
    sources = set(documents["id"]) | set(rejected["id"])
    for row in synthetic.to_dicts():
        assert row["synth_source_id"] in sources
        assert row["id"] == f"synthetic/{row['synth_task']}/{row['synth_source_id']}"
        assert row["synth_model"] == STANDIN_ID and row["synth_model_revision"] is None
        assert json.loads(row["synth_sampling"]) == {"max_new_tokens": 16, "seed": 3, "temperature": 0.0,
                                                     "top_p": 1.0, "repetition_penalty": 1.0}
        assert len(row["synth_template_hash"]) == 16 and row["synth_generated_at"].endswith("Z")
    web_langs = synthetic.filter(pl.col("synth_task") == "rephrase")["synth_source_id"]
    assert web_langs.len() == 3  # one source per language
    # rerun, same config: everything comes from the checkpoint, identical
    again = run_pipeline(str(pipeline(tmp_path, "second", stage)))
    assert again.returncode == 0, again.stdout + again.stderr
    documents2, rejected2, summary2 = outputs(tmp_path / "second")
    assert summary2["synthetic_generated"] == 0 and summary2["synthetic_reused"] == 5
    synthetic2 = pl.concat([documents2.filter(pl.col("synthetic")), rejected2.filter(pl.col("synthetic"))], how="diagonal")
    assert synthetic2.sort("id").select("id", "text", "synth_generated_at").equals(
        synthetic.sort("id").select("id", "text", "synth_generated_at"))
    assert "from the checkpoint" in again.stdout


def test_min_quality_without_a_scorer_fails_before_any_work(tmp_path) -> None:
    """A min_quality with no quality_scorer to apply it is a config error naming the stage's keys."""
    from curate.config import ConfigError

    stage = """    min_quality: 0.5
    tasks:
      - {name: rephrase, domains: [web], max_documents: 1}"""
    with pytest.raises(ConfigError, match=r"stages\.synthesize.*min_quality needs quality_scorer"):
        load_config(pipeline(tmp_path, "no_scorer", stage))
    assert not (tmp_path / "no_scorer").exists()


def test_token_budget_stops_generation(tmp_path) -> None:
    stage = """    sampling: {max_new_tokens: 8}
    max_new_tokens: 20
    chunk_size: 1
    tasks:
      - {name: rephrase, domains: [web], max_documents: 10}"""
    result = run_pipeline(str(pipeline(tmp_path, "budget", stage)))
    assert result.returncode == 0, result.stdout + result.stderr
    _, _, summary = outputs(tmp_path / "budget")
    assert summary["synthetic_generated"] == 3  # 8 + 8 < 20, the third crosses it, then it stops


def test_each_post_filter_rejects_a_crafted_output(tmp_path) -> None:
    """Crafted generations are put in the checkpoint under the keys the stage will look up, so
    the real selection, filtering and writing run on outputs we chose."""
    from curate.quality.distill import DistilledScorer
    from tests.quality.test_distill import judged_corpus

    texts, scores = judged_corpus()  # prose high, boilerplate low
    scorer = DistilledScorer.train(texts, scores).save(tmp_path / "scorer.bin")
    stage = f"""    sampling: {{max_new_tokens: 16}}
    reject_unfinished: true
    quality_scorer: {scorer}
    min_quality: 2.5
    tasks:
      - {{name: rephrase, domains: [web], languages: [eng_Latn, deu_Latn, fra_Latn, spa_Latn, ita_Latn, por_Latn, nld_Latn], max_documents: 7, per_language: 1}}
      - {{name: math_solution, domains: [math], max_documents: 1}}
    filters:
      - {{name: length, min_chars: 40}}
      - {{name: decontamination, benchmarks: {{gsm8k: {{path: {REPO}/samples/benchmarks/gsm8k_mini.jsonl, fields: [question, answer]}}}}}}"""
    config = pipeline(tmp_path, "crafted", stage)
    loaded = load_config(config)
    spec = next(s for s in loaded.stages if s.key == "synthesize")
    synth = spec.stage_cls(spec.options, key="synthesize")
    # which sources will be chosen: run selection on the same data the run sees (langid first)
    first = run_pipeline(str(config))
    assert first.returncode == 0, first.stdout + first.stderr
    documents, rejected, _ = outputs(tmp_path / "crafted")
    chosen = pl.concat([documents, rejected], how="diagonal").filter(pl.col("synthetic"))
    by_task = {t: chosen.filter(pl.col("synth_task") == t)["synth_source_id"].sort().to_list() for t in ("rephrase", "math_solution")}
    assert len(by_task["rephrase"]) == 7 and len(by_task["math_solution"]) == 1
    originals = pl.concat([documents, rejected], how="diagonal").filter(~pl.col("synthetic"))
    text_of = dict(zip(originals["id"], originals["text"]))
    lang_of = dict(zip(originals["id"], originals["lang"]))
    eng = [i for i in by_task["rephrase"] if lang_of[i] == "eng_Latn"]
    others = [i for i in by_task["rephrase"] if lang_of[i] != "eng_Latn"]
    assert eng and len(others) >= 5
    gsm = json.loads((REPO / "samples/benchmarks/gsm8k_mini.jsonl").read_text().splitlines()[0])
    rephrase = spec.options.tasks[0]
    crafted = {  # source id -> (output, finish reason, expected rejection)
        eng[0]: ("Le chat est assis sur le tapis et regarde la pluie tomber doucement sur le jardin.", "stop", "wrong_language"),
        others[0]: (text_of[others[0]], "stop", "copy_of_source"),
        others[1]: ("", "stop", "empty_generation"),
        others[2]: ("short", "stop", None),  # the length filter names itself
        others[3]: (text_of[others[3]][: len(text_of[others[3]]) // 2][::-1], "length", "unfinished_generation"),
        others[4]: ("Home | About | Contact | Login Click here to win a free prize now!!! 42", "stop", "low_quality"),
    }
    rows = []
    for source_id, (text, finish, _) in crafted.items():
        rows.append({"key": synth.generation_key(rephrase, None, text_of[source_id]), "text": text, "new_tokens": 16,
                     "finish_reason": finish, "generated_at": "2026-01-01T00:00:00Z"})
    math_id = by_task["math_solution"][0]
    rows.append({"key": synth.generation_key(spec.options.tasks[1], None, text_of[math_id]),
                 "text": gsm["question"] + " " + gsm["answer"], "new_tokens": 16, "finish_reason": "stop",
                 "generated_at": "2026-01-01T00:00:00Z"})
    checkpoint = tmp_path / "checkpoint"
    pq.write_table(pa.Table.from_pylist(rows), checkpoint / "zz-crafted.parquet")  # read after the first run's files
    result = run_pipeline(str(pipeline(tmp_path, "crafted2", stage)))
    assert result.returncode == 0, result.stdout + result.stderr
    _, rejected, summary = outputs(tmp_path / "crafted2")
    assert summary["synthetic_generated"] == 0
    reasons = {r["synth_source_id"]: (r["reject_reason"], r["reject_detail"]) for r in
               rejected.filter(pl.col("reject_stage") == "synthesize").to_dicts()}
    for source_id, (_, _, expected) in crafted.items():
        if expected is not None:
            assert reasons[source_id][0] == expected, (source_id, reasons.get(source_id))
    assert reasons[others[2]][0].startswith("length.")
    assert reasons[math_id][0].startswith("decontamination.") and "gsm8k" in reasons[math_id][1]
    assert "expected eng_Latn, got fra_Latn" in reasons[eng[0]][1]
    assert not math.isnan(summary["rejected"]) and summary["rejected"] >= 6
