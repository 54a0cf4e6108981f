"""Language codes: fastText lid.176 labels -> FineWeb-2 style ``<ISO 639-3>_<ISO 15924>`` codes.

lid.176 speaks ISO 639-1 (plus a few odd Wikipedia codes) and never says which script a
document is written in, while FineWeb-2, GlotLID and our output partitions key data by
language *and* script (``srp_Cyrl`` and ``srp_Latn`` are different corpora for a tokenizer).
This module is the one place that bridges the two, so every stage names languages the same
way. Standard library only: it runs inside every worker on every document.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Collection, Mapping
from typing import TypeVar

V = TypeVar("V")

LABEL_PREFIX = "__label__"

# lid.176 label -> (ISO 639-3 code, default ISO 15924 script).  Macrolanguages resolve to the
# individual language most web text is in (FineWeb-2 / GlotLID convention), so that our codes
# line up with theirs.  Odd labels are explained where they appear.
_LID176: dict[str, tuple[str, str]] = {
    "af": ("afr", "Latn"),
    "als": ("gsw", "Latn"),  # lid.176 "als" is Wikipedia's Alemannic, NOT ISO als (Tosk Albanian)
    "am": ("amh", "Ethi"),
    "an": ("arg", "Latn"),
    "ar": ("arb", "Arab"),  # macrolanguage ara -> Standard Arabic
    "arz": ("arz", "Arab"),
    "as": ("asm", "Beng"),
    "ast": ("ast", "Latn"),
    "av": ("ava", "Cyrl"),
    "az": ("azj", "Latn"),  # macrolanguage aze -> North Azerbaijani (South is azb, below)
    "azb": ("azb", "Arab"),
    "ba": ("bak", "Cyrl"),
    "bar": ("bar", "Latn"),
    "bcl": ("bcl", "Latn"),
    "be": ("bel", "Cyrl"),
    "bg": ("bul", "Cyrl"),
    "bh": ("bho", "Deva"),  # "Bihari" is a collective (ISO 639-2 bih); its web text is mostly Bhojpuri
    "bn": ("ben", "Beng"),
    "bo": ("bod", "Tibt"),
    "bpy": ("bpy", "Beng"),
    "br": ("bre", "Latn"),
    "bs": ("bos", "Latn"),
    "bxr": ("bxr", "Cyrl"),
    "ca": ("cat", "Latn"),
    "cbk": ("cbk", "Latn"),
    "ce": ("che", "Cyrl"),
    "ceb": ("ceb", "Latn"),
    "ckb": ("ckb", "Arab"),
    "co": ("cos", "Latn"),
    "cs": ("ces", "Latn"),
    "cv": ("chv", "Cyrl"),
    "cy": ("cym", "Latn"),
    "da": ("dan", "Latn"),
    "de": ("deu", "Latn"),
    "diq": ("diq", "Latn"),  # Dimli (Zazaki) is a valid individual code inside macrolanguage zza
    "dsb": ("dsb", "Latn"),
    "dty": ("dty", "Deva"),
    "dv": ("div", "Thaa"),
    "el": ("ell", "Grek"),
    "eml": ("egl", "Latn"),  # eml (Emiliano-Romagnolo) was retired in 2009 and split; Emilian is egl
    "en": ("eng", "Latn"),
    "eo": ("epo", "Latn"),
    "es": ("spa", "Latn"),
    "et": ("ekk", "Latn"),  # macrolanguage est -> Standard Estonian
    "eu": ("eus", "Latn"),
    "fa": ("pes", "Arab"),  # macrolanguage fas -> Iranian Persian
    "fi": ("fin", "Latn"),
    "fr": ("fra", "Latn"),
    "frr": ("frr", "Latn"),  # Northern Frisian: a valid individual code (not fry, West Frisian)
    "fy": ("fry", "Latn"),
    "ga": ("gle", "Latn"),
    "gd": ("gla", "Latn"),
    "gl": ("glg", "Latn"),
    "gn": ("gug", "Latn"),  # macrolanguage grn -> Paraguayan Guarani, nearly all web Guarani
    "gom": ("gom", "Deva"),
    "gu": ("guj", "Gujr"),
    "gv": ("glv", "Latn"),
    "he": ("heb", "Hebr"),
    "hi": ("hin", "Deva"),
    "hif": ("hif", "Latn"),  # Fiji Hindi is written in Latin script
    "hr": ("hrv", "Latn"),
    "hsb": ("hsb", "Latn"),
    "ht": ("hat", "Latn"),
    "hu": ("hun", "Latn"),
    "hy": ("hye", "Armn"),
    "ia": ("ina", "Latn"),
    "id": ("ind", "Latn"),
    "ie": ("ile", "Latn"),
    "ilo": ("ilo", "Latn"),
    "io": ("ido", "Latn"),
    "is": ("isl", "Latn"),
    "it": ("ita", "Latn"),
    "ja": ("jpn", "Jpan"),
    "jbo": ("jbo", "Latn"),
    "jv": ("jav", "Latn"),
    "ka": ("kat", "Geor"),
    "kk": ("kaz", "Cyrl"),
    "km": ("khm", "Khmr"),
    "kn": ("kan", "Knda"),
    "ko": ("kor", "Hang"),
    "krc": ("krc", "Cyrl"),
    "ku": ("kmr", "Latn"),  # macrolanguage kur -> Northern Kurdish (Kurmanji); Sorani is ckb
    "kv": ("kpv", "Cyrl"),  # macrolanguage kom -> Komi-Zyrian, the written standard
    "kw": ("cor", "Latn"),
    "ky": ("kir", "Cyrl"),
    "la": ("lat", "Latn"),
    "lb": ("ltz", "Latn"),
    "lez": ("lez", "Cyrl"),
    "li": ("lim", "Latn"),
    "lmo": ("lmo", "Latn"),
    "lo": ("lao", "Laoo"),
    "lrc": ("lrc", "Arab"),
    "lt": ("lit", "Latn"),
    "lv": ("lvs", "Latn"),  # macrolanguage lav -> Standard Latvian
    "mai": ("mai", "Deva"),
    "mg": ("plt", "Latn"),  # macrolanguage mlg -> Plateau Malagasy, the standard
    "mhr": ("mhr", "Cyrl"),
    "min": ("min", "Latn"),
    "mk": ("mkd", "Cyrl"),
    "ml": ("mal", "Mlym"),
    "mn": ("khk", "Cyrl"),  # macrolanguage mon -> Halh Mongolian
    "mr": ("mar", "Deva"),
    "mrj": ("mrj", "Cyrl"),
    "ms": ("zsm", "Latn"),  # macrolanguage msa -> Standard Malay
    "mt": ("mlt", "Latn"),
    "mwl": ("mwl", "Latn"),
    "my": ("mya", "Mymr"),
    "myv": ("myv", "Cyrl"),
    "mzn": ("mzn", "Arab"),
    "nah": ("nhe", "Latn"),  # collective "Nahuatl languages" (no 639-3 code): Eastern Huasteca, the largest
    "nap": ("nap", "Latn"),
    "nds": ("nds", "Latn"),
    "ne": ("npi", "Deva"),  # macrolanguage nep -> Nepali (individual)
    "new": ("new", "Deva"),
    "nl": ("nld", "Latn"),
    "nn": ("nno", "Latn"),
    "no": ("nob", "Latn"),  # macrolanguage nor -> Bokmål (Nynorsk has its own label, nn)
    "oc": ("oci", "Latn"),
    "or": ("ory", "Orya"),  # macrolanguage ori -> Odia (individual)
    "os": ("oss", "Cyrl"),
    "pa": ("pan", "Guru"),  # Gurmukhi Punjabi; Shahmukhi (Western) Punjabi is pnb
    "pam": ("pam", "Latn"),
    "pfl": ("pfl", "Latn"),
    "pl": ("pol", "Latn"),
    "pms": ("pms", "Latn"),
    "pnb": ("pnb", "Arab"),
    "ps": ("pbt", "Arab"),  # macrolanguage pus -> Southern Pashto
    "pt": ("por", "Latn"),
    "qu": ("quy", "Latn"),  # macrolanguage que -> Ayacucho Quechua
    "rm": ("roh", "Latn"),
    "ro": ("ron", "Latn"),
    "ru": ("rus", "Cyrl"),
    "rue": ("rue", "Cyrl"),
    "sa": ("san", "Deva"),
    "sah": ("sah", "Cyrl"),
    "sc": ("srd", "Latn"),  # macrolanguage kept: Sardinian web text mixes Logudorese and Campidanese
    "scn": ("scn", "Latn"),
    "sco": ("sco", "Latn"),
    "sd": ("snd", "Arab"),
    "sh": ("hbs", "Latn"),  # Serbo-Croatian: the macrolanguage code itself; Wikipedia sh is mostly Latin
    "si": ("sin", "Sinh"),
    "sk": ("slk", "Latn"),
    "sl": ("slv", "Latn"),
    "so": ("som", "Latn"),
    "sq": ("als", "Latn"),  # macrolanguage sqi -> Tosk Albanian, the standard
    "sr": ("srp", "Cyrl"),
    "su": ("sun", "Latn"),
    "sv": ("swe", "Latn"),
    "sw": ("swh", "Latn"),  # macrolanguage swa -> Swahili (individual)
    "ta": ("tam", "Taml"),
    "te": ("tel", "Telu"),
    "tg": ("tgk", "Cyrl"),
    "th": ("tha", "Thai"),
    "tk": ("tuk", "Latn"),
    "tl": ("tgl", "Latn"),
    "tr": ("tur", "Latn"),
    "tt": ("tat", "Cyrl"),
    "tyv": ("tyv", "Cyrl"),
    "ug": ("uig", "Arab"),
    "uk": ("ukr", "Cyrl"),
    "ur": ("urd", "Arab"),
    "uz": ("uzn", "Latn"),  # macrolanguage uzb -> Northern Uzbek; Latin is the official script
    "vec": ("vec", "Latn"),  # Venetian: a valid individual code
    "vep": ("vep", "Latn"),
    "vi": ("vie", "Latn"),
    "vls": ("vls", "Latn"),
    "vo": ("vol", "Latn"),
    "wa": ("wln", "Latn"),
    "war": ("war", "Latn"),
    "wuu": ("wuu", "Hani"),  # Wu Chinese: a valid individual code inside macrolanguage zho
    "xal": ("xal", "Cyrl"),  # Kalmyk-Oirat: a valid individual code, written in Cyrillic in Kalmykia
    "xmf": ("xmf", "Geor"),
    "yi": ("ydd", "Hebr"),  # macrolanguage yid -> Eastern Yiddish
    "yo": ("yor", "Latn"),
    "yue": ("yue", "Hani"),  # Cantonese: a valid individual code inside macrolanguage zho
    "zh": ("cmn", "Hani"),  # macrolanguage zho -> Mandarin; FineWeb-2 does not split Hans/Hant
}

LID176_TO_ISO639_3: dict[str, str] = {label: iso for label, (iso, _) in _LID176.items()}
"""Every lid.176 label -> its ISO 639-3 code."""

DEFAULT_SCRIPT: dict[str, str] = {iso: script for iso, script in _LID176.values()}
"""ISO 639-3 code -> the script used when the text does not decide it."""

ISO639_1_OF: dict[str, str] = {iso: label for label, iso in LID176_TO_ISO639_3.items()}
"""ISO 639-3 code -> lid.176 label (mostly ISO 639-1), so configs may use either spelling."""

# Languages commonly written in more than one script -> the scripts we accept from the text.
# A detected script outside this set (a Serbian page that is mostly Greek formulas, say) is
# treated as noise and the default script is used instead.
_SCRIPTS_OF: dict[str, frozenset[str]] = {
    "srp": frozenset({"Cyrl", "Latn"}),
    "hbs": frozenset({"Latn", "Cyrl"}),
    "bos": frozenset({"Latn", "Cyrl"}),
    "uzn": frozenset({"Latn", "Cyrl"}),
    "azj": frozenset({"Latn", "Cyrl"}),
    "kaz": frozenset({"Cyrl", "Latn", "Arab"}),
    "kmr": frozenset({"Latn", "Arab", "Cyrl"}),
    "ckb": frozenset({"Arab", "Latn"}),
    "khk": frozenset({"Cyrl", "Mong"}),
    "tgk": frozenset({"Cyrl", "Latn", "Arab"}),
    "tuk": frozenset({"Latn", "Cyrl"}),
    "uig": frozenset({"Arab", "Latn", "Cyrl"}),
    "tat": frozenset({"Cyrl", "Latn"}),
    "pan": frozenset({"Guru", "Arab"}),
    "snd": frozenset({"Arab", "Deva"}),
    "gom": frozenset({"Deva", "Latn", "Knda"}),
}

MULTI_SCRIPT: frozenset[str] = frozenset(_SCRIPTS_OF)
"""Languages whose script must be read from the text rather than assumed."""

# Full codes for the languages Qwen2 reports supporting (29) plus Ukrainian, to make 30.
QWEN2_LANGUAGES: tuple[str, ...] = (
    "eng_Latn", "cmn_Hani", "deu_Latn", "fra_Latn", "spa_Latn", "por_Latn",
    "ita_Latn", "nld_Latn", "rus_Cyrl", "ces_Latn", "pol_Latn", "arb_Arab",
    "pes_Arab", "heb_Hebr", "tur_Latn", "jpn_Jpan", "kor_Hang", "vie_Latn",
    "tha_Thai", "ind_Latn", "zsm_Latn", "lao_Laoo", "mya_Mymr", "ceb_Latn",
    "khm_Khmr", "tgl_Latn", "hin_Deva", "ben_Beng", "urd_Arab", "ukr_Cyrl",
)  # fmt: skip

# Macrolanguage / alternative ISO 639 codes people write in configs -> our individual code.
_ALIASES: dict[str, str] = {
    "zho": "cmn", "chi": "cmn", "ara": "arb", "fas": "pes", "per": "pes", "msa": "zsm",
    "may": "zsm", "est": "ekk", "lav": "lvs", "uzb": "uzn", "swa": "swh", "nor": "nob",
    "nep": "npi", "mon": "khk", "pus": "pbt", "aze": "azj", "sqi": "als", "alb": "als",
    "yid": "ydd", "que": "quy", "mlg": "plt", "ori": "ory", "kur": "kmr", "grn": "gug",
    "kom": "kpv", "zza": "diq", "fil": "tgl", "bih": "bho",
}  # fmt: skip

# --- script detection -------------------------------------------------------------------------

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

KNOWN_SCRIPTS: frozenset[str] = frozenset(
    {script for _, _, script in _RANGES if script}
    | set(DEFAULT_SCRIPT.values())
    | {"Jpan", "Kore", "Zyyy", "Zzzz"}
    | {"Hans", "Hant"}
)
"""Every script code this module can produce; full codes with any other script are rejected."""

#: Variants of the Han script (ISO 15924): Simplified and Traditional. ``Hani`` names either.
HAN_VARIANTS = frozenset({"Hans", "Hant"})


def covering_code(code: str) -> str | None:
    """The code that covers ``code`` in a config: ``cmn_Hani`` for ``cmn_Hans`` and ``cmn_Hant``
    (language ID writes the variant; FineWeb-2 and older configs name Chinese ``cmn_Hani``)."""
    lang, _, script = code.partition("_")
    return f"{lang}_Hani" if script in HAN_VARIANTS else None


def code_listed(code: str | None, codes: Collection[str]) -> bool:
    """True if ``code`` or the code covering it (:func:`covering_code`) is in ``codes``."""
    if code is None:
        return False
    return code in codes or covering_code(code) in codes


def lookup_by_code(mapping: Mapping[str, V], code: str | None) -> V | None:
    """``mapping[code]``, else the entry of the code covering it, else None."""
    if code is None:
        return None
    if code in mapping:
        return mapping[code]
    wider = covering_code(code)
    return mapping.get(wider) if wider else None


_ASCII_LETTER = re.compile("[A-Za-z]")
_CJK = frozenset({"Hani", "Hira", "Kana", "Hang"})


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
    cjk = {s: counts.pop(s, 0) for s in _CJK}
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


_WRITTEN_WITH = {"Jpan": frozenset({"Hani", "Hira", "Kana"}), "Kore": frozenset({"Hang", "Hani"}),
                 "Hang": frozenset({"Hang", "Hani"})}  # fmt: skip


def language_scripts(lang: str) -> frozenset[str] | None:
    """The scripts a language's letters are in (Japanese: Han and kana), None for one we do not know."""
    if lang not in DEFAULT_SCRIPT:
        return None
    scripts: set[str] = set()
    for script in _SCRIPTS_OF.get(lang, {DEFAULT_SCRIPT[lang]}):
        scripts |= _WRITTEN_WITH.get(script, {script})
    return frozenset(scripts)


@functools.lru_cache(maxsize=64)  # the kana rule asks once per label of a document: same text
def east_asian_script(text: str) -> str | None:
    """The script of ``text``'s Han, kana and Hangul alone (Latin words around them ignored:
    "load_module() 方法：改用 exec_module()。" is ``Hani``); None without any."""
    counts = script_letters(text)
    if not any(counts.get(s) for s in _CJK):
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


#: Chinese languages a model may give for Han text (Mandarin, Wu, Cantonese, Classical, Gan, Hakka, Min Nan).
CHINESE_LANGUAGES = frozenset({"cmn", "zho", "wuu", "yue", "lzh", "gan", "hak", "nan"})
_KANA_SCRIPTS = frozenset({"Jpan", "Hira", "Kana"})


def settle_chinese_or_japanese(code: str, text: str) -> str:
    """The kana rule for the pair models confuse most in East Asia: Japanese is written with kana
    (a 5% share of the CJK characters, :func:`east_asian_script`), Chinese never is.

    A text labelled Japanese that is Han only is Chinese (``cmn_Hani``); one labelled as a Chinese
    language whose CJK characters carry kana is Japanese. Other codes pass unchanged.
    """
    lang = code.split("_", 1)[0]
    if lang != "jpn" and lang not in CHINESE_LANGUAGES:
        return code
    script = east_asian_script(text)
    if script in _KANA_SCRIPTS:
        return "jpn_Jpan"
    if script == "Hani" and lang == "jpn":
        return "cmn_Hani"
    return code


# --- code conversion --------------------------------------------------------------------------


def to_lang_code(label: str, text: str | None = None) -> str:
    """lid.176 label (``"__label__sr"`` or ``"sr"``) -> full code such as ``"srp_Cyrl"``.

    The script comes from ``text`` only for :data:`MULTI_SCRIPT` languages (and only if it is
    one they are really written in); everything else gets its default script, so Chinese is
    always ``cmn_Hani`` and Japanese always ``jpn_Jpan``. A label lid.176 does not have gives
    ``und_<script of text>``, or ``und_Zyyy`` without text, rather than raising mid-pipeline.
    """
    key = label.removeprefix(LABEL_PREFIX)
    lang = LID176_TO_ISO639_3.get(key)
    if lang is None:
        return "und_" + ((dominant_script(text) if text else None) or "Zyyy")
    return language_code(lang, text) if text else f"{lang}_{DEFAULT_SCRIPT[lang]}"


def language_code(lang: str, text: str) -> str:
    """An ISO 639-3 language (``srp``, or ``ace`` from heliport) -> full code, script read from
    ``text`` where the language has several, else its default; a language lid.176 lacks gets the
    script of the text."""
    if lang in DEFAULT_SCRIPT:
        if lang in MULTI_SCRIPT:
            script = dominant_script(text)
            if script in _SCRIPTS_OF[lang]:
                return f"{lang}_{script}"
        return f"{lang}_{DEFAULT_SCRIPT[lang]}"
    return f"{lang}_{dominant_script(text) or 'Zyyy'}"


def _iso639_3(lang: str, original: str) -> str:
    """Resolve a bare language code to our ISO 639-3 code or raise a helpful ValueError.

    Three-letter codes are read as ISO 639-3 first, so ``als`` is Tosk Albanian (as in our
    output codes) and not lid.176's Alemannic label; write ``gsw`` for Alemannic.
    """
    if lang in DEFAULT_SCRIPT:
        return lang
    if lang in _ALIASES:
        return _ALIASES[lang]
    if lang in LID176_TO_ISO639_3:
        return LID176_TO_ISO639_3[lang]
    known = sorted(set(DEFAULT_SCRIPT) | set(LID176_TO_ISO639_3))
    hint = difflib.get_close_matches(lang, known, n=3)
    suggestion = f"; did you mean {', '.join(hint)}?" if hint else ""
    raise ValueError(
        f"unknown language code {original!r}: expected a lid.176 label ('zh'), an ISO 639-3 "
        f"code ('cmn') or a full code ('cmn_Hani') for one of the {len(DEFAULT_SCRIPT)} "
        f"languages lid.176 knows{suggestion}"
    )


def normalize_lang_code(code: str) -> str:
    """Accept ``zh``, ``cmn``, ``zho`` or ``cmn_Hani`` (any case) and return the full code.

    Config files are written by people who mix conventions; comparing against pipeline output
    only works once both are in this one form. Bare codes get the default script; a full code
    keeps its script if it is one this module knows (``srp_Latn`` stays ``srp_Latn``), and
    ``und_<script>`` is accepted because :func:`to_lang_code` produces it.
    """
    raw = code.strip().removeprefix(LABEL_PREFIX)
    lang, sep, script = raw.partition("_")
    lang = lang.lower()
    if not sep:
        iso = _iso639_3(lang, code)
        return f"{iso}_{DEFAULT_SCRIPT[iso]}"
    iso = "und" if lang == "und" else _iso639_3(lang, code)
    script = script.title()
    if script not in KNOWN_SCRIPTS:
        raise ValueError(
            f"unknown script {script!r} in language code {code!r}: expected an ISO 15924 code "
            f"such as 'Latn', 'Cyrl' or 'Hani' (known: {', '.join(sorted(KNOWN_SCRIPTS))})"
        )
    return f"{iso}_{script}"
