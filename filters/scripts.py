"""Which writing system (ISO 15924 script) a character or a text is in. Standard library only.

Language ID needs it to give a label its script (``srp_Cyrl`` or ``srp_Latn``), the filters to
pick per-script rules (CJK text has no spaces), and the kana rule to tell Japanese from Chinese.
Called per document, so everything reads a bounded prefix and caches per character.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_right
from collections import Counter

_PREFIX_CHARS = 2000  # enough letters to decide the script; keeps the per-document cost bounded

# Inclusive code point ranges -> ISO 15924 script, sorted by start.  Only blocks that matter
# for web text; other letters count as "Zzzz" (unknown) so they are not mistaken for "no text".
# None marks letters/marks shared by many scripts (they neither help nor hurt any of them).
_RANGES: tuple[tuple[int, int, str | None], ...] = (
    (0x0000, 0x02AF, "Latn"),  # ASCII, Latin-1, Extended-A/B, IPA (non-letters are filtered first)
    (0x02B0, 0x02FF, None),  # modifier letters: ʼ and ʻ in Ukrainian, Uzbek, Hawaiian text
    (0x0300, 0x036F, None),  # combining diacritics take the script of their base letter
    (0x0370, 0x03FF, "Grek"),
    (0x0400, 0x052F, "Cyrl"),
    (0x0530, 0x058F, "Armn"),
    (0x0590, 0x05FF, "Hebr"),
    (0x0600, 0x06FF, "Arab"),
    (0x0700, 0x074F, "Syrc"),
    (0x0750, 0x077F, "Arab"),
    (0x0780, 0x07BF, "Thaa"),
    (0x07C0, 0x07FF, "Nkoo"),
    (0x0860, 0x086F, "Syrc"),
    (0x0870, 0x08FF, "Arab"),
    (0x0900, 0x097F, "Deva"),
    (0x0980, 0x09FF, "Beng"),
    (0x0A00, 0x0A7F, "Guru"),
    (0x0A80, 0x0AFF, "Gujr"),
    (0x0B00, 0x0B7F, "Orya"),
    (0x0B80, 0x0BFF, "Taml"),
    (0x0C00, 0x0C7F, "Telu"),
    (0x0C80, 0x0CFF, "Knda"),
    (0x0D00, 0x0D7F, "Mlym"),
    (0x0D80, 0x0DFF, "Sinh"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Laoo"),
    (0x0F00, 0x0FFF, "Tibt"),
    (0x1000, 0x109F, "Mymr"),
    (0x10A0, 0x10FF, "Geor"),
    (0x1100, 0x11FF, "Hang"),
    (0x1200, 0x139F, "Ethi"),
    (0x13A0, 0x13FF, "Cher"),
    (0x1400, 0x167F, "Cans"),
    (0x1680, 0x169F, "Ogam"),
    (0x16A0, 0x16FF, "Runr"),
    (0x1700, 0x171F, "Tglg"),
    (0x1780, 0x17FF, "Khmr"),
    (0x1800, 0x18AF, "Mong"),
    (0x18B0, 0x18FF, "Cans"),
    (0x19E0, 0x19FF, "Khmr"),
    (0x1AB0, 0x1AFF, None),  # combining diacritics extended
    (0x1B00, 0x1B7F, "Bali"),
    (0x1B80, 0x1BBF, "Sund"),
    (0x1C50, 0x1C7F, "Olck"),
    (0x1C80, 0x1C8F, "Cyrl"),
    (0x1C90, 0x1CBF, "Geor"),
    (0x1CD0, 0x1CFF, None),  # Vedic extensions, shared by Indic scripts
    (0x1D00, 0x1DBF, "Latn"),  # phonetic extensions
    (0x1DC0, 0x1DFF, None),  # combining diacritics supplement
    (0x1E00, 0x1EFF, "Latn"),  # Latin Extended Additional (Vietnamese)
    (0x1F00, 0x1FFF, "Grek"),
    (0x2070, 0x209F, "Latn"),  # superscript / subscript letters
    (0x2100, 0x214F, None),  # letterlike symbols (ℓ, №-style letters)
    (0x2C60, 0x2C7F, "Latn"),
    (0x2D00, 0x2D2F, "Geor"),
    (0x2D30, 0x2D7F, "Tfng"),
    (0x2D80, 0x2DDF, "Ethi"),
    (0x2DE0, 0x2DFF, "Cyrl"),
    (0x2E80, 0x2FDF, "Hani"),  # radicals
    (0x3005, 0x3007, "Hani"),  # 々 〆 〇
    (0x3038, 0x303B, "Hani"),
    (0x3040, 0x309F, "Hira"),
    (0x30A0, 0x30FF, "Kana"),  # includes ー, which only Japanese uses
    (0x3100, 0x312F, "Bopo"),
    (0x3130, 0x318F, "Hang"),
    (0x31A0, 0x31BF, "Bopo"),
    (0x31F0, 0x31FF, "Kana"),
    (0x3400, 0x4DBF, "Hani"),
    (0x4E00, 0x9FFF, "Hani"),
    (0xA000, 0xA4CF, "Yiii"),
    (0xA500, 0xA63F, "Vaii"),
    (0xA640, 0xA69F, "Cyrl"),
    (0xA700, 0xA71F, None),  # tone letters
    (0xA720, 0xA7FF, "Latn"),
    (0xA8E0, 0xA8FF, "Deva"),
    (0xA960, 0xA97F, "Hang"),
    (0xA980, 0xA9DF, "Java"),
    (0xA9E0, 0xA9FF, "Mymr"),
    (0xAA60, 0xAA7F, "Mymr"),
    (0xAB00, 0xAB2F, "Ethi"),
    (0xAB30, 0xAB6F, "Latn"),
    (0xAB70, 0xABBF, "Cher"),
    (0xABC0, 0xABFF, "Mtei"),
    (0xAC00, 0xD7FF, "Hang"),  # syllables + Jamo Extended-B
    (0xF900, 0xFAFF, "Hani"),  # compatibility ideographs
    (0xFB00, 0xFB06, "Latn"),  # ligatures ﬁ ﬂ
    (0xFB13, 0xFB17, "Armn"),
    (0xFB1D, 0xFB4F, "Hebr"),
    (0xFB50, 0xFDFF, "Arab"),  # presentation forms A
    (0xFE20, 0xFE2F, None),  # combining half marks
    (0xFE70, 0xFEFF, "Arab"),  # presentation forms B
    (0xFF21, 0xFF3A, "Latn"),  # fullwidth A-Z
    (0xFF41, 0xFF5A, "Latn"),  # fullwidth a-z
    (0xFF66, 0xFF9F, "Kana"),  # halfwidth katakana
    (0xFFA0, 0xFFDC, "Hang"),  # halfwidth jamo
    (0x1B000, 0x1B16F, "Kana"),  # kana supplement / extended
    (0x1D400, 0x1D7FF, None),  # mathematical alphanumerics (𝐁𝐨𝐥𝐝 "fancy text")
    (0x20000, 0x323AF, "Hani"),  # CJK extensions B-H
)
_RANGE_STARTS: tuple[int, ...] = tuple(start for start, _, _ in _RANGES)
#: Every script :func:`char_script` can give.
RANGE_SCRIPTS: frozenset[str] = frozenset(script for _, _, script in _RANGES if script)


_ASCII_LETTER = re.compile("[A-Za-z]")
CJK_SCRIPTS = frozenset({"Hani", "Hira", "Kana", "Hang"})


@functools.lru_cache(maxsize=1 << 16)
def char_script(ch: str) -> str | None:
    """ISO 15924 script of one character, or None if it is not a letter or mark of one script.

    Cached because documents reuse a few hundred distinct characters over and over. Letters
    outside the table give "Zzzz" so that text in an unlisted script still has a script.
    """
    if unicodedata.category(ch)[0] not in "LM":
        return None
    cp = ord(ch)
    _start, end, script = _RANGES[bisect_right(_RANGE_STARTS, cp) - 1]  # first range starts at 0
    return script if cp <= end else "Zzzz"


def dominant_script(text: str) -> str | None:
    """ISO 15924 code of the script most letters of ``text`` are in; None if it has no letters.

    Only the first 2000 characters are read: called per document, it must stay cheap, and the
    script rarely changes after the opening. Han, kana and Hangul are judged together so that
    Japanese (Han + kana) gives ``Jpan`` and Korean with a real share of Hanja gives ``Kore``.
    """
    sample = text[:_PREFIX_CHARS]
    if sample.isascii():  # fast path for the bulk of web text
        return "Latn" if _ASCII_LETTER.search(sample) else None
    counts = script_letters(sample)
    if not counts:
        return None
    cjk = {s: counts.pop(s, 0) for s in CJK_SCRIPTS}
    cjk_total = sum(cjk.values())
    if counts:
        best = max(counts, key=lambda s: (counts[s], s))
        if counts[best] >= cjk_total:
            return best
    return _cjk_script(cjk["Hani"], cjk["Hira"], cjk["Kana"], cjk["Hang"])


def script_letters(text: str) -> dict[str, int]:
    """Letters per ISO 15924 script in the first 2,000 characters (ASCII text: just ``Latn``)."""
    sample = text[:_PREFIX_CHARS]
    if sample.isascii():
        letters = len(_ASCII_LETTER.findall(sample))
        return {"Latn": letters} if letters else {}
    counts: dict[str, int] = {}
    for ch, n in Counter(sample).items():  # count distinct characters at C speed, classify each once
        script = char_script(ch)
        if script is not None:
            counts[script] = counts.get(script, 0) + n
    return counts


@functools.lru_cache(maxsize=64)  # the kana rule asks once per label of a document: same text
def east_asian_script(text: str) -> str | None:
    """The script of ``text``'s Han, kana and Hangul alone (Latin words around them ignored:
    "load_module() 方法：改用 exec_module()。" is ``Hani``); None without any."""
    counts = script_letters(text)
    if not any(counts.get(s) for s in CJK_SCRIPTS):
        return None
    return _cjk_script(counts.get("Hani", 0), counts.get("Hira", 0), counts.get("Kana", 0), counts.get("Hang", 0))


def _cjk_script(han: int, hira: int, kana: int, hang: int) -> str:
    """Pick the East Asian script code; a 5% share decides mixing so stray characters do not."""
    jp = hira + kana
    if jp and jp * 20 >= han + jp and jp >= hang:
        if han or (hira and kana):
            return "Jpan"
        return "Hira" if hira else "Kana"
    if hang:
        both = han + hang
        if han * 20 >= both and hang * 20 >= both:
            return "Kore"
        return "Hang" if hang >= han else "Hani"
    return "Hani"
