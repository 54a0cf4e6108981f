"""Benchmark decontamination: drop (or flag) documents that contain benchmark test items.

The GPT-3 / Llama n-gram recipe, with what real data showed it needs
(``benchmarks/decontamination.py`` measures each part):

* **Items as items** (:mod:`filters.benchmark_index`): each field of a test item (question,
  answer, prompt, solution; a MATH ``[asy]`` diagram apart) is indexed on its own and with the
  others joined. A field of ``ngram`` (13) words or more gives its n-grams; a shorter one (from
  ``min_item_words`` words) is one entry, found only as a run of exactly its words.
* **One normalisation** for items and documents (:mod:`filters.benchmark_text`): case,
  punctuation, whitespace, thousands separators, decimal zeros, ``%``, LaTeX spacing; items are
  also read with number words as digits and small numbers as words.
* **Only informative n-grams are indexed**: three or more real words (not a run of numbers, a hex
  table, single-letter variables) and ``min_bits`` of surprisal in ordinary text (wordfreq);
  nor an n-gram in more than ``max_items_per_ngram`` items of one benchmark (stock phrasing, a
  test harness's boilerplate).
* **A match must be an item, not a phrase**: the document must hold ``min_item_coverage`` of one
  field's n-grams (most of a question, of a solution) or ``long_match_words`` words of the item.
  A stock sentence shared with a solution ("the sum of an arithmetic series is the average of the
  first and last term times the number of terms") is a small part of it.

Signals: ``hits`` (distinct matching n-grams; a whole short field is one, per benchmark too),
``matched_words`` (document words they cover) and ``item_coverage``; ``reject_detail`` names the
benchmarks, the item hit most and the matched passage. :meth:`Decontamination.report` feeds the
run summary's per-benchmark counts and most-hit items.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, PrivateAttr, field_validator

from filters.base import Filter, Rejection
from filters.benchmark_index import MAX_FIELDS, BenchmarkIndex, IndexRules, Matches
from filters.benchmark_sets import BenchmarkSource, read_items, resolve
from filters.benchmark_text import HASH_SALT, comparable_words

__all__ = ["BenchmarkSource", "Decontamination"]

_MAX_BENCHMARKS = 64  # one bit each in the index's mask
_QUOTED_WORDS = 30


class Decontamination(Filter):
    """Reject documents containing benchmark test items (``contaminated``).

    Use ``action: flag`` to keep such documents and record the finding in a column instead.
    """

    name: Literal["decontamination"] = "decontamination"
    signals: ClassVar[tuple[str, ...]] = ("hits", "benchmark_hits", "matched_words", "item_coverage")

    benchmarks: dict[str, BenchmarkSource] = Field(min_length=1)
    ngram: int = Field(default=13, ge=2)
    min_hits: int = Field(default=1, ge=1)
    min_item_words: int = Field(default=3, ge=1)
    """Fields with fewer normalised words are not indexed (too generic to mean anything)."""
    min_bits: float = Field(default=60.0, ge=0)
    """Least surprisal (bits, summed over an n-gram's words) an indexed n-gram has; a short field,
    matched only whole, needs ``min_short_bits``."""
    min_short_bits: float = Field(default=30.0, ge=0)
    min_real_words: int = Field(default=3, ge=0)
    """Words of two or more letters an indexed n-gram has (a short field: its share): a run of
    numbers, a hex table or a run of single-letter variables has none."""
    max_items_per_ngram: int = Field(default=2, ge=1)
    """An n-gram in more items than this of one benchmark is stock phrasing and not indexed."""
    min_item_coverage: float = Field(default=0.5, ge=0, le=1)
    """Share of one field's n-grams (a question, a solution) a document must hold, unless it holds
    ``long_match_words`` of the item: a shared stock sentence is a small part of any field."""
    long_match_words: int = Field(default=50, ge=1)

    _index_key: str | None = PrivateAttr(default=None)
    _index: BenchmarkIndex | None = PrivateAttr(default=None)

    @field_validator("benchmarks")
    @classmethod
    def _known_or_described(cls, value: dict[str, BenchmarkSource]) -> dict[str, BenchmarkSource]:
        if len(value) > _MAX_BENCHMARKS:
            raise ValueError(f"at most {_MAX_BENCHMARKS} benchmarks per decontamination filter (got {len(value)})")
        for name, source in value.items():
            try:
                resolve(name, source)
            except ValueError as exc:
                raise ValueError(f"benchmarks.{name}: {exc}") from None
        return value

    def _rules(self) -> IndexRules:
        return IndexRules(ngram=self.ngram, min_item_words=self.min_item_words, min_bits=self.min_bits,
                          min_short_bits=self.min_short_bits, min_real_words=self.min_real_words,
                          max_items_per_ngram=self.max_items_per_ngram)

    def _wanted_index(self) -> str:
        sources = {name: src.model_dump() for name, src in self.benchmarks.items()}
        return json.dumps([sources, repr(self._rules()), HASH_SALT], sort_keys=True)

    def setup(self) -> None:
        """Read every benchmark and build the index (skipped when already built in this process:
        word hashes are salted per process)."""
        wanted = self._wanted_index()
        if self._index_key == wanted:
            return
        items = (item for name, source in self.benchmarks.items() for item in read_items(name, source))
        self._index = BenchmarkIndex(list(self.benchmarks), items, self._rules())
        self._index_key = wanted

    @property
    def index(self) -> BenchmarkIndex:
        """The built index (building it on first use)."""
        if self._index is None or self._index_key != self._wanted_index():
            self.setup()
        return self._index

    @property
    def index_size(self) -> int:
        """Distinct n-grams in the index."""
        return len(self.index.keys)

    @property
    def index_stats(self) -> dict[str, int]:
        """What the index holds and what it left out."""
        return self.index.stats

    # --- documents ------------------------------------------------------------------------------

    def _current_index(self) -> BenchmarkIndex:
        """The index, built if missing or made in a process with another hash salt: the cheap
        check for every document (:attr:`index` also compares the whole config)."""
        if self._index is None or self._index.salt != HASH_SALT:
            self.setup()
        return self._index

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        index = self._current_index()
        return weigh(index.find(comparable_words(text, lang)), index)

    def check(self, text: str, lang: str | None = None) -> tuple[str, dict[str, float], Rejection | None]:
        """As :meth:`Filter.check`; a verdict also quotes the matched passage (normalised words)."""
        text, signals, rejection = super().check(text, lang)
        if rejection is not None and "match_start" in signals:
            words = comparable_words(text, lang)
            start = int(signals["match_start"])
            shown = words[start : start + min(int(signals["match_words"]), _QUOTED_WORDS)]
            rejection = Rejection(rejection.reason, f"{rejection.detail}; matched: '{' '.join(shown)}'")
        return text, signals, rejection

    def is_contaminated(self, signals: dict[str, float]) -> bool:
        """Enough hits, covering most of one field of an item or a long passage of it."""
        if signals["hits"] < self.min_hits:
            return False
        return signals["item_coverage"] >= self.min_item_coverage or signals["matched_words"] >= self.long_match_words

    def reject_reason(self, signals: dict[str, float]) -> Rejection | None:
        if not self.is_contaminated(signals):
            return None
        per = [(name, int(signals.get(f"hits[{name}]", 0))) for name in self.benchmarks]
        per = sorted((p for p in per if p[1]), key=lambda p: -p[1])
        named = ", ".join(f"{name} ({count} hit{'' if count == 1 else 's'})" for name, count in per)
        benchmark, item_id, preview = self._current_index().labels[int(signals["item"])]
        return Rejection("contaminated", f"{named}; {int(signals['matched_words'])} words matched, "
                                         f"{signals['item_coverage']:.0%} of a field; most: {benchmark} item "
                                         f"{item_id} ({int(signals['item_hits'])} hits): {preview}")

    def report(self, signals: dict[str, float]) -> dict[str, float]:
        """Counts for the run summary of a contaminated document: per benchmark and per item."""
        if not self.is_contaminated(signals):
            return {}
        out = {f"decontamination.documents[{name}]": 1.0 for name in self.benchmarks if signals.get(f"hits[{name}]")}
        benchmark, item_id, _ = self._current_index().labels[int(signals["item"])]
        out[f"decontamination.item[{benchmark}]{item_id}"] = 1.0
        return out

    def summarize(self, metrics: dict[str, float], top: int = 10) -> dict[str, Any] | None:
        """Per benchmark: documents that matched it, and the items matched most (with a preview)."""
        hit_items: dict[str, list[tuple[str, int]]] = {name: [] for name in self.benchmarks}
        for key, count in metrics.items():
            if key.startswith("decontamination.item["):
                benchmark, _, item_id = key.removeprefix("decontamination.item[").partition("]")
                if benchmark in hit_items:
                    hit_items[benchmark].append((item_id, int(count)))
        documents = {name: int(metrics.get(f"decontamination.documents[{name}]", 0)) for name in self.benchmarks}
        if not any(documents.values()) and not any(hit_items.values()):
            return {"benchmarks": {name: {"documents": 0, "top_items": []} for name in self.benchmarks}}
        previews = {(b, i): text for b, i, text in self._index.labels} if self._index is not None else {}
        return {"benchmarks": {
            name: {"documents": documents[name],
                   "top_items": [{"item": item_id, "documents": count, "text": previews.get((name, item_id))}
                                 for item_id, count in sorted(hit_items[name], key=lambda x: (-x[1], x[0]))[:top]]}
            for name in self.benchmarks
        }}


def weigh(matches: Matches, index: BenchmarkIndex) -> dict[str, float]:
    """The signals of a document's matches: distinct hits (per benchmark too), the words they
    cover, the item hit most and the largest share of one of its fields the document holds, and
    where the first run of that item's matches lies (for the report)."""
    n_words = matches.words
    signals: dict[str, float] = {"hits": 0.0, "benchmark_hits": 0.0, "matched_words": 0.0, "item_coverage": 0.0,
                                 "document_words": float(n_words)}
    if not len(matches.entries):
        return signals
    entries, starts, sizes = matches.entries, matches.starts, matches.sizes
    distinct = np.unique(entries)  # a repeated n-gram counts once
    signals["hits"] = float(len(distinct))
    signals["matched_words"] = float(_covered(n_words, starts, sizes).sum())
    found = index.masks[distinct]
    for i, name in enumerate(index.names):
        count = int(np.count_nonzero(found & np.uint64(1 << i)))
        if count:
            signals[f"hits[{name}]"] = float(count)
            signals["benchmark_hits"] += 1.0
    items, counts = np.unique(index.items[distinct], return_counts=True)
    best = int(items[np.argmax(counts)])
    signals["item"] = float(best)
    signals["item_hits"] = float(counts.max())
    field_bits = index.fields[distinct[index.items[distinct] == best]]
    totals = index.totals[best]
    shares = [np.count_nonzero(field_bits & (1 << f)) / totals[f] for f in range(MAX_FIELDS) if totals[f]]
    signals["item_coverage"] = float(min(1.0, max(shares, default=0.0)))
    mine = index.items[entries] == best
    inside = _covered(n_words, starts[mine], sizes[mine])
    first = int(np.argmax(inside))
    after = np.flatnonzero(~inside[first:])
    signals["match_start"] = float(first)
    signals["match_words"] = float(after[0] if len(after) else n_words - first)
    return signals


def _covered(n_words: int, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Which document words the matches cover (a boolean per word)."""
    edges = np.zeros(n_words + 1, dtype=np.int32)
    np.add.at(edges, starts, 1)
    np.add.at(edges, starts + sizes, -1)
    return np.cumsum(edges)[:n_words] > 0
