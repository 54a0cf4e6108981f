"""The architecture the README promises, checked on the code: ``filters`` stands alone, and no
stage reaches into the runtime's private names."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import REPO


def test_the_filter_library_imports_nothing_from_curate() -> None:
    code = ("import importlib, pkgutil, sys, filters\n"
            "for m in pkgutil.iter_modules(filters.__path__): importlib.import_module('filters.' + m.name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'curate'))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_stages_use_no_private_name_of_the_runtime() -> None:
    offenders = []
    for path in sorted((REPO / "curate" / "stages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("curate.runtime"):
                offenders += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert offenders == []
