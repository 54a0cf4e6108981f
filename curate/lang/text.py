"""What a language-ID model is shown: a normalised prefix of the text (no URLs, LaTeX or code
fences, one line, bounded), or its lines for ``lang_mix``. Markup says nothing about the
language and pulls the models' scores down."""

from __future__ import annotations

import re

_URL = re.compile(r"https?://\S+|www\.\S+")
_LATEX = re.compile(r"\$\$.*?\$\$|\$[^$\n]{0,400}\$|\\begin\{(\w+\*?)\}.*?\\end\{\1\}|\\[a-zA-Z]+", re.S)
_CODE_FENCE = re.compile(r"```.*?```", re.S)

def strip_markup(text: str) -> str:
    """URLs, code fences and LaTeX replaced by spaces, newlines kept. The substring tests skip the
    regexes that cannot match, which is most of them on most documents."""
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "```" in text:
        text = _CODE_FENCE.sub(" ", text)
    if "$" in text or "\\" in text:
        text = _LATEX.sub(" ", text)
    return text


def one_line(cleaned: str, head: str, max_chars: int) -> str:
    # Whitespace collapsed on a prefix first: its result is a prefix of the full one, so when it
    # is long enough the two agree on the first max_chars characters.
    budget = max_chars + max_chars // 2
    line = " ".join(cleaned[:budget].split())
    if len(line) < max_chars and len(cleaned) > budget:
        line = " ".join(cleaned.split())
    if len(line) < 20:  # nothing but markup: let the model see the original
        line = " ".join(head.split())
    return line[:max_chars]


def prediction_text(text: str, max_chars: int) -> str:
    """What the model sees: markup that says nothing about the language removed, one line, bounded."""
    head = text[: max_chars * 3]
    return one_line(strip_markup(head), head, max_chars)


def line_units(cleaned: str, max_lines: int, min_chars: int, line_chars: int) -> tuple[list[str], list[int]]:
    """The lines to predict (whitespace collapsed, cut to ``line_chars``) and how many non-empty
    lines each stands for: lines shorter than ``min_chars`` (headings, bylines, menu items) count
    with the next long line, or with the previous one when no long line follows."""
    units: list[str] = []
    weights: list[int] = []
    pending = 0
    for raw in cleaned.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if len(line) < min_chars:
            pending += 1
            continue
        units.append(" ".join(line[:line_chars].split()))
        weights.append(1 + pending)
        pending = 0
        if len(units) == max_lines:
            break
    if pending and weights:
        weights[-1] += pending
    return units, weights
