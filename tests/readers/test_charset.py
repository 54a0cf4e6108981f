"""One charset decoder for every reader: BOMs, UTF-8, declared labels, detection with a web prior."""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import pytest

from curate.config import SourceConfig
from curate.readers import read_file
from curate.readers.charset import (
    declared_html_charset,
    decode_bytes,
    detect_charset,
    normalize_charset,
    sniff_bom,
)
from curate.readers.context import decode_text
from curate.sources import FileTask

FR = ("Les élèves de l'école française étudient le théâtre, la poésie et l'histoire "
      "de la Révolution avec leurs professeurs préférés.")
RU = "Привет! Это тестовое сообщение на русском языке, чтобы проверить кодировку windows-1251."
JA = "これは日本語のテスト文です。東京は大きな都市で、多くの人が住んでいます。"


def _cases() -> list[tuple[str, bytes, str | None, str, set[str]]]:
    """(name, data, declared, expected text, acceptable charsets)."""
    return [
        ("latin1_french_undeclared", FR.encode("iso-8859-1"), None, FR, {"cp1252", "windows-1252"}),
        ("cp1251_russian_declared", RU.encode("cp1251"), "windows-1251", RU, {"windows-1251"}),
        ("shift_jis_declared", JA.encode("shift_jis"), "Shift_JIS", JA, {"cp932"}),
        ("utf8_bom", codecs.BOM_UTF8 + FR.encode(), None, FR, {"utf-8-sig"}),
        ("utf16_bom", FR.encode("utf-16"), None, FR, {"utf-16"}),
        ("utf16_bom_beats_label", FR.encode("utf-16"), "windows-1252", FR, {"utf-16"}),
        ("utf8_beats_wrong_label", RU.encode(), "iso-8859-1", RU, {"utf-8"}),
    ]


@pytest.mark.parametrize("decode", [decode_bytes, decode_text], ids=["decode_bytes", "decode_text"])
@pytest.mark.parametrize("case", _cases(), ids=[c[0] for c in _cases()])
def test_decodes(decode, case) -> None:
    _, data, declared, text, charsets = case
    decoded = decode(data, declared)
    assert decoded is not None
    assert decoded[0] == text
    assert decoded[1] in charsets


@pytest.mark.parametrize("decode", [decode_bytes, decode_text], ids=["decode_bytes", "decode_text"])
def test_random_bytes_are_hopeless(decode) -> None:
    for _ in range(20):
        assert decode(os.urandom(2000)) is None


def test_one_stray_byte_does_not_cost_the_text() -> None:
    data = (FR * 20).encode() + b"\xff" + (FR * 20).encode()
    text, charset = decode_bytes(data)
    assert charset == "utf-8" and text.count("\ufffd") == 1


def test_labels_read_the_browser_way() -> None:
    assert normalize_charset(" ISO-8859-1 ") == "windows-1252"
    assert normalize_charset("GBK") == "gb18030"
    assert normalize_charset("shift_jis") == "cp932"
    assert normalize_charset("euc-kr") == "cp949"
    assert normalize_charset("utf8") == "utf-8"
    assert normalize_charset("bogus") is None and normalize_charset(None) is None


def test_bom_and_html_declarations() -> None:
    assert sniff_bom(codecs.BOM_UTF8 + b"x") == "utf-8-sig"
    assert sniff_bom(codecs.BOM_UTF16_BE + b"x") == "utf-16"
    assert sniff_bom(b"<html>") is None
    page = b'<html><head><meta charset="Shift_JIS"></head></html>'
    assert declared_html_charset(page, None) == "cp932"
    assert declared_html_charset(page, "windows-1251") == "windows-1251"  # HTTP header first
    assert declared_html_charset(b'<?xml version="1.0" encoding="ISO-8859-1"?><html/>', None) == "windows-1252"
    assert declared_html_charset(b'<meta charset="utf-16">', None) == "utf-8"  # readable as ASCII: not UTF-16
    assert declared_html_charset(b"<html><body>no label</body></html>", None) is None


def test_detection_prefers_common_charsets() -> None:
    assert detect_charset(FR.encode("cp1252")) == "cp1252"
    assert detect_charset(os.urandom(2000)) is None


def test_jsonl_line_in_windows_1252_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps({"id": "u", "text": "plain UTF-8 line"}).encode(),
        json.dumps({"id": "w", "text": FR}, ensure_ascii=False).encode("cp1252"),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    source = SourceConfig(name="s", paths=[str(path)])
    task = FileTask(source="s", format="jsonl", path=str(path), relpath=path.name)
    rows = {r["id"]: r for table in read_file(task, source, 10) for r in table.to_pylist()}
    assert rows["s/w"]["reject_reason"] is None
    assert rows["s/w"]["text"] == FR and "élèves" in rows["s/w"]["text"]
    assert rows["s/w"]["charset"] == "cp1252"
    assert rows["s/u"]["reject_reason"] is None and rows["s/u"]["charset"] is None
