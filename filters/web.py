"""Heuristic quality filters for web text: Gopher, C4 and FineWeb rules, in every script.

The three rule sets the open pretraining corpora are built with (Gopher's MassiveWeb, C4,
FineWeb), with the papers' thresholds as defaults, made language-aware:

* words come from :func:`filters.words.split_words`: whitespace words in spaced scripts; one
  character (Chinese, Japanese) or one grapheme cluster (Thai, Lao, Khmer, Burmese) per unit in
  *spaceless* scripts. Rules counting words use separate ``*_chars`` thresholds there, and rules
  that make no sense without words (Gopher's mean word length, C4's longest word) are skipped;
* "terminal punctuation" is per script: ``. ! ?`` everywhere plus 。！？ (CJK), । ॥ (Devanagari,
  Bengali), ؟ ۔ (Arabic script), ။ (Burmese), ។ ៕ (Khmer), ; (Greek question mark), ... Thai and
  Lao mark sentence ends with a space, not a character, so punctuation rules are skipped for them;
* a signal that does not apply to a document (a rule skipped for its script, stop words of a
  language without a list) is NaN, and NaN never rejects;
* each filter carries a few built-in per-language defaults (:attr:`LANGUAGE_DEFAULTS`, e.g.
  Korean's shorter mean word length) that behave like ``overrides`` the user did not write:
  an option the user sets, at the top level or for that language, wins.

Every filter makes one pass over the lines with precompiled patterns: they run on every document.
"""

from __future__ import annotations

import functools
from typing import ClassVar, Literal

import regex
from pydantic import Field

from filters.stopwords import stop_words_for
from filters.web_rules import ELLIPSES, NAN, WebFilter, nonempty_lines, script_rules
from filters.words import english_words, latin_chars

# --- Gopher ---------------------------------------------------------------------------------

#: Characters that start a bulleted line. Not em/en dashes: they open dialogue lines in Russian,
#: Ukrainian, French or Spanish prose.
BULLETS = ("•", "‣", "◦", "⁃", "●", "○", "▪", "▫", "■", "□", "◆", "◇", "►", "▶", "▷", "➢", "➤",
           "✓", "✔", "☐", "☑", "·", "・", "*", "-")  # fmt: skip
_NO_LETTER_TOKEN = regex.compile(r"(?<!\S)[^\s\p{L}]+(?!\S)")
_SYMBOL_TOKEN = regex.compile(r"(?<!\S)[^\s\p{L}\p{N}]+(?!\S)")


class GopherQuality(WebFilter):
    """Gopher's quality rules (Rae et al. 2021, MassiveWeb; as in datatrove's GopherQualityFilter).

    Keeps a document with 50-100,000 words, mean word length 3-10 characters, at most 0.1 ``#``
    and 0.1 ellipses per word, at most 90% of lines starting with a bullet and 30% ending with an
    ellipsis, at least 80% of words containing a letter, and at least 2 stop words of its
    language. These remove most machine-generated lists, menus and symbol soup while keeping prose.

    The word bounds count English-equivalent words in every script
    (:func:`filters.words.english_words`): 50 words of English, about 80 Han characters, 160
    kana, 38 Korean eojeol, 167 Thai grapheme clusters. Spaceless scripts (zh, ja, th, lo, km,
    my): ``min_chars``/``max_chars`` (off by default) can add bounds on raw characters (CJK) or
    grapheme clusters (the rest); mean word length is skipped (a unit is one character by construction);
    the symbol ratios are per unit; the letter rule counts units plus symbol-only tokens; stop
    words are particles matched as substrings (:mod:`filters.stopwords`). Lines: non-empty lines.
    Korean words (eojeol) and Vietnamese syllables are short, hence lower minimum mean lengths.
    """

    name: Literal["gopher_quality"] = "gopher_quality"
    signals: ClassVar[tuple[str, ...]] = (
        "words", "chars", "mean_word_length", "hash_ratio", "ellipsis_ratio",
        "bullet_lines_frac", "ellipsis_lines_frac", "alpha_words_frac", "stop_words",
    )  # fmt: skip
    RULES: ClassVar = (
        ("words", "min", "min_words", "too_few_words"),
        ("words", "max", "max_words", "too_many_words"),
        ("chars", "min", "min_chars", "too_few_chars"),
        ("chars", "max", "max_chars", "too_many_chars"),
        ("mean_word_length", "min", "min_mean_word_length", "short_words"),
        ("mean_word_length", "max", "max_mean_word_length", "long_words"),
        ("hash_ratio", "max", "max_symbol_word_ratio", "hash_ratio"),
        ("ellipsis_ratio", "max", "max_symbol_word_ratio", "ellipsis_ratio"),
        ("bullet_lines_frac", "max", "max_bullet_lines_frac", "bullet_lines"),
        ("ellipsis_lines_frac", "max", "max_ellipsis_lines_frac", "ellipsis_lines"),
        ("alpha_words_frac", "min", "min_alpha_words_frac", "alpha_words"),
        ("stop_words", "min", "min_stop_words", "stop_words"),
    )
    LANGUAGE_DEFAULTS: ClassVar = {
        "kor_Hang": {"min_mean_word_length": 1.5},
        "kor_Kore": {"min_mean_word_length": 1.5},
        "vie_Latn": {"min_mean_word_length": 2.0},
    }

    min_words: int | None = Field(default=50, ge=0)
    max_words: int | None = Field(default=100_000, ge=0)
    min_chars: int | None = Field(default=None, ge=0)
    """Spaceless scripts only: minimum characters (CJK) or grapheme clusters, on top of ``min_words``
    (off by default: the word bounds already count English-equivalent words in every script)."""
    max_chars: int | None = Field(default=None, ge=0)
    min_mean_word_length: float | None = Field(default=3, ge=0)
    max_mean_word_length: float | None = Field(default=10, ge=0)
    max_symbol_word_ratio: float | None = Field(default=0.1, ge=0)
    """Applies to ``#`` and to ellipses (``...``/``…``), each counted per word."""
    max_bullet_lines_frac: float | None = Field(default=0.9, ge=0, le=1)
    max_ellipsis_lines_frac: float | None = Field(default=0.3, ge=0, le=1)
    min_alpha_words_frac: float | None = Field(default=0.8, ge=0, le=1)
    min_stop_words: int | None = Field(default=2, ge=0)

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        rules = script_rules(text, lang)
        lowered = text.lower()
        words = rules.words(lowered)
        n = len(words)
        per_word = max(n, 1)
        n_words = english_words(words, rules.script, lang)
        if rules.spaceless:
            n_chars, mean_len = float(n), NAN
            symbols = len(_SYMBOL_TOKEN.findall(text))
            numeric = sum(1 for w in words if not w[0].isalpha() and not any(c.isalpha() for c in w))
            tokens, alpha = n + symbols, n - numeric
        else:
            n_chars = NAN
            mean_len = sum(len(w) for w in words) / n if n else 0.0
            tokens = len(text.split())  # Gopher's words: whitespace tokens, punctuation included
            alpha = tokens - len(_NO_LETTER_TOKEN.findall(text))
        lines = nonempty_lines(text)
        n_lines = max(len(lines), 1)
        stop_words = stop_words_for(lang)
        return {
            "words": n_words,
            "chars": n_chars,
            "mean_word_length": mean_len,
            "hash_ratio": text.count("#") / per_word,
            "ellipsis_ratio": (text.count("...") + text.count("…")) / per_word,
            "bullet_lines_frac": sum(1 for line in lines if line.startswith(BULLETS)) / n_lines,
            "ellipsis_lines_frac": sum(1 for line in lines if line.endswith(ELLIPSES)) / n_lines,
            "alpha_words_frac": alpha / tokens if tokens else 0.0,
            "stop_words": NAN if stop_words is None else float(stop_words.count(lowered, words)),
        }


# --- C4 -------------------------------------------------------------------------------------

#: C4's policy phrases plus unambiguous equivalents in other languages (a line with one is removed).
POLICY_SUBSTRINGS: tuple[str, ...] = (
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
    "datenschutzerklärung", "verwendet cookies", "nutzt cookies", "politique de confidentialité",
    "utilise des cookies", "política de privacidad", "utiliza cookies", "política de privacidade",
    "utiliza cookies", "informativa sulla privacy", "utilizza cookie", "utilizza i cookie",
    "privacybeleid", "gebruikt cookies", "polityka prywatności", "plików cookie",
    "политика конфиденциальности", "файлы cookie", "файлів cookie", "zásady ochrany osobních údajů",
    "gizlilik politikası", "çerez politikası", "kebijakan privasi", "dasar privasi",
    "chính sách bảo mật", "سياسة الخصوصية", "ملفات تعريف الارتباط", "מדיניות פרטיות",
    "गोपनीयता नीति", "隐私政策", "隱私政策", "使用cookie", "プライバシーポリシー", "クッキーを使用",
    "cookieを使用", "개인정보처리방침", "개인정보 처리방침", "쿠키를 사용", "นโยบายความเป็นส่วนตัว",
    "ใช้คุกกี้",
)  # fmt: skip
_CITATION = regex.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", regex.IGNORECASE)
_LOREM = regex.compile(r"lorem\s+ipsum", regex.IGNORECASE)


def _has_lorem_ipsum(text: str) -> bool:
    return ("psum" in text or "PSUM" in text) and _LOREM.search(text) is not None


@functools.lru_cache(maxsize=32)
def _lowered(phrases: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(phrase.lower() for phrase in phrases)


class C4Quality(WebFilter):
    """C4's line and page rules (Raffel et al. 2020; the C4 reference code and datatrove's C4QualityFilter).

    ``clean`` removes lines that do not end in terminal punctuation, have fewer than 5 words, hold
    a word over 1,000 characters, mention "javascript" (enable-JavaScript notices) or a
    privacy/cookie policy, and strips citation markers (``[1]``, ``[edit]``); a page containing
    "lorem ipsum" (placeholder) or a curly bracket (code) is dropped whole. After cleaning a page
    needs 3 sentences. Defaults are the paper's (datatrove uses 3 words per line, 5 sentences).

    Per script: terminal punctuation as in :data:`SCRIPT_TERMINALS`, skipped for Thai and Lao
    (whose "sentences" are counted as space-separated segments); spaceless scripts need
    ``min_chars_per_line`` (10) characters or clusters per line instead of 5 words and skip the
    long-word rule. ``min_words``/``min_chars`` (off by default) require that much text to remain.
    Kept lines keep their paragraph breaks; an unchanged document is returned as is.
    """

    name: Literal["c4"] = "c4"
    signals: ClassVar[tuple[str, ...]] = (
        "lines_removed_frac", "chars_removed_frac", "lorem_ipsum", "curly_bracket", "sentences", "words", "chars",
    )  # fmt: skip
    RULES: ClassVar = (
        ("lorem_ipsum", "max", 0, "lorem_ipsum"),
        ("curly_bracket", "max", 0, "curly_bracket"),
        ("sentences", "min", "min_sentences", "too_few_sentences"),
        ("words", "min", "min_words", "too_few_words"),
        ("chars", "min", "min_chars", "too_few_chars"),
    )

    min_words_per_line: int | None = Field(default=5, ge=0)
    min_chars_per_line: int | None = Field(default=10, ge=0)
    """Spaceless scripts: characters (CJK) or grapheme clusters a line needs, in place of words."""
    max_word_length: int | None = Field(default=1000, ge=1)
    min_sentences: int | None = Field(default=3, ge=0)
    min_words: int | None = Field(default=None, ge=0)
    min_chars: int | None = Field(default=None, ge=0)
    filter_no_terminal_punct: bool = True
    remove_citations: bool = True
    filter_javascript: bool = True
    filter_policy: bool = True
    policy_substrings: tuple[str, ...] = POLICY_SUBSTRINGS
    filter_lorem_ipsum: bool = True
    filter_curly_bracket: bool = True

    def clean(self, text: str, lang: str | None = None) -> tuple[str, dict[str, float]]:
        flags = {
            "lorem_ipsum": float(self.filter_lorem_ipsum and _has_lorem_ipsum(text)),
            "curly_bracket": float(self.filter_curly_bracket and "{" in text),
        }
        if flags["lorem_ipsum"] or flags["curly_bracket"]:  # the page goes; no point cleaning it
            return text, {"lines_removed_frac": 0.0, "chars_removed_frac": 0.0, **flags}
        rules = script_rules(text, lang)
        check_punct = self.filter_no_terminal_punct and rules.terminals is not None
        min_units = self.min_chars_per_line if rules.spaceless else self.min_words_per_line
        max_word = None if rules.spaceless else self.max_word_length
        policy = _lowered(tuple(self.policy_substrings)) if self.filter_policy else ()
        out: list[str] = []
        total = removed = 0
        cited = gap = False
        for raw in text.splitlines():
            line = raw.strip()
            if not line:
                gap = True
                continue
            total += 1
            if self.remove_citations and "[" in line:
                stripped = _CITATION.sub("", line).strip()
                cited, line = cited or stripped != line, stripped
            keep = bool(line) and not (check_punct and not rules.ends_sentence(line))
            if keep and (min_units or max_word):
                tokens = line.split()
                if max_word and any(len(t) > max_word for t in tokens):
                    keep = False
                elif min_units:
                    n = len(rules.words(line)) if rules.spaceless else len(tokens)
                    keep = n >= min_units
            if keep and (self.filter_javascript or policy):
                lowered = line.lower()
                javascript = self.filter_javascript and "javascript" in lowered
                keep = not (javascript or any(phrase in lowered for phrase in policy))
            if not keep:
                removed += 1
                continue
            if gap and out:
                out.append("")
            gap = False
            out.append(line)
        cleaned = "\n".join(out) if removed or cited else text
        return cleaned, {
            "lines_removed_frac": removed / total if total else 0.0,
            "chars_removed_frac": 1 - len(cleaned) / len(text) if text else 0.0,
            **flags,
        }

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        rules = script_rules(text, lang)
        sentences = float(rules.count_sentences(text))
        if rules.spaceless:
            return {"sentences": sentences, "words": NAN, "chars": float(len(rules.words(text)))}
        return {"sentences": sentences, "words": float(len(text.split())), "chars": NAN}


# --- FineWeb --------------------------------------------------------------------------------


class FineWebQuality(WebFilter):
    """FineWeb's extra line rules (Penedo et al. 2024; datatrove's FineWebQualityFilter).

    Found by comparing what C4 and Gopher miss on Common Crawl: a document goes when fewer than
    12% of its lines end in terminal punctuation (``line_punct_ratio``: menus, tables, lists),
    more than 67% of its lines are 30 characters or shorter (``short_line_ratio``), more than 1%
    of its characters sit in repeated lines (``char_dup_ratio``: boilerplate), or it has more
    than 0.3 line breaks per word (``list_ratio``: one-word-per-line lists).

    Per script: terminal punctuation as in :data:`SCRIPT_TERMINALS`, the punctuation rule skipped
    for Thai and Lao; a line's length and the words of ``list_ratio`` are English-equivalent
    (:func:`filters.words.latin_chars`, :func:`filters.words.english_words`), so a one-line
    Chinese paragraph of 12 characters (about 40 English characters of content) is not "short"
    and a list means the same density of line breaks in every script. Lines are the non-empty
    lines, stripped.
    """

    name: Literal["fineweb"] = "fineweb"
    signals: ClassVar[tuple[str, ...]] = (
        "lines",
        "line_punct_ratio",
        "short_line_ratio",
        "char_dup_ratio",
        "list_ratio",
    )
    RULES: ClassVar = (
        ("lines", "min", 1, "empty"),
        ("line_punct_ratio", "min", "min_line_punct_ratio", "line_punct_ratio"),
        ("short_line_ratio", "max", "max_short_line_ratio", "short_line_ratio"),
        ("char_dup_ratio", "max", "max_char_dup_ratio", "char_dup_ratio"),
        ("list_ratio", "max", "max_list_ratio", "list_ratio"),
    )

    min_line_punct_ratio: float | None = Field(default=0.12, ge=0, le=1)
    line_punct_exclude_zero: bool = False
    """Do not reject documents with no punctuated line at all (datatrove's option of that name)."""
    max_short_line_ratio: float | None = Field(default=0.67, ge=0, le=1)
    short_line_length: int = Field(default=30, ge=0)
    max_char_dup_ratio: float | None = Field(default=0.01, ge=0, le=1)
    max_list_ratio: float | None = Field(default=0.3, ge=0)

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        rules = script_rules(text, lang)
        lines = nonempty_lines(text)
        if not lines:
            return {
                "lines": 0.0,
                "line_punct_ratio": NAN,
                "short_line_ratio": NAN,
                "char_dup_ratio": NAN,
                "list_ratio": NAN,
            }
        limit = self.short_line_length
        punct = short = dup_chars = 0
        seen: set[str] = set()
        for line in lines:
            if rules.terminals is not None and rules.ends_sentence(line):
                punct += 1
            if len(line) <= limit and latin_chars(line) <= limit:
                short += 1
            if line in seen:
                dup_chars += len(line)
            else:
                seen.add(line)
        n = len(lines)
        line_punct = NAN if rules.terminals is None else punct / n
        if line_punct == 0 and self.line_punct_exclude_zero:
            line_punct = NAN
        chars = len(text) - text.count("\n")
        return {
            "lines": float(n),
            "line_punct_ratio": line_punct,
            "short_line_ratio": short / n,
            "char_dup_ratio": dup_chars / chars if chars else 0.0,
            "list_ratio": text.count("\n") / max(english_words(rules.words(text), rules.script, lang), 1.0),
        }
