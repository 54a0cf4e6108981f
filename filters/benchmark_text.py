"""How decontamination reads text: one normalisation for benchmark items and documents, word
hashes, and which n-grams carry enough information to count as evidence.

Normalisation (:func:`comparable_words`), applied alike to both sides so light edits of a leaked
item still match:

* Unicode NFKC and case folding (``Natalia`` = ``NATALIA``; identifiers' case in code);
* numbers: thousands separators dropped (``1,000`` = ``1 000`` = ``1000``), trailing zeros of
  decimals dropped (``3.50`` = ``3.5``, ``2.0`` = ``2``), ``%`` and ``per cent`` read as
  ``percent``;
* LaTeX: spacing commands (``\\,`` ``\\;`` ``\\quad``), ``\\left``/``\\right``, ``\\displaystyle``
  dropped; ``\\dfrac``/``\\tfrac`` read as ``\\frac``, ``\\frac12`` as ``\\frac{1}{2}``;
* punctuation and symbols dropped, whitespace (code indentation) collapsed; words as
  :func:`filters.words.split_words` gives them (Chinese and Japanese: characters).

Number words are handled on the items' side only (:func:`item_readings`), so documents pay
nothing for them: each item field is also read with its number words as digits (``text2num``:
en, fr, es, pt, de, nl, it, da) and with its small numbers as words (``num2words``, 50+
languages), and a document matches whichever reading it wrote.

Information (:func:`informative`): an n-gram is evidence of a leak only if it has
``min_real_words`` words of two or more letters (not ``1 2 3 ... 13``, a hex table's ``0x1f
0x20 ...`` or a run of single-letter variables) and its words are rare enough together: the sum
of their surprisal in ordinary text of the language (:func:`word_bits`, from ``wordfreq``'s
frequencies of Wikipedia, subtitles, books, news and web text) reaches ``min_bits``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

import numpy as np
import regex

from filters.words import split_words

_IN_WORD_PUNCT = regex.compile(r"['’_-]+")  # the punctuation split_words keeps inside words
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")
_DIGIT = regex.compile(r"\d")
_ASCII_WORD = re.compile(r"[a-z0-9]+")

# numbers
# a thousands separator, or a decimal with trailing zeros (one pass for both)
_NUMBER_FORMAT = regex.compile(r"(?<=\d)[,'’\u00a0\u202f\u2009](?=\d{3}(?!\d))|(?<![\d.])(\d+)\.(\d*?)0+(?![\d.])")
_PERCENT = regex.compile(r"%|\bper\s?cent\b", regex.IGNORECASE)
# LaTeX
_TEX_SPACING = regex.compile(r"\\(?:[,;:!> ]|q?quad\b|displaystyle\b|textstyle\b|left\b|right\b|[bB]igg?[lr]?\b)")
_TEX_FRAC = regex.compile(r"\\[dt]frac(?![a-z])")
_TEX_SHORT_FRAC = regex.compile(r"\\(frac|binom)(\d)(\d)")

#: Languages whose number words text2num turns into digits.
NUMBER_WORD_LANGUAGES = frozenset({"en", "fr", "es", "pt", "de", "nl", "it", "da"})
_HEX_WORD = regex.compile(r"(?:0x)?[0-9a-f]*\d[0-9a-f]*")
_LETTER = regex.compile(r"\p{L}")

#: Odd 64-bit multiplier of the polynomial n-gram hash (invertible modulo 2**64).
MULT = np.uint64(0x9E3779B97F4A7C15)
_MULT_INVERSE = np.uint64(pow(0x9E3779B97F4A7C15, -1, 1 << 64))


def _number_format(match: regex.Match) -> str:
    whole, fraction = match.group(1), match.group(2)
    if whole is None:  # a thousands separator
        return ""
    return f"{whole}.{fraction}" if fraction else whole


def normalize_numbers_and_tex(text: str) -> str:
    """The number and LaTeX rules of the module docstring (before punctuation is dropped)."""
    if "\\" in text:
        text = _TEX_SPACING.sub(" ", text)
        text = _TEX_FRAC.sub(r"\\frac", text)
        text = _TEX_SHORT_FRAC.sub(r"\\\1{\2}{\3}", text)
    if _DIGIT.search(text):
        text = _NUMBER_FORMAT.sub(_number_format, text)
    if "%" in text or "cent" in text:
        text = _PERCENT.sub(" percent ", text)
    return text


def _language_of(lang: str | None, supported: frozenset[str]) -> str | None:
    """``eng_Latn`` / ``en`` -> ``en`` if a library supports it (None for others and for none)."""
    if not lang:
        return None
    code = lang.split("_", 1)[0].lower()
    code = _ISO3_TO_1.get(code, code)
    return code if code in supported else None


_ISO3_TO_1 = {"eng": "en", "fra": "fr", "spa": "es", "por": "pt", "deu": "de", "nld": "nl", "ita": "it", "dan": "da",
              "rus": "ru", "ukr": "uk", "pol": "pl", "ces": "cs", "jpn": "ja", "kor": "ko", "vie": "vi", "tha": "th",
              "tur": "tr", "ind": "id", "arb": "ar", "pes": "fa", "heb": "he", "ben": "bn", "tel": "te"}  # fmt: skip


def number_words_as_digits(text: str, lang: str | None) -> str | None:
    """``twenty-five ducks`` -> ``25 ducks`` (text2num, every number), or None when text2num
    does not read the language."""
    code = _language_of(lang, NUMBER_WORD_LANGUAGES)
    if code is None:
        return None
    from text_to_num import alpha2digit  # lazy: only index building needs it

    return alpha2digit(text, code, threshold=0)


_SMALL_INTEGER = regex.compile(r"(?<![\w.,^_{}\\])\d{1,3}(?![\w.,^_}]?\d)(?![\w^_])")
SPELLED_UP_TO = 100


def small_numbers_as_words(text: str, lang: str | None) -> str | None:
    """``16 eggs`` -> ``sixteen eggs`` for whole numbers up to :data:`SPELLED_UP_TO` outside
    ``$...$`` formulas (num2words), or None when num2words does not write the language or nothing
    changes."""
    from num2words import CONVERTER_CLASSES, num2words  # lazy: only index building needs it

    code = _language_of(lang, frozenset(CONVERTER_CLASSES))
    if code is None or not _DIGIT.search(text):
        return None

    def spell(match: regex.Match) -> str:
        number = int(match.group())
        return num2words(number, lang=code) if number <= SPELLED_UP_TO else match.group()

    parts = text.split("$")
    parts[::2] = [_SMALL_INTEGER.sub(spell, part) for part in parts[::2]]  # even parts: outside formulas
    spelled = "$".join(parts)
    return spelled if spelled != text else None


def comparable_words(text: str, lang: str | None = None) -> list[str]:
    """The words decontamination compares, after the normalisation of the module docstring."""
    if text.isascii():  # the common case, and the same words as below: runs of letters and digits
        return _ASCII_WORD.findall(normalize_numbers_and_tex(text.lower()))
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = _IN_WORD_PUNCT.sub(" ", normalize_numbers_and_tex(text.casefold()))
    if not text.isascii() and _CJK.search(text):
        return split_words(text, "und_Hani")
    return split_words(text, lang)


def item_readings(text: str, lang: str | None) -> list[list[str]]:
    """The words of a benchmark field as written, with number words as digits, and with small
    numbers as words: a document that writes its numbers the other way still matches."""
    readings = [comparable_words(text, lang)]
    if not any(map(is_real_word, readings[0])):  # a bare number (an answer): spelling it out is no evidence
        return readings
    for variant in (number_words_as_digits(text, lang), small_numbers_as_words(text, lang)):
        if variant is not None:
            words = comparable_words(variant, lang)
            if words not in readings:
                readings.append(words)
    return readings


# --- hashing -------------------------------------------------------------------------------------

#: Changes from process to process with Python's string-hash salt: part of an index's identity.
HASH_SALT = hash("curate decontamination")


def word_hashes(words: list[str]) -> np.ndarray:
    """Python's own string hash of each word (SipHash, 64 bits, cached on the string): fast, but
    salted per process, so an index is only valid in the process that built it (:data:`HASH_SALT`)."""
    return np.fromiter(map(hash, words), dtype=np.int64, count=len(words)).view(np.uint64)


class WindowHashes:
    """Hashes of every run of ``k`` consecutive words, for any ``k``, from one prefix pass.

    The hash of words ``i .. i+k-1`` is ``sum(h[i+j] * MULT**(k-1-j))`` modulo 2**64 (Horner's
    rule). With ``P[t] = sum(h[j] * MULT**(t-1-j) for j < t)`` it is ``P[i+k] - P[i] * MULT**k``,
    and ``P`` is a cumulative sum once the powers are factored out (``MULT`` is odd, so it has an
    inverse modulo 2**64): every window length costs two vector operations.
    """

    def __init__(self, hashes: np.ndarray) -> None:
        n = len(hashes)
        powers, inverse_powers = _power_tables(n + 1)
        prefix = np.zeros(n + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            # P[t] = MULT**(t-1) * sum(h[j] * MULT**-j for j < t)
            np.cumsum(hashes * inverse_powers[:n], out=prefix[1:])
            prefix[1:] *= powers[:n]
        self.prefix = prefix
        self.n = n
        self._powers = powers

    def of_length(self, k: int) -> np.ndarray:
        """Hash of every window of ``k`` words (empty when the text is shorter)."""
        m = self.n - k + 1
        if m <= 0 or k <= 0:
            return np.empty(0, dtype=np.uint64)
        with np.errstate(over="ignore"):
            return self.prefix[k:] - self.prefix[:m] * self._powers[k]

    def at(self, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Hash of the window of ``lengths[i]`` words from ``starts[i]``, for each i."""
        with np.errstate(over="ignore"):
            return self.prefix[starts + lengths] - self.prefix[starts] * self._powers[lengths]


def _power_tables(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``MULT**k`` and ``MULT**-k`` modulo 2**64 for k up to at least ``size`` (cached, grown by
    doubling: no document recomputes them)."""
    return _power_tables_of(1 << max(12, (size - 1).bit_length()))


@lru_cache(maxsize=32)
def _power_tables_of(size: int) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(over="ignore"):
        powers = np.concatenate(([np.uint64(1)], np.cumprod(np.full(size - 1, MULT, dtype=np.uint64))))
        inverse = np.concatenate(([np.uint64(1)], np.cumprod(np.full(size - 1, _MULT_INVERSE, dtype=np.uint64))))
    return powers, inverse


# --- information -------------------------------------------------------------------------------


def has_letters(word: str) -> bool:
    """A word with letters that is not a hex number (``0x1f``, ``ff00``)."""
    return bool(_LETTER.search(word)) and not _HEX_WORD.fullmatch(word)


#: Surprisal of a word (or a Chinese/Japanese character, a Thai cluster) in a language without a
#: wordfreq list: a common word's (a frequency near 1 in 1,000); 13 of them then weigh as much as
#: 13 plain English words.
UNLISTED_WORD_BITS = 10.0


@lru_cache(maxsize=1 << 16)
def surprisal_bits(word: str, lang: str | None = "en") -> float:
    """-log2 of the word's frequency in ordinary text of ``lang`` (wordfreq), at most 30 bits
    (a word wordfreq has never seen); :data:`UNLISTED_WORD_BITS` in a language it has no list for
    (``lang`` None)."""
    if lang is None:
        return UNLISTED_WORD_BITS
    from wordfreq import zipf_frequency  # lazy: only index building needs it

    zipf = zipf_frequency(word, lang)
    if zipf <= 0:
        return 30.0
    return min(30.0, (9.0 - zipf) * math.log2(10))


@lru_cache(maxsize=256)
def wordfreq_language(lang: str | None) -> str | None:
    """The wordfreq language of a benchmark (``eng_Latn`` -> ``en``; none given: English), or
    None where wordfreq has no list or needs a tokenizer it does not install (Chinese, Japanese,
    Korean): those words count :data:`UNLISTED_WORD_BITS` each."""
    if not lang:
        return "en"
    import langcodes
    import wordfreq

    match = langcodes.closest_supported_match(lang.split("_", 1)[0].lower(), sorted(wordfreq.available_languages()),
                                             max_distance=10)
    return None if match in (None, "zh", "ja", "ko") else match


def is_real_word(word: str) -> bool:
    """A word of two or more letters, or a Chinese or Japanese character: not a digit, a number, a
    hex number or a single Latin-like letter (a variable, an article)."""
    return has_letters(word) and (len(word) > 1 or bool(_CJK.match(word)))


def word_bits(word: str, lang: str | None) -> float:
    """Surprisal of a word as evidence: wordfreq's for a word of letters (at most
    :data:`SINGLE_LETTER_BITS` for a single letter), 3.3 bits per digit for a number of two or more
    digits (at most eight digits' worth), one bit for a single digit, nothing for a hex number."""
    if has_letters(word):
        bits = surprisal_bits(word, lang)
        return min(bits, SINGLE_LETTER_BITS) if len(word) == 1 and not _CJK.match(word) else bits
    if word.isdigit():
        return math.log2(10) * min(len(word), 8) if len(word) > 1 else SINGLE_DIGIT_BITS
    return 0.0


#: A single letter says little whatever its frequency (``x``, ``a``, ``b``); a single digit less.
SINGLE_LETTER_BITS = 4.0
SINGLE_DIGIT_BITS = 1.0


def informative(words: list[str], lang: str | None, min_bits: float, min_real_words: int) -> bool:
    """True if ``words`` can stand as evidence: ``min_real_words`` real words (:func:`is_real_word`;
    a run of numbers or a hex table has none) and ``min_bits`` of surprisal (:func:`word_bits`)."""
    return bool(len(words)) and bool(informative_windows(words, len(words), lang, min_bits, min_real_words)[0])


def informative_windows(words: list[str], k: int, lang: str | None, min_bits: float, min_real_words: int) -> np.ndarray:
    """:func:`informative` for every window of ``k`` words at once (a boolean per window)."""
    m = len(words) - k + 1
    if m <= 0:
        return np.zeros(0, dtype=bool)
    real = np.fromiter((is_real_word(w) for w in words), dtype=np.float64, count=len(words))
    bits = np.fromiter((word_bits(w, lang) for w in words), dtype=np.float64, count=len(words))
    real_sums = np.concatenate(([0.0], np.cumsum(real)))
    bit_sums = np.concatenate(([0.0], np.cumsum(bits)))
    return ((real_sums[k:] - real_sums[:m]) >= min_real_words) & ((bit_sums[k:] - bit_sums[:m]) >= min_bits - 1e-9)
