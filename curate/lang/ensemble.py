"""Combining language-ID models into one label and a calibrated score.

Each model votes with its top labels: fastText (lid.176, or a fastText model by path) with
probabilities, heliport (HeLI-OTS) with per-character negative log-probabilities, lower is better.
Every language either model names is a *candidate*; a candidate's features say how strongly each
model backs it (:func:`candidate_features`), and a conditional-logit model (one weight per
feature, fitted on real labelled text by ``python benchmarks/lid_accuracy.py --fit``) turns them
into a probability over the candidates. The winner's probability, with the other members of its
confusable group added (Malay and Indonesian: a specialist settles which, see
:mod:`curate.lang.specialists`), is then mapped by a logistic calibration fitted on the same
data to ``lang_score``: the measured probability that the label is right. The same is done for
each model alone, so one ``threshold`` means the same thing whichever models run.

Why not majority voting: the two models fail differently. lid.176 is strong on short text in big
languages but calls Malay Indonesian and Ukrainian UI strings Russian; heliport knows Cebuano,
Tagalog and Ukrainian better but has one label (``msa``) for Malay and Indonesian. The features
let the fit learn how much each model's margin is worth, and text length, which moves both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from filters.langcodes import language_scripts
from filters.words import CHAR_WEIGHTS

#: Letters weighted in English equivalents (one Han character carries 3.4 Latin letters), so that
#: a Chinese message with an English option name in it is mostly Chinese.
_LETTER_WEIGHTS = {"Hani": CHAR_WEIGHTS["Han"], "Hira": CHAR_WEIGHTS["Kana"], "Kana": CHAR_WEIGHTS["Kana"],
                   "Hang": CHAR_WEIGHTS["Hangul"]}  # fmt: skip

#: heliport's macrolanguage and alias labels, as the individual-language codes lid.176 uses.
HELIPORT_LANGUAGES: dict[str, tuple[str, ...]] = {
    "ara": ("arb",), "aze": ("azj",), "est": ("ekk",), "lav": ("lvs",), "sqi": ("als",),
    "swa": ("swh",), "mon": ("khk",), "yid": ("ydd",), "nep": ("npi",), "ori": ("ory",),
    "que": ("quy",), "grn": ("gug",), "mlg": ("plt",), "fas": ("pes",), "zho": ("cmn",),
    "msa": ("zsm", "ind"), "hbs": ("hbs", "srp", "hrv", "bos"),
}  # fmt: skip

#: Languages a specialist tells apart once the ensemble has picked one of them: the ensemble's
#: probability is for the group, the specialist's for the member.
SPECIALIST_GROUPS: tuple[frozenset[str], ...] = (frozenset({"zsm", "ind"}),)

#: Characters at which the length features saturate.
_FULL_LENGTH = 2000
#: How far below heliport's best a candidate outside its top labels is taken to be.
_HELIPORT_MISS = 3.0

FEATURES = (
    "fasttext_probability",  # the candidate's fastText probability (0 when not in its top-k)
    "fasttext_top",  # 1 when it is fastText's first label
    "heliport_top",  # 1 when it is heliport's first label
    "heliport_margin",  # heliport's margin over its runner-up, when the candidate is its first label
    "heliport_distance",  # how far the candidate is below heliport's first label (0 for the first)
    "heliport_shared",  # 1 when heliport's first label stands for several languages (msa, hbs)
    "length_x_fasttext",  # log length (0..1) times the fastText probability
    "length_x_heliport",  # log length (0..1) times heliport_top
    "script_share",  # share of the text's letters in the candidate's scripts (Chinese words in English: low)
)


@dataclass
class Votes:
    """What the models said about one text, in ISO 639-3 language codes (no script)."""

    fasttext: list[tuple[str, float]] | None  # (language, probability), best first
    heliport: list[tuple[str, float]] | None  # (heliport label, raw score: lower is better), best first
    chars: int
    letters: dict[str, int] | None = None  # letters per script (filters.scripts.script_letters)


def length_feature(chars: int) -> float:
    """Log length scaled to 0..1 (1 at 2,000 characters and over)."""
    return min(math.log(max(chars, 1)) / math.log(_FULL_LENGTH), 1.0)


def heliport_languages(label: str) -> tuple[str, ...]:
    return HELIPORT_LANGUAGES.get(label, (label,))


def candidate_features(votes: Votes) -> tuple[list[str], np.ndarray]:
    """The candidate languages of a text and one feature row per candidate (see FEATURES)."""
    fasttext: dict[str, float] = {}
    for lang, probability in votes.fasttext or ():
        fasttext[lang] = fasttext.get(lang, 0.0) + probability  # one language in two scripts: summed
    fasttext_top = votes.fasttext[0][0] if votes.fasttext else None
    distance: dict[str, float] = {}
    heliport_top: tuple[str, ...] = ()
    margin = 0.0
    if votes.heliport:
        best = votes.heliport[0][1]
        heliport_top = heliport_languages(votes.heliport[0][0])
        margin = min(votes.heliport[1][1] - best, _HELIPORT_MISS) if len(votes.heliport) > 1 else _HELIPORT_MISS
        for label, score in votes.heliport:
            for lang in heliport_languages(label):
                distance.setdefault(lang, score - best)
    shared = float(len(heliport_top) > 1)
    length = length_feature(votes.chars)
    candidates = sorted(set(fasttext) | set(distance))
    letters = {script: n * _LETTER_WEIGHTS.get(script, 1.0) for script, n in (votes.letters or {}).items()}
    total = sum(letters.values())
    dominant = max(letters.values()) / total if total else 1.0
    rows = []
    for lang in candidates:
        scripts = language_scripts(lang)
        if not total:
            share = 1.0
        elif scripts is None:  # a language we have no script for: assume the text's main one
            share = dominant
        else:
            share = sum(n for script, n in letters.items() if script in scripts) / total
        probability = fasttext.get(lang, 0.0)
        top = float(lang in heliport_top)
        rows.append([
            probability,
            float(lang == fasttext_top),
            top,
            top * margin / _HELIPORT_MISS,
            min(distance.get(lang, _HELIPORT_MISS), _HELIPORT_MISS) / _HELIPORT_MISS,
            top * shared,
            length * probability,
            length * top,
            share,
        ])  # fmt: skip
    return candidates, np.asarray(rows, dtype=np.float64).reshape(len(candidates), len(FEATURES))


def candidate_probabilities(features: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """Softmax over the candidates of one text (the conditional-logit model)."""
    z = features @ np.asarray(weights, dtype=np.float64)
    z -= z.max()
    p = np.exp(z)
    return p / p.sum()


def choose(votes: Votes, weights: Sequence[float]) -> tuple[str | None, float]:
    """The winning language and its probability (the whole specialist group's, when it has one)."""
    candidates, features = candidate_features(votes)
    if not candidates:
        return None, 0.0
    p = candidate_probabilities(features, weights)
    best = int(np.argmax(p))
    lang = candidates[best]
    for group in SPECIALIST_GROUPS:
        if lang in group:
            return lang, float(sum(q for c, q in zip(candidates, p) if c in group))
    return lang, float(p[best])


def calibrate(probability: float, chars: int, coefficients: Sequence[float]) -> float:
    """Logistic calibration: P(label right) from a model's probability and the text's length."""
    p = min(max(probability, 1e-6), 1 - 1e-6)
    slope, length_slope, intercept = coefficients
    z = slope * math.log(p / (1 - p)) + length_slope * length_feature(chars) + intercept
    return 1.0 / (1.0 + math.exp(-z))


def heliport_probability(ranked: list[tuple[str, float]]) -> float:
    """heliport alone: its margin over the runner-up as a 0..1 number (calibrated afterwards)."""
    if len(ranked) < 2:
        return 1.0 - 1e-6
    return 1.0 - math.exp(-max(ranked[1][1] - ranked[0][1], 0.0))


# --- fitting (used by benchmarks/lid_accuracy.py --fit) ---------------------------------------------


def fit_conditional_logit(
    examples: Sequence[tuple[np.ndarray, np.ndarray]], sample_weights: Sequence[float], l2: float = 1e-2
) -> np.ndarray:
    """Newton's method for the conditional logit: ``examples`` are (features, is_right) per text."""
    dims = len(FEATURES)
    w = np.zeros(dims)
    for _ in range(30):
        gradient = l2 * w
        hessian = l2 * np.eye(dims)
        for (x, right), weight in zip(examples, sample_weights):
            # The loss is -log P(a right candidate): several can be right (Malay and Indonesian
            # both are, for the group the specialist settles).
            p = candidate_probabilities(x, w)
            mean = p @ x
            q = p * right
            q /= q.sum()
            mean_right = q @ x
            gradient += weight * (mean - mean_right)
            hessian += weight * (
                (x * p[:, None]).T @ x - np.outer(mean, mean) - ((x * q[:, None]).T @ x - np.outer(mean_right, mean_right))
            )
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def fit_calibration(probabilities: Sequence[float], chars: Sequence[int], right: Sequence[bool]) -> list[float]:
    """Logistic regression of right/wrong on (logit of the probability, length): the calibration."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-6, 1 - 1e-6)
    x = np.column_stack([np.log(p / (1 - p)), [length_feature(c) for c in chars], np.ones(len(p))])
    y = np.asarray(right, dtype=np.float64)
    w = np.zeros(3)
    for _ in range(50):
        q = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (q - y) + 1e-3 * w
        hessian = (x * (q * (1 - q))[:, None]).T @ x + 1e-3 * np.eye(3)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return [float(v) for v in w]
