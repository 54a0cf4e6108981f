"""Pairwise specialists: small rules for languages the general models confuse.

The ensemble (:mod:`curate.lang.ensemble`) names a group (Malay or Indonesian); a specialist
picks the member. Each reads published data, not word lists of ours:

* **Malay vs Indonesian**: a naive Bayes over words with the frequencies of the ``wordfreq``
  package (``ms`` and ``id``, from Wikipedia, subtitles, news and web text). Words the two
  languages spell alike cancel out; ``kerana``/``karena``, ``boleh``/``bisa``, ``wang``/``uang``
  decide. The prior leans one nat toward Malay: lid.176 and the frequency lists both lean
  Indonesian (the bigger web language), measured on translated UI messages
  (``benchmarks/lid_accuracy.py``).
* **Czech vs Slovak**: the same naive Bayes over wordfreq's ``cs`` and ``sk`` frequencies, with a
  one-nat prior toward Czech (measured: on the report half of ``lid_accuracy.py``'s UI messages,
  Czech 292 -> 295 of 313 right, Slovak 261 -> 267 of 293).
* **Chinese vs Japanese**: the kana rule, :func:`filters.langcodes.settle_chinese_or_japanese`.
* **Simplified vs Traditional Chinese** (``cmn_Hans`` / ``cmn_Hant``): a count of the characters
  that exist in only one of the two systems, from the CC-CEDICT character sets of the
  ``hanzidentifier`` package (2,325 Simplified-only, 2,703 Traditional-only). More
  Traditional-only characters than Simplified-only ones is Traditional; a tie (a text of shared
  characters only) is Simplified, the system of most Chinese web text.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from filters.langcodes import CHINESE_LANGUAGES

_WORD = re.compile(r"[^\W\d_]+")
#: Frequency given to a word one list lacks (wordfreq's lists stop near 1e-8).
_FLOOR = 1e-7
#: Word-frequency specialists: (first, second) language -> (wordfreq codes, log-odds prior toward
#: the first). Priors measured on the fitting half of ``benchmarks/lid_accuracy.py``'s real texts:
#: lid.176 and the frequency lists lean to the bigger web language (Indonesian, Slovak's
#: frequencies less so than Czech texts need).
PAIR_SPECIALISTS: dict[tuple[str, str], tuple[tuple[str, str], float]] = {
    ("zsm", "ind"): (("ms", "id"), 1.0),
    ("ces", "slk"): (("cs", "sk"), 1.0),
}
#: Words read per text (from its first 1,000 characters): enough to decide, bounded cost.
_MAX_WORDS = 100
_MAX_CHARS = 1000
_PAIR_OF = {lang: pair for pair in PAIR_SPECIALISTS for lang in pair}


@lru_cache(maxsize=1)
def _frequencies():
    from wordfreq import word_frequency  # lazy: loads its tables on first use

    return word_frequency


def pair_log_odds(text: str, pair: tuple[str, str]) -> float:
    """log P(text | first) - log P(text | second) of a :data:`PAIR_SPECIALISTS` pair, word by
    word over wordfreq's frequencies, plus the pair's prior."""
    frequency = _frequencies()
    (first, second), odds = PAIR_SPECIALISTS[pair]
    for word in _WORD.findall(text[:_MAX_CHARS].lower())[:_MAX_WORDS]:
        a, b = frequency(word, first), frequency(word, second)
        if a or b:
            odds += math.log(max(a, _FLOOR)) - math.log(max(b, _FLOOR))
    return odds


@lru_cache(maxsize=1)
def han_variant_characters() -> tuple[frozenset[str], frozenset[str]]:
    """(Simplified-only, Traditional-only) characters of CC-CEDICT, as hanzidentifier ships them."""
    from hanzidentifier import helpers  # lazy: only Chinese texts need it

    shared = helpers.SHARED_CHARACTERS
    return frozenset(helpers.SIMPLIFIED_CHARACTERS - shared), frozenset(helpers.TRADITIONAL_CHARACTERS - shared)


def chinese_script(text: str) -> str:
    """``Hant`` if the text's first 1,000 characters have more Traditional-only than
    Simplified-only characters, else ``Hans``."""
    simplified_only, traditional_only = han_variant_characters()
    head = text[:_MAX_CHARS]
    simplified = sum(char in simplified_only for char in head)
    traditional = sum(char in traditional_only for char in head)
    return "Hant" if traditional > simplified else "Hans"


def settle_chinese_script(code: str, text: str) -> str:
    """A Chinese language in Han script (``cmn_Hani``, ``yue_Hani``) as ``_Hans`` or ``_Hant``;
    other codes pass unchanged."""
    lang, _, script = code.partition("_")
    if script == "Hani" and lang in CHINESE_LANGUAGES:
        return f"{lang}_{chinese_script(text)}"
    return code


def settle_group(lang: str, text: str) -> str:
    """The member of ``lang``'s specialist pair the text is in (``lang`` itself without one)."""
    pair = _PAIR_OF.get(lang)
    if pair is None:
        return lang
    return pair[0] if pair_log_odds(text, pair) > 0 else pair[1]
