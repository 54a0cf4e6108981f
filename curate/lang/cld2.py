"""CLD2 (Chromium's Compact Language Detector 2, via ``pycld2``) as the fast first reader.

CLD2 reads a long document in a few microseconds, 20-40x faster than fastText, and says how sure
it is (a "reliable" flag and the share of the text in each language). Where it is sure of a long
text in a language no one confuses, the other models would only agree: measured on the real texts
of ``benchmarks/lid_accuracy.py`` (reliable, 80%+ of the text, 400+ characters, outside the
confusable pairs) CLD2 was right on 99.51% of them and the lid.176 + heliport ensemble on 99.56%
of the same texts. The langid stage lets CLD2 settle those and runs the ensemble on the rest.
"""

from __future__ import annotations

from filters.langcodes import LID176_TO_ISO639_3

#: CLD2 codes that are not lid.176's: old ISO 639-1 codes and the Traditional Chinese variant.
_CLD2_CODES = {"iw": "heb", "jw": "jav", "zh-Hant": "cmn", "in": "ind", "fil": "tgl"}


def cld2_language(code: str) -> str | None:
    """Our ISO 639-3 language for a CLD2 code; None for its script-only and unknown codes (``xx-*``, ``un``)."""
    return _CLD2_CODES.get(code) or LID176_TO_ISO639_3.get(code)


def cld2_votes(text: str) -> tuple[list[tuple[str, float]], bool]:
    """CLD2's languages of ``text`` with the share of the text in each (best first), and whether
    CLD2 calls its answer reliable. Text it cannot read (lone surrogates) gives ``([], False)``."""
    import pycld2  # lazy: a C extension, loaded by the stage's setup

    try:
        reliable, _, ranked = pycld2.detect(text)
    except (pycld2.error, UnicodeEncodeError):
        return [], False
    votes = []
    for _, code, percent, _ in ranked:
        lang = cld2_language(code)
        if lang is not None and percent > 0:
            votes.append((lang, percent / 100))
    return votes, bool(reliable)
