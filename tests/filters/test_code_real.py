"""Regression tests for issue 17's code false rejections, on snippets shaped like real
third-party files (site-packages modules, /usr/include headers): each case was rejected before."""

from __future__ import annotations

from pathlib import Path

from curate.code_languages import language_of
from curate.readers.code import path_reason
from filters.code import CodeQuality
from filters.generated import generated_marker

# A module in the style of a tokenizer/lexer package: a verbose regex whose closing line
# (``\"\"\", re.VERBOSE)``) the line rules took for a docstring opener, so every line after it
# counted as comment.
VERBOSE_REGEX_MODULE = '''"""Scanner for a small template language."""

import re

_TOKEN = re.compile(
    r"""
    (?P<name>[A-Za-z_][A-Za-z0-9_]*)   # identifier
  | (?P<number>\\d+(?:\\.\\d*)?)          # integer or decimal
  | (?P<op>[-+*/%=<>!]=?)              # operator
    """,
    re.VERBOSE,
)
_SPACE = re.compile(r"""
    \\s+
""", re.VERBOSE)


class Scanner:
    """Split a template into (kind, text) tokens."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def __iter__(self):
        while self.pos < len(self.text):
            match = _SPACE.match(self.text, self.pos)
            if match:
                self.pos = match.end()
                continue
            match = _TOKEN.match(self.text, self.pos)
            if match is None:
                raise SyntaxError(f"bad character at {self.pos}")
            self.pos = match.end()
            yield match.lastgroup, match.group()
'''


def test_string_closing_line_does_not_open_a_comment_block() -> None:
    flt = CodeQuality()
    _, signals, rejection = flt.check(VERBOSE_REGEX_MODULE, None, code_language="python")
    assert rejection is None
    assert signals["comment_line_frac"] < 0.2
    # without the language the line rules alone must not call it comment either
    assert flt.check(VERBOSE_REGEX_MODULE)[2] is None


# A well-documented module: long docstrings, few comments (numpy/scipy style).
DOCUMENTED = '''"""Polynomial helpers.

Functions
---------
.. autosummary::
   :toctree: generated/

   lagval
   lagder
"""


def lagval(x, c):
    """Evaluate a Laguerre series at points x.

    Parameters
    ----------
    x : array_like
        Points at which to evaluate.
    c : array_like
        Coefficients, lowest degree first.

    Returns
    -------
    values : ndarray
        The series at ``x``.
    """
    c0, c1 = c[-2], c[-1]
    return c0 + c1 * (1 - x)
'''


def test_docstrings_are_documentation_not_comments_or_generated() -> None:
    _, signals, rejection = CodeQuality().check(DOCUMENTED, None, code_language="python")
    assert rejection is None
    assert signals["comment_line_frac"] < 0.2
    assert generated_marker(DOCUMENTED, "python") is None  # ":toctree: generated" is a directive


def test_comment_heavy_file_is_still_rejected_by_tokens() -> None:
    commented_out = "import os\n\n" + "".join(f"# old_{i} = os.path.join('a', '{i}')\n" for i in range(40)) + "x = 1\n"
    _, signals, rejection = CodeQuality().check(commented_out, None, code_language="python")
    assert signals["comments_by_tokens"] == 1.0
    assert rejection is not None and rejection.reason == "too_many_comments"


# A C header in the style of /usr/include: a license block, Doxygen API docs, a few declarations.
DOCUMENTED_HEADER = """/* SPDX-License-Identifier: MIT
 *
 * Copyright (c) 2019 The Example Project Authors.
 * Permission is hereby granted, free of charge, to any person obtaining a copy
 * of this software and associated documentation files.
 */
#ifndef EXAMPLE_BBOX_H
#define EXAMPLE_BBOX_H

#include <stddef.h>

/**
 * @brief Compute the exact bounding box of an outline.
 *
 * The box is computed from the outline's control points and the
 * extrema of its Bezier arcs, so it is tight even for curves.
 *
 * @param outline  The source outline.
 * @param abbox    The outline's exact bounding box.
 * @return 0 on success, an error code otherwise.
 */
int ex_outline_get_bbox(const void *outline, long abbox[4]);

/**
 * @brief Release a bounding box cache.
 *
 * Every box the cache still holds is released with it, so pointers
 * returned by earlier calls must not be used afterwards.
 *
 * @param cache  The cache; NULL is allowed.
 * @see ex_outline_get_bbox
 */
void ex_bbox_cache_free(void *cache);

#endif /* EXAMPLE_BBOX_H */
"""


def test_documented_c_header_is_kept() -> None:
    flt = CodeQuality()
    assert flt.check(DOCUMENTED_HEADER)[2].reason == "too_many_comments"  # the line rules alone
    _, signals, rejection = flt.check(DOCUMENTED_HEADER, None, code_language="c")
    assert rejection is None, rejection
    assert signals["comments_by_tokens"] == 1.0


def test_generated_marker_in_a_string_literal_is_not_a_marker() -> None:
    # a code generator writes the marker into its output: in its own source it is a string
    writer = '''import io

HEADER = """# DO NOT EDIT: generated by tools/gen_tables.py
# source: unicode data
"""


def write(out: io.StringIO, rows: list) -> None:
    out.write(HEADER)
    for row in rows:
        out.write(repr(row) + "\\n")
'''
    assert generated_marker(writer, "python") is None
    assert CodeQuality().check(writer, None, code_language="python")[2] is None


def test_generated_prose_is_not_a_marker() -> None:
    prose = '''"""Tests for drawing graphs to LaTeX."""

# The expected picture below was generated with Python and LaTeX by hand.
import textwrap


def expected():
    return textwrap.dedent(r"""
        \\caption{A graph generated with python and latex.}
    """)
'''
    assert generated_marker(prose, "python") is None
    c_prose = """/* prrng.h -- random noise.
 *
 * The noise
 ** generated by GetRandomNoise() is at best, extremely difficult to predict.
 */
#include <stddef.h>
// The DFA is auto-generated from the scheduling model.
size_t get_random_noise(void *buf, size_t size);
"""
    assert generated_marker(c_prose, "c") is None


def test_real_generated_headers_are_still_caught() -> None:
    pb2 = "# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\n# source: a.proto\nimport sys\n"
    assert generated_marker(pb2, "python") is not None
    plotly = "#                   --- THIS FILE IS AUTO-GENERATED ---\n# Modifications will be overwitten the next time code generation run.\n\nfrom x import y\n"
    assert generated_marker(plotly, "python") is not None
    header = "/* Machine generated file: DO NOT EDIT */\n/* Derived from: scripts/pnglibconf.dfa */\n#define PNG_16BIT_SUPPORTED\n"
    assert generated_marker(header, "c") is not None
    docstring = '"""\nThis file is automatically generated by attribution.\n\nDo not edit manually.\n"""\n\n__version__ = "0.13.0"\n'
    assert generated_marker(docstring, "python") is not None
    # a module docstring that opens with a reST title says so in the paragraph after the title
    titled = ('"""\n    pygments.lexers._css_builtins\n    ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n\n'
              '    This file is autogenerated by scripts/get_css_properties.py\n\n'
              '    :license: BSD, see LICENSE for details.\n"""\n\n_css_properties = (\n    "-webkit-line-clamp",\n)\n')
    assert generated_marker(titled, "python") is not None
    hand_written = titled.replace("This file is autogenerated by scripts/get_css_properties.py", "Builtins for Stata")
    assert generated_marker(hand_written, "python") is None
    # a comment after code speaks of its line: a version pin, not a generated file
    assert generated_marker('__version__ = "0.1.2"  # DO NOT EDIT THIS LINE MANUALLY. LET bump2version DO IT\n', "python") is None


def test_package_named_venv_or_env_is_not_a_virtualenv(tmp_path: Path) -> None:
    assert path_reason("Lib/venv/__init__.py") is None
    assert path_reason("ray/rllib/env/multi_agent_env.py") is None
    assert path_reason("proj/.venv/lib/python3.11/site-packages/six.py")[0] == "vendored"
    assert path_reason("proj/venv/lib/python3.12/requests/api.py")[0] == "vendored"
    assert path_reason("proj/venv/bin/activate_this.py")[0] == "vendored"
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    is_file = lambda rel: (tmp_path / rel).is_file()  # noqa: E731
    assert path_reason("env/tools/x.py", is_file)[0] == "vendored"
    assert path_reason("venv/tools/x.py", is_file) is None


def test_vendor_dirs_with_underscores_are_vendored() -> None:
    assert path_reason("pip/_vendor/rich/console.py")[0] == "vendored"
    assert path_reason("setuptools/_vendored/packaging/version.py")[0] == "vendored"
    assert path_reason("botocore/vendored/requests/api.py")[0] == "vendored"


def test_cpp_include_suffixes_have_a_language() -> None:
    for path in ("c++/12/bits/basic_string.tcc", "llvm/IR/Attributes.inc", "boost/asio/impl/post.ipp",
                 "glm/detail/func_common.inl", "eigen/Tensor.tpp"):
        assert language_of(path) == "cpp", path
    assert language_of("wp-includes/version.inc", "<?php\n$wp_version = '6.4';\n") == "php"
    assert language_of("llvm/IR/Attributes.inc", "#ifdef GET_ATTR_NAMES\n") == "cpp"


def test_divider_comments_are_not_encoded_data() -> None:
    divider = "/" * 78
    banner = "=" * 70
    section = (
        "{d}\n// Section {i}\n{d}\nstatic int table_{i}[4] = {{{i}, 1, 2, 3}};\n"
        "int lookup_{i}(int index)\n{{\n    if (index < 0 || index > 3)\n        return -1;\n"
        "    return table_{i}[index] * {i};\n}}\n"
    )
    body = "\n".join(section.format(d=divider, i=i) for i in range(30)) + f"// {banner}\n// *{'*' * 70}\n"
    _, signals, rejection = CodeQuality().check(body, None, code_language="cpp")
    assert signals["encoded_chars"] == 0
    assert rejection is None
    url = "# see https://github.com/example/project/blob/0123456789abcdef0123456789abcdef01234567/src/very/long/path/module.py\nx = 1\n"
    assert CodeQuality().score(url)["encoded_chars"] == 0


def test_real_base64_is_still_encoded_data() -> None:
    import base64
    import random

    rng = random.Random(0)
    blob = base64.b64encode(bytes(rng.randrange(256) for _ in range(3000))).decode()
    text = f'ICON = (\n    "{blob}"\n)\n'
    assert CodeQuality().check(text, None, code_language="python")[2].reason == "encoded_data"


def test_word_per_line_list_is_not_encoded_data() -> None:
    # a stop-word set as spaCy writes it: letters and newlines, which the base64 run once joined
    words = """akin aking ako alin amin aming ang ano anumang apat atin ating bababa bago bakit bawat bilang
        dahil dalawa dapat dito doon gagawin gayunman ginagawa ginawa ginawang gumawa gusto habang hanggang
        hindi huwag iba ibaba ibabaw ibig ikaw ilagay ilalim ilan inyong isa isang itaas ito iyo iyon iyong"""
    words = words.split()
    text = 'STOP_WORDS = set(\n    """\n' + "\n".join(words) + '\n""".split()\n)\n'
    _, signals, rejection = CodeQuality().check(text, None, code_language="python")
    assert signals["encoded_chars"] == 0 and rejection is None
    # base64 wrapped at 64 columns (a PEM body) is still one encoded run
    import base64
    import random

    rng = random.Random(1)
    blob = base64.b64encode(bytes(rng.randrange(256) for _ in range(2400))).decode()
    pem = "CERT = '''\n" + "\n".join(blob[i : i + 64] for i in range(0, len(blob), 64)) + "\n'''\n"
    assert CodeQuality().check(pem, None, code_language="python")[2].reason == "encoded_data"


def test_vowel_signs_count_as_letters_for_alnum() -> None:
    # Bengali and Hindi comments: the vowel signs (combining marks) are part of the words
    comment = "# মোট ডিমের সংখ্যা গণনা করুন\n# कुल अंडों की संख्या गिनें\n"
    letters = sum(1 for ch in comment if ch not in "# \n")
    assert CodeQuality().score(comment)["alnum_frac"] == letters / len(comment)
