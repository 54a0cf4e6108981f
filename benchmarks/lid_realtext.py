"""Language ID on real labelled text nobody here wrote: lid.176 through the stage, and heliport.

    python benchmarks/lid_realtext.py                  # every source, up to 300 texts per language
    python benchmarks/lid_realtext.py --per-language 1000 --min-chars 40

``benchmarks/lid_accuracy.py`` measures our own small written set (a regression check, kinder
than real text). This one measures real human-written text, labelled by where it comes from:

* the translated messages of the installed programs (``/usr/share/locale/<ll>/LC_MESSAGES/*.mo``:
  translators' own sentences, the English ``msgid`` as English), 30-60 languages depending on
  the machine; short, UI-style sentences, the hardest kind for language ID;
* ``../shared/realdata/prose_docs.jsonl`` paragraphs (translated documentation, 7 languages) and
  ``math_mgsm.jsonl`` word problems (11 languages).

Texts of languages outside Qwen2's 30 (Slovak, Punjabi, Marathi, Serbian, Croatian, Catalan, ...)
measure false acceptance: the share labelled as a Qwen2 language *and* kept by the threshold.

Compared, on the same texts: ``lid.176`` as the langid stage runs it (top label, the stage's
per-language minimum scores: ``default``), the same with ``threshold: 0`` (``bare``), and
``heliport`` (HeLI-OTS; ISO 639-3 labels, macrolanguages mapped: ``msa`` counts as Malay, so
Indonesian is always wrong for it) when it is installed. Correct means the same language
(Chinese in either script).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from locale_messages import LOCALE, translated_messages  # noqa: E402

from curate.langcodes import QWEN2_LANGUAGES  # noqa: E402
from curate.stages.langid import LangIDConfig, LanguageID  # noqa: E402

REALDATA = ROOT.parent / "shared" / "realdata"
#: locale directory -> our code, for the Qwen2 languages (everything else: a non-target language)
LOCALE_CODES = {
    "en_GB": "eng_Latn", "zh_CN": "cmn_Hans", "zh_TW": "cmn_Hant", "de": "deu_Latn", "fr": "fra_Latn",
    "es": "spa_Latn", "pt": "por_Latn", "pt_BR": "por_Latn", "it": "ita_Latn", "nl": "nld_Latn",
    "ru": "rus_Cyrl", "cs": "ces_Latn", "pl": "pol_Latn", "ar": "arb_Arab", "fa": "pes_Arab",
    "he": "heb_Hebr", "tr": "tur_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang", "vi": "vie_Latn",
    "th": "tha_Thai", "id": "ind_Latn", "ms": "zsm_Latn", "lo": "lao_Laoo", "my": "mya_Mymr",
    "ceb": "ceb_Latn", "km": "khm_Khmr", "tl": "tgl_Latn", "fil": "tgl_Latn", "hi": "hin_Deva",
    "bn": "ben_Beng", "ur": "urd_Arab", "uk": "ukr_Cyrl",
}  # fmt: skip
#: variants of a Qwen2 language that must not count as "other" languages
_QWEN2_PREFIXES = {d.split("_")[0] for d in LOCALE_CODES} | {"en", "zh", "pt", "es", "fr", "de", "ar", "ms", "nb"}
#: heliport's macrolanguage labels, in our codes' language part
HELIPORT_ALIASES = {"msa": "zsm", "zho": "cmn", "ara": "arb", "fas": "pes", "per": "pes", "fil": "tgl", "urd": "urd"}
_MARKUP = re.compile(r"<[^>]+>|%[-#0-9.]*[a-zA-Z]|\{[^}]*\}|\$\{[^}]*\}|_(?=\w)|&(?=\w)|\\[nt]")


def _clean(message: str) -> str:
    return " ".join(_MARKUP.sub(" ", message).split())


def locale_items(per_language: int, min_chars: int) -> list[dict]:
    """Translated messages per locale directory, and the English originals as English."""
    by_lang: dict[str, set[str]] = defaultdict(set)
    if not LOCALE.is_dir():
        return []
    for directory in sorted(LOCALE.iterdir()):
        name = directory.name
        base = name.split("_")[0].split("@")[0]
        lang = LOCALE_CODES.get(name) or LOCALE_CODES.get(base)
        if lang is None and (base in _QWEN2_PREFIXES or not re.fullmatch(r"[a-z]{2,3}", base) or "@" in name):
            continue  # a regional or script variant of a Qwen2 language, or an odd name
        label = lang or f"other:{base}"
        for key, value, _ in translated_messages(directory):
            text, english = _clean(value), _clean(key)
            if len(text) >= min_chars:
                by_lang[label].add(text)
            if len(english) >= min_chars and lang is not None:
                by_lang["eng_Latn"].add(english)
    items = []
    for label, texts in sorted(by_lang.items()):
        chosen = sorted(texts)
        chosen = random.Random(0).sample(chosen, min(per_language, len(chosen)))
        items += [{"lang": label, "source": ".mo messages", "text": text} for text in chosen]
    return items


def realdata_items(per_language: int, min_chars: int) -> list[dict]:
    items = []
    docs, mgsm = REALDATA / "prose_docs.jsonl", REALDATA / "math_mgsm.jsonl"
    by_lang: dict[str, list[str]] = defaultdict(list)
    if docs.exists():
        for line in docs.open(encoding="utf-8"):
            record = json.loads(line)
            by_lang[record["lang"]] += [p.strip() for p in record["text"].split("\n\n") if len(p.strip()) >= min_chars]
    for lang, texts in sorted(by_lang.items()):
        chosen = random.Random(0).sample(texts, min(per_language, len(texts)))
        items += [{"lang": lang, "source": "prose paragraphs", "text": t} for t in chosen]
    if mgsm.exists():
        for line in mgsm.open(encoding="utf-8"):
            record = json.loads(line)
            lang = record["lang"] if record["lang"] in QWEN2_LANGUAGES or record["lang"].startswith("cmn") else f"other:{record['lang']}"
            items.append({"lang": lang, "source": "MGSM problems", "text": record["text"]})
    return items


def _language(code: str) -> str:
    return code.split("_")[0].split(":")[-1]


def predict_lid176(texts: list[str]) -> tuple[list[str], list[bool]]:
    """Top code and whether the stage's default minimum keeps it."""
    stage = LanguageID(LangIDConfig(top_k=1, line_mix=False))
    stage.setup()
    labels, probs = stage.predict(texts)
    codes, kept = [], []
    for row, p, text in zip(labels, probs, texts):
        code = stage.code(row[0], text) if len(row) else "und_Zyyy"
        codes.append(code)
        kept.append(bool(len(p)) and float(p[0]) >= stage.minimum(code))
    return codes, kept


def predict_heliport(texts: list[str]) -> list[str] | None:
    try:
        import heliport
    except ImportError:
        return None
    identifier = heliport.Identifier()
    return [HELIPORT_ALIASES.get(code, code) for code in (identifier.identify(text) for text in texts)]


def report(items: list[dict], columns: dict[str, tuple[list[str], list[bool]]]) -> str:
    qwen2 = {_language(code) for code in QWEN2_LANGUAGES}
    out = ["| language | n | " + " | ".join(columns) + " | most frequent confusion (" + next(iter(columns)) + ") |",
           "|---|---:|" + "---:|" * len(columns) + "---|"]
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_lang[item["lang"]].append(i)
    macro: dict[str, list[float]] = defaultdict(list)
    for lang in sorted(by_lang, key=lambda code: (code.startswith("other"), code)):
        if lang.startswith("other"):
            continue
        idx = by_lang[lang]
        cells = []
        for name, (codes, kept) in columns.items():
            right = sum(_language(codes[i]) == _language(lang) and kept[i] for i in idx) / len(idx)
            macro[name].append(right)
            cells.append(f"{right:.3f}")
        first_codes = next(iter(columns.values()))[0]
        wrong = Counter(first_codes[i] for i in idx if _language(first_codes[i]) != _language(lang)).most_common(2)
        out.append(f"| {lang} | {len(idx)} | " + " | ".join(cells) + " | " + (", ".join(f"{c} ×{n}" for c, n in wrong) or "-") + " |")
    out.append(f"| **macro ({len(next(iter(macro.values())))} Qwen2 languages)** | | "
               + " | ".join(f"**{sum(v) / len(v):.3f}**" for v in macro.values()) + " | |")
    others = [i for lang, idx in by_lang.items() if lang.startswith("other") for i in idx]
    if others:
        cells = [f"{sum(_language(codes[i]) in qwen2 and kept[i] for i in others) / len(others):.3f}"
                 for codes, kept in columns.values()]
        n_lang = len({items[i]["lang"] for i in others})
        out.append(f"| other languages accepted as a Qwen2 language ({n_lang} languages) | {len(others)} | "
                   + " | ".join(cells) + " | |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-language", type=int, default=300, help="texts per language and source")
    parser.add_argument("--min-chars", type=int, default=30, help="shortest text kept")
    args = parser.parse_args()
    items = locale_items(args.per_language, args.min_chars) + realdata_items(args.per_language, args.min_chars)
    texts = [item["text"] for item in items]
    codes, kept = predict_lid176(texts)
    columns = {"lid.176 default": (codes, kept), "lid.176 bare": (codes, [True] * len(codes))}
    helio = predict_heliport(texts)
    if helio is not None:
        columns["heliport bare"] = (helio, [True] * len(helio))
    sources = Counter(item["source"] for item in items)
    print(f"{len(items)} texts ({', '.join(f'{n} {s}' for s, n in sources.items())}); correct = same language and kept\n")
    for source in [None, *sources]:
        chosen = [i for i, item in enumerate(items) if source is None or item["source"] == source]
        sub = [items[i] for i in chosen]
        print(f"\n### {source or 'all sources'}\n")
        print(report(sub, {name: ([c[i] for i in chosen], [k[i] for i in chosen]) for name, (c, k) in columns.items()}))


if __name__ == "__main__":
    main()
