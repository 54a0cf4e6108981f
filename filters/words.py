"""Words for filters, in every script: whitespace words where the script has spaces, characters
(CJK) or syllable-like clusters where it has none.

Word-based statistics (Gopher's word counts, n-gram repetition, 13-gram decontamination) need a
notion of word that works for Chinese, Japanese, Thai, Lao, Khmer and Burmese too. Without
dictionary segmenters (heavy, one per language) we use units that exist in every text:
one Han/kana character is one word (a common choice for CJK statistics), and for the
Southeast Asian scripts each grapheme cluster is one unit.
"""

from __future__ import annotations

import regex

from curate.langcodes import dominant_script

#: Scripts written without spaces between words.
SPACELESS_SCRIPTS = frozenset({"Hani", "Jpan", "Hira", "Kana", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"})

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
    if script in ("Hani", "Jpan", "Hira", "Kana"):
        return _CJK_CHAR.findall(text)
    if script in SPACELESS_SCRIPTS:
        return _CLUSTER.findall(text)
    return _SPACED_WORD.findall(text)
