"""Text normalisation for dedup: one reference function and its vectorised batch twin.

Near-dedup should not see differences that copies of one text routinely have: Unicode forms,
case, dates and counts, punctuation, spacing. :func:`normalize_for_dedup` says what that means
on one string; :func:`normalize_batch` computes the same thing for a whole batch as one array
of code points (what the shingle hasher consumes), classifying characters with a lookup table
instead of three regex passes per document. Tests check the two agree.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import regex

_PUNCT = regex.compile(r"\p{P}+")
_DIGIT = regex.compile(r"\p{Nd}")
_SPACE = regex.compile(r"\s+")

_KEEP, _PUNCT_CLASS, _DIGIT_CLASS, _SPACE_CLASS = 0, 1, 2, 3
_ZERO, _BLANK = ord("0"), ord(" ")


def normalize_for_dedup(
    text: str,
    *,
    lowercase: bool = True,
    strip_punctuation: bool = True,
    normalize_digits: bool = True,
    unicode_form: str | None = "NFKC",
) -> str:
    """Text reduced to what near-dedup should compare (the reference definition).

    Unicode normalisation (NFKC folds full-width forms and ligatures), case folding to lower
    case, every decimal digit (``\\p{Nd}``, any script) to ``"0"``, Unicode punctuation
    (``\\p{P}``) removed, whitespace runs collapsed to one space and stripped.
    """
    text = _prepare(text, lowercase, unicode_form)
    if normalize_digits:
        text = _DIGIT.sub("0", text)
    if strip_punctuation:
        text = _PUNCT.sub("", text)
    return _SPACE.sub(" ", text).strip()


def _prepare(text: str, lowercase: bool, unicode_form: str | None) -> str:
    if unicode_form and not text.isascii():  # ASCII is already in every normal form
        text = unicodedata.normalize(unicode_form, text)
    return text.lower() if lowercase else text


@lru_cache(maxsize=1)
def _char_classes() -> np.ndarray:
    """Class of every code point (keep / punctuation / digit / whitespace), from the same regexes
    the reference function uses, so the two cannot disagree on what a class contains."""
    table = np.zeros(0x110000, dtype=np.uint8)
    every_char = "".join(map(chr, range(0x110000)))
    for pattern, cls in ((_PUNCT, _PUNCT_CLASS), (_DIGIT, _DIGIT_CLASS), (_SPACE, _SPACE_CLASS)):
        for match in pattern.finditer(every_char):
            table[match.start() : match.end()] = cls
    return table


@dataclass(frozen=True)
class NormalizedBatch:
    """Normalised documents as one uint32 code-point array; document ``i`` is
    ``codepoints[offsets[i]:offsets[i + 1]]``."""

    codepoints: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def text(self, i: int) -> str:
        """Document ``i`` as a string (for tests and the SHA-1 path)."""
        cps = self.codepoints[self.offsets[i] : self.offsets[i + 1]]
        return cps.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def content_bytes(self, i: int) -> bytes:
        """The normalised document as bytes, for its exact-duplicate content hash."""
        return self.codepoints[self.offsets[i] : self.offsets[i + 1]].tobytes()


def normalize_batch(
    texts: Sequence[str],
    *,
    lowercase: bool = True,
    strip_punctuation: bool = True,
    normalize_digits: bool = True,
    unicode_form: str | None = "NFKC",
) -> NormalizedBatch:
    """:func:`normalize_for_dedup` of every text, computed on one code-point array."""
    n = len(texts)
    prepared = [_prepare(t, lowercase, unicode_form) for t in texts]
    lengths = np.fromiter((len(t) for t in prepared), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    cps = np.frombuffer("".join(prepared).encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint32)
    cls = _char_classes()[cps]
    if normalize_digits:
        np.putmask(cps, cls == _DIGIT_CLASS, _ZERO)
    if strip_punctuation:
        keep = cls != _PUNCT_CLASS
        offsets = _kept_offsets(keep, offsets)
        cps, cls = cps[keep], cls[keep]
    # A whitespace run becomes one space, kept only between two non-space characters of one
    # document: keep the last space of a run when the next character of the same document is
    # text, except the space just before a document's first text (a leading run).
    is_space = cls == _SPACE_CLASS
    keep = ~is_space
    keep[:-1] |= ~is_space[1:]
    ends = offsets[1:][offsets[1:] > offsets[:-1]] - 1  # the last character of each non-empty doc
    keep[ends] = ~is_space[ends]
    text_at = np.flatnonzero(~is_space)
    first_text = text_at[np.minimum(np.searchsorted(text_at, offsets[:-1]), max(len(text_at) - 1, 0))] if len(text_at) else offsets[:-1]
    leading = (first_text > offsets[:-1]) & (first_text < offsets[1:])
    keep[first_text[leading] - 1] = False
    offsets = _kept_offsets(keep, offsets)
    cps = np.where(is_space, np.uint32(_BLANK), cps)[keep]
    return NormalizedBatch(cps, offsets)


def _kept_offsets(keep: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Document offsets after compressing an array by ``keep``."""
    kept_before = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    return kept_before[offsets]
