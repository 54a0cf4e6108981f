"""Default minimum ``lang_score`` per language for the langid stage (the 30 Qwen2 languages).

One global threshold treats languages the LID model is sure of (Korean, Thai, Hebrew: its script
alone decides) like languages it splits its probability over a close neighbour (Malay and
Indonesian, Tagalog and Cebuano). In the spirit of FineWeb-2's per-language thresholds, this
table lowers the minimum where the model's scores on genuine text are low, and leaves the others
at the generic 0.5.

How the numbers were derived (measured, not guessed): ``python benchmarks/lid_own_set.py
--thresholds`` runs lid.176.ftz, exactly as the stage does, over the sentence items of
``benchmarks/data/lid_labelled.jsonl`` (25-42 sentences of 30-150 characters per language, from
the repository's samples plus written sentences). For each language we take the scores of the
sentences it identified correctly and apply :func:`threshold_from_scores`: the 5th percentile
(a threshold that keeps 95% of correctly identified sentence-length text), rounded down to a
multiple of 0.05, and clamped to [0.35, 0.50]:

* the ceiling 0.50 is the stage's generic default: the table only ever lowers the bar, so it
  never rejects a document the default configuration would have kept;
* the floor 0.35 sits above what noise scores: gibberish, mojibake, number tables and menus in
  ``samples/junk`` get 0.06-0.32 from lid.176, so no language goes low enough to admit them.

Measured 5th percentiles (lid.176.ftz): ind_Latn 0.33, zsm_Latn 0.43, tgl_Latn 0.45, ceb_Latn
0.53 and, for everything else, 0.75 (eng, por, urd, cmn) to 1.00 (heb, jpn, kor, tha). So
ind/zsm/tgl are lowered; ceb and urd, which FineWeb-2 (with GlotLID) treats as hard, score
high enough with lid.176 on this set to keep 0.50 (lid.176 does call 3 of 31 Cebuano sentences
Tagalog, a confusion no threshold repairs: it changes the label, not just the score). These are ~30
sentences per language: a percentile that coarse moves by a few hundredths when the set changes,
hence the 0.05 steps. The values are for lid.176; with another model (GlotLID scores are
calibrated differently) measure again with ``--model PATH`` or set ``default_thresholds: false``.

Precedence in the stage: ``thresholds`` from the config, then this table (if
``default_thresholds``, the default), then the config's ``threshold`` for every other language.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

FLOOR = 0.35
CEILING = 0.50
PERCENTILE = 5

DEFAULT_THRESHOLDS: dict[str, float] = {
    "eng_Latn": 0.50, "cmn_Hani": 0.50, "deu_Latn": 0.50, "fra_Latn": 0.50, "spa_Latn": 0.50,
    "por_Latn": 0.50, "ita_Latn": 0.50, "nld_Latn": 0.50, "rus_Cyrl": 0.50, "ces_Latn": 0.50,
    "pol_Latn": 0.50, "arb_Arab": 0.50, "pes_Arab": 0.50, "heb_Hebr": 0.50, "tur_Latn": 0.50,
    "jpn_Jpan": 0.50, "kor_Hang": 0.50, "vie_Latn": 0.50, "tha_Thai": 0.50,
    "ind_Latn": 0.35,  # p5 0.33: a third of its probability often goes to zsm
    "zsm_Latn": 0.40,  # p5 0.43: lid.176 calls a third of Malaysian Malay sentences Indonesian
    "lao_Laoo": 0.50, "mya_Mymr": 0.50,
    "ceb_Latn": 0.50,  # p5 0.53
    "khm_Khmr": 0.50,
    "tgl_Latn": 0.45,  # p5 0.45: shares probability with ceb
    "hin_Deva": 0.50, "ben_Beng": 0.50,
    "urd_Arab": 0.50,  # p5 0.75: script-pure Urdu is not confused with Hindi by lid.176
    "ukr_Cyrl": 0.50,
}  # fmt: skip
"""Language code -> minimum lang_score, for the 30 languages of ``filters.langcodes.QWEN2_LANGUAGES``."""


def threshold_from_scores(scores: Iterable[float]) -> float:
    """The table's rule: 5th percentile of the scores of correctly identified sentences, rounded
    down to 0.05, within [FLOOR, CEILING]."""
    ordered = sorted(scores)
    if not ordered:
        raise ValueError("no scores")
    position = (len(ordered) - 1) * PERCENTILE / 100  # linear interpolation, as numpy.quantile
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return min(CEILING, max(FLOOR, math.floor(value * 20 + 1e-9) / 20))
