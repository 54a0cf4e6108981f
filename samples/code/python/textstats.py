"""Small utilities for computing descriptive statistics over plain text.

The functions here are intentionally dependency-free so they can be used in
quick command-line checks of a corpus shard before heavier processing.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

WORD_RE = re.compile(r"[A-Za-z0-9']+")
SENTENCE_END_RE = re.compile(r"[.!?]+(?:\s|$)")


@dataclass
class TextStats:
    """Aggregate statistics for a single document."""

    chars: int = 0
    lines: int = 0
    words: int = 0
    sentences: int = 0
    vocabulary: Counter = field(default_factory=Counter)

    @property
    def mean_word_length(self) -> float:
        total = sum(len(w) * n for w, n in self.vocabulary.items())
        return total / self.words if self.words else 0.0

    @property
    def type_token_ratio(self) -> float:
        """Distinct words divided by total words; 0.0 for empty input."""
        return len(self.vocabulary) / self.words if self.words else 0.0

    def entropy(self) -> float:
        """Shannon entropy (bits) of the unigram word distribution."""
        if not self.words:
            return 0.0
        h = 0.0
        for count in self.vocabulary.values():
            p = count / self.words
            h -= p * math.log2(p)
        return h


def compute(text: str, lowercase: bool = True) -> TextStats:
    """Compute :class:`TextStats` for ``text``.

    >>> s = compute("The cat sat. The cat ran!")
    >>> s.words, s.sentences, len(s.vocabulary)
    (6, 2, 4)
    """
    stats = TextStats()
    stats.chars = len(text)
    stats.lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    tokens = WORD_RE.findall(text.lower() if lowercase else text)
    stats.words = len(tokens)
    stats.vocabulary.update(tokens)
    stats.sentences = len(SENTENCE_END_RE.findall(text))
    return stats


def top_words(stats: TextStats, n: int = 10) -> list[tuple[str, int]]:
    """Return the ``n`` most common words, ties broken alphabetically."""
    return sorted(stats.vocabulary.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def format_report(name: str, stats: TextStats, n_top: int = 5) -> str:
    rows = [
        f"file:            {name}",
        f"characters:      {stats.chars}",
        f"lines:           {stats.lines}",
        f"words:           {stats.words}",
        f"sentences:       {stats.sentences}",
        f"mean word len:   {stats.mean_word_length:.2f}",
        f"type/token:      {stats.type_token_ratio:.3f}",
        f"entropy (bits):  {stats.entropy():.3f}",
    ]
    top = ", ".join(f"{w}={c}" for w, c in top_words(stats, n_top))
    rows.append(f"top words:       {top or '-'}")
    return "\n".join(rows)


def iter_inputs(paths: Iterable[str]):
    """Yield ``(name, text)`` pairs; ``-`` means standard input."""
    for path in paths:
        if path == "-":
            yield "<stdin>", sys.stdin.read()
        else:
            with open(path, encoding="utf-8", errors="replace") as fh:
                yield path, fh.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=["-"])
    parser.add_argument("--top", type=int, default=5, help="number of top words")
    parser.add_argument("--keep-case", action="store_true")
    args = parser.parse_args(argv)

    for i, (name, text) in enumerate(iter_inputs(args.paths)):
        if i:
            print()
        stats = compute(text, lowercase=not args.keep_case)
        print(format_report(name, stats, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
