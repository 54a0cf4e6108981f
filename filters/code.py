"""Quality rules for source files: the heuristics of Codex, The Stack, StarCoder and StarCoder2.

:class:`CodeQuality` works from the text alone: in the pipeline a code document's ``lang`` is
None and the filter API is ``(text, lang)``, so there is no programming language to key
thresholds on. Where the text itself tells, it is used: prose (Markdown, TeX, a README) and
markup (HTML, XML) skip the line-length and comment rules, as StarCoder exempted them, and a
full HTML page must have visible text (StarCoder's HTML rule).

The reader (:mod:`curate.readers.code`) already drops vendored, minified-by-name, lock and
protobuf files, and files with a "generated" marker; the same marker rule is reused here
(:func:`filters.generated.generated_marker`) so code that reaches the pipeline another way
(Parquet dumps, archives of other corpora) gets it too. Each rule has its own reason tag:

* ``too_many_lines`` (StarCoder: files of more than 100,000 lines);
* ``generated``: a "generated / do not edit" comment near the top;
* ``encoded_data``: base64, hex byte arrays or ``\\uXXXX`` runs (StarCoder2's regexes);
* ``minified``: long lines with almost no whitespace and dense ``;{}(),`` punctuation;
* ``long_line``: a line longer than ``max_line_length`` (Codex / The Stack: 1000), code only;
* ``data_file``: mostly number and string literals (JSON/CSV dumps, lookup tables);
* ``license_only``: a license header with (almost) no code after it;
* ``low_alnum``: under 25% alphanumeric characters (Codex / The Stack);
* ``low_visible_text``: an HTML page that is mostly tags and scripts (StarCoder: < 20% text);
* ``long_mean_line``: mean line length over 100 (Codex / The Stack), code only;
* ``too_many_comments`` / ``too_few_comments``: comment-only lines out of bounds (SantaCoder),
  code only;
* ``low_token_diversity``: a long file built from a handful of distinct tokens.
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import ClassVar, Literal

import regex
from pydantic import Field

from filters.base import Filter, Rejection
from filters.code_tokens import comment_only_lines
from filters.generated import generated_marker

#: StarCoder2 (Lozhkov et al. 2024, "encoded data"): base64 strings, hex byte sequences and runs
#: of Unicode escapes, used as published.
_BASE64 = re.compile(r"(?<![a-zA-Z0-9+/\n=])[a-zA-Z0-9+/\n=]{64,}")  # lookbehind: start at a run's start only
_HEX_BYTES = re.compile(r"(?:\b(?:0x|\\x)?[0-9a-fA-F]{2}(?:,|\b\s*)){8,}")
_UNICODE_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4}){8,}")
#: Fewer distinct characters than this in a base64/hex run: a divider (``/////``, ``=====``) or
#: padding, not encoded data (random base64 uses ~all 64 symbols, hex bytes all 16 digits).
_MIN_DISTINCT_ENCODED = 16
_RUN_FILLER = frozenset("\n ,")
#: A base64 run that spans lines is wrapped at 60-76 characters: shorter lines on average are a list.
_MIN_WRAPPED_LINE = 32

#: Literals and words of code in one alternation: strings (one line, either quote), numbers
#: (hex, decimal, float with exponent), identifiers/keywords. Group 1/2/3 tells which.
_TOKEN = re.compile(
    r"""("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
    r"|(\b0[xX][0-9a-fA-F]+\b|(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\b)"
    r"|([A-Za-z_]\w*)"
)
_ALNUM = regex.compile(r"[\p{L}\p{N}\p{M}]+")  # letters with their combining vowel signs (Bengali, Hindi)
_NON_SPACE = re.compile(r"\S+")

#: Comment openers that need no language: a comment-only line starts with one of them.
_LINE_COMMENTS = ("//", "--", ";", "%", "#")
#: Block comment / docstring openers with their closers.
_BLOCKS = (("/*", "*/"), ("<!--", "-->"), ("{-", "-}"), ("(*", "*)"))
#: Openers that also start code (``(*ptr)``, ``{-1}``): a comment only when a space or ``*``/``#`` follows.
_LOOSE_BLOCKS = frozenset({"(*", "{-"})
_LOOSE_FOLLOWERS = frozenset({"", " ", "\t", "*", "#"})
_COMMENT_FIRST = frozenset(o[0] for o in _LINE_COMMENTS) | frozenset(o[0] for o, _ in _BLOCKS)
#: ``#`` lines that are code: C preprocessor, C# regions, Rust attributes, shebangs.
_HASH_CODE = re.compile(
    r"#(?:!|\[|\s*(?:include|define|undef|if|ifdef|ifndef|elif|else|endif|pragma|import|error|warning|line|region|endregion)\b)"
)

#: Phrases that only occur in license texts (SPDX ids, the standard grant/disclaimer sentences).
_LICENSE = re.compile(
    r"SPDX-License-Identifier|Licensed under the Apache License|Permission is hereby granted, free of charge"
    r"|Redistribution and use in source and binary forms|GNU (?:Lesser |Affero )?General Public License"
    r"|This (?:program|library|file) is free software|Mozilla Public License|THE SOFTWARE IS PROVIDED \"?AS IS"
    r"|WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND|Boost Software License|Eclipse Public License",
    re.IGNORECASE,
)

#: Characters that are not letters, digits, spaces or sentence punctuation (what prose lacks).
_NOT_WORDISH = re.compile(r"[^\w\s.,:'’\"`()!?-]|_")
#: Line endings of code statements and blocks.
_CODE_ENDINGS = frozenset(";{}([],=:\\")
#: A full HTML page (not a Vue/Svelte template): StarCoder's visible-text rule applies to these.
_HTML_PAGE = re.compile(r"<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE)
_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
#: Code punctuation that minifiers keep and squeeze together.
_CODE_PUNCT = re.compile(r"[;{}(),=]")


class CodeQuality(Filter):
    """StarCoder-style heuristics for a source file, each with its own reason tag."""

    name: Literal["code_quality"] = "code_quality"
    signals: ClassVar[tuple[str, ...]] = (
        "lines", "chars", "max_line_length", "mean_line_length", "alnum_frac", "comment_line_frac",
        "generated", "encoded_chars", "encoded_frac", "minified_frac", "literal_frac",
        "license_only", "tokens", "token_diversity", "prose", "markup", "visible_text_frac",
        "comments_by_tokens",
    )
    wants_code_language: ClassVar[bool] = True

    max_lines: int = Field(default=100_000, gt=0)
    """StarCoder (Li et al. 2023): files with more than 100k lines are removed."""
    max_line_length: int = Field(default=1000, gt=0)
    """Codex (Chen et al. 2021) and The Stack (Kocetkov et al. 2022): longest line <= 1000.
    Like StarCoder, neither line-length rule applies to prose (Markdown, TeX, text) or markup
    (HTML, XML), whose paragraphs often sit on one line."""
    max_mean_line_length: float = Field(default=100.0, gt=0)
    """Codex / The Stack: mean line length <= 100."""
    min_alnum_frac: float = Field(default=0.25, ge=0, le=1)
    """Codex / The Stack: at least 25% alphanumeric characters."""
    max_comment_line_frac: float = Field(default=0.8, ge=0, le=1)
    """SantaCoder (Allal et al. 2023) kept files whose comments are 1%-80% of the text; we count
    comment-only lines, since without the language we cannot find trailing comments."""
    min_comment_line_frac: float = Field(default=0.0, ge=0, le=1)
    """SantaCoder's lower bound was 0.01. Off by default: many good short files have no comment
    line at all, and without the language the count misses trailing comments."""
    min_lines_for_comment_rules: int = Field(default=5, ge=1)
    """Comment bounds only mean something on files of at least this many non-blank lines."""
    reject_generated: bool = True
    """Reject files with a "generated / do not edit" comment near the top (the reader's rule)."""
    max_encoded_chars: int = Field(default=1024, ge=0)
    """StarCoder2: drop when encoded-data matches total more than 1024 characters ..."""
    max_encoded_frac: float = Field(default=0.5, ge=0, le=1)
    """... or more than half of the file."""
    minified_min_line: int = Field(default=300, gt=0)
    """Lines at least this long are checked for minification (little whitespace, dense punctuation)."""
    max_minified_frac: float = Field(default=0.5, ge=0, le=1)
    """Share of the file's characters in minified-looking lines above which the file is minified."""
    max_literal_frac: float = Field(default=0.7, ge=0, le=1)
    """Share of non-space characters inside number and string literals above which it is data."""
    min_chars_for_data_rule: int = Field(default=5000, ge=0)
    """The data rule needs a file this long: a small config (package.json) or constants module is
    not a data dump. StarCoder likewise kept JSON/YAML files of up to a few thousand characters."""
    min_code_lines_after_license: int = Field(default=3, ge=0)
    """A file with a license text and fewer non-comment lines than this is a license header only."""
    min_token_diversity: float = Field(default=0.02, ge=0, le=1)
    """Distinct tokens / tokens below this (on files of at least ``min_tokens_for_diversity``
    tokens): a file that repeats a few tokens over and over (generated tables, padding)."""
    min_tokens_for_diversity: int = Field(default=2000, ge=1)
    min_html_visible_frac: float = Field(default=0.2, ge=0, le=1)
    """StarCoder: an HTML page is kept only if its visible text is at least 20% of the file."""

    comment_token_margin: float = Field(default=0.05, ge=0, le=1)
    """The line rules (cheap, fooled by ``#`` or ``/*`` inside strings) only decide which files
    the language's tokenizer re-counts: those within this margin of a comment bound."""

    def check(
        self, text: str, lang: str | None = None, code_language: str | None = None
    ) -> tuple[str, dict[str, float], Rejection | None]:
        """As :meth:`Filter.check`; ``code_language`` (the reader's ``code_language``) lets the
        comment and "generated" rules read the file with that language's tokenizer."""
        variant = self.for_language(lang)
        signals = variant.score(text, lang, code_language)
        return text, signals, variant.reject_reason(signals)

    def score(self, text: str, lang: str | None = None, code_language: str | None = None) -> dict[str, float]:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        n_lines = len(lines)
        max_len = 0
        nonblank = comment = code = prose = tag_lines = 0
        minified_chars = 0
        closer: str | None = None  # inside a block comment until this appears
        for line in lines:
            length = len(line)
            if length > max_len:
                max_len = length
            stripped = line.strip()
            if not stripped:
                continue
            nonblank += 1
            if stripped[0] == "<":
                tag_lines += 1
            if length >= self.minified_min_line and _minified_line(stripped):
                minified_chars += length
            if closer is not None:
                comment += 1
                if closer in stripped:
                    closer = None
                continue
            is_comment, closer = _comment_line(stripped)
            if is_comment:
                comment += 1
            else:
                code += 1
                if _prose_line(stripped):
                    prose += 1

        chars = len(text)
        non_space = chars - len(_NON_SPACE.sub("", text))
        alnum = chars - len(_ALNUM.sub("", text))
        encoded = _encoded_chars(text)

        tokens = _TOKEN.findall(text)  # (string, number, identifier) with two of them empty
        literal_chars = sum(map(len, map(itemgetter(0), tokens))) + sum(map(len, map(itemgetter(1), tokens)))
        distinct = len(set(tokens))

        is_prose = code > 0 and prose / code >= 0.5
        head = text.lstrip()[:1]
        is_markup = nonblank > 0 and (head == "<" or tag_lines / nonblank >= 0.5)
        visible = 1.0
        if is_markup and _HTML_PAGE.search(text, 0, 4096):
            body = _TAG.sub(" ", _SCRIPT_STYLE.sub(" ", text))
            visible = (len(body) - len(_NON_SPACE.sub("", body))) / non_space if non_space else 0.0
        # Only files with almost no code (or prose such as a LICENSE.md) can be license-only,
        # so the license search never runs over ordinary code.
        license_only = False
        if code < self.min_code_lines_after_license:
            license_only = _LICENSE.search(text) is not None
        elif is_prose:
            license_only = _LICENSE.search(text, 0, 2000) is not None
        comment_frac = comment / nonblank if nonblank else 0.0
        by_tokens = False
        if code_language is not None and self._comment_bound_near(comment_frac, nonblank):
            counted = comment_only_lines(text, code_language)
            if counted is not None:
                by_tokens = True
                comment_frac = counted[0] / counted[1] if counted[1] else 0.0
        return {
            "lines": float(n_lines),
            "chars": float(chars),
            "max_line_length": float(max_len),
            "mean_line_length": chars / n_lines if n_lines else 0.0,
            "alnum_frac": alnum / chars if chars else 0.0,
            "comment_line_frac": comment_frac,
            "comments_by_tokens": 1.0 if by_tokens else 0.0,
            "generated": 1.0 if self.reject_generated and generated_marker(text, code_language) is not None else 0.0,
            "encoded_chars": float(encoded),
            "encoded_frac": encoded / chars if chars else 0.0,
            "minified_frac": minified_chars / chars if chars else 0.0,
            "literal_frac": literal_chars / non_space if non_space else 0.0,
            "license_only": 1.0 if license_only else 0.0,
            "tokens": float(len(tokens)),
            "token_diversity": distinct / len(tokens) if tokens else 1.0,
            "prose": 1.0 if is_prose else 0.0,
            "markup": 1.0 if is_markup else 0.0,
            "visible_text_frac": visible,
        }

    def _comment_bound_near(self, frac: float, nonblank: int) -> bool:
        """Whether the line count puts the file near enough a comment bound to re-count by tokens."""
        if nonblank < self.min_lines_for_comment_rules:
            return False
        margin = self.comment_token_margin
        return frac > self.max_comment_line_frac - margin or (
            self.min_comment_line_frac > 0 and frac < self.min_comment_line_frac + margin
        )

    def reject_reason(self, signals: dict[str, float]) -> Rejection | None:
        s = signals
        lines = int(s["lines"])
        if lines > self.max_lines:
            return Rejection("too_many_lines", f"{lines} lines > max_lines {self.max_lines}")
        if s["generated"]:
            return Rejection("generated", "generated-code marker in a comment near the top")
        if s["encoded_chars"] > self.max_encoded_chars or s["encoded_frac"] > self.max_encoded_frac:
            return Rejection(
                "encoded_data",
                f"{int(s['encoded_chars'])} chars ({s['encoded_frac']:.2f}) of base64/hex/unicode escapes "
                f"> {self.max_encoded_chars} or {self.max_encoded_frac}",
            )
        if s["minified_frac"] > self.max_minified_frac:
            return Rejection("minified", f"{s['minified_frac']:.2f} of chars in dense long lines > {self.max_minified_frac}")
        text_like = bool(s["prose"] or s["markup"])  # StarCoder: no line-length rules for these
        if not text_like and s["max_line_length"] > self.max_line_length:
            return Rejection("long_line", f"a line of {int(s['max_line_length'])} chars > max_line_length {self.max_line_length}")
        if s["chars"] >= self.min_chars_for_data_rule and s["literal_frac"] > self.max_literal_frac:
            return Rejection("data_file", f"literal_frac {s['literal_frac']:.2f} > {self.max_literal_frac}")
        if s["license_only"]:
            return Rejection("license_only", "license text with no code after it")
        if s["alnum_frac"] < self.min_alnum_frac:
            return Rejection("low_alnum", f"alnum_frac {s['alnum_frac']:.2f} < {self.min_alnum_frac}")
        if s["visible_text_frac"] < self.min_html_visible_frac:
            return Rejection(
                "low_visible_text", f"visible text {s['visible_text_frac']:.2f} of HTML < {self.min_html_visible_frac}"
            )
        if not text_like and s["mean_line_length"] > self.max_mean_line_length:
            return Rejection("long_mean_line", f"mean line {s['mean_line_length']:.0f} chars > {self.max_mean_line_length}")
        if not text_like and lines >= self.min_lines_for_comment_rules:
            frac = s["comment_line_frac"]
            if frac > self.max_comment_line_frac:
                return Rejection("too_many_comments", f"comment_line_frac {frac:.2f} > {self.max_comment_line_frac}")
            if frac < self.min_comment_line_frac:
                return Rejection("too_few_comments", f"comment_line_frac {frac:.2f} < {self.min_comment_line_frac}")
        if s["tokens"] >= self.min_tokens_for_diversity and s["token_diversity"] < self.min_token_diversity:
            return Rejection("low_token_diversity", f"token_diversity {s['token_diversity']:.3f} < {self.min_token_diversity}")
        return None


def _comment_line(stripped: str) -> tuple[bool, str | None]:
    """(is the line comment-only, closer of a block it opens and does not close)."""
    if stripped[0] not in _COMMENT_FIRST:
        return False, None
    for opener, closer in _BLOCKS:
        if stripped.startswith(opener):
            after = stripped[len(opener) : len(opener) + 1]
            if opener in _LOOSE_BLOCKS and after not in _LOOSE_FOLLOWERS:
                break  # ``(*this)``, ``{-1, 2}``: code, not an OCaml/Haskell comment
            return True, (None if closer in stripped[len(opener):] else closer)
    if stripped.startswith("#"):
        return _HASH_CODE.match(stripped) is None, None
    return stripped.startswith(_LINE_COMMENTS), None


def _prose_line(stripped: str) -> bool:
    """A sentence of natural language: 8+ words, mostly letters and spaces, no code ending."""
    if stripped[-1] in _CODE_ENDINGS or stripped.count(" ") < 7:
        return False
    return len(_NOT_WORDISH.findall(stripped)) <= 0.03 * len(stripped)


def _minified_line(stripped: str) -> bool:
    """A long line a minifier wrote: under 5% whitespace and a ``;{}(),=`` every 20 characters."""
    length = len(stripped)
    spaces = stripped.count(" ") + stripped.count("\t")
    return spaces < 0.05 * length and len(_CODE_PUNCT.findall(stripped)) >= 0.05 * length


def _encoded_chars(text: str) -> int:
    """Characters in base64 / hex / ``\\uXXXX`` runs. A base64 or hex run needs 16 distinct
    characters (``/////`` and ``=====`` divider lines have one) and must not be part of a URL."""
    total = 0
    for rx in (_BASE64, _HEX_BYTES):
        for m in rx.finditer(text):
            run = m.group()
            if (len(set(run) - _RUN_FILLER) >= _MIN_DISTINCT_ENCODED and not _in_url(text, m.start())
                    and _wrapped_like_encoding(run)):
                total += m.end() - m.start()
    if "\\u" in text:
        total += sum(m.end() - m.start() for m in _UNICODE_ESCAPES.finditer(text))
    return total


def _wrapped_like_encoding(run: str) -> bool:
    """Base64 spanning lines is wrapped at 60-76 characters (PEM, MIME); a word-per-line list
    (``akin``/``aking``/``ako``: a stop-word set) is letters and newlines too, in short lines."""
    lines = [line for line in run.split("\n") if line]
    return len(lines) <= 1 or sum(map(len, lines)) / len(lines) >= _MIN_WRAPPED_LINE


def _in_url(text: str, start: int) -> bool:
    """Whether the word around ``start`` is a URL (``https://host/very/long/path``)."""
    word_start = max(text.rfind(" ", 0, start), text.rfind("\n", 0, start), text.rfind("\t", 0, start)) + 1
    return "://" in text[word_start : start + 3]
