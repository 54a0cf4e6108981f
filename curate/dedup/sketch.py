"""Everything dedup needs to know about a batch of documents, in one vectorised pass.

:class:`Sketcher` turns texts into a :class:`Sketches`: the exact-duplicate content key of each
normalised document, its MinHash signature, and (for verification) its 64-bit shingle hashes.
Memory is bounded by the batch it is given: documents are processed in chunks of about
``chunk_chars`` code points (a longer document alone), never the corpus.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from curate.dedup.minhash import MinHasher, Scheme, sha1_hash32_array, shingles
from curate.dedup.normalize import NormalizedBatch, normalize_batch
from curate.dedup.shingling import shingle_hashes
from filters.words import is_spaceless

HashFunction = Literal["poly64", "sha1"]
ShingleUnit = Literal["auto", "word", "char"]


@dataclass(frozen=True)
class Sketches:
    """Per-document dedup facts, in input order."""

    content_keys: list[bytes]  # 16-byte BLAKE2b of the normalised text (exact duplicates)
    signatures: np.ndarray  # (n_docs, num_perm) MinHash values
    shingle_sets: list[np.ndarray]  # sorted distinct 64-bit shingle hashes (for true Jaccard)
    n_shingles: np.ndarray  # distinct shingles per document (0: nothing to compare)


class Sketcher:
    """Normalise, shingle and MinHash batches of documents.

    ``hash_function="poly64"`` (default) hashes shingles as spans of the normalised text
    (:mod:`curate.dedup.shingling`), equal to ``datasketch.MinHash(hashfunc=shingle_hash32)``;
    ``"sha1"`` builds shingle strings and uses datasketch's default SHA-1 hash (slower, for
    signatures interchangeable with a plain ``datasketch.MinHash``).
    """

    def __init__(
        self,
        *,
        num_perm: int = 128,
        seed: int = 1,
        ngram: int = 5,
        unit: ShingleUnit = "auto",
        hash_function: HashFunction = "poly64",
        scheme: Scheme = "affine32",
        lowercase: bool = True,
        strip_punctuation: bool = True,
        normalize_digits: bool = True,
        unicode_form: str | None = "NFKC",
        chunk_chars: int = 1 << 20,
    ) -> None:
        if unit not in ("auto", "word", "char"):
            raise ValueError(f"unit must be 'auto', 'word' or 'char', got {unit!r}")
        if hash_function not in ("poly64", "sha1"):
            raise ValueError(f"hash_function must be 'poly64' or 'sha1', got {hash_function!r}")
        self.hasher = MinHasher(num_perm, seed, scheme=scheme)
        self.ngram = ngram
        self.unit = unit
        self.hash_function = hash_function
        self.normalization = {"lowercase": lowercase, "strip_punctuation": strip_punctuation,
                              "normalize_digits": normalize_digits, "unicode_form": unicode_form}
        self.chunk_chars = chunk_chars

    def char_units(self, texts: Sequence[str], langs: Sequence[str | None]) -> np.ndarray:
        """True where a document is shingled by characters."""
        if self.unit != "auto":
            return np.full(len(texts), self.unit == "char", dtype=bool)
        return np.fromiter((is_spaceless(t, lang) for t, lang in zip(texts, langs)), dtype=bool, count=len(texts))

    def sketch(self, texts: Sequence[str], langs: Sequence[str | None] | None = None,
               *, with_shingle_sets: bool = True) -> Sketches:
        langs = list(langs) if langs is not None else [None] * len(texts)
        keys: list[bytes] = []
        signatures: list[np.ndarray] = []
        sets: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        for lo, hi in self._chunks(texts):
            part = self._sketch_chunk(texts[lo:hi], langs[lo:hi], with_shingle_sets)
            keys += part.content_keys
            signatures.append(part.signatures)
            sets += part.shingle_sets
            counts.append(part.n_shingles)
        num_perm = self.hasher.num_perm
        return Sketches(
            keys,
            np.concatenate(signatures) if signatures else np.empty((0, num_perm), self.hasher.dtype),
            sets,
            np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64),
        )

    def _chunks(self, texts: Sequence[str]):
        lo, size = 0, 0
        for i, text in enumerate(texts):
            if size and size + len(text) > self.chunk_chars:
                yield lo, i
                lo, size = i, 0
            size += len(text)
        if lo < len(texts):
            yield lo, len(texts)

    def _sketch_chunk(self, texts: Sequence[str], langs: Sequence[str | None], with_sets: bool) -> Sketches:
        batch = normalize_batch(texts, **self.normalization)
        keys = [hashlib.blake2b(batch.content_bytes(i), digest_size=16).digest() for i in range(len(batch))]
        char_units = self.char_units(texts, langs)
        hashed = shingle_hashes(batch, self.ngram, char_units)
        if self.hash_function == "sha1":
            signatures = self._sha1_signatures(batch, char_units)
        else:
            signatures = self.hasher.signatures_from_hashes(hashed.hashes, hashed.offsets)
        sets = [np.unique(hashed.of(i)) for i in range(len(batch))] if with_sets else []
        n_shingles = (np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets)) if with_sets
                      else np.diff(hashed.offsets))
        return Sketches(keys, signatures, sets, n_shingles)

    def _sha1_signatures(self, batch: NormalizedBatch, char_units: np.ndarray) -> np.ndarray:
        grams = [shingles(batch.text(i), ngram=self.ngram, unit="char" if char_units[i] else "word")
                 for i in range(len(batch))]
        offsets = np.zeros(len(grams) + 1, dtype=np.int64)
        np.cumsum([len(g) for g in grams], out=offsets[1:])
        return self.hasher.signatures_from_hashes(sha1_hash32_array(s for g in grams for s in g), offsets)
