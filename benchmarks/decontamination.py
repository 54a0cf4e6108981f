"""Decontamination on real benchmark items planted in real clean text: catch rate, false alarms, speed.

Benchmarks (the references the filter indexes): the GSM8K, MATH, HumanEval and MBPP test subsets in
``benchmarks/data/decontamination/`` and every MGSM problem (``../shared/realdata/math_mgsm.jsonl``,
11 languages) as a second, multilingual benchmark.

Planted documents: a test item alone, with its answer/solution, or inside a real host text (real
prose for word problems, a real source file for code), each with one edit kind: none,
whitespace (reflowed lines, re-indented code), case, punctuation (dropped or changed) or numbers
(thousands separators, decimal zeros, ``%`` as ``percent``, small numbers as words via num2words).

Clean documents (must not be flagged): GSM8K and MATH *train* problems with solutions
(``benchmarks/data/``), real source files of installed packages and ``/usr/include``, English
package descriptions (``*.dist-info/METADATA``), English documentation paragraphs
(``benchmarks/data/prose_parallel.jsonl``) and realdata's translated prose documents.


Speed: clean documents per second on one core (a corpus is nearly all clean), the filter's
``check`` against a plain 13-gram set lookup (NFKC, case fold, punctuation dropped, ``str.split``,
a Python set of the items' 13-grams) on the same documents; best of three alternating runs.

    python benchmarks/decontamination.py [--planted 600] [--clean 3000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import site
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from filters.decontamination import Decontamination  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
REFERENCES = DATA / "decontamination"
REALDATA = ROOT.parent / "shared" / "realdata"
EDITS = ("none", "whitespace", "case", "punctuation", "numbers")
PLACEMENTS = ("alone", "with_answer", "inside_text")
CODE_BENCHMARKS = ("humaneval", "mbpp")


def benchmark_config() -> dict[str, dict]:
    config = {
        "gsm8k": {"path": str(REFERENCES / "gsm8k_test.jsonl")},
        "math": {"path": str(REFERENCES / "math_test.jsonl")},
        "humaneval": {"path": str(REFERENCES / "humaneval.jsonl")},
        "mbpp": {"path": str(REFERENCES / "mbpp_test.jsonl")},
    }
    if (REALDATA / "math_mgsm.jsonl").exists():
        config["mgsm"] = {"path": str(REALDATA / "math_mgsm.jsonl"), "fields": ["text", "answer"]}
    return config


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


# --- the item, its answer, and where it is planted ----------------------------------------------


def item_parts(benchmark: str, record: dict) -> tuple[str, str, str]:
    """(question/prompt, answer/solution, language) of a benchmark record."""
    if benchmark == "gsm8k":
        return record["question"], record["answer"], "eng_Latn"
    if benchmark == "math":
        return record["problem"], record["solution"], "eng_Latn"
    if benchmark == "humaneval":
        return record["prompt"], record["canonical_solution"], "code"
    if benchmark == "mbpp":
        return record["text"], record["code"], "code"
    return record["text"], f"The answer is {record['answer']}.", record["lang"]


# --- edits ----------------------------------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.,])(\d+(?:\.\d+)?)(%?)(?![\w])")
_NUM2WORDS = {"eng": "en", "fra": "fr", "spa": "es", "deu": "de", "rus": "ru", "jpn": "ja", "cmn": "zh", "tha": "th",
              "ben": "bn", "tel": "te"}


def edit_numbers(text: str, lang: str, rng: random.Random) -> str:
    """Reformat every number one way: thousands separators, decimal zeros, % as percent, or words."""
    from num2words import num2words

    way = rng.choice(("separators", "words", "percent_decimals"))
    code = _NUM2WORDS.get(lang.split("_")[0], "en")

    def one(match: re.Match) -> str:
        number, percent = match.group(1), match.group(2)
        if way == "separators" and "." not in number and len(number) >= 4:
            number = f"{int(number):,}"
        elif way == "words" and "." not in number and int(number) <= 100:
            with contextlib.suppress(NotImplementedError):  # a language num2words lacks: digits stay
                number = num2words(int(number), lang=code)
        elif way == "percent_decimals":
            number = number + "0" if "." in number else number
            percent = " percent" if percent else ""
        return number + percent

    # numbers inside $...$ formulas and code are not reworded, only reformatted
    if way == "words" and (lang == "code" or "$" in text):
        way = "separators"
    return _NUMBER.sub(one, text)


def edit(text: str, kind: str, lang: str, rng: random.Random) -> str:
    if kind == "whitespace":
        if lang == "code":
            lines = [line.replace("    ", "\t").rstrip() for line in text.split("\n")]
            return "\n\n".join(line for line in lines if line.strip())
        words = text.split()
        return "".join(w + rng.choice((" ", "  ", "\n", " \n ")) for w in words).strip()
    if kind == "case":
        return rng.choice((str.upper, str.lower, str.title))(text)
    if kind == "punctuation":  # sentence punctuation and quotes; brackets, a.b in code and 2.5 stay
        if rng.random() < 0.5:
            return re.sub(r"[,;:!?\"']|\.(?!\w)", "", text)
        return text.replace('"', "“").replace("'", "’").replace(",", " ,").replace("?", ".")
    if kind == "numbers":
        return edit_numbers(text, lang, rng)
    return text


# --- clean text -----------------------------------------------------------------------------------


def source_files(rng: random.Random, count: int) -> list[str]:
    """Real hand-written source files: installed packages' Python and C/C++ headers."""
    roots = [Path(p) for p in site.getsitepackages()]
    python = [p for root in roots for p in root.rglob("*.py") if 2_000 < p.stat().st_size < 60_000]
    headers = [p for p in Path("/usr/include").rglob("*.h") if "absl" not in p.parts and 2_000 < p.stat().st_size < 60_000]
    rng.shuffle(python)
    rng.shuffle(headers)
    chosen = python[: count * 2 // 3] + headers[: count - count * 2 // 3]
    return [p.read_text(encoding="utf-8", errors="replace") for p in chosen]


def package_descriptions(limit: int) -> list[str]:
    """English prose by package authors: the long descriptions in installed packages' METADATA."""
    out = []
    for root in site.getsitepackages():
        for meta in sorted(Path(root).glob("*.dist-info/METADATA")):
            body = meta.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)
            if len(body) == 2 and len(body[1]) > 500:
                out.append(body[1][:20_000])
    return out[:limit]


def english_paragraph_docs(rng: random.Random) -> list[str]:
    paragraphs = [r["text"] for r in read_jsonl(DATA / "prose_parallel.jsonl") if r["lang"] == "eng_Latn"]
    docs = []
    while paragraphs:
        take = rng.randint(3, 8)
        docs.append("\n\n".join(paragraphs[:take]))
        paragraphs = paragraphs[take:]
    return docs


def clean_documents(rng: random.Random, total: int) -> list[tuple[str, str, str]]:
    """(kind, lang, text) of real documents that contain no test item."""
    docs = [("gsm8k train", "eng_Latn", r["text"]) for r in read_jsonl(DATA / "gsm8k_train_dev.jsonl")]
    docs += [("MATH train", "eng_Latn", r["text"]) for r in read_jsonl(DATA / "math_competition_dev.jsonl")]
    docs += [("English docs", "eng_Latn", t) for t in english_paragraph_docs(rng)]
    docs += [("package descriptions", "eng_Latn", t) for t in package_descriptions(400)]
    if (REALDATA / "prose_docs.jsonl").exists():
        prose = read_jsonl(REALDATA / "prose_docs.jsonl")
        docs += [("translated prose", r["lang"], r["text"]) for r in rng.sample(prose, min(500, len(prose)))]
    code = max(0, total - len(docs))
    docs += [("source files", "code", t) for t in source_files(rng, code)]
    return docs


# --- planting ---------------------------------------------------------------------------------------


def planted_documents(rng: random.Random, per_benchmark: int, hosts: dict[str, list[str]]) -> list[dict]:
    out = []
    for name, source in benchmark_config().items():
        records = read_jsonl(Path(source["path"]))
        if name == "mgsm":  # the English MGSM problems are GSM8K test items: plant the other languages
            records = [r for r in records if r["lang"] != "eng_Latn"]
        for j in range(per_benchmark):
            record = rng.choice(records)
            question, answer, lang = item_parts(name, record)
            kind, placement = EDITS[j % len(EDITS)], PLACEMENTS[(j // len(EDITS)) % len(PLACEMENTS)]
            text = edit(question, kind, lang, rng)
            if placement == "with_answer":
                text = text + ("\n" if lang == "code" else "\n\n") + edit(answer, kind, lang, rng)
            elif placement == "inside_text":
                pool = hosts["code"] if lang == "code" else hosts.get(lang) or hosts["eng_Latn"]
                host = rng.choice(pool).split("\n")
                at = rng.randint(0, len(host))
                text = "\n".join(host[:at] + ["", text, ""] + host[at:])
            out.append({"benchmark": name, "edit": kind, "placement": placement, "lang": lang, "text": text})
    return out


# --- the plain baseline -----------------------------------------------------------------------------

_PUNCT = re.compile(r"[^\w\s]+")


def plain_words(text: str) -> list[str]:
    return _PUNCT.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split()


def plain_index(n: int) -> set[str]:
    grams: set[str] = set()
    for source in benchmark_config().values():
        for record in read_jsonl(Path(source["path"])):
            words = plain_words("\n".join(str(v) for v in record.values() if isinstance(v, str)))
            grams.update(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return grams


def plain_hit(grams: set[str], text: str, n: int) -> bool:
    words = plain_words(text)
    return any(" ".join(words[i : i + n]) in grams for i in range(len(words) - n + 1))


# --- report -----------------------------------------------------------------------------------------


def table(rows: list[dict], key: str, caught: list[bool]) -> str:
    groups: dict[str, list[bool]] = defaultdict(list)
    for row, hit in zip(rows, caught):
        groups[row[key]].append(hit)
    out = [f"| {key} | planted | caught |", "|---|---:|---:|"]
    for name, hits in groups.items():
        out.append(f"| {name} | {len(hits)} | {sum(hits) / len(hits):.3f} |")
    return "\n".join(out)


#: Each rule of the filter turned off in turn (the options that do it), for the ablation table.
ABLATIONS = {
    "all rules (default)": {},
    "no information rule (min_bits 0, min_real_words 0)": {"min_bits": 0, "min_real_words": 0, "min_short_bits": 0},
    "no stock-phrasing rule (max_items_per_ngram unbounded)": {"max_items_per_ngram": 10**9},
    "no item-coverage rule (min_item_coverage 0)": {"min_item_coverage": 0},
    "short fields not indexed (min_item_words 13)": {"min_item_words": 13},
}


def ablation(planted: list[dict], clean: list[tuple[str, str, str]], lang_of) -> str:
    """Catch and false alarms with each rule of the filter turned off."""
    out = ["| configuration | indexed n-grams | planted caught | English test sets caught | clean flagged |",
           "|---|---:|---:|---:|---:|"]
    for name, options in ABLATIONS.items():
        decon = Decontamination(benchmarks=benchmark_config(), **options)
        caught = [decon.check(p["text"], lang_of(p["lang"]))[2] is not None for p in planted]
        english = [hit for hit, p in zip(caught, planted) if p["benchmark"] != "mgsm"]
        flagged = sum(decon.check(text, lang_of(lang))[2] is not None for _, lang, text in clean)
        out.append(f"| {name} | {decon.index_stats['ngrams']:,} | {sum(caught) / len(caught):.3f} | "
                   f"{sum(english) / len(english):.3f} | {flagged / len(clean):.2%} ({flagged}) |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--planted", type=int, default=150, help="planted documents per benchmark")
    parser.add_argument("--clean", type=int, default=3000, help="clean documents")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=10, help="misses and false alarms to print")
    parser.add_argument("--no-ablation", dest="ablation", action="store_false",
                        help="skip the table of each rule turned off (four more index builds)")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    clean = clean_documents(rng, args.clean)
    hosts: dict[str, list[str]] = defaultdict(list)
    for kind, lang, text in clean:
        if kind in ("English docs", "translated prose", "package descriptions"):
            hosts[lang].append(text)
        elif kind == "source files":
            hosts["code"].append(text)
    planted = planted_documents(rng, args.planted, hosts)

    start = time.perf_counter()
    decon = Decontamination(benchmarks=benchmark_config())
    decon.setup()
    build_seconds = time.perf_counter() - start
    print(f"index: {decon.index_stats} built in {build_seconds:.1f} s\n")

    def lang_of(lang: str) -> str | None:
        return None if lang == "code" else lang

    caught = [decon.check(p["text"], lang_of(p["lang"]))[2] is not None for p in planted]
    verdicts = [decon.check(text, lang_of(lang))[2] for _, lang, text in clean]
    alarms = [v is not None for v in verdicts]
    start = time.perf_counter()
    grams = plain_index(decon.ngram)
    plain_build = time.perf_counter() - start
    plain_caught = [plain_hit(grams, p["text"], decon.ngram) for p in planted]
    plain_alarms = [plain_hit(grams, text, decon.ngram) for _, _, text in clean]
    # speed on the clean documents (a corpus is nearly all clean), best of three alternating runs
    ours = plain = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _, lang, text in clean:
            decon.check(text, lang_of(lang))
        ours = min(ours, time.perf_counter() - start)
        start = time.perf_counter()
        for _, _, text in clean:
            plain_hit(grams, text, decon.ngram)
        plain = min(plain, time.perf_counter() - start)

    n_docs = len(clean)
    print(f"{len(planted)} planted documents, {len(clean)} clean documents "
          f"({', '.join(f'{k} {n}' for k, n in Counter(k for k, _, _ in clean).items())})\n")
    print("| | decontamination filter | plain 13-gram set |\n|---|---:|---:|")
    print(f"| planted items caught | {sum(caught) / len(caught):.3f} | {sum(plain_caught) / len(planted):.3f} |")
    print(f"| clean documents flagged | {sum(alarms) / len(clean):.2%} ({sum(alarms)}) | "
          f"{sum(plain_alarms) / len(clean):.2%} ({sum(plain_alarms)}) |")
    print(f"| clean documents/s, one core | {n_docs / ours:,.0f} | {n_docs / plain:,.0f} |")
    print(f"| speed vs plain | {plain / ours:.2f}x | 1.00x |")
    print(f"| index build, s | {build_seconds:.1f} | {plain_build:.1f} |\n")
    for key in ("benchmark", "edit", "placement"):
        print(table(planted, key, caught) + "\n")
    by_pair = table([{"benchmark x edit": f"{p['benchmark']} / {p['edit']}"} for p in planted], "benchmark x edit", caught)
    print(by_pair + "\n")
    kinds: dict[str, list[bool]] = defaultdict(list)
    for (kind, _, _), alarm in zip(clean, alarms):
        kinds[kind].append(alarm)
    print("| clean kind | documents | flagged |\n|---|---:|---:|")
    for kind, flags in kinds.items():
        print(f"| {kind} | {len(flags)} | {sum(flags)} |")
    if args.ablation:
        print(ablation(planted, clean, lang_of) + "\n")
    misses = [p for p, hit in zip(planted, caught) if not hit]
    print(f"\nmisses (first {args.show} of {len(misses)}):")
    for p in misses[: args.show]:
        print(f"- {p['benchmark']} / {p['edit']} / {p['placement']}: {p['text'][:160]!r}")
    print(f"\nfalse alarms (first {args.show} of {sum(alarms)}):")
    for (kind, _, _), verdict in [(c, v) for c, v in zip(clean, verdicts) if v is not None][: args.show]:
        print(f"- {kind}: {verdict[1][:300]}")


if __name__ == "__main__":
    main()
