"""Shingling and MinHash signatures, bit-identical to ``datasketch.MinHash``.

:class:`MinHasher` builds the same permutations as ``datasketch.MinHash(num_perm, seed)``
(datasketch 2.0) and hashes shingles with the same default hash (``sha1_hash32``: the first
4 bytes of SHA-1, little-endian), so our signatures equal ``MinHash.hashvalues`` exactly, but
it computes them with one broadcasted numpy expression per chunk of shingles and one
segmented min over many documents instead of one Python object per document.

Two of datasketch's permutation schemes are supported:

* ``"affine32"`` (datasketch 2.0's default): ``h' = fmix32(h)``, then ``a * h' + b`` wrapping
  in uint32 with odd ``a``; signatures are ``uint32``.
* ``"legacy"`` (datasketch < 2.0, still ``MinHash(scheme="legacy")``):
  ``((a * h + b) % (2**61 - 1)) & (2**32 - 1)`` in uint64; signatures are ``uint64``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from curate.dedup.normalize import normalize_for_dedup
from filters.words import is_spaceless

__all__ = ["MinHasher", "estimated_jaccard", "jaccard", "normalize_for_dedup", "sha1_hash32_array", "shingles"]


# --------------------------------------------------------------------------- shingles


def shingles(
    text: str,
    lang: str | None = None,
    *,
    ngram: int = 5,
    unit: Literal["auto", "word", "char"] = "auto",
) -> list[str]:
    """Distinct n-gram shingles of ``text``, in order of first appearance (the reference for
    :mod:`curate.dedup.shingling`, which hashes the same shingles as spans without strings).

    ``unit="word"``: n-grams of whitespace-separated words joined by single spaces.
    ``unit="char"``: n-grams of characters (whitespace collapsed to one space).
    ``unit="auto"``: characters for spaceless scripts (Chinese, Japanese, Thai, Lao, Khmer,
    Burmese, Tibetan; see :func:`filters.words.is_spaceless`), words otherwise.

    A text with fewer than ``ngram`` units gives one shingle of all its units; an empty text
    gives none. Run :func:`normalize_for_dedup` first to ignore case, digits and punctuation.
    """
    if ngram < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")
    if unit == "auto":
        unit = "char" if is_spaceless(text, lang) else "word"
    if unit == "word":
        units: Sequence[str] = text.split()
        sep = " "
    elif unit == "char":
        units = " ".join(text.split())
        sep = ""
    else:
        raise ValueError(f"unit must be 'auto', 'word' or 'char', got {unit!r}")
    n_units = len(units)
    if n_units == 0:
        return []
    if n_units <= ngram:
        return [sep.join(units)]
    if sep == "":
        grams: Iterable[str] = (units[i : i + ngram] for i in range(n_units - ngram + 1))
    else:
        grams = (sep.join(units[i : i + ngram]) for i in range(n_units - ngram + 1))
    return list(dict.fromkeys(grams))


# --------------------------------------------------------------------------- MinHash

_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH_LEGACY = np.uint64((1 << 32) - 1)
_MAX_HASH_32 = np.uint32((1 << 32) - 1)
# MurmurHash3 32-bit finalizer, as datasketch's _fmix(hv, 32).
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))

Scheme = Literal["affine32", "legacy"]


def _fmix32(hv: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    return hv ^ (hv >> s3)


def sha1_hash32_array(items: Iterable[str | bytes]) -> np.ndarray:
    """datasketch's ``sha1_hash32`` of each item (str is UTF-8 encoded), as a uint32 array."""
    sha1 = hashlib.sha1
    buf = b"".join(sha1(s.encode("utf-8") if isinstance(s, str) else s).digest()[:4] for s in items)
    return np.frombuffer(buf, dtype="<u4").astype(np.uint32, copy=False)


class MinHasher:
    """MinHash signatures equal to ``datasketch.MinHash(num_perm, seed, scheme=scheme)``
    updated with ``s.encode("utf-8")`` for each shingle ``s``.

    ``chunk_size`` bounds the shingles processed in one broadcast: the temporary array is
    ``chunk_size * num_perm`` values (2 MiB at the defaults for affine32).
    """

    def __init__(
        self, num_perm: int = 128, seed: int = 1, *, scheme: Scheme = "affine32", chunk_size: int = 4096
    ) -> None:
        if num_perm < 1:
            raise ValueError("num_perm must be positive")
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self.num_perm = num_perm
        self.seed = seed
        self.scheme = scheme
        self.chunk_size = chunk_size
        gen = np.random.RandomState(seed)
        if scheme == "affine32":
            # datasketch.MinHash._init_permutations, affine32 branch.
            self.a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
            self.b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
            self.dtype = np.dtype(np.uint32)
            self.max_hash = _MAX_HASH_32
        elif scheme == "legacy":
            # datasketch.MinHash._init_permutations, legacy branch: a and b drawn in turn.
            ab = [
                (
                    gen.randint(1, _MERSENNE_PRIME, dtype=np.uint64),
                    gen.randint(0, _MERSENNE_PRIME, dtype=np.uint64),
                )
                for _ in range(num_perm)
            ]
            self.a, self.b = np.array(ab, dtype=np.uint64).T.copy()
            self.dtype = np.dtype(np.uint64)
            self.max_hash = _MAX_HASH_LEGACY
        else:
            raise ValueError(f"scheme must be 'affine32' or 'legacy', got {scheme!r}")

    # -- core
    def _permute(self, hv: np.ndarray) -> np.ndarray:
        """(n,) uint32 shingle hashes -> (num_perm, n) permuted hashes.

        Permutations along rows: each row is contiguous, so the min over a document's shingles
        reads memory in order (4x faster than the (n, num_perm) layout measured here).
        """
        if self.scheme == "affine32":
            x = np.multiply.outer(self.a, _fmix32(hv))
            x += self.b[:, None]
            return x
        # datasketch: ((a * h + b) % p) & max_hash, a * h + b wrapping in uint64.
        x = np.multiply.outer(self.a, hv.astype(np.uint64))
        x += self.b[:, None]
        x %= _MERSENNE_PRIME
        x &= _MAX_HASH_LEGACY
        return x

    def empty(self) -> np.ndarray:
        """The signature of an empty set (datasketch's initial hash values)."""
        return np.full(self.num_perm, self.max_hash, dtype=self.dtype)

    def signature_from_hashes(self, hv: np.ndarray) -> np.ndarray:
        """Signature of a set given the uint32 hashes of its elements."""
        out = self.empty()
        with np.errstate(over="ignore"):
            for start in range(0, len(hv), self.chunk_size):
                np.minimum(out, self._permute(hv[start : start + self.chunk_size]).min(axis=1), out=out)
        return out

    def signature(self, shingles: Iterable[str | bytes]) -> np.ndarray:
        """MinHash signature, shape ``(num_perm,)``, uint32 (affine32) or uint64 (legacy)."""
        return self.signature_from_hashes(sha1_hash32_array(shingles))

    def signatures(self, docs: Sequence[Sequence[str | bytes]]) -> np.ndarray:
        """Signatures of many shingle lists (hashed with SHA-1), shape ``(n_docs, num_perm)``."""
        n = len(docs)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter((len(d) for d in docs), dtype=np.int64, count=n), out=offsets[1:])
        return self.signatures_from_hashes(sha1_hash32_array(s for d in docs for s in d), offsets)

    def signatures_from_hashes(self, hv: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Signatures of many documents given their shingle hashes: document ``i`` owns
        ``hv[offsets[i]:offsets[i + 1]]`` (uint32; wider hashes keep their low 32 bits, as
        datasketch does). Shape ``(n_docs, num_perm)``.

        Documents are packed into chunks of about ``chunk_size`` shingles and reduced with one
        segmented min (``np.minimum.reduceat``); chunking keeps the temporary array in cache.
        """
        n = len(offsets) - 1
        out = np.empty((n, self.num_perm), dtype=self.dtype)
        if n == 0:
            return out
        hv = np.asarray(hv)
        if hv.dtype != np.uint32:
            hv = (hv & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        lengths = np.diff(offsets)
        out[lengths == 0] = self.max_hash
        with np.errstate(over="ignore"):
            i = 0
            while i < n:
                if lengths[i] == 0:
                    i += 1
                    continue
                if lengths[i] >= self.chunk_size:  # a long document on its own, chunked inside
                    out[i] = self.signature_from_hashes(hv[offsets[i] : offsets[i + 1]])
                    i += 1
                    continue
                # Documents i..j-1 (non-empty ones among them) fit in one chunk.
                j = int(np.searchsorted(offsets, offsets[i] + self.chunk_size, side="right")) - 1
                j = max(j, i + 1)
                nonempty = np.flatnonzero(lengths[i:j]) + i
                starts = offsets[nonempty] - offsets[i]
                phv = self._permute(hv[offsets[i] : offsets[j]])
                out[nonempty] = np.minimum.reduceat(phv, starts, axis=1).T
                i = j
        return out


# --------------------------------------------------------------------------- Jaccard


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """Exact Jaccard similarity of two shingle collections (as sets). Two empty sets: 1.0."""
    sa, sb = set(a), set(b)
    union = len(sa | sb)
    return 1.0 if union == 0 else len(sa & sb) / union


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float | np.ndarray:
    """Fraction of equal signature positions (datasketch's ``MinHash.jaccard``).

    Broadcasts: ``(num_perm,)`` vs ``(n, num_perm)`` gives ``(n,)`` estimates.
    """
    sig_a, sig_b = np.asarray(sig_a), np.asarray(sig_b)
    if sig_a.shape[-1] != sig_b.shape[-1]:
        raise ValueError("signatures have different num_perm")
    est = np.mean(sig_a == sig_b, axis=-1)
    return float(est) if np.ndim(est) == 0 else est
