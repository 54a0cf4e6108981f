"""Measure how much English one character / one word of each script carries, on real translations.

    python benchmarks/script_weights.py

The numbers behind :data:`filters.words.CHAR_WEIGHTS` and :data:`filters.words.WORD_WEIGHTS` (and
the README's "Sizes in every script" table). Three sources of human translations, all on this
machine without the internet:

* ``benchmarks/data/prose_parallel.jsonl``: Python documentation paragraphs and their Chinese,
  Japanese, Korean and Spanish translations (pairs share ``pair``);
* ``../shared/realdata/math_mgsm.jsonl``: the same 250 word problems in 11 languages (ids
  ``mgsm-<lang>-<n>``);
* ``/usr/share/locale/<lang>/LC_MESSAGES/*.mo``: the translated messages of the installed programs
  (messages of 40+ English characters whose translation is mostly in the script).

Per source and language: ``char weight`` = (English characters - the translation's characters
outside the script) / the translation's characters in the script; ``word weight`` = English
whitespace words / the translation's word units (:func:`filters.words.split_words_in_script`);
and what the current weights make of the translation, as a ratio to English (1.00 = the same size).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import regex

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from locale_messages import LOCALE, translated_messages  # noqa: E402

from filters.words import english_words, latin_chars, split_words_in_script  # noqa: E402

#: language -> (script code, the script's characters)
SCRIPTS = {
    "cmn": ("Hans", r"\p{Han}"), "jpn": ("Jpan", r"[\p{Han}\p{Hiragana}\p{Katakana}ー]"),
    "kor": ("Hang", r"\p{Hangul}"), "tha": ("Thai", r"\p{Thai}"), "lao": ("Laoo", r"\p{Lao}"),
    "khm": ("Khmr", r"\p{Khmer}"), "mya": ("Mymr", r"\p{Myanmar}"), "arb": ("Arab", r"\p{Arabic}"),
    "fas": ("Arab", r"\p{Arabic}"), "urd": ("Arab", r"\p{Arabic}"), "heb": ("Hebr", r"\p{Hebrew}"),
    "hin": ("Deva", r"\p{Devanagari}"), "mar": ("Deva", r"\p{Devanagari}"), "npi": ("Deva", r"\p{Devanagari}"),
    "ben": ("Beng", r"\p{Bengali}"), "tel": ("Telu", r"\p{Telugu}"), "tam": ("Taml", r"\p{Tamil}"),
    "rus": ("Cyrl", r"\p{Cyrillic}"), "vie": ("Latn", r"\p{Latin}"), "deu": ("Latn", r"\p{Latin}"),
    "fra": ("Latn", r"\p{Latin}"), "spa": ("Latn", r"\p{Latin}"), "swh": ("Latn", r"\p{Latin}"),
}  # fmt: skip
LOCALE_DIRS = {"zh_CN": "cmn", "ja": "jpn", "ko": "kor", "th": "tha", "lo": "lao", "km": "khm", "my": "mya",
               "ar": "arb", "fa": "fas", "ur": "urd", "he": "heb", "hi": "hin", "mr": "mar", "ne": "npi",
               "bn": "ben", "te": "tel", "ta": "tam", "ru": "rus", "vi": "vie", "de": "deu", "es": "spa"}
MGSM = {"bn": "ben", "de": "deu", "es": "spa", "fr": "fra", "ja": "jpn", "ru": "rus", "sw": "swh",
        "te": "tel", "th": "tha", "zh": "cmn"}


def parallel_pairs() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(source, language) -> [(English, translation)]."""
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    parallel = ROOT / "benchmarks" / "data" / "prose_parallel.jsonl"
    if parallel.exists():
        by_pair: dict[str, dict[str, str]] = defaultdict(dict)
        for line in parallel.open(encoding="utf-8"):
            r = json.loads(line)
            by_pair[r["pair"]][r["lang"]] = r["text"]
        for texts in by_pair.values():
            english = texts.pop("eng_Latn", None)
            for lang, text in texts.items():
                if english:
                    pairs[("python docs .po", lang.split("_")[0])].append((english, text))
    mgsm = ROOT.parent / "shared" / "realdata" / "math_mgsm.jsonl"
    if mgsm.exists():
        problems: dict[str, dict[str, str]] = defaultdict(dict)
        for line in mgsm.open(encoding="utf-8"):
            r = json.loads(line)
            _, code, number = r["id"].split("-")
            problems[number][code] = r["text"]
        for texts in problems.values():
            english = texts.get("en")
            for code, lang in MGSM.items():
                if english and code in texts:
                    pairs[("MGSM", lang)].append((english, texts[code]))
    for directory, lang in LOCALE_DIRS.items():
        for key, value, form in translated_messages(LOCALE / directory):
            if form == 0 and len(key) >= 40:
                pairs[(".mo messages", lang)].append((key, value))
    return pairs


def measure(english: list[str], translated: list[str], lang: str) -> dict[str, float] | None:
    script, pattern = SCRIPTS[lang]
    letters = regex.compile(pattern)
    en_chars = en_words = in_script = outside = units = 0
    sized = counted = 0.0
    n = 0
    for en, text in zip(english, translated):
        found = len(letters.findall(text))
        if found < 0.5 * len(text.replace(" ", "")):
            continue  # mostly code, numbers or untranslated
        words = split_words_in_script(text, script)
        n += 1
        en_chars, en_words = en_chars + len(en), en_words + len(en.split())
        in_script, outside, units = in_script + found, outside + len(text) - found, units + len(words)
        sized += latin_chars(text)
        counted += english_words(words, script, f"{lang}_{script}")
    if not n or not in_script or not units:
        return None
    return {"n": n, "char_weight": (en_chars - outside) / in_script, "word_weight": en_words / units,
            "chars_now": sized / en_chars, "words_now": counted / en_words}


def main() -> None:
    print("| source | language | script | pairs | char weight | word weight | size now / English | words now / English |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for (source, lang), rows in sorted(parallel_pairs().items(), key=lambda kv: (SCRIPTS[kv[0][1]][0], kv[0][1], kv[0][0])):
        found = measure([en for en, _ in rows], [text for _, text in rows], lang)
        if found:
            print(f"| {source} | {lang} | {SCRIPTS[lang][0]} | {found['n']} | {found['char_weight']:.2f} | "
                  f"{found['word_weight']:.2f} | {found['chars_now']:.2f} | {found['words_now']:.2f} |")


if __name__ == "__main__":
    main()
