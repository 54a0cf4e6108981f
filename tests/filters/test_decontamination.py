"""Decontamination on real benchmark test items (benchmarks/data/decontamination: GSM8K, MATH,
HumanEval and MBPP test subsets) planted in real-looking documents, and the rules behind it."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from filters.benchmark_text import (
    MULT,
    WindowHashes,
    comparable_words,
    informative,
    item_readings,
    word_hashes,
)
from filters.decontamination import Decontamination

REPO = Path(__file__).resolve().parents[2]
REAL = REPO / "benchmarks" / "data" / "decontamination"
FIXTURES = REPO / "tests" / "data" / "benchmarks"
FILES = {"gsm8k": "gsm8k_test.jsonl", "math": "math_test.jsonl", "humaneval": "humaneval.jsonl",
         "mbpp": "mbpp_test.jsonl"}


def _items(name: str) -> list[dict]:
    return [json.loads(line) for line in (REAL / FILES[name]).read_text(encoding="utf-8").splitlines()]


def _by_name(*names: str) -> dict[str, dict]:
    """Benchmarks named only by their kind: the filter knows their fields."""
    return {name: {"path": str(REAL / FILES[name])} for name in names or FILES}


@pytest.fixture(scope="module")
def decon() -> Decontamination:
    flt = Decontamination(benchmarks=_by_name())
    flt.setup()
    return flt


def _item(name: str, test) -> dict:
    return next(item for item in _items(name) if test(item))


JANET = _item("gsm8k", lambda r: r["question"].startswith("Janet’s ducks"))
PAGE = ("Weekend puzzle corner\n\nEvery Friday we post a brain teaser for the kids. This one came from a reader:\n\n"
        "“{}”\n\nPost your answers in the comments. Next week: trains, and our best sourdough tips.")


# --- catching items ------------------------------------------------------------------------------


def test_planted_item_with_light_edits_is_caught(decon):
    # upper case, punctuation dropped, a number written out, whitespace reflowed
    edited = JANET["question"].upper().replace(".", "").replace("16", "sixteen").replace(" ", "  \n", 3)
    text, signals, rejection = decon.check(PAGE.format(edited), "eng_Latn")
    assert rejection is not None and rejection.reason == "contaminated"
    assert rejection.detail.startswith("gsm8k (")
    assert "most: gsm8k item" in rejection.detail and "matched: 'janet s ducks" in rejection.detail
    assert signals["benchmark_hits"] == 1.0 and signals["item_coverage"] >= 0.5
    assert text == PAGE.format(edited)


def test_each_benchmark_is_known_by_name(decon):
    math_item = _item("math", lambda r: len(r["problem"]) > 150)
    he, mbpp = _items("humaneval")[10], _items("mbpp")[5]
    cases = {
        "math": f"Homework help thread.\n\nQ: {math_item['problem'].upper()}\n\nAny hints? I got 10.",
        # a HumanEval prompt and solution re-indented with tabs, as in a scraped gist
        "humaneval": "# my solutions\n" + (he["prompt"] + he["canonical_solution"]).replace("    ", "\t"),
        "mbpp": "Exercise: " + mbpp["text"] + "\n\n```python\n" + mbpp["code"] + "\n```\n",
    }
    for name, doc in cases.items():
        rejection = decon.check(doc)[2]
        assert rejection is not None, name
        assert rejection.detail.startswith(f"{name} ("), rejection.detail


def test_numbers_are_normalised_both_ways():
    assert comparable_words("It costs $1,000.50 — 50% off, 2.0 kg") == comparable_words("it costs 1000.5 50 percent off 2 kg")
    assert comparable_words(r"$\dfrac12 + \left( x \right)\,$") == comparable_words(r"$\frac{1}{2} + (x)$")
    # a field is also read with number words as digits and small numbers as words
    readings = item_readings("She has sixteen eggs and buys 3 more.", "en")
    assert ["she", "has", "16", "eggs", "and", "buys", "3", "more"] in readings
    assert ["she", "has", "sixteen", "eggs", "and", "buys", "three", "more"] in readings
    assert item_readings("72", "en") == [["72"]]  # a bare answer is not spelled out


def test_window_hashes_are_horner_hashes_of_every_window():
    words = comparable_words(" ".join(item["question"] for item in _items("gsm8k")[:120]))  # > 4,096 words
    assert len(words) > 4096
    hashes = word_hashes(words)
    windows = WindowHashes(hashes)

    def horner(i: int, k: int) -> int:
        value = 0
        for h in hashes[i : i + k]:
            value = (value * int(MULT) + int(h)) % (1 << 64)
        return value

    for k in (1, 3, 13, 40):
        got = windows.of_length(k)
        assert len(got) == len(words) - k + 1
        for i in (0, 1, 777, len(words) - k):
            assert int(got[i]) == horner(i, k)
    starts, lengths = np.array([0, 5, 4000]), np.array([13, 4, 12])
    assert [int(x) for x in windows.at(starts, lengths)] == [horner(i, k) for i, k in zip(starts, lengths)]


def test_ascii_fast_path_gives_the_same_words_as_the_unicode_path():
    for item in _items("gsm8k")[:50] + _items("humaneval")[:20]:
        text = item.get("question") or item["prompt"]
        # a non-ASCII character sends the text down the full path; it adds only its own word
        assert comparable_words(text + " é") == comparable_words(text) + ["é"]


def test_short_items_are_matched_whole(tmp_path):
    path = tmp_path / "short.jsonl"
    rows = [{"q": r"Compute $\dbinom{31}{28}$."},  # 4 words
            {"q": "Which planet in our solar system has the most moons?"},  # 10 words < 13
            {"q": "Capital?"}]  # under min_item_words: not indexed
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    flt = Decontamination(benchmarks={"trivia": {"path": str(path), "fields": ["q"]}})
    assert flt.index_stats["short_items"] == 2 and flt.index_stats["ngrams"] == 0
    assert flt.check("Exercise 4. COMPUTE \\dbinom{31}{28}\n\nHint: use symmetry.")[2] is not None
    assert flt.check("Quiz night! which planet in our Solar System has the most moons? Saturn.")[2] is not None
    assert flt.check("Which planet in our solar system has the most rings?")[2] is None
    assert flt.check("Compute $\\dbinom{31}{27}$ by hand.")[2] is None


def test_low_information_ngrams_are_not_indexed(tmp_path):
    path = tmp_path / "bench.jsonl"
    rows = [{"q": " ".join(str(i) for i in range(1, 40))},  # a number sequence
            {"q": " ".join(f"0x{i:02x}," for i in range(40))},  # a hex table
            {"q": "let a b c d e f g h i j k l m n o p q r s t u v w x y z"}]  # single letters
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    flt = Decontamination(benchmarks={"b": {"path": str(path), "fields": ["q"]}})
    assert flt.index_stats["ngrams"] == 0 and flt.index_stats["low_information"] > 0
    assert informative(comparable_words("Natalia sold clips to 48 of her friends in April, and then she sold"), "en", 60, 3)
    page = "A table: " + " ".join(str(i) for i in range(1, 40)) + "\n" + " ".join(f"0x{i:02x}," for i in range(40))
    assert flt.check(page)[2] is None


def test_stock_phrasing_shared_by_items_is_dropped(tmp_path):
    stock = "the greatest integer less than or equal to the real number x is written as floor x"
    rows = [{"q": f"{stock} and then problem {word} asks for something entirely different here"}
            for word in ("alpha", "bravo", "charlie")]
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    flt = Decontamination(benchmarks={"b": {"path": str(path), "fields": ["q"]}})
    assert flt.index_stats["stock_phrasing"] > 0
    assert flt.check(f"Notation. Recall that {stock}.")[2] is None
    assert flt.check(rows[1]["q"])[2] is not None


def test_a_shared_sentence_is_not_an_item(decon):
    """A document quoting a small part of a long solution is not contaminated; most of it is."""
    item = _item("math", lambda r: len(r["solution"].split()) > 120)
    words = item["solution"].split()
    assert decon.check("Notes. " + " ".join(words[40:58]) + " End of notes.")[2] is None
    _, signals, rejection = decon.check("Notes. " + " ".join(words) + " End.")
    assert rejection is not None and signals["matched_words"] >= 50


def test_a_diagram_is_a_field_apart(decon):
    """A MATH problem quoted without its [asy] diagram is caught; the diagram alone is no copy."""
    item = _item("math", lambda r: "[asy]" in r["problem"] and len(r["problem"].split("[asy]")[0].split()) > 20)
    text, diagram = item["problem"].split("[asy]", 1)
    assert decon.check("From my homework: " + text.replace(",", ""), "eng_Latn")[2] is not None
    signals = decon.score("[asy]" + diagram)
    assert signals["item_coverage"] == 0.0  # drawing code counts toward no field
    assert decon.is_contaminated(signals) == (signals["matched_words"] >= decon.long_match_words)


def test_hits_count_distinct_ngrams(decon):
    span = " ".join(JANET["question"].split()[:14])
    once = decon.score(span)["hits"]
    assert once >= len(comparable_words(span)) - 12  # at least each of its 13-grams
    assert decon.score(f"{span}. Filler words that match nothing at all. {span}")["hits"] == once


def test_every_benchmark_hit_is_named_most_hits_first(decon):
    gsm = _items("gsm8k")[2]
    he = _items("humaneval")[3]
    doc = f"{gsm['question']} {gsm['answer']}\n\nAnd some code:\n{he['prompt']}"
    _, signals, rejection = decon.check(doc)
    assert signals["benchmark_hits"] == 2.0
    assert signals["hits"] == signals["hits[gsm8k]"] + signals["hits[humaneval]"]
    assert rejection.detail.startswith(f"gsm8k ({int(signals['hits[gsm8k]'])} hits), humaneval (")


def test_unrelated_real_documents_are_not_flagged(decon):
    train = [json.loads(line) for line in (REPO / "benchmarks" / "data" / "gsm8k_train_dev.jsonl").open()]
    for row in train[:200]:  # GSM8K *train* problems: the same style, no test item
        assert decon.check(row["text"], "eng_Latn")[2] is None, row["id"]


def test_chinese_item_uses_character_ngrams():
    flt = Decontamination(benchmarks={"cmath_zh": {"path": str(FIXTURES / "cmath_zh.jsonl"),
                                                   "fields": ["question", "answer"], "lang": "cmn_Hans"}})
    item = json.loads((FIXTURES / "cmath_zh.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert comparable_words(item["question"])[:4] == ["笼", "子", "里", "有"]
    page = "今天给孩子讲了一道经典的题目。" + item["question"].replace("，", ", ").replace("？", "?") + " 大家会做吗？"
    assert flt.check(page, "cmn_Hans")[2] is not None
    assert flt.check("A classic puzzle from China: " + item["question"], "eng_Latn")[2] is not None
    assert flt.check("我们看看" + item["question"][:12] + "吧", "cmn_Hans")[2] is None


# --- configuration ----------------------------------------------------------------------------------


def test_fields_of_known_benchmarks_and_misspelt_ones():
    assert Decontamination(benchmarks=_by_name("humaneval")).index_stats["items"] == 164
    # HumanEval's solution is canonical_solution: a misspelt field is an error naming it
    bad = Decontamination(benchmarks={"humaneval": {"path": str(REAL / FILES["humaneval"]),
                                                    "fields": ["prompt", "solution"]}})
    with pytest.raises(ValueError, match=r"benchmark 'humaneval': field 'solution' occurs in no record"):
        bad.setup()
    # a file of another layout under a known name
    wrong = Decontamination(benchmarks={"gsm8k": {"path": str(REAL / FILES["mbpp"])}})
    with pytest.raises(ValueError, match=r"fields 'question', 'answer' occur in no record"):
        wrong.setup()
    with pytest.raises(ValidationError, match=r"benchmarks.mytest: .*give its text fields"):
        Decontamination(benchmarks={"mytest": {"path": "x.jsonl"}})
    with pytest.raises(ValidationError, match=r"unknown benchmark kind 'gsm9k'"):
        Decontamination(benchmarks={"mine": {"path": "x.jsonl", "kind": "gsm9k"}})
    by_kind = Decontamination(benchmarks={"mine": {"path": str(REAL / FILES["mbpp"]), "kind": "mbpp"}})
    assert by_kind.index_stats["items"] == 200


@pytest.mark.parametrize(("kind", "record", "asked"), [
    ("mmlu", {"question": "Which of the following best describes the role of the enzyme helicase during "
                          "DNA replication in eukaryotic cells?",
              "choices": ["unwinds the double helix", "joins Okazaki fragments", "adds primers", "proofreads"],
              "answer": 0, "subject": "college_biology"}, "question"),
    ("arc", {"id": "Mercury_7220990", "question": {"stem": "Which factor will most likely cause a person to develop "
                                                           "a fever when fighting off a common bacterial infection?",
                                                   "choices": [{"text": "a leg muscle relaxing", "label": "A"}]},
             "answerKey": "A"}, "question"),
    ("hellaswag", {"ind": 24, "ctx": "A man is sitting on a roof. He starts pulling up roofing on a roof and then "
                                     "carefully lays down new shingles along the edge",
                   "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off."]}, "ctx"),
])
def test_other_known_layouts(tmp_path, kind, record, asked):
    path = tmp_path / f"{kind}.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    flt = Decontamination(benchmarks={kind: {"path": str(path)}})
    question = record[asked]["stem"] if isinstance(record[asked], dict) else record[asked]
    assert flt.check(f"Practice question of the day: {question} Discuss below.")[2] is not None
    assert flt.index_stats["items"] == 1


def test_missing_file_gzip_and_fsspec_url(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"benchmark 'gsm8k'.*nope/gsm8k\.jsonl"):
        Decontamination(benchmarks={"gsm8k": {"path": str(tmp_path / "nope" / "gsm8k.jsonl")}}).setup()
    gz = tmp_path / "gsm8k.jsonl.gz"
    gz.write_bytes(gzip.compress((REAL / FILES["gsm8k"]).read_bytes()))
    flt = Decontamination(benchmarks={"gsm8k": {"path": f"file://{gz}"}})
    assert flt.index_size == Decontamination(benchmarks=_by_name("gsm8k")).index_size > 0
    assert flt.check(PAGE.format(JANET["question"]))[2] is not None


def test_action_flag_and_per_language_overrides_share_the_index():
    flt = Decontamination(benchmarks=_by_name("gsm8k"), action="flag", overrides={"eng_Latn": {"min_hits": 1000}})
    page = PAGE.format(JANET["question"])
    assert flt.check(page, "deu_Latn")[2] is not None
    assert flt.check(page, "eng_Latn")[2] is None
    assert flt.for_language("eng_Latn").index is flt.index


def test_an_index_is_rebuilt_in_a_process_with_another_hash_salt(tmp_path):
    """Word hashes are Python's salted string hash: a filter pickled with its index (as Ray ships a
    stage's config to workers) must rebuild it where the salt differs, and still catch the item."""
    flt = Decontamination(benchmarks=_by_name("gsm8k"))
    flt.setup()
    blob = tmp_path / "filter.pickle"
    blob.write_bytes(pickle.dumps(flt))
    page = PAGE.format(JANET["question"])
    code = ("import pickle, sys; flt = pickle.loads(open(sys.argv[1], 'rb').read()); "
            "print(flt.check(sys.argv[2])[2] is not None)")
    for seed in ("1", "2"):
        result = subprocess.run([sys.executable, "-c", code, str(blob), page], capture_output=True, text=True,
                                env={**os.environ, "PYTHONHASHSEED": seed}, cwd=REPO, timeout=120)
        assert result.stdout.strip() == "True", result.stderr


# --- the report ------------------------------------------------------------------------------------


def test_report_counts_documents_per_benchmark_and_items(decon):
    page = PAGE.format(JANET["question"])
    signals = decon.score(page)
    counts = decon.report(signals)
    assert counts["decontamination.documents[gsm8k]"] == 1.0
    item_key = next(k for k in counts if k.startswith("decontamination.item[gsm8k]"))
    assert decon.report(decon.score("An unrelated sentence about gardening and tomatoes.")) == {}
    metrics = {"decontamination.documents[gsm8k]": 3.0, item_key: 3.0, "decontamination.item[gsm8k]99": 1.0}
    summary = decon.summarize(metrics)["benchmarks"]
    assert summary["gsm8k"]["documents"] == 3 and summary["math"]["documents"] == 0
    top = summary["gsm8k"]["top_items"]
    assert [t["documents"] for t in top] == [3, 1]
    assert top[0]["text"].startswith("Janet’s ducks")
