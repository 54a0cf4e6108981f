"""Decontamination (benchmark n-gram overlap) and PII redaction filters, on real fixture files."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from filters.base import Rejection
from filters.decontamination import Decontamination, _word_hash, ngram_words, normalize
from filters.pii import PIIRedaction
from filters.words import split_words

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "tests" / "data" / "benchmarks"
SAMPLES = REPO / "samples"

FIELDS = {
    "gsm8k": ["question", "answer"],
    "math": ["problem", "solution"],
    "humaneval": ["prompt", "canonical_solution", "test"],
    "mbpp": ["text", "code", "test_list"],
    "cmath_zh": ["question", "answer"],
}


def _benchmarks(**only: list[str]) -> dict[str, dict]:
    names = only or FIELDS
    return {name: {"path": str(BENCH / f"{name}.jsonl"), "fields": FIELDS[name]} for name in names}


def _items(name: str) -> list[dict]:
    return [json.loads(line) for line in (BENCH / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def decon() -> Decontamination:
    flt = Decontamination(benchmarks=_benchmarks())
    flt.setup()
    return flt


WEB_PAGE = """Weekend baking roundup — our readers' favourite puzzles

Every Friday we post a little brain teaser for the kids. This week's came from a reader in Leeds,
who says her class loved it. Here it is, lightly edited:

"MARISOL bakes 24 muffins for the school fair!! She sells three-quarters of them in the morning
and  gives 2 of the rest to her friend. How many muffins does she still have?"

Post your answers in the comments. Next week: a puzzle about trains, and our best sourdough tips.
"""


# --- decontamination ---------------------------------------------------------------------------


def test_planted_gsm8k_problem_with_light_edits_is_caught(decon):
    # case changes, punctuation changes, a double space, and two words changed ("neighbour" ->
    # "friend", "left" -> "still have") near the end, outside the 13-word windows that survive.
    text, signals, rejection = decon.check(WEB_PAGE, "eng_Latn")
    assert text == WEB_PAGE
    assert isinstance(rejection, Rejection)
    assert rejection.reason == "contaminated"
    assert rejection.detail.startswith("13-gram overlap with gsm8k (")
    assert "math" not in rejection.detail and "humaneval" not in rejection.detail
    assert signals["hits"] >= 5
    assert signals["benchmark_hits"] == 1.0
    assert not decon.filter({"text": WEB_PAGE, "lang": "eng_Latn"})


def test_each_benchmark_is_named(decon):
    math_item = _items("math")[2]
    he = _items("humaneval")[0]
    mbpp = _items("mbpp")[1]
    cases = {
        "math": f"Homework help thread.\n\nQ: {math_item['problem'].upper()}\n\nAny hints? I got 10.",
        # the prompt and solution re-indented with tabs, as in a scraped gist
        "humaneval": "# my solutions\n" + (he["prompt"] + he["canonical_solution"]).replace("    ", "\t"),
        "mbpp": "Exercise: " + mbpp["text"] + "\n\n```python\n" + mbpp["code"] + "\n```\n",
    }
    for name, doc in cases.items():
        rejection = decon.check(doc)[2]
        assert rejection is not None, name
        assert re.fullmatch(rf"13-gram overlap with {name} \(\d+ hits?\)", rejection.detail), rejection.detail


def test_detail_lists_every_benchmark_hit_most_hits_first(decon):
    gsm = _items("gsm8k")[2]
    math_item = _items("math")[0]
    doc = f"{gsm['question']} {gsm['answer']}\n\nUnrelated aside. {math_item['problem']}"
    _, signals, rejection = decon.check(doc)
    assert signals["benchmark_hits"] == 2.0
    assert signals["hits"] == signals["hits[gsm8k]"] + signals["hits[math]"]
    m = re.fullmatch(r"13-gram overlap with gsm8k \((\d+) hits\), math \((\d+) hits?\)", rejection.detail)
    assert m, rejection.detail
    assert int(m.group(1)) == signals["hits[gsm8k]"] > int(m.group(2)) == signals["hits[math]"]


def _sample_docs() -> list[tuple[str, str | None]]:
    docs = []
    for path in [SAMPLES / "web" / "multilingual_a.jsonl", SAMPLES / "web" / "multilingual_b.jsonl"]:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            docs.append((row["text"], row.get("expected_lang")))
    for line in (SAMPLES / "math" / "problems.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        docs.append((row["body"], row.get("expected_lang")))
    return docs


def test_unrelated_documents_are_not_flagged(decon):
    docs = _sample_docs()
    assert len(docs) >= 50
    for text, lang in docs:
        _, signals, rejection = decon.check(text, lang)
        assert rejection is None, (text[:80], rejection)
        assert signals["hits"] == 0.0 and signals["benchmark_hits"] == 0.0


def test_fast_word_path_matches_full_normalisation():
    for text, lang in _sample_docs():
        if lang not in ("cmn_Hani", "jpn_Jpan"):  # CJK is split per character whatever the lang
            assert ngram_words(text, lang) == split_words(normalize(text), lang)
    assert normalize("  Ｆｕｌｌ-width, “Quotes”…  and\tTABS!! ") == "full width quotes and tabs"


def test_chinese_benchmark_item_uses_character_ngrams(decon):
    item = _items("cmath_zh")[0]
    assert ngram_words(item["question"])[:4] == ["笼", "子", "里", "有"]
    # quoted inside a Chinese forum post with different punctuation and an inserted space
    page = "今天给孩子讲了一道经典的题目。" + item["question"].replace("，", ", ").replace("？", "?") + " 大家会做吗？"
    rejection = decon.check(page, "cmn_Hani")[2]
    assert rejection is not None and "cmath_zh" in rejection.detail
    # the same item quoted in an English page (lang says Latin script) is still found
    assert decon.check("A classic puzzle from China: " + item["question"], "eng_Latn")[2] is not None
    # twelve consecutive characters are not enough for 13-gram overlap
    assert decon.check("我们看看" + item["question"][:12] + "吧", "cmn_Hani")[2] is None


def test_hits_count_distinct_ngrams_and_honour_ngram_and_min_hits():
    answer_words = ngram_words(_items("gsm8k")[4]["answer"])
    span = " ".join(answer_words[3:17])  # 14 words: two distinct 13-grams
    doc = f"Notes from class. {span}. That is all."
    base = Decontamination(benchmarks=_benchmarks(gsm8k=[]))
    signals = base.score(doc)  # score() builds the index on first use
    assert signals["hits"] == 2.0
    assert base.reject_reason(signals) is not None
    assert Decontamination(benchmarks=_benchmarks(gsm8k=[]), min_hits=2).check(doc)[2] is not None
    assert Decontamination(benchmarks=_benchmarks(gsm8k=[]), min_hits=3).check(doc)[2] is None
    # a 10-word overlap is below 13 but caught with ngram=10 (one hit, singular in the detail)
    short = f"Notes from class. {' '.join(answer_words[3:13])}. That is all."
    assert base.check(short)[2] is None
    rejection = Decontamination(benchmarks=_benchmarks(gsm8k=[]), ngram=10).check(short)[2]
    assert rejection == Rejection("contaminated", "10-gram overlap with gsm8k (1 hit)")


def test_repeated_ngram_counts_once(decon):
    item = _items("gsm8k")[1]["question"]
    once = decon.score(item)["hits"]
    assert decon.score(f"{item}\n\n{item}\n\n{item}")["hits"] == once


def test_short_items_are_indexed_whole(tmp_path):
    path = tmp_path / "short.jsonl"
    rows = [
        {"q": "Which planet in our solar system has the most moons?"},  # 10 words < 13
        {"q": "Capital of France?"},  # under min_item_words: not indexed
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    flt = Decontamination(benchmarks={"trivia": {"path": str(path), "fields": ["q"]}})
    flt.setup()
    assert flt.index_size == 1
    doc = "Quiz night! which planet in our Solar System has the most moons? Saturn, as of 2023."
    assert flt.check(doc)[2] == Rejection("contaminated", "13-gram overlap with trivia (1 hit)")
    assert flt.check("Which planet in our solar system has the most rings?")[2] is None
    assert flt.check("The capital of France is Paris.")[2] is None


def test_action_flag_still_returns_the_rejection():
    flt = Decontamination(benchmarks=_benchmarks(gsm8k=[]), action="flag")
    _, _, rejection = flt.check(WEB_PAGE)
    assert rejection is not None and rejection.reason == "contaminated"
    assert flt.action == "flag"


def test_per_language_overrides_share_the_index(decon):
    flt = Decontamination(benchmarks=_benchmarks(gsm8k=[]), overrides={"eng_Latn": {"min_hits": 1000}})
    flt.setup()
    assert flt.check(WEB_PAGE, "deu_Latn")[2] is not None
    assert flt.check(WEB_PAGE, "eng_Latn")[2] is None
    assert flt.for_language("eng_Latn").index_size == flt.index_size


def test_gzip_and_fsspec_url(tmp_path):
    gz = tmp_path / "gsm8k.jsonl.gz"
    gz.write_bytes(gzip.compress((BENCH / "gsm8k.jsonl").read_bytes()))
    plain = Decontamination(benchmarks=_benchmarks(gsm8k=[]))
    flt = Decontamination(benchmarks={"gsm8k": {"path": f"file://{gz}", "fields": FIELDS["gsm8k"]}})
    flt.setup()
    plain.setup()
    assert flt.index_size == plain.index_size > 0
    assert flt.check(WEB_PAGE)[2] is not None


def test_missing_benchmark_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope" / "mmlu.jsonl"
    flt = Decontamination(benchmarks={"mmlu": {"path": str(missing), "fields": ["question"]}})
    with pytest.raises(FileNotFoundError, match=r"benchmark 'mmlu'.*nope/mmlu\.jsonl"):
        flt.setup()


def test_fields_absent_from_the_file_are_an_error():
    flt = Decontamination(benchmarks={"gsm8k": {"path": str(BENCH / "gsm8k.jsonl"), "fields": ["prompt"]}})
    with pytest.raises(ValueError, match=r"none of the fields \['prompt'\]"):
        flt.setup()


def test_hash_is_stable_across_processes():
    # blake2b, not Python's salted hash(): the same value in every worker and on every machine
    assert _word_hash("muffins") == 0x8E8562E1792FE8B7
    assert _word_hash("鸡") == 0xCA38C052CD539C4B


# --- PII -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pii() -> PIIRedaction:
    return PIIRedaction()


def test_emails(pii):
    text = "Write to jane.doe@example.com or bob+news@mail.co.uk. Icons: logo@2x.png, @decorator."
    out, signals = pii.clean(text)
    assert out == "Write to <EMAIL> or <EMAIL>. Icons: logo@2x.png, @decorator."
    assert signals == {"emails": 2.0, "ips": 0.0, "secrets": 0.0}


def test_ipv4_and_ipv6(pii):
    text = (
        "Server at 93.184.216.34 (v6 2607:f8b0:4005:80a::200e) answered; "
        "the router is 192.168.1.10, localhost 127.0.0.1 and ::1, docs use 2001:db8::1 and 8.8.8.8."
    )
    out, signals = pii.clean(text)
    assert out == (
        "Server at <IP_ADDRESS> (v6 <IP_ADDRESS>) answered; "
        "the router is 192.168.1.10, localhost 127.0.0.1 and ::1, docs use 2001:db8::1 and 8.8.8.8."
    )
    assert signals["ips"] == 2.0
    strict = PIIRedaction(keep_private_ips=False).clean("router 192.168.1.10 and fe80::1ff:fe23:4567:890a")
    assert strict == ("router <IP_ADDRESS> and <IP_ADDRESS>", {"emails": 0.0, "ips": 2.0, "secrets": 0.0})


AWS = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A"
GITHUB_PAT = "github_pat_11ABCDEFG0123456789_abcdefghijKLMNOPQRSTuvwxyz0123456789"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = """-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun
VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK
LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo
-----END RSA PRIVATE KEY-----"""


@pytest.mark.parametrize(
    "secret",
    [
        AWS,
        GITHUB,
        GITHUB_PAT,
        JWT,
        "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUv",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "sk-proj-Ab3De5Gh7Jk9Lm1No3Pq5Rs7Tu9Vw1Xy3Za5Bc7De9",
    ],
)
def test_secret_shapes(pii, secret):
    out, signals = pii.clean(f"config: {secret} # do not share")
    assert out == "config: <SECRET> # do not share"
    assert signals["secrets"] == 1.0


def test_pem_block_is_redacted_whole(pii):
    text = f"Here is my deploy key, oops:\n\n{PEM}\n\nThanks for the help!"
    out, signals = pii.clean(text)
    assert out == "Here is my deploy key, oops:\n\n<SECRET>\n\nThanks for the help!"
    assert signals["secrets"] == 1.0
    # inside a string literal with escaped newlines, and a block cut off by truncation
    literal = 'KEY = "' + PEM.replace("\n", "\\n") + '"\nconnect(KEY)\n'
    assert pii.clean(literal) == ('KEY = "<SECRET>"\nconnect(KEY)\n', {"emails": 0.0, "ips": 0.0, "secrets": 1.0})
    truncated = PEM.rsplit("\n", 2)[0]
    assert pii.clean(f"dump:\n{truncated}\n\nmore text")[0] == "dump:\n<SECRET>\n\nmore text"
    # code that only names the markers is not a key
    code = 'BEGIN = "-----BEGIN RSA PRIVATE KEY-----"\nEND = "-----END RSA PRIVATE KEY-----"\n'
    assert pii.clean(code)[0] == code


def test_assigned_secrets_in_code(pii):
    code = (
        "import os\n\n"
        'DB_HOST = "db.internal"\n'
        'password = "hunter2xyz9Q!"\n'
        "config = {'api_key': 'Zx81kLq0Pw3sNv7T', \"timeout\": 30}\n"
        "secret: str = 'a9f8e7d6c5b4a3f2'\n"
        'tokenizer = "bert-base-uncased"\n'
        'db_password = os.environ["DB_PASSWORD"]\n'
        'api_key = "your_api_key_here"\n'
        'token_env = "GITHUB_TOKEN"\n'
        'password = "changeme"\n'
    )
    out, signals = pii.clean(code)
    assert 'password = "<SECRET>"\n' in out
    assert "{'api_key': '<SECRET>', \"timeout\": 30}" in out
    assert "secret: str = '<SECRET>'" in out
    for kept in ['"bert-base-uncased"', 'os.environ["DB_PASSWORD"]', '"your_api_key_here"', '"GITHUB_TOKEN"',
                 'password = "changeme"', '"db.internal"']:
        assert kept in out
    assert signals["secrets"] == 3.0
    env = "DEBUG=true\nexport API_TOKEN=q8Zr2LmX0vB7nK4sD1fH\nPASSWORD_FILE=/run/secrets/db\n"
    out, signals = pii.clean(env)
    assert out == "DEBUG=true\nexport API_TOKEN=<SECRET>\nPASSWORD_FILE=/run/secrets/db\n"
    assert signals["secrets"] == 1.0


def test_counts_in_a_mixed_document(pii):
    text = (
        f"From: ops@company.org\nCc: dev@company.org\nHost 52.14.200.7 leaked {AWS} and {GITHUB}.\n"
        f"Auth: Bearer {JWT}\n{PEM}\n"
    )
    out, signals = pii.clean(text)
    assert signals == {"emails": 2.0, "ips": 1.0, "secrets": 4.0}
    assert out.count("<SECRET>") == 4 and out.count("<EMAIL>") == 2 and out.count("<IP_ADDRESS>") == 1
    assert "AKIA" not in out and "ghp_" not in out and "eyJ" not in out and "MIIE" not in out


@pytest.mark.parametrize(
    "text",
    [
        "Requires Python 3.11.7 or later; tested with numpy 1.26.4 and v1.2.3.4 of the plugin.",
        "Upgrade to version 1.2.3.4 before 2024-03-15. OID 1.3.6.1.4.1.311 is reserved.",
        "The meeting moved from 15.03.2024 to 12:30:45 on Tuesday; pi is about 3.14159 and e is 2.71828.",
        "Let x = 1.5e-3 and y = 2.0.1; then 10.5 * 2 = 21.0 and the ratio a:b:c is 1:2:3.",
        "In C++ write std::vector<int> v; in Rust use std::io::Result; MAC de:ad:be:ef:00:01.",
        "The risk-averse investor asked whether the token economy and password managers are safe.",
        "She emailed the team @ noon and said the passwords were stored in a vault, not in code.",
    ],
)
def test_no_false_positives(pii, text):
    out, signals = pii.clean(text)
    assert out == text
    assert signals == {"emails": 0.0, "ips": 0.0, "secrets": 0.0}


def test_samples_are_untouched(pii):
    for text, lang in _sample_docs():
        assert pii.clean(text, lang)[0] == text


def test_switches_and_placeholders():
    text = f"mail a@b.io from 52.14.200.7 with {AWS}"
    assert PIIRedaction(redact_emails=False).clean(text)[0] == "mail a@b.io from <IP_ADDRESS> with <SECRET>"
    assert PIIRedaction(redact_ips=False, redact_secrets=False).clean(text)[0] == f"mail <EMAIL> from 52.14.200.7 with {AWS}"
    custom = PIIRedaction(email_placeholder="[email]", ip_placeholder="[ip]", secret_placeholder="[key]")
    assert custom.clean(text)[0] == "mail [email] from [ip] with [key]"


def test_pii_never_rejects(pii):
    text = f"Contact me at someone@example.net, key {AWS}"
    cleaned, signals, rejection = pii.check(text)
    assert rejection is None and pii.reject_reason(signals) is None
    assert cleaned == "Contact me at <EMAIL>, key <SECRET>"
    assert pii.filter(text)
