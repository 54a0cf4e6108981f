"""The n-gram index of benchmark items that decontamination looks documents up in.

Built once per worker from the items (:mod:`filters.benchmark_sets`) with the rules of
:mod:`filters.benchmark_text`:

* every field of an item (and the fields joined) gives its informative ``ngram``-word windows,
  read as written, with number words as digits and with small numbers as words
  (:func:`~filters.benchmark_text.item_readings`);
* a field shorter than ``ngram`` words is one entry, looked up by its first words (at most
  :data:`ANCHOR_WORDS`) and then compared whole;
* a window found in more than ``max_items_per_ngram`` items of one benchmark is stock phrasing and
  left out.

Each entry keeps its benchmarks (a bit each), the first item it came from and the fields of that
item it is in, so a match can say how much of a field (a question, a solution) a document holds.

Memory: about 21 bytes per distinct n-gram plus two 4 MB tables of which hash prefixes exist (they
rule out nearly every document window before the binary search).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from filters.benchmark_sets import BenchmarkItem
from filters.benchmark_text import (
    HASH_SALT,
    WindowHashes,
    informative_windows,
    item_readings,
    word_hashes,
    wordfreq_language,
)

#: A short field is looked up by this many first words (all of them when it has fewer).
ANCHOR_WORDS = 5
#: Fields of an item told apart (one bit each); more are merged into the last.
MAX_FIELDS = 8
_PRESENT_BITS = 22
_SHIFT = np.uint64(64 - _PRESENT_BITS)
_NONE = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class IndexRules:
    """What goes into the index (the filter's options of the same names)."""

    ngram: int = 13
    min_item_words: int = 3
    min_bits: float = 60.0
    min_short_bits: float = 30.0
    min_real_words: int = 3
    max_items_per_ngram: int = 2


@dataclass
class Matches:
    """Where a document meets the index: entry numbers (n-grams first, then short fields), the
    document word each match starts at, and its length in words."""

    words: int
    entries: np.ndarray = field(default_factory=lambda: _NONE)
    starts: np.ndarray = field(default_factory=lambda: _NONE)
    sizes: np.ndarray = field(default_factory=lambda: _NONE)


@dataclass
class _ItemEntries:
    grams: np.ndarray  # distinct n-gram hashes
    gram_fields: np.ndarray  # bit f: the n-gram is in field f
    shorts: list[tuple[int, int, int, int]]  # (hash, hash of first words, length, field bits)
    readings: list[tuple[int, np.ndarray]]  # (field, its informative keys in one reading)


class BenchmarkIndex:
    """Sorted 64-bit hashes of the items' n-grams and short fields, with what each came from."""

    def __init__(self, benchmarks: list[str], items: Iterable[BenchmarkItem], rules: IndexRules) -> None:
        self.rules = rules
        self.salt = HASH_SALT  # word hashes are only valid in a process with the same salt
        self.names = tuple(benchmarks)
        bit_of = {name: b for b, name in enumerate(self.names)}
        grams, gram_fields, short_keys, short_fields = [], [], [], []
        anchors: dict[int, tuple[int, int]] = {}
        readings: list[list[tuple[int, np.ndarray]]] = []
        bench_of_item: list[int] = []
        self.labels: list[tuple[str, str, str]] = []  # (benchmark, item id, preview)
        self.dropped = {"low_information": 0, "stock_phrasing": 0, "short_fields": 0}
        for item in items:
            entries = self._item_entries(item)
            grams.append(entries.grams)
            gram_fields.append(entries.gram_fields)
            short_keys.append(np.asarray([s[0] for s in entries.shorts], dtype=np.uint64))
            short_fields.append(np.asarray([s[3] for s in entries.shorts], dtype=np.uint8))
            anchors.update((full, (anchor, length)) for full, anchor, length, _ in entries.shorts)
            readings.append(entries.readings)
            bench_of_item.append(bit_of[item.benchmark])
            self.labels.append((item.benchmark, item.item_id, " ".join(" / ".join(t for t in item.texts if t).split())[:80]))
        benches = np.asarray(bench_of_item, dtype=np.int64)
        self.keys, masks, items_, fields = self._merge(grams, gram_fields, benches)
        full, short_masks, short_items, short_field_bits = self._merge(short_keys, short_fields, benches)
        first_words = np.fromiter((anchors[int(f)][0] for f in full), dtype=np.uint64, count=len(full))
        order = np.argsort(first_words, kind="stable")
        self.anchors, self.short_full = first_words[order], full[order]
        self.short_len = np.fromiter((anchors[int(f)][1] for f in self.short_full), dtype=np.int64, count=len(full))
        # per entry (n-grams, then short fields): benchmarks, first item, fields of that item
        self.masks = np.concatenate([masks, short_masks[order]])
        self.items = np.concatenate([items_, short_items[order]])
        self.fields = np.concatenate([fields, short_field_bits[order]])
        self.present = _prefix_table(self.keys)
        self.anchor_present = _prefix_table(self.anchors)
        self.anchor_lengths = tuple(sorted({min(int(k), ANCHOR_WORDS) for k in self.short_len}))
        self.totals = self._field_totals(readings)

    # --- building -----------------------------------------------------------------------------

    def _item_entries(self, item: BenchmarkItem) -> _ItemEntries:
        rules, dropped = self.rules, self.dropped
        n, lang = rules.ngram, wordfreq_language(item.lang)
        kept_texts = [(text, i in item.diagrams) for i, text in enumerate(item.texts) if text]
        if len(kept_texts) > MAX_FIELDS:  # the last bit stands for the rest
            kept_texts = kept_texts[: MAX_FIELDS - 1] + [("\n".join(t for t, _ in kept_texts[MAX_FIELDS - 1 :]), False)]
        texts = [text for text, _ in kept_texts]
        diagram = [is_diagram for _, is_diagram in kept_texts]
        hashes: list[np.ndarray] = []
        bits: list[np.ndarray] = []
        shorts: dict[int, tuple[int, int, int, int]] = {}
        kept: list[tuple[int, np.ndarray]] = []
        readings = [item_readings(text, item.lang) for text in texts]
        for r in range(max((len(x) for x in readings), default=0)):  # as written, then numbers read otherwise
            fields = [field_readings[min(r, len(field_readings) - 1)] for field_readings in readings]
            joined = [w for words in fields for w in words] if len(fields) > 1 else []
            for f, words in enumerate([*fields, joined]):
                if f < len(fields) and r >= len(readings[f]):
                    continue  # this field has no such reading: done in an earlier round
                if len(words) < rules.min_item_words:
                    dropped["short_fields"] += bool(words)
                    continue
                k = min(n, len(words))
                windows = WindowHashes(word_hashes(words))
                grams = windows.of_length(k)
                if k == n:
                    keep = informative_windows(words, k, lang, rules.min_bits, rules.min_real_words)
                else:  # a short field, matched whole (a stronger test than any window): min_short_bits
                    keep = informative_windows(words, k, lang, rules.min_short_bits,
                                               max(1, round(rules.min_real_words * k / n)))
                dropped["low_information"] += int((~keep).sum())
                # the join and a diagram count toward no field's coverage (only toward long matches)
                field_bit = 1 << f if f < len(fields) and not diagram[f] else 0
                if f < len(fields) and not diagram[f]:
                    kept.append((f, grams[keep] if k == n else grams[:1][keep[:1]]))
                if not keep.any():
                    continue
                if k == n:
                    hashes.append(grams[keep])
                    bits.append(np.full(int(keep.sum()), field_bit, dtype=np.uint8))
                else:
                    full = int(grams[0])
                    anchor = int(windows.of_length(min(k, ANCHOR_WORDS))[0])
                    shorts[full] = (full, anchor, k, shorts.get(full, (0, 0, 0, 0))[3] | field_bit)
        if not hashes:
            return _ItemEntries(np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint8), list(shorts.values()), kept)
        key, bit = np.concatenate(hashes), np.concatenate(bits)
        order = np.argsort(key, kind="stable")
        key, bit = key[order], bit[order]
        starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
        return _ItemEntries(key[starts], np.bitwise_or.reduceat(bit, starts), list(shorts.values()), kept)

    def _field_totals(self, readings: list[list[tuple[int, np.ndarray]]]) -> np.ndarray:
        """Per item and field: the keys the index kept of the field's leanest reading (a document
        that writes its numbers one way holds at most one reading's keys); 1 for a short field."""
        indexed = np.sort(np.concatenate([self.keys, self.short_full]))
        totals = np.zeros((len(readings), MAX_FIELDS), dtype=np.int32)
        for i, item_readings_ in enumerate(readings):
            for f, hashes in item_readings_:
                pos = np.searchsorted(indexed, hashes)
                pos[pos == len(indexed)] = 0
                count = int(np.count_nonzero(indexed[pos] == hashes)) if len(indexed) else 0
                if count and (not totals[i, f] or count < totals[i, f]):
                    totals[i, f] = count
        return totals

    def _merge(self, keys: list[np.ndarray], fields: list[np.ndarray], bench_of_item: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Sorted distinct keys (``keys[i]``: item i's) with their benchmarks' bits, first item and
        that item's fields; stock phrasing (in more than ``max_items_per_ngram`` items of one
        benchmark) left out."""
        item = np.repeat(np.arange(len(keys), dtype=np.int64), [len(k) for k in keys])
        if not len(item):
            return (np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64),
                    np.empty(0, dtype=np.uint8))
        key, field_bits = np.concatenate(keys), np.concatenate(fields)
        order = np.lexsort((item, key))  # by key, then item
        key, item, field_bits = key[order], item[order], field_bits[order]
        bench = bench_of_item[item]
        new_key = np.concatenate(([True], key[1:] != key[:-1]))
        starts = np.flatnonzero(new_key)
        pair_starts = np.flatnonzero(new_key | np.concatenate(([True], bench[1:] != bench[:-1])))
        too_common = np.diff(np.append(pair_starts, len(key))) > self.rules.max_items_per_ngram
        stock = np.zeros(len(starts), dtype=bool)
        np.logical_or.at(stock, (np.cumsum(new_key) - 1)[pair_starts], too_common)
        self.dropped["stock_phrasing"] += int(stock.sum())
        masks = np.bitwise_or.reduceat(np.left_shift(np.uint64(1), bench.astype(np.uint64)), starts)
        keep = ~stock
        return key[starts][keep], masks[keep], item[starts][keep], field_bits[starts][keep]

    @property
    def stats(self) -> dict[str, int]:
        """What the index holds and what it left out."""
        return {"ngrams": len(self.keys), "short_items": len(self.short_full), "items": len(self.labels), **self.dropped}

    # --- looking up -----------------------------------------------------------------------------

    def find(self, words: list[str]) -> Matches:
        """Every n-gram and short field of the index in a document's words."""
        if len(words) < self.rules.min_item_words or not (len(self.keys) or len(self.anchors)):
            return Matches(len(words))
        windows = WindowHashes(word_hashes(words))
        found = [self._find_ngrams(windows.of_length(self.rules.ngram)), self._find_short_fields(windows)]
        entries, starts, sizes = (np.concatenate(parts) for parts in zip(*found))
        return Matches(len(words), entries, starts, sizes)

    def _find_ngrams(self, grams: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not len(grams) or not len(self.keys):
            return _NONE, _NONE, _NONE
        maybe = np.flatnonzero(self.present[grams >> _SHIFT])
        pos = np.searchsorted(self.keys, grams[maybe])
        pos[pos == len(self.keys)] = 0
        hit = self.keys[pos] == grams[maybe]
        return pos[hit].astype(np.int64), maybe[hit], np.full(int(hit.sum()), self.rules.ngram, dtype=np.int64)

    def _find_short_fields(self, windows: WindowHashes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Short fields found whole: where a window is one's first words, the window of its whole
        length is compared with its hash."""
        if not len(self.anchors):
            return _NONE, _NONE, _NONE
        found_starts, found_entries = [], []
        for length in self.anchor_lengths:
            anchors = windows.of_length(length)
            maybe = np.flatnonzero(self.anchor_present[anchors >> _SHIFT])
            if not len(maybe):
                continue
            low = np.searchsorted(self.anchors, anchors[maybe], side="left")
            high = np.searchsorted(self.anchors, anchors[maybe], side="right")
            counts = high - low
            if counts.any():
                found_starts.append(np.repeat(maybe, counts))
                found_entries += [np.arange(a, b) for a, b in zip(low[counts > 0], high[counts > 0])]
        if not found_entries:
            return _NONE, _NONE, _NONE
        starts, entry = np.concatenate(found_starts), np.concatenate(found_entries)
        length = self.short_len[entry]
        fits = starts + length <= windows.n
        starts, entry, length = starts[fits], entry[fits], length[fits]
        hit = windows.at(starts, length) == self.short_full[entry]
        return entry[hit] + len(self.keys), starts[hit], length[hit]


def _prefix_table(keys: np.ndarray) -> np.ndarray:
    table = np.zeros(1 << _PRESENT_BITS, dtype=bool)
    table[keys >> _SHIFT] = True
    return table
