"""Language ID on real labelled text nobody here wrote: the langid stage's ensemble against each
model alone, per language, with the confusable pairs and false acceptance of other languages.

    python benchmarks/lid_accuracy.py                   # report (the half of the texts not fitted on)
    python benchmarks/lid_accuracy.py --fit --write     # refit curate/lang/weights.py, then report

The texts, labelled by where they come from (``benchmarks/lid_own_set.py`` keeps our own small
written set as a regression check):

* the translated messages of the installed programs (``/usr/share/locale/<ll>/LC_MESSAGES/*.mo``)
  and of installed Python packages (``<site-packages>/**/locale/<ll>/LC_MESSAGES/*.mo``: Django's
  ~100 languages when the ``bench`` extra is installed): translators' own sentences, short and
  UI-like, the hardest kind of text for language ID; the English ``msgid`` counts as English;
* GNOME's user help in 40+ languages (:mod:`help_pages`: Debian's ``gnome-user-docs``, fetched once
  with ``apt-get download``; skipped where that cannot run): translated instructions, full
  sentences of web-page-like prose, 18 Qwen2 languages and 20 others;
* ``../shared/realdata/prose_docs.jsonl`` documents and their paragraphs (translated
  documentation, 7 languages) and ``math_mgsm.jsonl`` word problems (11 languages).

Languages outside Qwen2's 30 (Slovak, Marathi, Galician, Maithili, Crimean Tatar, ...) measure
false acceptance: the share labelled as a Qwen2 language *and* kept by the threshold.

Every text goes to a half by a hash of its text: ``--fit`` fits the ensemble's weights and
calibrations (:mod:`curate.lang.ensemble`) on one half; the report is on the other, so its
numbers are out of sample. Correct means the right language and kept (``lang_score`` at least
the threshold); Chinese counts in either script.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import site
import sys
import zlib
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from help_pages import help_paragraphs  # noqa: E402
from locale_messages import LOCALE, translated_messages  # noqa: E402

from curate.lang import ensemble  # noqa: E402
from curate.lang.identifier import CLD2, HELIPORT, ensemble_votes, heliport_choice  # noqa: E402
from curate.lang.specialists import han_variant_characters, settle_group  # noqa: E402
from curate.lang.text import prediction_text  # noqa: E402
from curate.stages.langid import LangIDConfig, LanguageID  # noqa: E402
from filters.langcodes import LID176_TO_ISO639_3, QWEN2_LANGUAGES  # noqa: E402

REALDATA = ROOT.parent / "shared" / "realdata"
#: locale directory -> our code, for the Qwen2 languages (everything else: a non-target language)
LOCALE_CODES = {
    "en_GB": "eng_Latn", "zh_CN": "cmn_Hans", "zh_TW": "cmn_Hant", "de": "deu_Latn", "fr": "fra_Latn",
    "es": "spa_Latn", "pt": "por_Latn", "pt_BR": "por_Latn", "it": "ita_Latn", "nl": "nld_Latn",
    "ru": "rus_Cyrl", "cs": "ces_Latn", "pl": "pol_Latn", "ar": "arb_Arab", "fa": "pes_Arab",
    "he": "heb_Hebr", "tr": "tur_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang", "vi": "vie_Latn",
    "th": "tha_Thai", "id": "ind_Latn", "ms": "zsm_Latn", "lo": "lao_Laoo", "my": "mya_Mymr",
    "ceb": "ceb_Latn", "km": "khm_Khmr", "tl": "tgl_Latn", "fil": "tgl_Latn", "hi": "hin_Deva",
    "bn": "ben_Beng", "ur": "urd_Arab", "uk": "ukr_Cyrl", "zh_Hans": "cmn_Hans", "zh_Hant": "cmn_Hant",
}  # fmt: skip
#: variants of a Qwen2 language that must not count as "other" languages
_QWEN2_PREFIXES = {d.split("_")[0] for d in LOCALE_CODES} | {"en", "zh", "pt", "es", "fr", "de", "ar", "ms", "nb"}
_MARKUP = re.compile(r"<[^>]+>|%[-#0-9.]*[a-zA-Z]|\{[^}]*\}|\$\{[^}]*\}|_(?=\w)|&(?=\w)|\\[nt]")


def _clean(message: str) -> str:
    return " ".join(_MARKUP.sub(" ", message).split())


def locale_label(name: str) -> str | None:
    """Our label for a locale directory name (``pt_BR`` -> ``por_Latn``, ``gl`` -> ``other:gl``);
    None for a regional or script variant of a Qwen2 language we have no code for, or an odd name."""
    base = name.split("_")[0].split("@")[0]
    lang = LOCALE_CODES.get(name) or LOCALE_CODES.get(base)
    if lang is None and (base in _QWEN2_PREFIXES or not re.fullmatch(r"[a-z]{2,3}", base) or "@" in name or "_" in name):
        return None
    return lang or f"other:{base}"


def catalog_roots() -> list[Path]:
    """Folders of ``<ll>/LC_MESSAGES/*.mo`` catalogs: the system's and every installed package's."""
    roots = [LOCALE] if LOCALE.is_dir() else []
    for packages in site.getsitepackages():
        roots += sorted(path.parent for path in Path(packages).glob("**/locale/*/LC_MESSAGES"))
    return sorted({root if root == LOCALE else root.parent for root in roots})


def locale_items(per_language: int, min_chars: int) -> list[dict]:
    """Translated messages per locale directory, and the English originals as English."""
    by_lang: dict[str, set[str]] = defaultdict(set)
    for root in catalog_roots():
        source = ".mo messages" if root == LOCALE else "package .mo messages"
        for directory in sorted(root.iterdir()):
            label = locale_label(directory.name)
            if label is None:
                continue
            lang = None if label.startswith("other:") else label
            for key, value, _ in translated_messages(directory):
                text, english = _clean(value), _clean(key)
                if len(text) >= min_chars:
                    by_lang[(source, label)].add(text)
                if len(english) >= min_chars and lang is not None:
                    by_lang[(source, "eng_Latn")].add(english)
    items = []
    for (source, label), texts in sorted(by_lang.items()):
        chosen = sorted(texts)
        chosen = random.Random(0).sample(chosen, min(per_language, len(chosen)))
        items += [{"lang": label, "source": source, "text": text} for text in chosen]
    return items


def realdata_items(per_language: int, min_chars: int) -> list[dict]:
    items = []
    docs, mgsm = REALDATA / "prose_docs.jsonl", REALDATA / "math_mgsm.jsonl"
    by_lang: dict[str, list[str]] = defaultdict(list)
    if docs.exists():
        for line in docs.open(encoding="utf-8"):
            record = json.loads(line)
            by_lang[record["lang"]] += [p.strip() for p in record["text"].split("\n\n") if len(p.strip()) >= min_chars]
            # the whole documents too: long texts, where CLD2 settles most
            items.append({"lang": record["lang"], "source": "prose documents", "text": record["text"]})
    for lang, texts in sorted(by_lang.items()):
        chosen = random.Random(0).sample(texts, min(per_language, len(texts)))
        items += [{"lang": lang, "source": "prose paragraphs", "text": t} for t in chosen]
    for name, paragraphs in help_paragraphs(min_chars).items():
        label = "eng_Latn" if name == "C" else locale_label(name)
        if label is not None and paragraphs:
            chosen = random.Random(0).sample(paragraphs, min(per_language, len(paragraphs)))
            items += [{"lang": label, "source": "help pages", "text": t} for t in chosen]
    if mgsm.exists():
        for line in mgsm.open(encoding="utf-8"):
            record = json.loads(line)
            lang = record["lang"] if record["lang"] in QWEN2_LANGUAGES or record["lang"].startswith("cmn") else f"other:{record['lang']}"
            items.append({"lang": lang, "source": "MGSM problems", "text": record["text"]})
    return items


# --- labels, halves, votes ----------------------------------------------------------------------

QWEN2 = frozenset(code.split("_")[0] for code in QWEN2_LANGUAGES)
#: The confusable pairs the issue names (the first of each is the one we report on).
PAIRS = (("zsm", "ind"), ("ind", "zsm"), ("ceb", "tgl"), ("tgl", "ceb"), ("ces", "slk"), ("slk", "ces"),
         ("urd", "pnb"), ("hin", "mar"), ("mar", "hin"), ("srp", "hrv"), ("cmn", "jpn"), ("jpn", "cmn"))  # fmt: skip


def truth(label: str) -> str:
    """The ISO 639-3 language of an item's label (``other:sk`` -> ``slk``)."""
    if not label.startswith("other:"):
        return label.split("_")[0]
    base = label.removeprefix("other:")
    if base in LID176_TO_ISO639_3:
        return LID176_TO_ISO639_3[base]
    try:
        import langcodes  # installed with wordfreq

        return langcodes.Language.get(base).to_alpha3()
    except (ImportError, LookupError, ValueError):
        return base


def fitting_half(text: str) -> bool:
    return zlib.crc32(text.encode("utf-8")) % 2 == 0


# --- fitting ------------------------------------------------------------------------------------


def fit(items: list[dict], inputs: list[str], stage: LanguageID, other_weight: float) -> dict:
    """Ensemble weights and calibrations from the fitting half; returns the new curate.lang.weights values."""
    from curate.lang.weights import (  # as they are
        CALIBRATED_THRESHOLD,
        CLD2_SETTLES_AT,
        SKIP_SECOND_OPINION_AT,
    )

    chosen = [i for i, item in enumerate(items) if fitting_half(item["text"])]
    fitting_inputs = [inputs[i] for i in chosen]
    fasttext, heliport = stage.identifier.vote(fitting_inputs, fitting_inputs, ask_all=True)
    votes = [ensemble_votes(text, ranked, heliport[j]) for j, (text, ranked) in enumerate(zip(fitting_inputs, fasttext))]
    answers = [truth(items[i]["lang"]) for i in chosen]
    per_language = Counter(a for a, i in zip(answers, chosen) if not items[i]["lang"].startswith("other"))
    n_other = sum(items[i]["lang"].startswith("other") for i in chosen)
    examples, weights = [], []
    for v, answer, i in zip(votes, answers, chosen):
        candidates, features = ensemble.candidate_features(v)
        right = np.array([c == answer or (c in ("zsm", "ind") and answer in ("zsm", "ind")) for c in candidates])
        if not right.any():
            continue  # neither model named the language: nothing to learn about choosing
        examples.append((features, right))
        weights.append(other_weight * len(per_language) / n_other if items[i]["lang"].startswith("other")
                       else 1.0 / per_language[answer])
    w = ensemble.fit_conditional_logit(examples, weights)
    # Calibrations: P(right) of what each configuration outputs, on the fitting half.
    rows: dict[str, tuple[list, list, list]] = {k: ([], [], []) for k in ("lid.176+heliport", "lid.176", "heliport")}
    for v, ranked, answer, i in zip(votes, fasttext, answers, chosen):
        text = inputs[i]
        top, probability = v.fasttext[0]
        rows["lid.176"][0].append(probability)
        rows["lid.176"][1].append(v.chars)
        rows["lid.176"][2].append(top == answer)
        rows["heliport"][0].append(ensemble.heliport_probability(v.heliport))
        rows["heliport"][1].append(v.chars)
        rows["heliport"][2].append(heliport_choice(text, v.heliport) == answer)
        if stage.identifier.needs_second_opinion(ranked):  # the documents the stage gives to the ensemble
            lang, p = ensemble.choose(v, w)
            rows["lid.176+heliport"][0].append(p)
            rows["lid.176+heliport"][1].append(v.chars)
            rows["lid.176+heliport"][2].append(settle_group(lang, text) == answer)
    # CLD2: on the texts it settles alone in the stage.
    rows[CLD2] = ([], [], [])
    for j, ranked in stage.identifier.settled_by_cld2(fitting_inputs).items():
        rows[CLD2][0].append(ranked[0][1])
        rows[CLD2][1].append(len(fitting_inputs[j]))
        rows[CLD2][2].append(ranked[0][0] == answers[j])
    calibration = {k: [round(x, 4) for x in ensemble.fit_calibration(*v)] for k, v in rows.items()}
    return {"ENSEMBLE_WEIGHTS": [round(float(x), 4) for x in w], "CALIBRATION": calibration,
            "SKIP_SECOND_OPINION_AT": SKIP_SECOND_OPINION_AT, "CLD2_SETTLES_AT": CLD2_SETTLES_AT,
            "CALIBRATED_THRESHOLD": CALIBRATED_THRESHOLD}


def write_weights(values: dict) -> None:
    path = ROOT / "curate" / "lang" / "weights.py"
    text = path.read_text(encoding="utf-8")
    for name, value in values.items():
        text = re.sub(rf"(?ms)^{name} = .*?(?=^#:|\Z)", f"{name} = {json.dumps(value) if isinstance(value, dict) else value}\n", text)
    path.write_text(text, encoding="utf-8")


# --- the report ---------------------------------------------------------------------------------


def run_stage(config: LangIDConfig, inputs: list[str], texts: list[str]) -> tuple[list[str], list[float]]:
    """(full code, lang_score) per input, as the stage decides them."""
    stage = LanguageID(config)
    stage.setup()
    results = stage.identifier.identify(inputs, texts)
    return [code or "und_Zyyy" for code, _, _ in results], [score for _, score, _ in results]


def chinese_script_table(items: list[dict], codes: list[str]) -> str:
    """The Simplified/Traditional specialist on the Chinese texts the stage called Chinese: the
    share given the right script, and how many had no character of one system only (a tie)."""
    simplified_only, traditional_only = han_variant_characters()
    out = ["| true script | n called Chinese | right script | texts of shared characters only (tie: Hans) |",
           "|---|---:|---:|---:|"]
    for script in ("Hans", "Hant"):
        idx = [i for i, item in enumerate(items) if item["lang"] == f"cmn_{script}" and codes[i].startswith("cmn_")]
        if not idx:
            continue
        right = sum(codes[i].endswith(script) for i in idx) / len(idx)
        ties = sum(sum(c in simplified_only for c in items[i]["text"][:1000])
                   == sum(c in traditional_only for c in items[i]["text"][:1000]) for i in idx)
        out.append(f"| {script} | {len(idx)} | {right:.3f} | {ties} |")
    return "\n".join(out)


def report(items: list[dict], columns: dict[str, tuple[list[str], list[bool]]]) -> str:
    out = ["| language | n | " + " | ".join(columns) + " | most frequent confusion (" + next(iter(columns)) + ") |",
           "|---|---:|" + "---:|" * len(columns) + "---|"]
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_lang[item["lang"]].append(i)
    macro: dict[str, list[float]] = defaultdict(list)
    worst: dict[str, float] = defaultdict(lambda: 1.0)
    for lang in sorted(by_lang, key=lambda code: (code.startswith("other"), code)):
        if lang.startswith("other"):
            continue
        idx = by_lang[lang]
        answer = truth(lang)
        cells = []
        for name, (codes, kept) in columns.items():
            right = sum(codes[i] == answer and kept[i] for i in idx) / len(idx)
            macro[name].append(right)
            worst[name] = min(worst[name], right)
            cells.append(f"{right:.3f}")
        first_codes = next(iter(columns.values()))[0]
        wrong = Counter(first_codes[i] for i in idx if first_codes[i] != answer).most_common(2)
        out.append(f"| {lang} | {len(idx)} | " + " | ".join(cells) + " | " + (", ".join(f"{c} ×{n}" for c, n in wrong) or "-") + " |")
    out.append(f"| **macro ({len(next(iter(macro.values())))} Qwen2 languages)** | | "
               + " | ".join(f"**{sum(v) / len(v):.3f}**" for v in macro.values()) + " | |")
    out.append("| lowest language | | " + " | ".join(f"{worst[name]:.3f}" for name in columns) + " | |")
    others = [i for lang, idx in by_lang.items() if lang.startswith("other") for i in idx]
    if others:
        cells = [f"{sum(codes[i] in QWEN2 and kept[i] for i in others) / len(others):.3f}" for codes, kept in columns.values()]
        n_lang = len({items[i]["lang"] for i in others})
        out.append(f"| other languages accepted as a Qwen2 language ({n_lang} languages) | {len(others)} | "
                   + " | ".join(cells) + " | |")
    return "\n".join(out)


def source_summary(items: list[dict], columns: dict[str, tuple[list[str], list[bool]]], sources: list[str]) -> str:
    """Per source: macro accuracy over its Qwen2 languages and false acceptance, default vs bare."""
    default, bare = next(iter(columns)), "lid.176 bare"
    out = ["| source | texts | macro: default | macro: lid.176 bare | other languages accepted: default | ...: lid.176 bare |",
           "|---|---:|---:|---:|---:|---:|"]
    for source in sources:
        idx = [i for i, item in enumerate(items) if item["source"] == source]
        cells = []
        for name in (default, bare):
            codes, kept = columns[name]
            per_lang: dict[str, list[bool]] = defaultdict(list)
            others = []
            for i in idx:
                if items[i]["lang"].startswith("other"):
                    others.append(codes[i] in QWEN2 and kept[i])
                else:
                    per_lang[items[i]["lang"]].append(codes[i] == truth(items[i]["lang"]) and kept[i])
            macro = sum(sum(v) / len(v) for v in per_lang.values()) / max(len(per_lang), 1)
            cells.append((macro, sum(others) / len(others) if others else None))
        fa = [f"{c[1]:.1%}" if c[1] is not None else "-" for c in cells]
        out.append(f"| {source} | {len(idx)} | {cells[0][0]:.3f} | {cells[1][0]:.3f} | {fa[0]} | {fa[1]} |")
    return "\n".join(out)


def pair_table(items: list[dict], columns: dict[str, tuple[list[str], list[bool]]]) -> str:
    """How often language A is labelled B, for the confusable pairs, per configuration."""
    out = ["| true → labelled | n | " + " | ".join(columns) + " |", "|---|---:|" + "---:|" * len(columns)]
    answers = [truth(item["lang"]) for item in items]
    for a, b in PAIRS:
        idx = [i for i, answer in enumerate(answers) if answer == a]
        if idx:
            out.append(f"| {a} → {b} | {len(idx)} | "
                       + " | ".join(f"{sum(codes[i] == b for i in idx) / len(idx):.3f}" for codes, _ in columns.values()) + " |")
    return "\n".join(out)


def reliability(items: list[dict], codes: list[str], scores: list[float]) -> str:
    """Calibration check: in each lang_score band, the share of labels that are right."""
    right = np.array([code == truth(item["lang"]) for item, code in zip(items, codes)])
    score = np.asarray(scores)
    out = ["| lang_score | n | share right |", "|---|---:|---:|"]
    for low in np.arange(0, 1, 0.1):
        band = (score >= low) & (score < low + 0.1 if low < 0.9 else score <= 1)
        if band.any():
            out.append(f"| {low:.1f}-{low + 0.1:.1f} | {band.sum()} | {right[band].mean():.3f} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-language", type=int, default=300, help="texts per language and source")
    parser.add_argument("--min-chars", type=int, default=20, help="shortest text kept")
    parser.add_argument("--fit", action="store_true", help="refit the ensemble on the fitting half and print it")
    parser.add_argument("--write", action="store_true", help="with --fit: write curate/lang/weights.py")
    parser.add_argument("--other-weight", type=float, default=1.0,
                        help="weight of the other-language texts in the fit, relative to all Qwen2 languages")
    args = parser.parse_args()
    items = locale_items(args.per_language, args.min_chars) + realdata_items(args.per_language, args.min_chars)
    inputs = [prediction_text(item["text"], 2000) for item in items]
    if args.fit:
        stage = LanguageID(LangIDConfig())
        stage.setup()
        values = fit(items, inputs, stage, args.other_weight)
        print(json.dumps(values, indent=2))
        if args.write:
            write_weights(values)
            import importlib

            import curate.lang.weights
            import curate.stages.langid

            importlib.reload(curate.lang.weights)
            importlib.reload(curate.stages.langid)
    report_idx = [i for i, item in enumerate(items) if not fitting_half(item["text"])]
    items = [items[i] for i in report_idx]
    inputs = [inputs[i] for i in report_idx]
    texts = [item["text"] for item in items]
    from curate.stages.langid import LangIDConfig as Config  # reloaded after --write

    configs = {
        "default (cld2 + lid.176 + heliport)": Config(),
        "lid.176 + heliport": Config(models=["lid.176", HELIPORT]),
        "lid.176 alone": Config(models=["lid.176"]),
        "heliport alone": Config(models=[HELIPORT]),
        "lid.176 bare": Config(models=["lid.176"], threshold=0.0),
    }
    columns, scores = {}, {}
    for name, config in configs.items():
        full_codes, scores[name] = run_stage(config, inputs, texts)
        if name.startswith("default"):
            default_codes = full_codes
        minimum = config.score_minimums()[1]
        columns[name] = ([code.split("_")[0] for code in full_codes], [s >= minimum for s in scores[name]])
    sources = Counter(item["source"] for item in items)
    print(f"{len(items)} texts not fitted on ({', '.join(f'{n} {s}' for s, n in sources.items())}); "
          "correct = same language and kept\n")
    print("### summary by source (default vs lid.176 bare)\n")
    print(source_summary(items, columns, list(sources)))
    for source in [None, *sources]:
        chosen = [i for i, item in enumerate(items) if source is None or item["source"] == source]
        sub = [items[i] for i in chosen]
        print(f"\n### {source or 'all sources'}\n")
        print(report(sub, {name: ([c[i] for i in chosen], [k[i] for i in chosen]) for name, (c, k) in columns.items()}))
    print("\n### confusable pairs (all sources; share of the true language's texts given the other label)\n")
    print(pair_table(items, columns))
    print("\n### Chinese script (default; curate.lang.specialists.chinese_script)\n")
    print(chinese_script_table(items, default_codes))
    for name in ("default (cld2 + lid.176 + heliport)", "lid.176 alone", "heliport alone"):
        print(f"\n### calibration of lang_score: {name}\n")
        print(reliability(items, columns[name][0], scores[name]))


if __name__ == "__main__":
    main()
