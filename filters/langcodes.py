"""Language codes: fastText lid.176 labels -> FineWeb-2 style ``<ISO 639-3>_<ISO 15924>`` codes.

lid.176 speaks ISO 639-1 (plus a few odd Wikipedia codes) and never says which script a
document is written in, while FineWeb-2, GlotLID and our output partitions key data by
language *and* script (``srp_Cyrl`` and ``srp_Latn`` are different corpora for a tokenizer).
This module is the one place that bridges the two, so every stage names languages the same
way. Standard library only: it runs inside every worker on every document.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import TypeVar

from filters.scripts import RANGE_SCRIPTS, dominant_script, east_asian_script

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


KNOWN_SCRIPTS: frozenset[str] = frozenset(
    RANGE_SCRIPTS
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
