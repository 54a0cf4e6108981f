"""Words for filters, in every script: whitespace words where the script has spaces, characters
(CJK) or syllable-like clusters where it has none.

Word-based statistics (Gopher's word counts, n-gram repetition, 13-gram decontamination) need a
notion of word that works for Chinese, Japanese, Thai, Lao, Khmer and Burmese too. Without
dictionary segmenters (heavy, one per language) we use units that exist in every text:
one Han/kana character is one word (a common choice for CJK statistics), and for the
Southeast Asian scripts each grapheme cluster is one unit.

Size rules need more than units: 200 characters of Chinese say what about 680 characters of
English say. :func:`latin_chars` and :func:`english_words` convert a text's size into the
characters or words an English text with the same content would have, with weights measured on
parallel human translations (:data:`CHAR_WEIGHTS`, :data:`WORD_WEIGHTS`), so one bound
(``min_chars: 200``, Gopher's 50 words) means the same amount of content in every script.
"""

from __future__ import annotations

import regex

from filters.scripts import dominant_script

#: Scripts written without spaces between words.
SPACELESS_SCRIPTS = frozenset({"Hani", "Hans", "Hant", "Jpan", "Hira", "Kana", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"})
#: Scripts whose unit is one Han or kana character.
_CJK_SCRIPTS = frozenset({"Hani", "Hans", "Hant", "Jpan", "Hira", "Kana"})

_SPACED_WORD = regex.compile(r"[\p{L}\p{M}\p{N}][\p{L}\p{M}\p{N}'’_-]*")
_CJK_CHAR = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}ー]|[[\p{L}\p{N}]--[\p{Han}\p{Hiragana}\p{Katakana}]]"
    r"[[\p{L}\p{M}\p{N}'’_-]--[\p{Han}\p{Hiragana}\p{Katakana}]]*",
    regex.V1,
)
_CLUSTER = regex.compile(r"(?=[\p{L}\p{N}])\X")


def script_of(text: str, lang: str | None) -> str | None:
    """The script part of a ``lang`` code (``cmn_Hani`` -> ``Hani``), else read from the text."""
    if lang and "_" in lang:
        return lang.split("_", 1)[1]
    return dominant_script(text)


def is_spaceless(text: str, lang: str | None = None) -> bool:
    return script_of(text, lang) in SPACELESS_SCRIPTS


def split_words(text: str, lang: str | None = None) -> list[str]:
    """Words of ``text`` (punctuation dropped) with the rule its script needs."""
    return split_words_in_script(text, script_of(text, lang))


def split_words_in_script(text: str, script: str | None) -> list[str]:
    """:func:`split_words` for a script already known (per-line work need not detect it again)."""
    if script in _CJK_SCRIPTS:
        return _CJK_CHAR.findall(text)
    if script in SPACELESS_SCRIPTS:
        return _CLUSTER.findall(text)
    return _SPACED_WORD.findall(text)


# --- content size in English equivalents ------------------------------------------------------
#
# Measured on parallel human translations (the same paragraph in English and in the script):
# 1,200 paragraph pairs of the Python documentation's .po files (benchmarks/data/prose_parallel.jsonl:
# Chinese, Japanese, Korean, Spanish), the 250 MGSM problems in 11 languages
# (../shared/realdata/math_mgsm.jsonl) and, for the scripts neither has, the translated messages of
# 20 languages in /usr/share/locale/*/LC_MESSAGES/*.mo (messages of 40+ English characters;
# benchmarks/script_weights.py). The README's "Sizes in every script" table has the numbers.

#: English (Latin-script) characters one character of the script carries. Characters of other
#: scripts, digits, punctuation and spaces count 1 (Cyrillic, Devanagari, Bengali, Telugu, Tamil
#: and the Latin languages were measured within about 15% of 1 and left there).
CHAR_WEIGHTS: dict[str, float] = {
    "Han": 3.4, "Kana": 2.0, "Hangul": 2.3, "Thai": 1.1, "Arabic": 1.2, "Hebrew": 1.25,
    "Khmer": 0.85, "Myanmar": 0.85,
}  # fmt: skip
_CHAR_CLASSES = {
    "Han": regex.compile(r"\p{Han}"),
    "Kana": regex.compile(r"[\p{Hiragana}\p{Katakana}ー]"),
    "Hangul": regex.compile(r"\p{Hangul}"),
    "Thai": regex.compile(r"[\p{Thai}\p{Lao}]"),
    "Arabic": regex.compile(r"\p{Arabic}"),
    "Hebrew": regex.compile(r"\p{Hebrew}"),
    "Khmer": regex.compile(r"\p{Khmer}"),
    "Myanmar": regex.compile(r"\p{Myanmar}"),
}

#: English words one word unit of the script carries (see :func:`split_words`): a Han character,
#: a kana character, a Thai/Lao/Khmer/Burmese grapheme cluster, or a space-separated word of a
#: spaced script (a Korean eojeol carries 1.3 English words in prose, 1.15 in UI messages; Russian and Bengali words
#: 1.05-1.15, Telugu and Tamil 1.2-1.34; Latin, Arabic and Devanagari languages 0.9-1.15, left
#: at 1, except :data:`LANGUAGE_WORD_WEIGHTS`).
WORD_WEIGHTS: dict[str, float] = {
    "Han": 0.63, "Kana": 0.31, "Cluster": 0.30,
    "Hang": 1.3, "Kore": 1.3, "Cyrl": 1.1, "Beng": 1.1, "Telu": 1.25, "Taml": 1.3,
}  # fmt: skip
#: Languages whose words differ from their script's: a Vietnamese word is one syllable
#: (0.70 English words per word, measured on 9,422 messages); a Hindi text spells postpositions
#: as words (0.89).
LANGUAGE_WORD_WEIGHTS: dict[str, float] = {"vie": 0.7, "hin": 0.9}
_HAN_UNIT = regex.compile(r"\p{Han}")
_KANA_UNIT = regex.compile(r"[\p{Hiragana}\p{Katakana}ー]")


def latin_chars(text: str) -> float:
    """Characters an English text with the same content would have (``len`` for Latin text)."""
    if text.isascii():
        return float(len(text))
    extra = 0.0
    for name, pattern in _CHAR_CLASSES.items():
        found = len(pattern.findall(text))
        if found:
            extra += (CHAR_WEIGHTS[name] - 1.0) * found
    return len(text) + extra


def english_words(words: list[str], script: str | None, lang: str | None = None) -> float:
    """How many English words the ``words`` of :func:`split_words_in_script` amount to."""
    if lang and (weight := LANGUAGE_WORD_WEIGHTS.get(lang.split("_", 1)[0])):
        return weight * len(words)
    if script in _CJK_SCRIPTS:
        han = sum(1 for w in words if _HAN_UNIT.fullmatch(w))
        kana = sum(1 for w in words if _KANA_UNIT.fullmatch(w))
        return WORD_WEIGHTS["Han"] * han + WORD_WEIGHTS["Kana"] * kana + (len(words) - han - kana)
    if script in SPACELESS_SCRIPTS:
        return WORD_WEIGHTS["Cluster"] * len(words)
    return WORD_WEIGHTS.get(script or "", 1.0) * len(words)
