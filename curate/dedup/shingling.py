"""Shingles as spans of a normalised code-point array, hashed without building strings.

A shingle of a normalised document is a contiguous span of it: ``ngram`` space-separated
words, or ``ngram`` characters for spaceless scripts. Its hash is a polynomial over its code
points, ``sum(c[k] * BASE**k) mod 2**64``, finished with MurmurHash3's 64-bit mixer:

    shingle_hash64(s) = fmix64(poly(s) + len(s) * GOLDEN)

With prefix sums of ``c[k] * BASE**k`` the hash of any span is one subtraction and one
multiplication by ``BASE**-start`` (BASE is odd, so it has an inverse mod 2**64), which is how a
whole batch of shingles is hashed in a few numpy passes. :func:`shingle_hash64` is the same
function on one string, so ``datasketch.MinHash(hashfunc=shingle_hash32)`` can check our
signatures. Polynomial hashes mod 2**64 have known adversarial collisions (Thue-Morse strings
of thousands of characters); shingles are a few dozen characters, and the mixer spreads the
rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from curate.dedup.normalize import NormalizedBatch

BASE = 0x100000001B3 * 2 + 1  # an odd 64-bit base (FNV prime, doubled plus one)
BASE_INVERSE = pow(BASE, -1, 1 << 64)
GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1
_C1, _C2 = 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53
_SPACE = ord(" ")

Unit = Literal["word", "char"]


def _fmix64_int(k: int) -> int:
    k ^= k >> 33
    k = (k * _C1) & _MASK64
    k ^= k >> 33
    k = (k * _C2) & _MASK64
    return k ^ (k >> 33)


def shingle_hash64(shingle: str | bytes) -> int:
    """The 64-bit hash of one shingle (bytes are read as UTF-8); reference for the vector path."""
    if isinstance(shingle, bytes):
        shingle = shingle.decode("utf-8", "surrogatepass")
    acc, power = 0, 1
    for ch in shingle:
        acc = (acc + ord(ch) * power) & _MASK64
        power = (power * BASE) & _MASK64
    return _fmix64_int((acc + len(shingle) * GOLDEN) & _MASK64)


def shingle_hash32(shingle: str | bytes) -> int:
    """The low 32 bits of :func:`shingle_hash64`: a ``hashfunc`` for ``datasketch.MinHash``."""
    return shingle_hash64(shingle) & 0xFFFFFFFF


_U64 = np.uint64
_S33 = _U64(33)


def _fmix64(k: np.ndarray) -> np.ndarray:
    k = k ^ (k >> _S33)
    k *= _U64(_C1)
    k ^= k >> _S33
    k *= _U64(_C2)
    return k ^ (k >> _S33)


class _Powers:
    """``BASE**k`` and ``BASE**-k`` mod 2**64 for k < n, grown on demand (one per process)."""

    def __init__(self) -> None:
        self.forward = np.ones(1, dtype=np.uint64)
        self.inverse = np.ones(1, dtype=np.uint64)

    def upto(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n > len(self.forward):
            size = max(n, 2 * len(self.forward))
            with np.errstate(over="ignore"):
                self.forward = np.cumprod(np.r_[_U64(1), np.full(size - 1, BASE, dtype=np.uint64)])
                self.inverse = np.cumprod(np.r_[_U64(1), np.full(size - 1, BASE_INVERSE, dtype=np.uint64)])
        return self.forward[:n], self.inverse[:n]


_POWERS = _Powers()


@dataclass(frozen=True)
class ShingleHashes:
    """64-bit shingle hashes of a batch; document ``i`` owns ``hashes[offsets[i]:offsets[i + 1]]``
    (repeats included: MinHash and set Jaccard ignore them)."""

    hashes: np.ndarray
    offsets: np.ndarray

    def of(self, i: int) -> np.ndarray:
        return self.hashes[self.offsets[i] : self.offsets[i + 1]]


def shingle_spans(batch: NormalizedBatch, ngram: int, units: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, ends, counts)``: the span of every shingle of every document, in document order.

    ``units[i]`` is True where document ``i`` is shingled by characters, False by words. A
    document with fewer than ``ngram`` units gives one shingle of all of it; an empty one none.
    """
    if ngram < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")
    cps, offsets = batch.codepoints, batch.offsets
    n = len(batch)
    lengths = np.diff(offsets)
    # Unit boundaries: for word documents the words (split at the single spaces normalisation
    # left), for char documents every character. unit_start/unit_end index the code points.
    spaces = np.flatnonzero(cps == _SPACE)
    char_doc = np.repeat(units.astype(bool), lengths)
    word_spaces = spaces[~char_doc[spaces]] if len(spaces) else spaces
    nonempty = lengths > 0
    word_doc = nonempty & ~units
    char_positions = np.flatnonzero(char_doc)
    unit_start = np.concatenate([offsets[:-1][word_doc], word_spaces + 1, char_positions])
    unit_end = np.concatenate([offsets[1:][word_doc], word_spaces, char_positions + 1])
    unit_start.sort()
    unit_end.sort()
    # Units per document, then shingles per document.
    unit_offsets = np.searchsorted(unit_start, offsets)
    n_units = np.diff(unit_offsets)
    counts = np.where(n_units > 0, np.maximum(n_units - ngram + 1, 1), 0)
    shingle_doc = np.repeat(np.arange(n), counts)
    first_shingle = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=first_shingle[1:])
    first_unit = unit_offsets[shingle_doc] + (np.arange(first_shingle[-1]) - first_shingle[shingle_doc])
    last_unit = np.minimum(first_unit + ngram - 1, unit_offsets[shingle_doc + 1] - 1)
    return unit_start[first_unit], unit_end[last_unit], counts


def hash_spans(codepoints: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """:func:`shingle_hash64` of ``codepoints[s:e]`` for every span, as uint64."""
    size = len(codepoints)
    forward, inverse = _POWERS.upto(size + 1)
    prefix = np.zeros(size + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(codepoints.astype(np.uint64) * forward[:size], out=prefix[1:])
        h = (prefix[ends] - prefix[starts]) * inverse[starts]
        h += (ends - starts).astype(np.uint64) * _U64(GOLDEN)
        return _fmix64(h)


def shingle_hashes(batch: NormalizedBatch, ngram: int, units: np.ndarray) -> ShingleHashes:
    """Every shingle hash of every document of ``batch`` (see :func:`shingle_spans`)."""
    starts, ends, counts = shingle_spans(batch, ngram, units)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return ShingleHashes(hash_spans(batch.codepoints, starts, ends), offsets)
