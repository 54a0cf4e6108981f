"""Filters that apply to any natural-language text: length bounds and Gopher-style repetition."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar, Literal

from pydantic import Field

from filters.base import Filter, Rejection
from filters.words import english_words, is_spaceless, latin_chars, script_of, split_words_in_script

NAN = float("nan")


class LengthFilter(Filter):
    """Reject documents too short to be worth training on, or too long to handle safely.

    Bounds mean the same amount of content in every script: with ``script_aware`` (the default)
    ``min_chars``/``max_chars`` count English-equivalent characters (a Han character counts 3.4,
    kana 2.0, Hangul 2.3, Thai 1.13: :data:`filters.words.CHAR_WEIGHTS`) and ``min_words`` counts
    English-equivalent words (:func:`filters.words.english_words`), so ``min_chars: 200`` keeps a
    Chinese paragraph of about 60 characters just as it keeps the English one it translates.
    ``script_aware: false`` counts raw characters and whitespace words. ``max_chars`` always
    counts raw characters: it guards memory, not content.
    """

    name: Literal["length"] = "length"
    signals: ClassVar[tuple[str, ...]] = ("chars", "words", "latin_chars", "english_words")

    min_chars: int = Field(default=200, ge=0)
    max_chars: int = Field(default=1_000_000, gt=0)
    min_words: int = Field(default=0, ge=0)
    script_aware: bool = True

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        chars, words = float(len(text)), float(len(text.split()))
        if not self.script_aware:
            return {"chars": chars, "words": words, "latin_chars": chars, "english_words": words}
        script = script_of(text, lang)
        return {
            "chars": chars, "words": words, "latin_chars": latin_chars(text),
            "english_words": english_words(split_words_in_script(text, script), script, lang) if self.min_words else NAN,
        }

    def reject_reason(self, signals: dict[str, float]) -> Rejection | None:
        size, unit = signals["latin_chars"], "English-equivalent chars" if self.script_aware else "chars"
        if size < self.min_chars:
            return Rejection("too_short", f"{size:.0f} {unit} < min_chars {self.min_chars}")
        if signals["chars"] > self.max_chars:
            return Rejection("too_long", f"{int(signals['chars'])} chars > max_chars {self.max_chars}")
        words = signals["english_words"]
        if self.min_words and words < self.min_words:
            return Rejection("too_few_words", f"{words:.0f} words < min_words {self.min_words}")
        return None


def _top_ngram_char_fraction(words: list[str], n: int, total_chars: int) -> float:
    """Share of word characters covered by the most frequent word n-gram (when it repeats)."""
    if len(words) < n or total_chars == 0:
        return 0.0
    counts = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    gram, count = counts.most_common(1)[0]
    if count < 2:
        return 0.0
    return min(1.0, count * sum(len(w) for w in gram) / total_chars)


class RepetitionFilter(Filter):
    """Gopher-style repetition (Rae et al. 2021): duplicated lines and over-frequent n-grams.

    Catches boilerplate (menus, cookie banners repeated line by line) and keyword-stuffed spam.
    Defaults are Gopher's thresholds. Gopher judged web pages of 50+ words; in a one-paragraph text
    one phrase said twice ("the number of students") already passes the n-gram limits, so the
    n-gram rules need ``min_ngram_words`` English-equivalent words (measured on real translated prose
    paragraphs: under 50 words 2.1% were rejected by them, 50-99 words 1.2%, 100+ none) and the
    duplicate-line rules need ``min_dup_lines`` non-empty lines.
    """

    name: Literal["repetition"] = "repetition"
    RULES: ClassVar[tuple[str, ...]] = ("dup_line_frac", "dup_line_char_frac", "top_2gram_frac", "top_3gram_frac", "top_4gram_frac")
    signals: ClassVar[tuple[str, ...]] = (*RULES, "lines", "english_words")

    max_dup_line_frac: float = Field(default=0.30, ge=0, le=1)
    max_dup_line_char_frac: float = Field(default=0.20, ge=0, le=1)
    max_top_2gram_frac: float = Field(default=0.20, ge=0, le=1)
    max_top_3gram_frac: float = Field(default=0.18, ge=0, le=1)
    max_top_4gram_frac: float = Field(default=0.16, ge=0, le=1)
    min_ngram_words: int = Field(default=100, ge=0)
    """English-equivalent words (:func:`filters.words.english_words`) below which the n-gram rules are skipped."""
    min_dup_lines: int = Field(default=3, ge=0)
    """Non-empty lines below which the duplicate-line rules are skipped (a title said twice is not boilerplate)."""

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        counts = Counter(lines)
        dup_lines = sum(c for c in counts.values() if c > 1) - sum(1 for c in counts.values() if c > 1)
        dup_chars = sum(len(line) * (c - 1) for line, c in counts.items() if c > 1)
        line_chars = sum(len(line) for line in lines)
        words = text.split()
        word_chars = sum(len(w) for w in words)
        return {
            "dup_line_frac": dup_lines / len(lines) if lines else 0.0,
            "dup_line_char_frac": dup_chars / line_chars if line_chars else 0.0,
            "top_2gram_frac": _top_ngram_char_fraction(words, 2, word_chars),
            "top_3gram_frac": _top_ngram_char_fraction(words, 3, word_chars),
            "top_4gram_frac": _top_ngram_char_fraction(words, 4, word_chars),
            "lines": float(len(lines)),
            "english_words": self._english_words(text, lang, len(words)),
        }

    def _english_words(self, text: str, lang: str | None, spaced_words: int) -> float:
        """Size for the n-gram gate; spaced text far above the gate skips the per-script count."""
        if spaced_words >= 2 * self.min_ngram_words and not is_spaceless(text, lang):
            return float(spaced_words)
        script = script_of(text, lang)
        return english_words(split_words_in_script(text, script), script)

    def reject_reason(self, signals: dict[str, float]) -> Rejection | None:
        for signal in self.RULES:
            if signal.startswith("dup_line") and signals.get("lines", self.min_dup_lines) < self.min_dup_lines:
                continue
            if signal.startswith("top_") and signals.get("english_words", self.min_ngram_words) < self.min_ngram_words:
                continue
            limit = getattr(self, f"max_{signal}")
            if signals[signal] > limit:
                return Rejection(signal, f"{signal} {signals[signal]:.3f} > {limit}")
        return None
