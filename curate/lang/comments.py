"""The comments and docstrings of a source file, for the language of a code file's prose
(``comment_lang``)."""

from __future__ import annotations

import re

#: Characters of a code file searched for comments.
COMMENT_WINDOW = 32_768
_HASH_COMMENT = re.compile(r"(?m)(?:^|(?<=\s))#(?!!)#*[ \t]*(.*)$")  # not shebangs
_SLASH_COMMENT = re.compile(r"(?m)(?:^|(?<=[\s;{}(),]))//[/!]*[ \t]*(.*)$")  # not the // of URLs
_DASH_COMMENT = re.compile(r"(?m)(?:^|(?<=\s))--(?![->])[ \t]*(.*)$")
_BLOCK_COMMENT = re.compile(r"/\*+(.*?)\*+/", re.S)
_DOCSTRING = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', re.S)
_BLOCK_DECORATION = re.compile(r"(?m)^[ \t]*\*+[ \t]?")
_LETTER = re.compile(r"[^\W\d_]")

_HASH_LANGUAGES = frozenset({
    "python", "shell", "ruby", "perl", "r", "yaml", "toml", "makefile", "dockerfile", "cmake",
    "starlark", "julia", "elixir", "powershell", "nim", "jupyter",
})  # fmt: skip
_C_LANGUAGES = frozenset({
    "c", "cpp", "cuda", "java", "kotlin", "scala", "javascript", "typescript", "go", "rust", "csharp",
    "swift", "objective-c", "dart", "groovy", "zig", "protobuf", "thrift", "css", "vue", "svelte", "fsharp",
})  # fmt: skip
_DASH_LANGUAGES = frozenset({"sql", "lua", "haskell"})


def comment_text(code: str, language: str | None = None) -> str:
    """The comments and docstrings of a source file, markers removed, one piece per line.

    The comment syntax follows ``language`` (the ``code_language`` column): ``#`` for Python,
    shell, Ruby..., ``//`` and ``/* */`` for the C family, ``--`` (and ``/* */``) for SQL, Lua,
    Haskell, docstrings for Python; all of them when the language is unknown. Pieces without a
    letter (rulers such as ``# ------``) are dropped.
    """
    code = code[:COMMENT_WINDOW]
    known = language in _HASH_LANGUAGES or language in _C_LANGUAGES or language in _DASH_LANGUAGES
    pieces: list[str] = []
    if language == "python" or not known:
        for match in _DOCSTRING.finditer(code):
            pieces.append(match.group(1) if match.group(1) is not None else match.group(2))
    if language in _HASH_LANGUAGES or language == "php" or not known:
        pieces += _HASH_COMMENT.findall(code)
    if language in _C_LANGUAGES or language in ("php", "sql") or not known:
        pieces += [_BLOCK_DECORATION.sub("", body) for body in _BLOCK_COMMENT.findall(code)]
        if language != "sql":
            pieces += _SLASH_COMMENT.findall(code)
    if language in _DASH_LANGUAGES:
        pieces += _DASH_COMMENT.findall(code)
    return "\n".join(p.strip() for p in pieces if _LETTER.search(p))
