"""Quality rules for mathematical documents: keep real math, drop math-looking junk.

:class:`MathQuality` is meant for documents already routed to the math domain (the YAML
restricts it with ``domains: [math]``). With a few precompiled scans (math spans, relations,
words, lines) it measures:

* LaTeX math: inline ``$...$`` and ``\\(...\\)``, display ``$$...$$`` and ``\\[...\\]``, and math
  environments (equation, align, gather, ...); their number and share of the text;
* relations and operators, in LaTeX or plain text (``=``, ``≤``, ``\\leq``, ``\\frac``, ``^``, ...);
* step words of a worked solution in several languages ("therefore", "因此", "donc",
  "следовательно", "daher", ...);
* the prose around the formulas, counted in words of the document's script.

Math that is not LaTeX is math too: a currency ``$`` ("$5 each, $12.50 total", "2 $ chacun") is
masked before the LaTeX balance check (:func:`currency_dollars`), ``[asy]`` diagram code is not
text, plain arithmetic ("48/2 = 24", GSM8K's ``<<48/2=24>>``) counts as math, and a word problem
(a quantity and a question or task: "How many ...?", "Calculate ...", "求 ...") is math even when it
has no formula. :func:`prose_text` is the natural-language part of a math or code document, for
language ID.

Reasons: ``preamble_only`` (a LaTeX preamble and no body), ``broken_latex`` (unbalanced ``$``,
delimiters, braces or environments), ``number_table`` (lines of bare numbers), ``no_math``,
``formula_soup`` (formulas or symbols with hardly any words), ``repeated_formulas``, and
``few_steps`` when ``min_step_words`` asks for worked solutions.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import ClassVar, Literal

import regex
from pydantic import Field

from filters.base import Filter, Rejection
from filters.words import split_words

_MATH_ENVS = r"(?:equation|align|alignat|aligned|gather|multline|eqnarray|displaymath|math|flalign|split|cases)\*?"
#: Every math span, display forms first so ``$$`` is never read as two inline ``$``.
_MATH = re.compile(
    r"\$\$(?:\\.|[^$\\])+?\$\$"
    r"|(?<!\\)\\\[.+?(?<!\\)\\\]"
    r"|(?<!\\)\\\(.+?(?<!\\)\\\)"
    rf"|\\begin\{{({_MATH_ENVS})\}}.+?\\end\{{\1\}}"
    r"|(?<![\\$])\$(?:\\.|[^$\\])+?\$",
    re.DOTALL,
)
#: What is left of math delimiters once the spans are cut out: each one is broken LaTeX.
_STRAY_DELIMITER = re.compile(r"(?<!\\)\$|(?<!\\)\\[()\[\]]")
_BEGIN = re.compile(r"\\begin\{([^}]*)\}")
_END = re.compile(r"\\end\{([^}]*)\}")

#: Relations and operators, LaTeX or plain: the "equations" of a text. Every alternative starts
#: with the character it consumes (lookbehinds after it), which keeps the scan fast.
_RELATION = re.compile(
    r"=(?<![=<>!:]=)(?![=>])|[≤≥≠≈≡∈⊂⊆→⇒⇔∑∏∫√±×÷∞∂∇]|[<>](?<=\s[<>])(?=\s)|\^(?<=[\w})]\^)"
    r"|\\(?:leq?|geq?|neq?|leqslant|geqslant|approx|equiv|sim|simeq|cong|propto|in|notin|subseteq|subset"
    r"|supset|to|mapsto|implies|iff|Rightarrow|Longrightarrow|Leftrightarrow|mid|nmid|pmod|bmod|mod"
    r"|d?t?frac|sqrt|sum|prod|int|iint|oint|lim|limsup|liminf|log|ln|exp|sin|cos|tan|det|binom|cdot"
    r"|times|div|pm|mp|partial|nabla|infty|max|min|sup|inf|gcd|vec|overline|hat|mathbb|mathrm)(?![a-zA-Z])"
)
#: Connectives of a worked solution or proof, in the languages of the corpus: single words
#: (matched against the lower-cased words of the prose), phrases, and words of unspaced scripts.
_STEP_WORDS = frozenset({
    "therefore", "hence", "thus", "so", "consequently", "implies", "substituting", "solving", "qed",
    "donc", "ainsi", "soit", "alors",
    "следовательно", "поэтому", "значит", "тогда", "получаем", "откуда", "итак",
    "daher", "folglich", "somit", "damit", "erhalten",
    "entonces", "luego", "obtenemos", "portanto", "quindi", "dunque", "perciò", "otteniamo",
})
_STEP_PHRASES = re.compile(
    r"\b(?:it follows|we (?:get|obtain|have)|which gives|d['’]où|par conséquent|on obtient|il en résulte"
    r"|ergibt sich|por lo tanto|por tanto|de modo que)\b"
)
_STEP_UNSPACED = ("因此", "所以", "于是", "从而", "由此", "解得", "得到", "したがって", "よって", "ゆえに", "따라서", "그러므로")
_WORD = re.compile(r"\w+")
#: Lines of a LaTeX preamble (and the empty document around it).
_PREAMBLE_LINE = re.compile(
    r"\\(?:documentclass|usepackage|RequirePackage|newcommand|renewcommand|providecommand|DeclareMathOperator"
    r"|newtheorem|theoremstyle|def|let|setlength|addtolength|geometry|title|author|date|maketitle|input"
    r"|include|bibliographystyle|bibliography|pagestyle|hypersetup|tableofcontents|newenvironment"
    r"|definecolor|usetikzlibrary|makeatletter|makeatother|numberwithin|allowdisplaybreaks)(?![a-zA-Z])"
    r"|\\(?:begin|end)\{document\}"
)
#: A number as a table cell (between separators): 12, -3.5, 45%, 1e-3.
_NUMBER_CELL = re.compile(r"(?<![^\s|;,&])[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?%?(?![^\s|;,&])")
#: Table cells: runs of anything but the separators.
_CELL = re.compile(r"[^\s|;,&]+")
#: Characters of neither words nor sentence punctuation: what random symbol strings are made of.
_SYMBOL = regex.compile(r"[^\p{L}\p{M}\p{N}\s.,:;'’\"!?()\-«»“”„。，、：；！？（）]")
_LETTER = re.compile(r"[^\W\d_]")

#: Asymptote diagrams of competition problems ([asy]...[/asy]): drawing code, not text or formulas.
_ASY = re.compile(r"\[asy\].*?(?:\[/asy\]|\Z)", re.DOTALL)
#: A single unescaped ``$`` (``$$`` is display math).
_DOLLAR = re.compile(r"(?<![\\$])\$(?!\$)")
#: What follows a currency ``$``: an amount, or a GSM8K calculator annotation ``<<12/60=0.2>>``.
_AMOUNT = re.compile(r" ?(?:<<|[-+]?(?:\d[\d,]*(?:\.\d+)?|\.\d+))")
_AMOUNT_BEFORE = re.compile(r"\d ?\Z")
#: An amount standing alone before an unspaced ``$`` ("spent 300$ on", "<<97=97>>97$"), not the end
#: of a formula ("x = 2$").
_LONE_AMOUNT_BEFORE = re.compile(r"(?:^|>>|(?<![-=<>+*/^_({\[,:;|])\s)\d[\d.,]*\Z")
_AMOUNT_BEFORE_SPACED = re.compile(r"\d \Z")
#: LaTeX text commands whose argument is words, not math.
_TEXT_COMMAND = re.compile(r"\\(?:text\w*|mbox|mathrm|operatorname|emph)\s*\{[^{}]*\}")
#: Prose between two dollars: a word of 4+ Latin letters or two words of 2+ (not commands: math
#: has products of variables such as ``pqr`` and ``BAD``), or 2+ letters of another script.
_PROSE_WORD = re.compile(
    r"(?<![\\a-zA-Z])(?:[a-zA-Z]{4,}|[a-zA-Z]{2,}\s+[a-zA-Z]{2,}(?![a-zA-Z]))|[^\W\da-zA-Z_]{2,}"
)
#: Plain-text arithmetic: 48/2, 3 x 4, 12*52, 5 × 7, 10 - 3 (LaTeX spans are cut out first).
_ARITHMETIC = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?%? ?[-+*/×÷xX] ?\$?\d")
#: A number written with digits (amounts, percentages, measures: "12.50", "80%", "3.5 pounds").
_QUANTITY = re.compile(r"\d+(?:[.,]\d+)*")
#: GSM8K's calculator annotations and final answer line.
_CALCULATOR = re.compile(r"<<[^<>\n]*>>")
#: A question or a task in the languages of the corpus: what makes numbers a word problem.
_QUESTION = re.compile(
    r"[?？؟]|\b(?:how (?:many|much|long|old|far)|what (?:is|was|are|will)|calculate|compute|find|determine|evaluate|simplify|solve|prove"
    r"|express|show that"
    r"|combien|calcul(?:ez|er|e)|cu[aá]nt[oa]s?|calcul[ae]|wie (?:viele?|lange|alt|hoch)|berechne\w*|сколько"
    r"|вычисл\w*|рассчита\w*|найд\w*|определите|ngapi|hesabu|kiasi gani)\b"
    r"|計算|求め|いくつ|いくら|どれだけ|何|か[。？]|计算|多少|几|求|กี่|เท่า(?:ไร|ไหร่|ใด)|คำนวณ"
    r"|কত|নির্ণ|হিসাব|বের কর|ఎన్ని|ఎంత|లెక్కి",
    re.IGNORECASE,
)
#: Numbers written as words (one to twelve, twice, half) for word problems without digits.
_NUMBER_WORD = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twice|half|eins?|zwei|drei|vier"
    r"|fünf|sechs|zehn|doppelt|halb|une?|deux|trois|quatre|cinq|dix|moitié|uno|una|dos|tres|cuatro|cinco"
    r"|diez|mitad|од(?:ин|на|но)|дв[ае]|три|четыр\w*|пять|десять|дважды|вдвое|половин\w*|moja|mbili|tatu"
    r"|nne|tano|kumi|wawili|nusu)\b"
    r"|[一二两三四五六七八九十半倍]|หนึ่ง|สอง|สาม|สี่|ห้า|ครึ่ง|এক|দুই|দুটি|তিন|চার|পাঁচ"
    r"|ఒక|రెండు|మూడు|నాలుగు|ఐదు|సగం",
    re.IGNORECASE,
)


def _has_prose(segment: str) -> bool:
    """Whether text between two dollars reads as words (so the dollars are not one formula)."""
    return "\n\n" in segment or bool(_PROSE_WORD.search(_TEXT_COMMAND.sub(" ", segment)))


def _leading_currency(text: str, i: int, following: int | None) -> bool:
    """``$`` at ``i`` opens an amount ("$12.50"), not a formula ("$5$", "$2x$", "$5 + 3 = 8$")."""
    amount = _AMOUNT.match(text, i + 1)
    if amount is None:
        return False
    if "<<" in amount.group():
        return True
    after = text[amount.end() : amount.end() + 1]
    if after and (after in "$^_{}\\'" or (after.isascii() and after.isalpha())):
        return False
    if following is None or text.startswith("<<", following + 1) or text[following + 1 : following + 2].isdigit():
        return True  # no closing dollar, or the next one opens another amount ("$10 + $5")
    return _has_prose(text[amount.end() : following])


def _trailing_currency(text: str, i: int, inside: bool) -> bool:
    """``$`` at ``i`` follows an amount ("2 $ chacun", "15$?", "10$-Note") and no formula follows.
    Outside a formula an unspaced "5$" must be a lone amount, not the end of "x = 5$"; ``inside``
    one (the caller checks for prose in between) any number before it will do."""
    after = text[i + 1 : i + 2]
    if after and not (after.isspace() or after in ".,;:!?)-/"):
        return False
    window = max(0, i - 40)
    if inside or _AMOUNT_BEFORE_SPACED.search(text, window, i):
        return bool(_AMOUNT_BEFORE.search(text, window, i))
    return bool(_LONE_AMOUNT_BEFORE.search(text, window, i))


def currency_dollars(text: str) -> list[int]:
    """Positions of the ``$`` signs of ``text`` that are currency, not LaTeX math delimiters.

    Left to right: a ``$`` that opens an amount followed by words before the next ``$`` (or by no
    ``$`` at all, or by another amount), or that follows an amount where no formula is open (or the
    open "formula" would span prose), is currency; ``$5$`` and ``$5 + 3 = 8$`` stay math.
    """
    dollars = [m.start() for m in _DOLLAR.finditer(text)]
    currency: list[int] = []
    open_at: int | None = None
    for k, i in enumerate(dollars):
        following = dollars[k + 1] if k + 1 < len(dollars) else None
        if text.startswith("<<", i + 1):
            currency.append(i)
        elif open_at is None:
            if _leading_currency(text, i, following) or _trailing_currency(text, i, inside=False):
                currency.append(i)
            else:
                open_at = i
        elif _trailing_currency(text, i, inside=True) and _has_prose(text[open_at + 1 : i]):
            currency.append(i)
        else:
            open_at = None
    return currency


def mask_currency(text: str) -> str:
    """``text`` with currency dollars replaced by spaces (same length), LaTeX dollars kept."""
    if "$" not in text:
        return text
    chars = list(text)
    for i in currency_dollars(text):
        chars[i] = " "
    return "".join(chars)


def math_text(text: str) -> str:
    """What the math rules read: ``[asy]`` diagram code removed, currency dollars masked."""
    if "[asy]" in text:
        text = _ASY.sub("\n", text)
    return mask_currency(text)


_NUMERIC = re.compile(r"[-+]?\d[\d,.:/%]*|[-+*/=×÷<>^_#|\\{}\[\]$]+")
_CODE_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)


def prose_text(text: str) -> str:
    """The natural-language part of a math or code document: no LaTeX, ``$`` spans, diagrams, code
    fences, calculator annotations, numbers or operators. Language ID reads this, because formulas
    and numbers pull its score down (English MATH solutions scored 0.456 on the whole text)."""
    text = math_text(text)
    if "```" in text:
        text = _CODE_FENCE.sub(" ", text)
    text = _CALCULATOR.sub(" ", text)
    text = _MATH.sub(" ", text)
    text = _TEXT_COMMAND.sub(" ", text)
    text = re.sub(r"\\[a-zA-Z]+\*?", " ", text)
    text = _NUMERIC.sub(" ", text)
    return " ".join(text.split())


class MathQuality(Filter):
    """Keep documents with real mathematical content; drop broken or meaningless math."""

    name: Literal["math_quality"] = "math_quality"
    signals: ClassVar[tuple[str, ...]] = (
        "math_spans", "math_frac", "relations", "arithmetic", "quantities", "questions", "step_words", "prose_words", "latex_errors",
        "number_line_frac", "symbol_frac", "dup_formula_frac", "preamble_frac", "chars",
    )

    min_math_items: int = Field(default=3, ge=0)
    """Math spans plus relations a document needs, at least ..."""
    min_math_per_kchar: float = Field(default=1.0, ge=0)
    """... and per 1000 characters: a long essay with one ``$x$`` is not a math document ..."""
    min_quantities: int = Field(default=1, ge=0)
    """... unless it is a word problem: this many quantities (numbers, in digits or words) and a
    question or task ("How many ...?", "Calculate ...", "求 ...")."""
    max_latex_errors: int = Field(default=0, ge=0)
    """Stray ``$``/``\\(``/``\\[`` delimiters, unbalanced braces or ``\\begin``/``\\end`` pairs allowed
    (raise it for sources where a lone ``$`` is a currency sign)."""
    max_number_line_frac: float = Field(default=0.5, ge=0, le=1)
    """Share of lines made of bare numbers (at least 2, 60% of their cells) above which it is a table."""
    min_prose_words: int = Field(default=3, ge=0)
    """Words outside math (letters only; CJK characters count one each) a document needs: "Find
    $X$. We have that $X = Y$." has four (1.7% of MATH train solutions had 4, a formula dump none)."""
    max_math_frac: float = Field(default=0.85, ge=0, le=1)
    """Share of non-space characters inside math spans above which it is a formula dump ..."""
    max_task_math_frac: float = Field(default=0.98, ge=0, le=1)
    """... or, for a text that states a question or task ("Compute ...", "Find ...?"), this share:
    competition solutions of "Compute X." are mostly formulas (MATH train: up to 0.96)."""
    max_symbol_frac: float = Field(default=0.4, ge=0, le=1)
    """Share of non-space characters outside math that are neither word nor sentence punctuation."""
    max_dup_formula_frac: float = Field(default=0.5, ge=0, le=1)
    """Share of repeated formulas (spans of 8+ characters) above which the text repeats itself ..."""
    min_formulas_for_dup: int = Field(default=6, ge=1)
    """... counted once it has at least this many such formulas."""
    max_preamble_frac: float = Field(default=0.5, ge=0, le=1)
    """Share of non-blank lines that are LaTeX preamble commands above which there is no body."""
    min_step_words: int = Field(default=0, ge=0)
    """Step words ("therefore", "因此", ...) required; 0 keeps statements and definitions too."""

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        text = math_text(text)
        spans: list[str] = []
        outside: list[str] = []
        pos = 0
        for m in _MATH.finditer(text):
            outside.append(text[pos : m.start()])
            spans.append(m.group())
            pos = m.end()
        outside.append(text[pos:])
        prose = " ".join(outside)

        non_space = len(text) - text.count(" ") - text.count("\n") - text.count("\t")
        math_chars = sum(len(s) - s.count(" ") - s.count("\n") for s in spans)

        errors = len(_STRAY_DELIMITER.findall(prose))
        errors += abs((text.count("{") - text.count("\\{")) - (text.count("}") - text.count("\\}")))
        begins, ends = Counter(_BEGIN.findall(text)), Counter(_END.findall(text))
        errors += sum(((begins - ends) + (ends - begins)).values())

        words = [w for w in split_words(prose, lang) if _LETTER.search(w)]
        prose_non_space = len(prose) - prose.count(" ") - prose.count("\n") - prose.count("\t")
        symbols = len(_SYMBOL.findall(prose))
        lowered = prose.lower()
        steps = sum(1 for w in _WORD.findall(lowered) if w in _STEP_WORDS)
        steps += len(_STEP_PHRASES.findall(lowered)) + sum(prose.count(w) for w in _STEP_UNSPACED)

        formulas = [s.strip("$").strip() for s in spans]
        formulas = [f for f in formulas if len(f) >= 8]
        dup = (len(formulas) - len(set(formulas))) / len(formulas) if len(formulas) >= self.min_formulas_for_dup else 0.0

        relations = len(_RELATION.findall(text))
        arithmetic = len(_ARITHMETIC.findall(prose))
        quantities = len(_QUANTITY.findall(_CALCULATOR.sub(" ", prose))) + len(_NUMBER_WORD.findall(prose))
        questions = len(_QUESTION.findall(prose))
        nonblank = number_lines = preamble = 0
        for line in text.split("\n"):
            stripped = line.strip()
            if not stripped:
                continue
            nonblank += 1
            if stripped.startswith("\\") and _PREAMBLE_LINE.match(stripped):
                preamble += 1
                relations -= len(_RELATION.findall(stripped))  # macro definitions are not equations
                continue
            numbers = len(_NUMBER_CELL.findall(stripped))
            if numbers >= 2 and numbers >= 0.6 * len(_CELL.findall(stripped)):
                number_lines += 1

        return {
            "math_spans": float(len(spans)),
            "math_frac": math_chars / non_space if non_space else 0.0,
            "relations": float(relations),
            "arithmetic": float(arithmetic),
            "quantities": float(quantities),
            "questions": float(questions),
            "step_words": float(steps),
            "prose_words": float(len(words)),
            "latex_errors": float(errors),
            "number_line_frac": number_lines / nonblank if nonblank else 0.0,
            "symbol_frac": symbols / prose_non_space if prose_non_space else 0.0,
            "dup_formula_frac": dup,
            "preamble_frac": preamble / nonblank if nonblank else 0.0,
            "chars": float(len(text)),
        }

    def reject_reason(self, signals: dict[str, float]) -> Rejection | None:
        s = signals
        if s["preamble_frac"] > self.max_preamble_frac:
            return Rejection("preamble_only", f"preamble_frac {s['preamble_frac']:.2f} > {self.max_preamble_frac}")
        if s["latex_errors"] > self.max_latex_errors:
            return Rejection("broken_latex", f"{int(s['latex_errors'])} unbalanced delimiters/braces/environments > {self.max_latex_errors}")
        if s["number_line_frac"] > self.max_number_line_frac:
            return Rejection("number_table", f"number_line_frac {s['number_line_frac']:.2f} > {self.max_number_line_frac}")
        items = s["math_spans"] + s["relations"] + s["arithmetic"]
        per_kchar = 1000 * items / s["chars"] if s.get("chars") else 0.0
        word_problem = s["quantities"] >= self.min_quantities and s["questions"] >= 1
        if (items < self.min_math_items or per_kchar < self.min_math_per_kchar) and not word_problem:
            return Rejection(
                "no_math",
                f"{int(items)} math spans+relations+arithmetic ({per_kchar:.1f}/1000 chars) < {self.min_math_items} "
                f"or {self.min_math_per_kchar}/1000 chars",
            )
        if s["prose_words"] < self.min_prose_words:
            return Rejection("formula_soup", f"{int(s['prose_words'])} words outside math < {self.min_prose_words}")
        task = s.get("questions", 0.0) >= 1  # "Compute X." then its formulas: a worked solution
        max_math_frac = self.max_task_math_frac if task else self.max_math_frac
        if s["math_frac"] > max_math_frac:
            return Rejection("formula_soup", f"math_frac {s['math_frac']:.2f} > {max_math_frac}")
        if s["symbol_frac"] > self.max_symbol_frac:
            return Rejection("formula_soup", f"symbol_frac {s['symbol_frac']:.2f} > {self.max_symbol_frac}")
        if s["dup_formula_frac"] > self.max_dup_formula_frac:
            return Rejection("repeated_formulas", f"dup_formula_frac {s['dup_formula_frac']:.2f} > {self.max_dup_formula_frac}")
        if s["step_words"] < self.min_step_words:
            return Rejection("few_steps", f"{int(s['step_words'])} step words < {self.min_step_words}")
        return None
