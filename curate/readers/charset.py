"""Bytes -> text for every reader: one careful charset decoder instead of one per format.

The order, and why:

1. A byte-order mark wins: nothing else puts one there.
2. Bytes that are valid UTF-8 are UTF-8 whatever the label says: mislabelled pages and dumps
   are common, and non-ASCII text in another charset is almost never valid UTF-8.
3. The declared charset (HTTP header, ``<meta charset>``, a caller's label), read the way
   browsers read labels (WHATWG): ``iso-8859-1``/``ascii`` decode as windows-1252,
   ``gb2312``/``gbk`` as gb18030, ``shift_jis`` as cp932, ``euc-kr`` as cp949.
4. UTF-8, then the declared charset, with a tiny share of bytes replaced
   (:data:`MAX_REPLACEMENT_SHARE`): one stray byte should not cost a whole document.
5. Detection (charset-normalizer), near-ties broken by the language's usual charset (a
   ``lang_hint`` such as ``<html lang>``) and then by how common each legacy charset is on the
   web: charset-normalizer alone often ranks a rare codepage first by a hair (French
   windows-1252 text comes back as cp1257, "élčves").

Mojibake and binary garbage decode to nothing (``None``) so that callers can reject them.
"""

from __future__ import annotations

import codecs
import contextlib
import re

#: How far into an HTML page a <meta charset> or <html lang> is looked for.
META_SNIFF_BYTES = 4096
#: Share of undecodable bytes tolerated in UTF-8 or a declared charset (one bad byte should not
#: cost a whole page); more than this and the charset is detected instead.
MAX_REPLACEMENT_SHARE = 0.001
#: Detection looks at this much of the data, and accepts candidates this close to the best.
DETECT_BYTES = 256 * 1024
DETECT_MARGIN = 0.05
#: Above this charset-normalizer "chaos" the best reading is mojibake or binary: no charset.
MAX_CHAOS = 0.2

#: Charset labels as browsers read them (WHATWG Encoding Standard), for the common cases
#: where Python's codec of the same name is narrower than what pages really contain.
_CHARSET_ALIASES = {
    "iso-8859-1": "windows-1252", "iso8859-1": "windows-1252", "iso_8859-1": "windows-1252",
    "latin1": "windows-1252", "latin-1": "windows-1252", "l1": "windows-1252",
    "us-ascii": "windows-1252", "ascii": "windows-1252", "iso-8859-9": "windows-1254",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "ms_kanji": "cp932", "windows-31j": "cp932",
    "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "tis-620": "cp874", "windows-874": "cp874",
    "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8",
}
#: Legacy charsets by how common they are on the web (near-ties in detection go to the commoner).
_WEB_PRIOR = (
    "cp1252", "cp1251", "cp932", "gb18030", "euc_jp", "big5", "cp949", "cp1250", "cp1256", "iso8859_2",
    "cp1253", "cp1254", "cp874", "cp1255", "koi8_r", "cp1257", "cp1258",
)
#: A language's usual legacy charset (anything not listed: windows-1252).
_LANG_CHARSET = {
    **dict.fromkeys(("cs", "pl", "hu", "sk", "sl", "hr", "ro", "bs"), "cp1250"),
    **dict.fromkeys(("ru", "uk", "bg", "sr", "be", "mk"), "cp1251"),
    **dict.fromkeys(("lt", "lv", "et"), "cp1257"),
    **dict.fromkeys(("ar", "fa", "ur"), "cp1256"),
    "el": "cp1253", "tr": "cp1254", "az": "cp1254", "he": "cp1255", "iw": "cp1255", "vi": "cp1258",
    "th": "cp874", "ja": "cp932", "ko": "cp949", "zh": "gb18030",
}
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_HTML_LANG = re.compile(rb"""<html[^>]*?\blang\s*=\s*["']?\s*([a-zA-Z]{2,3})""", re.IGNORECASE)


def normalize_charset(label: str | None) -> str | None:
    """A charset label as a browser reads it (``iso-8859-1`` -> ``windows-1252``), or None if
    Python knows no such codec (a bogus label is as good as none)."""
    if not label:
        return None
    label = _CHARSET_ALIASES.get(label.strip().lower(), label.strip().lower())
    try:
        codecs.lookup(label)
    except LookupError:
        return None
    return label


def sniff_bom(data: bytes) -> str | None:
    """The codec a byte-order mark names (``utf-8-sig`` or ``utf-16``), or None without one."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def declared_html_charset(data: bytes, http_declared: str | None) -> str | None:
    """An HTML page's charset as a browser finds it before reading it: the BOM's, else the HTTP
    header's, else an ``<?xml encoding>``'s, else a ``<meta charset>`` / http-equiv's in the
    first :data:`META_SNIFF_BYTES`. None if nothing usable is declared."""
    charset = sniff_bom(data) or normalize_charset(http_declared)
    if charset:
        return charset
    match = _XML_ENCODING.match(data[:200]) or _META_CHARSET.search(data[:META_SNIFF_BYTES])
    if match:
        charset = normalize_charset(match.group(1).decode("ascii", "replace"))
        if charset and charset.startswith("utf-16"):
            return "utf-8"  # a meta tag readable as ASCII cannot be in UTF-16 (WHATWG)
        return charset
    return None


def html_lang(data: bytes) -> str | None:
    """The page's ``<html lang>`` primary language (``fr``), a tie-break for detection."""
    match = _HTML_LANG.search(data[:META_SNIFF_BYTES])
    return match.group(1).decode("ascii").lower() if match else None


def detect_charset(data: bytes, lang_hint: str | None = None) -> str | None:
    """The charset the data reads best in, or None for mojibake and binary.

    charset-normalizer ranks candidates; those within :data:`DETECT_MARGIN` of the best go to
    the hinted language's usual charset, then to the charset commonest on the web, because the
    raw ranking often puts a rare codepage first by a hair.
    """
    from charset_normalizer import from_bytes

    results = list(from_bytes(data[:DETECT_BYTES]))
    if not results:
        return None
    best = min(results, key=lambda m: m.chaos)
    if best.encoding is None or best.chaos > MAX_CHAOS:
        return None  # mojibake or binary either way
    near = [m for m in results if m.chaos <= best.chaos + DETECT_MARGIN]
    names = {name for m in near for name in (m.encoding, *m.could_be_from_charset)}
    preferred = ((_LANG_CHARSET.get(lang_hint, "cp1252"),) if lang_hint else ()) + _WEB_PRIOR
    return next((name for name in preferred if name in names), best.encoding)


def decode_bytes(data: bytes, declared: str | None = None, lang_hint: str | None = None) -> tuple[str, str] | None:
    """Bytes -> (text, charset it was decoded with), or None when no charset reads them.

    In order: a BOM's charset; strict UTF-8; the declared charset (a label, read as
    :func:`normalize_charset` reads it); UTF-8, then the declared charset, with at most
    :data:`MAX_REPLACEMENT_SHARE` of the text replaced; :func:`detect_charset`.
    """
    charset = sniff_bom(data) or normalize_charset(declared)
    if charset in ("utf-8-sig", "utf-16"):
        with contextlib.suppress(UnicodeDecodeError):
            return data.decode(charset), charset
    with contextlib.suppress(UnicodeDecodeError):
        return data.decode("utf-8"), "utf-8"
    if charset:
        with contextlib.suppress(UnicodeDecodeError):
            return data.decode(charset), charset
    for nearly in dict.fromkeys(("utf-8", charset or "utf-8")):
        text = data.decode(nearly, errors="replace")  # one bad byte should not cost a whole page
        if text.count("\ufffd") <= max(1, int(len(text) * MAX_REPLACEMENT_SHARE)):
            return text, nearly
    detected = detect_charset(data, lang_hint)
    if detected:
        with contextlib.suppress(UnicodeDecodeError, LookupError):
            return data.decode(detected), detected
    return None
