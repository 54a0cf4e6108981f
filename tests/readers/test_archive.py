"""Source archives and code rules: real tar/zip files built here, read through the real entry point."""

from __future__ import annotations

import io
import os
import struct
import tarfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import zstandard

from curate.config import SourceConfig
from curate.readers import read_file
from curate.readers.code import code_row
from curate.readers.context import ReadContext
from curate.sources import FileTask, list_source_files

TOP = "proj-abc123"
TREE = {
    "src/main.py": "def main():\n    print('hello, archive')\n",
    "src/lib/util.rs": "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
    "web/app.js": "export const greet = (name) => `hi ${name}`;\n",
    "Makefile": "all:\n\tcc -o main main.c\n",
    "README.md": "# proj\n\nA small project, caf\u00e9 included.\n",
}
LANGUAGES = {"src/main.py": "python", "src/lib/util.rs": "rust", "web/app.js": "javascript",
             "Makefile": "makefile", "README.md": "markdown"}


def _source(path: Path, **kw) -> SourceConfig:
    kw.setdefault("max_file_bytes", 100_000)
    return SourceConfig(name="repo", format="archive", paths=[str(path)], domain="code", **kw)


def _read(path: Path, **kw) -> list[dict]:
    source = _source(path, **kw)
    task = FileTask(source="repo", format="archive", path=str(path), relpath=path.name)
    return [r for t in read_file(task, source, batch_rows=100) for r in t.to_pylist()]


def _by_path(rows: list[dict]) -> dict[str, dict]:
    return {r["path"]: r for r in rows}


def _tarinfo(name: str, data: bytes = b"", **kw) -> tuple[tarfile.TarInfo, io.BytesIO | None]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in kw.items():
        setattr(info, key, value)
    return info, (io.BytesIO(data) if info.isreg() else None)


def _write_tar(path: Path, members: list[tuple[tarfile.TarInfo, io.BytesIO | None]]) -> None:
    if path.name.endswith(".tar.zst"):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for info, data in members:
                tar.addfile(info, data)
        path.write_bytes(zstandard.ZstdCompressor().compress(buffer.getvalue()))
        return
    mode = {".tar": "w", ".gz": "w:gz", ".tgz": "w:gz", ".bz2": "w:bz2", ".xz": "w:xz"}[path.suffix]
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, data)


def _tree_members() -> list:
    members = [_tarinfo(f"{TOP}/", type=tarfile.DIRTYPE), _tarinfo(f"{TOP}/src/", type=tarfile.DIRTYPE)]
    members += [_tarinfo(f"{TOP}/{name}", text.encode()) for name, text in TREE.items()]
    return members


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): (p.lstat().st_size if not p.is_dir() else -1) for p in root.rglob("*")}


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst", ".zip"])
def test_source_tree_archive(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"proj{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{TOP}/", "")
            for name, text in TREE.items():
                zf.writestr(f"{TOP}/{name}", text)
            zf.writestr(f"{TOP}/.github/ci.yml", "on: push\n")  # dot-folders: `hidden` rows, as in folders
            zf.writestr(f"__MACOSX/{TOP}/._main.py", "junk")
            zf.writestr(".DS_Store", "junk")
    else:  # a top-level dot-file first must not stop the folder from being stripped
        _write_tar(path, [_tarinfo(".DS_Store", b"junk"), *_tree_members(),
                          _tarinfo(f"{TOP}/.github/ci.yml", b"on: push\n")])
    rows = _read(path)
    by_path = _by_path(rows)
    hidden = {".DS_Store", ".github/ci.yml"} | ({f"__MACOSX/{TOP}/._main.py"} if suffix == ".zip" else set())
    assert set(by_path) == set(TREE) | hidden
    for name in hidden:  # accounted for, with the text they held, never documents
        assert by_path[name]["reject_reason"] == "hidden", by_path[name]
        assert by_path[name]["text"] in ("junk", "on: push\n")
    by_path = {name: row for name, row in by_path.items() if name not in hidden}
    for name, text in TREE.items():
        row = by_path[name]
        assert row["reject_reason"] is None, row
        assert row["text"] == text
        assert row["code_language"] == LANGUAGES[name]
        assert row["id"] == f"repo:{path.name}!{TOP}/{name}"
        assert row["domain"] == "code"
    assert [r["id"] for r in _read(path)] == [r["id"] for r in rows]  # stable ids


def test_tar_without_wrapper_folder_keeps_paths(tmp_path: Path) -> None:
    path = tmp_path / "flat.tar.gz"
    _write_tar(path, [_tarinfo("./", type=tarfile.DIRTYPE), _tarinfo("./src/", type=tarfile.DIRTYPE),
                      _tarinfo("./src/a.py", b"a = 1\n"), _tarinfo("./setup.py", b"b = 2\n")])
    assert sorted(r["path"] for r in _read(path)) == ["setup.py", "src/a.py"]
    zpath = tmp_path / "flat.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("src/a.py", "a = 1\n")
        zf.writestr("setup.py", "b = 2\n")
    assert sorted(r["path"] for r in _read(zpath)) == ["setup.py", "src/a.py"]


def test_hostile_tar_members_are_rejected_and_nothing_is_written(tmp_path: Path, monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # where a careless extraction of relative names would land
    absolute = str(tmp_path / "absolute_evil.py")
    path = tmp_path / "evil.tar.gz"
    _write_tar(path, [
        *_tree_members(),
        _tarinfo("../../evil.py", b"import os\n"),
        _tarinfo(f"{TOP}/../../../evil2.py", b"import os\n"),
        _tarinfo(absolute, b"import os\n"),
        _tarinfo("C:\\Windows\\evil.py", b"import os\n"),
        _tarinfo(f"{TOP}/src\\..\\..\\..\\evil3.py", b"import os\n"),
        _tarinfo(f"{TOP}/passwd.py", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
        _tarinfo(f"{TOP}/hard.py", type=tarfile.LNKTYPE, linkname="/etc/passwd"),
        _tarinfo(f"{TOP}/dev.py", type=tarfile.CHRTYPE),
        _tarinfo(f"{TOP}/pipe.py", type=tarfile.FIFOTYPE),
    ])
    before = _snapshot(tmp_path)
    rows = _read(path)
    assert _snapshot(tmp_path) == before
    assert not (tmp_path.parent / "evil.py").exists()
    reasons = {r["id"].split("!", 1)[1]: r["reject_reason"] for r in rows if r["reject_reason"]}
    assert reasons == {
        "../../evil.py": "unsafe_path",
        f"{TOP}/../../../evil2.py": "unsafe_path",
        absolute: "unsafe_path",
        "C:\\Windows\\evil.py": "unsafe_path",
        f"{TOP}/src\\..\\..\\..\\evil3.py": "unsafe_path",
        f"{TOP}/passwd.py": "not_a_regular_file",
        f"{TOP}/hard.py": "not_a_regular_file",
        f"{TOP}/dev.py": "not_a_regular_file",
        f"{TOP}/pipe.py": "not_a_regular_file",
    }
    by_path = _by_path(rows)
    assert by_path["passwd.py"]["text"] == ""
    assert "symbolic link to '/etc/passwd'" in by_path["passwd.py"]["reject_detail"]
    assert "hard link" in by_path["hard.py"]["reject_detail"]
    assert all("root:" not in r["text"] and "import os" not in r["text"] for r in rows)
    assert {name: by_path[name]["text"] for name in TREE} == TREE  # the good members still read


def test_hostile_zip_members(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{TOP}/ok.py", "ok = True\n")
        for name in ("../../evil.py", "/abs/evil.py", "C:/evil.py", f"{TOP}\\..\\..\\evil.py"):
            zf.writestr(name, "import os\n")
        link = zipfile.ZipInfo(f"{TOP}/passwd.py")
        link.create_system = 3
        link.external_attr = 0o120777 << 16  # S_IFLNK: the member's content is the link's target
        zf.writestr(link, "/etc/passwd")
    before = _snapshot(tmp_path)
    rows = _read(path)
    assert _snapshot(tmp_path) == before
    reasons = {r["id"].split("!", 1)[1]: r["reject_reason"] for r in rows}
    assert reasons == {
        f"{TOP}/ok.py": None,
        "../../evil.py": "unsafe_path", "/abs/evil.py": "unsafe_path", "C:/evil.py": "unsafe_path",
        f"{TOP}\\..\\..\\evil.py": "unsafe_path",
        f"{TOP}/passwd.py": "not_a_regular_file",
    }
    by_path = _by_path(rows)
    assert by_path["ok.py"]["text"] == "ok = True\n"  # the top folder is still stripped
    assert by_path["passwd.py"]["text"] == "" and "symbolic link" in by_path["passwd.py"]["reject_detail"]


BOMB_BYTES = 200 * 1024 * 1024


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> Path:
    """200 MB of zeros in one member (under 1 MB on disk), streamed so it never sits in memory."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open(f"{TOP}/bomb.py", "w") as member:
            for _ in range(BOMB_BYTES // len(chunk)):
                member.write(chunk)
        zf.writestr(f"{TOP}/after.py", "after = 1\n")
    return path


def _read_measured(path: Path, **kw) -> tuple[list[dict], float, int]:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        rows = _read(path, **kw)
        return rows, time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_zip_bomb_is_oversized_without_inflating(zip_bomb: Path) -> None:
    rows, seconds, peak = _read_measured(zip_bomb)
    by_path = _by_path(rows)
    assert by_path["bomb.py"]["reject_reason"] == "oversized"
    assert f"{BOMB_BYTES} bytes > max_file_bytes 100000" in by_path["bomb.py"]["reject_detail"]
    assert by_path["after.py"]["text"] == "after = 1\n"
    assert seconds < 2 and peak < 20 * 1024 * 1024


def test_zip_member_lying_about_its_size_is_read_bounded(zip_bomb: Path, tmp_path: Path) -> None:
    raw = bytearray(zip_bomb.read_bytes())
    # The bomb's headers (local at 0, first central one) now claim 20 bytes instead of 200 MB.
    assert raw[:4] == b"PK\x03\x04"
    struct.pack_into("<I", raw, 22, 20)
    central = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 20)
    path = tmp_path / "liar.zip"
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo(f"{TOP}/bomb.py").file_size == 20
    rows, seconds, peak = _read_measured(path)
    by_path = _by_path(rows)
    assert by_path["bomb.py"]["reject_reason"] == "oversized"
    assert "100001 bytes > max_file_bytes 100000" in by_path["bomb.py"]["reject_detail"]
    assert by_path["after.py"]["reject_reason"] is None
    assert seconds < 2 and peak < 20 * 1024 * 1024


def test_member_over_max_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "big.tar.gz"
    _write_tar(path, [_tarinfo(f"{TOP}/big.py", b"x = 1\n" * 20_000), _tarinfo(f"{TOP}/small.py", b"y = 2\n")])
    by_path = _by_path(_read(path))
    assert by_path["big.py"]["reject_reason"] == "oversized"
    assert "120000 bytes" in by_path["big.py"]["reject_detail"]
    assert by_path["small.py"]["reject_reason"] is None


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_max_archive_bytes_stops_the_archive(tmp_path: Path, suffix: str) -> None:
    files = {f"{TOP}/f{i}.py": f"# file {i}\n" + "x = 1\n" * 8_000 for i in range(4)}  # ~48 KB each
    path = tmp_path / f"many{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, text in files.items():
                zf.writestr(name, text)
    else:
        _write_tar(path, [_tarinfo(name, text.encode()) for name, text in files.items()])
    rows = _read(path, max_archive_bytes=120_000)
    assert [r["path"] for r in rows[:2]] == ["f0.py", "f1.py"]
    assert all(r["reject_reason"] is None for r in rows[:2])
    assert len(rows) == 3
    limit = rows[2]
    assert limit["reject_reason"] == "archive_too_large"
    assert limit["id"] == f"repo:{path.name}#limit"
    assert "max_archive_bytes 120000" in limit["reject_detail"]
    assert len(_read(path)) == 4  # the default budget reads them all


def test_vendored_minified_generated_members(tmp_path: Path) -> None:
    members = {
        "vendor/github.com/x/y.go": "package y\n",
        "web/node_modules/left-pad/index.js": "module.exports = 1;\n",
        "third_party/zlib/zlib.h": "int x;\n",
        "ios/Pods/Alamofire/Source.swift": "let x = 1\n",
        "web/dist/app.min.js": "var a=1;\n",
        "web/bundle.js": "var a=1;" * 200 + "\n",  # one 1600-character line
        "web/styles.css": ("a{color:red}" * 20 + "\n") * 10,  # 240 characters a line
        "data/blob.py": "BLOB = '" + "A" * 6000 + "'\n",
        "package-lock.json": '{"lockfileVersion": 3}\n',
        "go.sum": "github.com/x/y v1.0.0 h1:abc=\n",
        "api/service_pb2.py": "DESCRIPTOR = None\n",
        "api/service.pb.go": "package api\n",
        "api/client.go": "// Code generated by protoc-gen-go. DO NOT EDIT.\npackage api\n",
        "migrations/0001.py": "# Generated by Django 4.2 on 2024-01-01\nfrom django.db import migrations\n",
        "src/keep.py": "# The token is generated by the server.\nTOKEN = 'generated by hand'\n",
    }
    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(f"{TOP}/{name}", text)
    reasons = {r["path"]: r["reject_reason"] for r in _read(path)}
    assert reasons == {
        "vendor/github.com/x/y.go": "vendored",
        "web/node_modules/left-pad/index.js": "vendored",
        "third_party/zlib/zlib.h": "vendored",
        "ios/Pods/Alamofire/Source.swift": "vendored",
        "web/dist/app.min.js": "minified",
        "web/bundle.js": "minified",
        "web/styles.css": "minified",
        "data/blob.py": "minified",
        "package-lock.json": "generated",
        "go.sum": "generated",
        "api/service_pb2.py": "generated",
        "api/service.pb.go": "generated",
        "api/client.go": "generated",
        "migrations/0001.py": "generated",
        "src/keep.py": None,
    }


def _ctx(max_file_bytes: int = 10_000) -> ReadContext:
    source = SourceConfig(name="repo", format="code", paths=["x"], domain="code", max_file_bytes=max_file_bytes)
    return ReadContext(task=FileTask(source="repo", format="code", path="/x", relpath="x"), source=source, local_path="/x")


@pytest.mark.parametrize(("relpath", "data", "reason"), [
    ("src/app.py", b"print('hi')\n", None),
    ("src/app.py", b"x" * 10_001, "oversized"),
    ("vendor/pkg/big.go", b"x" * 5000, "vendored"),  # path rules come before reading
    ("src/Vendor/lib.c", b"int x;\n", "vendored"),
    ("k8s/pods/pod.go", b"package pods\n", None),  # only CocoaPods' capitalised Pods/ is vendored
    ("img/logo.py", b"\x89PNG\x00\x00", "binary"),
    ("src/latin.py", "s = 'caf\xe9'\n".encode("latin-1"), "not_utf8"),
    ("notes.xyz", b"hello\n", "unknown_language"),
    ("src/blank.py", b"  \n\n", "empty_text"),
    ("lib/jquery-min.js", b"var a;\n", "minified"),
    ("lib/app.js", b"var a = 1;\n" * 10, None),
    ("lib/app.js", (b"x" * 250 + b"\n") * 3, "minified"),
    ("src/long.py", (b"x" * 250 + b"\n") * 3, None),  # long-ish lines are fine outside JS/CSS/JSON
    ("Cargo.lock", b"[[package]]\n", "generated"),
    ("yarn.lock", b"# yarn lockfile v1\n", "generated"),
    ("gen/msg.pb.h", b"#pragma once\n", "generated"),
    ("src/gen.ts", b"/* eslint-disable */\n// @generated\nexport {};\n", "generated"),
    ("src/Gen.cs", b"//------\n// <auto-generated>\n//------\nclass A {}\n", "generated"),
    ("src/api.py", b'"""\nThis file was automatically generated by codegen.\n"""\nX = 1\n', "generated"),
    ("src/x.java", b"/*\n * Autogenerated by Thrift Compiler (0.9.3)\n */\nclass X {}\n", "generated"),
    ("src/emit.py", b"HEADER = '// Code generated by emit. DO NOT EDIT.'\n", None),  # a string, not a comment
    ("src/late.py", b"x = 1\n" * 400 + b"# @generated\n", None),  # markers only count near the top
])
def test_code_row_rules(relpath: str, data: bytes, reason: str | None) -> None:
    row = code_row(_ctx(), relpath, relpath, data[:10_001], len(data))
    assert row.get("reject_reason") == reason, row.get("reject_detail")
    assert row["path"] == relpath
    if reason is None:
        assert row["text"] == data.decode()
    else:
        assert row["reject_detail"]


def test_folder_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("SECRET = 'hunter2'\n")
    (outside / "pkg").mkdir()
    (outside / "pkg" / "inner.py").write_text("INNER = 'hunter3'\n")
    tree = tmp_path / "tree"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "main.py").write_text("print('main')\n")
    os.symlink(outside / "secret.py", tree / "src" / "link.py")
    os.symlink(outside / "pkg", tree / "pkglink")
    os.symlink(tmp_path / "missing.py", tree / "dangling.py")
    source = SourceConfig(name="repo", format="code", paths=[str(tree)], domain="code")
    rows = [r for task in list_source_files(source, 0) for t in read_file(task, source, 100) for r in t.to_pylist()]
    by_path = _by_path(rows)
    assert by_path["src/main.py"]["reject_reason"] is None
    for name in ("src/link.py", "pkglink", "dangling.py"):
        assert by_path[name]["reject_reason"] == "symlink", by_path[name]
        assert by_path[name]["text"] == ""
    assert "secret.py" in by_path["src/link.py"]["reject_detail"]
    assert not any("hunter" in r["text"] for r in rows)
