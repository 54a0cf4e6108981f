"""Programming language of a source file, from its extension or file name."""

from __future__ import annotations

from pathlib import PurePosixPath

EXTENSION_LANGUAGE: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".ipynb": "jupyter",
    ".rs": "rust", ".go": "go", ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".cs": "csharp", ".swift": "swift", ".m": "objective-c", ".rb": "ruby", ".php": "php",
    ".pl": "perl", ".lua": "lua", ".r": "r", ".jl": "julia", ".hs": "haskell", ".ml": "ocaml",
    ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".clj": "clojure", ".dart": "dart",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ps1": "powershell",
    ".sql": "sql", ".html": "html", ".htm": "html", ".css": "css", ".scss": "css",
    ".md": "markdown", ".rst": "restructuredtext", ".tex": "tex",
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".xml": "xml",
    ".f90": "fortran", ".vue": "vue", ".zig": "zig", ".nim": "nim", ".cu": "cuda",
    # added with the archive reader: common in source tarballs
    ".mts": "typescript", ".cts": "typescript", ".hxx": "cpp", ".mm": "objective-c",
    ".less": "css", ".sass": "css", ".groovy": "groovy", ".gradle": "groovy",
    ".proto": "protobuf", ".thrift": "thrift", ".bzl": "starlark", ".cmake": "cmake",
    ".svelte": "svelte", ".fs": "fsharp", ".vb": "visual-basic", ".pm": "perl",
    # C++ template implementations and textual includes (libstdc++ .tcc, Boost .ipp, LLVM .inc)
    ".inc": "cpp", ".ipp": "cpp", ".tcc": "cpp", ".inl": "cpp", ".tpp": "cpp",
}

FILENAME_LANGUAGE: dict[str, str] = {
    "Makefile": "makefile", "GNUmakefile": "makefile", "makefile": "makefile",
    "Dockerfile": "dockerfile", "CMakeLists.txt": "cmake",
    "Rakefile": "ruby", "Gemfile": "ruby", "Jenkinsfile": "groovy",
    "BUILD": "starlark", "BUILD.bazel": "starlark", "WORKSPACE": "starlark",
}


#: ``.inc`` is also PHP's include suffix: such a file opens with ``<?php``.
_PHP_OPENER = "<?php"


def language_of(path: str, text: str | None = None) -> str | None:
    """``src/main.rs`` -> ``rust``; None for files that are not recognised source code.

    ``text`` (when known) settles suffixes two languages share: a ``.inc`` starting with
    ``<?php`` is PHP, any other ``.inc`` is C/C++ (LLVM, Tcl, glibc textual includes).
    """
    p = PurePosixPath(path)
    language = FILENAME_LANGUAGE.get(p.name) or EXTENSION_LANGUAGE.get(p.suffix.lower())
    if language == "cpp" and text is not None and p.suffix.lower() == ".inc" and text.lstrip().startswith(_PHP_OPENER):
        return "php"
    return language
