"""Every file of a source tree is a document or a rejected row that keeps what the file held
(issue 25): hidden files, version-control folders, vendored and minified code, symlinks."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from curate.config import SourceConfig
from curate.readers import read_file
from curate.sources import list_source_files

MINIFIED = "var a=1;" * 200  # one line of 1,600 characters: minified JavaScript


def _tree(root: Path) -> dict[str, str]:
    """A small repository as people have them: what each file should become."""
    files = {
        "src/app.py": ("def main():\n    return 1\n", None),
        ".eslintrc.js": ("module.exports = {rules: {}};\n", "hidden"),
        ".github/workflows/ci.yml": ("on: push\njobs: {}\n", "hidden"),
        "node_modules/left-pad/index.js": ("module.exports = function (s) { return s; };\n", "vendored"),
        "static/app.min.js": (MINIFIED, "minified"),
        "static/bundle.js": (MINIFIED, "minified"),
        "package-lock.json": ('{"lockfileVersion": 3}\n', "generated"),
        "logo.png": ("\x89PNG\x00\x00", "binary"),
    }
    for rel, (text, _) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("latin-1") if rel.endswith(".png") else text.encode())
    for name in ("HEAD", "config", "objects/ab/cdef0123", "objects/pack/pack-1.pack"):
        (root / ".git" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / ".git" / name).write_bytes(b"x\x00git")
    os.symlink("/etc/hostname", root / "src" / "escape.py")
    return {rel: reason for rel, (_, reason) in files.items()}


def _rows(source: SourceConfig) -> list[dict]:
    tables = [t for task in list_source_files(source, 0) for t in read_file(task, source, 100)]
    return pa.concat_tables(tables).to_pylist()


def test_every_file_of_a_tree_is_a_document_or_a_rejected_row(tmp_path: Path) -> None:
    expected = _tree(tmp_path)
    rows = _rows(SourceConfig(name="repo", format="code", domain="code", paths=[str(tmp_path)]))
    by_path = {r["path"]: r for r in rows}
    assert len(by_path) == len(rows)  # one row per file (or folder row), no two alike
    for rel, reason in expected.items():
        assert by_path[rel]["reject_reason"] == reason, (rel, by_path[rel])
    assert by_path["src/escape.py"]["reject_reason"] == "symlink"
    git = by_path[".git"]
    assert git["reject_reason"] == "vcs_metadata" and "4 files" in git["reject_detail"]
    # accounted: every file on disk is a row, or one of the .git folder's counted files
    on_disk = [p for p in tmp_path.rglob("*") if p.is_file() or p.is_symlink()]
    counted = len(rows) - 1 + 4
    assert counted == len(on_disk)


def test_rejected_code_rows_keep_the_text_the_file_had(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "big.py").write_text("x = 1\n" * 50_000)  # 300,000 bytes
    source = SourceConfig(name="repo", format="code", domain="code", paths=[str(tmp_path)], max_file_bytes=100_000)
    by_path = {r["path"]: r for r in _rows(source)}
    assert by_path["node_modules/left-pad/index.js"]["text"] == "module.exports = function (s) { return s; };\n"
    assert by_path[".eslintrc.js"]["text"] == "module.exports = {rules: {}};\n"
    assert by_path["static/bundle.js"]["text"] == MINIFIED
    assert by_path["logo.png"]["text"] == "[binary: 6 bytes]"
    big = by_path["big.py"]
    assert big["reject_reason"] == "oversized" and "300000 bytes" in big["reject_detail"]
    assert big["text"] == "x = 1\n" * 50_000  # under max_record_bytes: all of it
    # above max_record_bytes: a marker with the size, not the text
    source = SourceConfig(name="repo", format="code", domain="code", paths=[str(tmp_path)], max_file_bytes=100_000,
                          max_record_bytes=200_000)
    big = {r["path"]: r for r in _rows(source)}["big.py"]
    assert big["text"] == "[not kept: 300000 bytes > max_record_bytes 200000]"
