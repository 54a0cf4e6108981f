"""Benchmark decontamination: drop (or flag) documents that share long n-grams with test sets.

The GPT-3 / Llama recipe: normalise benchmark items and documents the same way, index every
word n-gram (13 by default) of every benchmark item, and count how many of a document's n-grams
are in the index. A document with ``min_hits`` or more distinct matching n-grams is contaminated.

Normalisation: Unicode NFKC, case folding, punctuation and symbols replaced by spaces (so
``"Natalia sold clips to 48"`` and ``natalia sold CLIPS, to 48!`` agree), whitespace collapsed;
words come from :func:`filters.words.split_words`, so Chinese and Japanese are n-grams of
characters. Any text containing Han or kana is split with the CJK rule whatever its ``lang``,
so a Chinese benchmark item quoted in an English page is still found.

Benchmark items shorter than ``ngram`` words are indexed as one whole-item n-gram of their own
length (documents are then also checked for n-grams of that length); items shorter than
``min_item_words`` are skipped, since a few words match too much ordinary text to mean anything.

Memory: the index is two numpy arrays of 8-byte integers (n-gram hash, bitmask of benchmarks),
so about 16 bytes per distinct n-gram, built once per worker in :meth:`Decontamination.setup`
and shared by per-language variants. GSM8K + MATH + HumanEval + MBPP test sets are a few
hundred thousand n-grams (a few MB); even tens of millions of n-grams stay well under 1 GB per
worker. Hashes are 64-bit (blake2b per word, polynomial rolling over the n-gram), stable across
processes and machines; accidental collisions are negligible at these sizes.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from hashlib import blake2b
from typing import Any, ClassVar, Literal

import numpy as np
import regex
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from filters.base import Filter, Rejection
from filters.words import split_words

_PUNCT = regex.compile(r"[\p{P}\p{S}]+")
_SPACE = regex.compile(r"\s+")
_IN_WORD_PUNCT = regex.compile(r"['’_-]+")  # the punctuation split_words keeps inside words
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier of the rolling hash
_MAX_BENCHMARKS = 64  # one bit each in the index's mask


class BenchmarkSource(BaseModel):
    """One benchmark test set: a JSONL file (local path or fsspec URL, plain or compressed)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    fields: list[str] = Field(min_length=1)
    """Fields holding text to index; list values are joined (MBPP's ``test_list``)."""


def normalize(text: str) -> str:
    """NFKC, case-folded, punctuation and symbols replaced by spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


def ngram_words(text: str, lang: str | None = None) -> list[str]:
    """The words decontamination compares: ``split_words(normalize(text))``, CJK as characters.

    Fast path: word regexes already drop whitespace and every punctuation mark except the
    in-word ones (``' ’ _ -``), so only those need replacing; the result is the same.
    """
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = _IN_WORD_PUNCT.sub(" ", text.casefold())
    if not text.isascii() and _CJK.search(text):
        return split_words(text, "und_Hani")
    return split_words(text, lang)


@lru_cache(maxsize=1 << 18)
def _word_hash(word: str) -> int:
    return int.from_bytes(blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def _word_hashes(words: list[str]) -> np.ndarray:
    return np.fromiter((_word_hash(w) for w in words), dtype=np.uint64, count=len(words))


def _ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """Polynomial hash of every window of ``n`` words (uint64 arithmetic wraps mod 2**64)."""
    m = len(hashes) - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint64)
    out = hashes[:m].copy()
    for j in range(1, n):
        out *= _MULT
        out += hashes[j : j + m]
    return out


def _flatten(value: Any) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)
    else:
        yield str(value)


def _read_items(name: str, source: BenchmarkSource) -> Iterator[str]:
    """The text of each benchmark item (its fields joined by newlines)."""
    import fsspec

    found_any = False
    try:
        with fsspec.open(source.path, "rt", encoding="utf-8", compression="infer") as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"decontamination: benchmark {name!r}: {source.path}:{lineno}: not JSON ({exc})") from exc
                if not isinstance(record, dict):
                    raise ValueError(f"decontamination: benchmark {name!r}: {source.path}:{lineno}: expected a JSON object")
                parts = [part for field in source.fields if field in record for part in _flatten(record[field])]
                found_any = found_any or any(field in record for field in source.fields)
                if parts:
                    yield "\n".join(parts)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"decontamination: benchmark {name!r}: file not found: {source.path}") from exc
    if not found_any:
        raise ValueError(f"decontamination: benchmark {name!r}: none of the fields {source.fields} occur in {source.path}")


class Decontamination(Filter):
    """Reject documents sharing ``ngram``-word n-grams with benchmark test sets (``contaminated``).

    ``hits`` counts the document's distinct n-grams found in any benchmark, ``benchmark_hits``
    the number of benchmarks hit; the detail names each benchmark with its count. Use
    ``action: flag`` to keep such documents and only record the finding.
    """

    name: Literal["decontamination"] = "decontamination"
    signals: ClassVar[tuple[str, ...]] = ("hits", "benchmark_hits")

    benchmarks: dict[str, BenchmarkSource] = Field(min_length=1)
    ngram: int = Field(default=13, ge=1)
    min_hits: int = Field(default=1, ge=1)
    min_item_words: int = Field(default=8, ge=1)
    """Benchmark items with fewer normalised words are not indexed (too generic to count)."""

    _index_key: str | None = PrivateAttr(default=None)
    _keys: np.ndarray = PrivateAttr(default_factory=lambda: np.empty(0, dtype=np.uint64))
    _masks: np.ndarray = PrivateAttr(default_factory=lambda: np.empty(0, dtype=np.uint64))
    _short_lengths: tuple[int, ...] = PrivateAttr(default=())
    _names: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("benchmarks")
    @classmethod
    def _few_enough(cls, value: dict[str, BenchmarkSource]) -> dict[str, BenchmarkSource]:
        if len(value) > _MAX_BENCHMARKS:
            raise ValueError(f"at most {_MAX_BENCHMARKS} benchmarks per decontamination filter (got {len(value)})")
        return value

    def _wanted_index(self) -> str:
        sources = {name: src.model_dump() for name, src in self.benchmarks.items()}
        return json.dumps([sources, self.ngram, self.min_item_words], sort_keys=True)

    def setup(self) -> None:
        """Read every benchmark and build the n-gram index (skipped when already built)."""
        wanted = self._wanted_index()
        if self._index_key == wanted:
            return
        n = self.ngram
        chunks: list[np.ndarray] = []
        bits: list[np.ndarray] = []
        short: set[int] = set()
        for i, (name, source) in enumerate(self.benchmarks.items()):
            bit = np.uint64(1 << i)
            for item in _read_items(name, source):
                words = ngram_words(item)
                if len(words) < self.min_item_words:
                    continue
                hashes = _word_hashes(words)
                if len(words) < n:
                    short.add(len(words))
                    grams = _ngram_hashes(hashes, len(words))
                else:
                    grams = _ngram_hashes(hashes, n)
                chunks.append(grams)
                bits.append(np.full(len(grams), bit, dtype=np.uint64))
        keys = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.uint64)
        masks = np.concatenate(bits) if bits else np.empty(0, dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        keys, masks = keys[order], masks[order]
        if len(keys):
            starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
            keys, masks = keys[starts], np.bitwise_or.reduceat(masks, starts)
        self._keys, self._masks = keys, masks
        self._short_lengths = tuple(sorted(short))
        self._names = tuple(self.benchmarks)
        self._index_key = wanted

    @property
    def index_size(self) -> int:
        """Distinct n-grams in the index (after :meth:`setup`)."""
        return len(self._keys)

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        if self._index_key is None:
            self.setup()
        signals: dict[str, float] = {"hits": 0.0, "benchmark_hits": 0.0}
        words = ngram_words(text, lang)
        lengths = [self.ngram, *(k for k in self._short_lengths if k <= len(words))]
        if len(words) < min(lengths) or not len(self._keys):
            return signals
        hashes = _word_hashes(words)
        grams = np.concatenate([_ngram_hashes(hashes, k) for k in lengths])
        pos = np.searchsorted(self._keys, grams)
        pos[pos == len(self._keys)] = 0
        matched = pos[self._keys[pos] == grams]
        if not len(matched):
            return signals
        found = self._masks[np.unique(matched)]  # distinct n-grams: a repeated one counts once
        signals["hits"] = float(len(found))
        for i, name in enumerate(self._names):
            count = int(np.count_nonzero(found & np.uint64(1 << i)))
            if count:
                signals[f"hits[{name}]"] = float(count)
                signals["benchmark_hits"] += 1.0
        return signals

    def reject_reason(self, signals: dict[str, float]) -> Rejection | None:
        hits = int(signals["hits"])
        if hits < self.min_hits:
            return None
        per = [(name, int(signals.get(f"hits[{name}]", 0))) for name in self.benchmarks]
        per = sorted((p for p in per if p[1]), key=lambda p: -p[1])
        named = ", ".join(f"{name} ({count} hit{'' if count == 1 else 's'})" for name, count in per)
        return Rejection("contaminated", f"{self.ngram}-gram overlap with {named}")
