"""What Gopher, C4 and FineWeb rules share: per-script sentence punctuation and word units, and
the rule-table verdict with built-in per-language defaults (:class:`WebFilter`).

A signal that does not apply to a document (a rule skipped for its script) is NaN, and NaN never
rejects.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import regex

from filters.base import Filter, Rejection
from filters.words import SPACELESS_SCRIPTS, script_of, split_words_in_script

NAN = float("nan")

# --- per-script punctuation -----------------------------------------------------------------

_BASE_TERMINALS = ".!?"
#: Sentence-ending characters each script adds to ``. ! ?``; None: the script has none (a space ends
#: a Thai or Lao sentence), so rules about terminal punctuation do not apply.
SCRIPT_TERMINALS: dict[str, str | None] = {
    "Hani": "。！？｡．", "Hans": "。！？｡．", "Hant": "。！？｡．", "Jpan": "。！？｡．", "Hira": "。！？｡．", "Kana": "。！？｡．",
    "Hang": "。！？", "Kore": "。！？",
    "Deva": "।॥", "Beng": "।॥", "Guru": "।॥", "Gujr": "।॥", "Orya": "।॥",
    "Arab": "؟۔", "Thaa": "؟",
    "Mymr": "။", "Khmr": "។៕", "Tibt": "།༎", "Sinh": "෴",
    "Ethi": "።፧፨", "Armn": "։՞՜",
    "Grek": ";\u037e",  # the Greek question mark (U+037E normalizes to ";")
    "Thai": None, "Laoo": None,
}  # fmt: skip
#: Characters that may close a sentence after its punctuation: ``He said "Yes."`` ends in a period.
_CLOSERS = "\"'”’»›)]」』）】〕〉》"
ELLIPSES = ("...", "…")


@dataclass(frozen=True)
class ScriptRules:
    """What a script changes for these filters: word units and sentence punctuation."""

    script: str | None
    spaceless: bool
    terminals: frozenset[str] | None
    sentence_end: Any  # compiled pattern counting sentence ends, or None

    def ends_sentence(self, line: str) -> bool:
        """Does this (stripped) line end with terminal punctuation, closing quotes allowed?"""
        body = line.rstrip(_CLOSERS)
        return bool(body) and body[-1] in self.terminals and not body.endswith(ELLIPSES)

    def count_sentences(self, text: str) -> int:
        """Sentence ends in ``text``; whitespace-separated segments where the script has no mark."""
        if self.sentence_end is None:
            return len(text.split())
        return sum(1 for _ in self.sentence_end.finditer(text))

    def words(self, text: str) -> list[str]:
        return split_words_in_script(text, self.script)


@functools.lru_cache(maxsize=128)
def _rules_for_script(script: str | None) -> ScriptRules:
    extra = SCRIPT_TERMINALS.get(script or "", "")
    if extra is None:
        return ScriptRules(script, script in SPACELESS_SCRIPTS, None, None)
    closers = regex.escape(_CLOSERS)
    # ". ! ?" end a sentence only before a space or the end (not in 3.5 or e.g); a script's own
    # marks (。 । ။ ...) always do. Runs ("?!", "。。") count once.
    pattern = rf"[.!?]+(?=[{closers}]*(?:\s|$))"
    own = "".join(ch for ch in extra if ch not in _BASE_TERMINALS)
    if own:
        pattern = rf"[{regex.escape(own)}]+[.!?]*|{pattern}"
    return ScriptRules(
        script, script in SPACELESS_SCRIPTS, frozenset(_BASE_TERMINALS + extra), regex.compile(pattern)
    )


def script_rules(text: str, lang: str | None) -> ScriptRules:
    """The rules for ``lang``'s script (read from the text when ``lang`` has none)."""
    return _rules_for_script(script_of(text, lang))


# --- shared machinery -----------------------------------------------------------------------


def is_nan(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class WebFilter(Filter):
    """Rule-table verdicts and built-in per-language defaults shared by the three filters."""

    #: ``(signal, "min"|"max", option or fixed limit, reason)`` checked in order; the first failure rejects.
    RULES: ClassVar[tuple[tuple[str, str, str | float, str], ...]] = ()
    #: Per-language defaults, applied like ``overrides`` unless the user set the option.
    LANGUAGE_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {}

    def model_post_init(self, __context: Any) -> None:
        merged = {lang: dict(options) for lang, options in self.overrides.items()}
        for lang, defaults in self.LANGUAGE_DEFAULTS.items():
            mine = merged.setdefault(lang, {})
            for option, value in defaults.items():
                if option not in self.model_fields_set:
                    mine.setdefault(option, value)
            if not mine:
                del merged[lang]
        self.__dict__["overrides"] = merged
        super().model_post_init(__context)

    def reject_reason(self, signals: dict[str, float]) -> Rejection | None:
        for signal, kind, option, reason in self.RULES:
            limit = getattr(self, option) if isinstance(option, str) else option
            value = signals.get(signal)
            if limit is None or is_nan(value):
                continue
            if (value < limit) if kind == "min" else (value > limit):
                sign = "<" if kind == "min" else ">"
                bound = f"{option} {limit}" if isinstance(option, str) else f"{limit}"
                return Rejection(reason, f"{signal} {value:.4g} {sign} {bound}")
        return None


def nonempty_lines(text: str) -> list[str]:
    return [line for line in (raw.strip() for raw in text.splitlines()) if line]
