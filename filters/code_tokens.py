"""Comments, docstrings and code of a source file, told apart by the language's own tokenizer.

Line regexes cannot know whether ``#`` or ``\"\"\"`` stands inside a string: a line that *closes*
a string (``\"\"\", re.VERBOSE)``) looks like one that opens a docstring. The tokenizers know:
Python's :mod:`tokenize` for Python, a Pygments lexer for the other languages. Both cost far
more than a line scan, so callers run them only where a cheap rule has already said "maybe".

Every piece of text is one of three kinds: ``comment``, ``doc`` (a docstring: documentation,
neither comment nor code) or ``code`` (preprocessor lines and shebangs count as code).
"""

from __future__ import annotations

import io
import tokenize
from functools import lru_cache
from typing import Literal, NamedTuple

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, String
from pygments.util import ClassNotFound

Kind = Literal["comment", "doc", "code"]

#: Our language names (:mod:`curate.code_languages`) where Pygments calls them otherwise.
_PYGMENTS_ALIAS = {
    "shell": "bash", "restructuredtext": "rst", "visual-basic": "vbnet", "makefile": "make",
    "dockerfile": "docker", "objective-c": "objective-c", "jupyter": "json",
}  # fmt: skip
#: Pygments files these under Comment, but they are code: ``#include``, ``#define``, ``#!``.
_CODE_COMMENTS = (Comment.Preproc, Comment.PreprocFile, Comment.Hashbang)
#: Documentation comments (Doxygen, Javadoc, JSDoc, rustdoc): API docs, like a docstring.
_DOC_COMMENTS = ("/**", "/*!", "///", "//!")
#: Python token types that carry no text of their own.
_PY_SKIP = frozenset({tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER})
_PY_STATEMENT_START = frozenset({tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT})


class Piece(NamedTuple):
    kind: Kind
    text: str
    line: int
    """0-based line the piece starts on."""


@lru_cache(maxsize=64)
def lexer_for(language: str) -> Lexer | None:
    """The Pygments lexer of one of our language names, None when Pygments has none."""
    try:
        return get_lexer_by_name(_PYGMENTS_ALIAS.get(language, language), stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def has_tokenizer(language: str | None) -> bool:
    return language is not None and (language == "python" or lexer_for(language) is not None)


def pieces(text: str, language: str, partial: bool = False) -> list[Piece]:
    """The text's comments, docstrings and code, in order (whitespace left out).

    ``partial``: the text is a file's head, cut anywhere; what tokenized before the cut is kept.
    A Python file :mod:`tokenize` rejects (Python 2, broken indentation) goes to Pygments.
    """
    if language == "python":
        found, ok = _python_pieces(text)
        if ok or partial:
            return found
    lexer = lexer_for(language)
    return [] if lexer is None else _pygments_pieces(text, lexer)


def _python_pieces(text: str) -> tuple[list[Piece], bool]:
    """(pieces, whether the whole text tokenized). A docstring is a string that is a statement."""
    out: list[Piece] = []
    previous = tokenize.NEWLINE  # a file starts a statement
    pending: tokenize.TokenInfo | None = None  # a string that starts a statement: a docstring if it ends one
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kind = tok.type
            if pending is not None and kind != tokenize.COMMENT:
                doc = kind in (tokenize.NEWLINE, tokenize.ENDMARKER)
                out.append(Piece("doc" if doc else "code", pending.string, pending.start[0] - 1))
                pending = None
            if kind == tokenize.COMMENT:
                out.append(Piece("comment", tok.string, tok.start[0] - 1))
                continue
            if kind in _PY_SKIP:
                if kind != tokenize.NL:
                    previous = kind
                continue
            if kind == tokenize.STRING and previous in _PY_STATEMENT_START:
                pending = tok
            else:
                out.append(Piece("code", tok.string, tok.start[0] - 1))
            previous = kind
    except (tokenize.TokenError, SyntaxError):
        return out, False
    return out, True


def _pygments_pieces(text: str, lexer: Lexer) -> list[Piece]:
    out: list[Piece] = []
    line = 0
    for _, token, value in lexer.get_tokens_unprocessed(text):
        if value.strip():  # Pygments' Text is a word in some lexers (bash): code
            if token in Comment and not any(token in c for c in _CODE_COMMENTS):
                kind: Kind = "doc" if value.startswith(_DOC_COMMENTS) and not value.startswith("/**/") else "comment"
            elif token in String.Doc:
                kind = "doc"
            else:
                kind = "code"
            out.append(Piece(kind, value, line))
        line += value.count("\n")
    return out


def comment_only_lines(text: str, language: str) -> tuple[int, int] | None:
    """(comment-only lines, non-blank lines) by the language's tokens, None without a tokenizer.

    A line holding any code is code. Documentation is not commentary: docstrings, doc comments
    (``/** */``, ``///``) and the comment block heading the file (its license and description)
    count as neither, unless the file has no code at all.
    """
    if not has_tokenizer(language):
        return None
    lines = text.split("\n")
    rank = {"comment": 1, "doc": 2, "code": 3}
    best = [0] * (len(lines) + 1)
    found = pieces(text, language)
    if any(p.kind == "code" for p in found):
        header = next(i for i, p in enumerate(found) if p.kind == "code")
        found = [Piece("doc", p.text, p.line) if i < header else p for i, p in enumerate(found)]
    else:
        found = [Piece("comment", p.text, p.line) for p in found]
    for piece in found:
        r = rank[piece.kind]
        first = piece.line
        for offset, part in enumerate(piece.text.split("\n")):
            n = first + offset
            if part.strip() and n < len(best) and best[n] < r:
                best[n] = r
    nonblank = sum(1 for line in lines if line.strip())
    return sum(1 for b in best if b == 1), nonblank
