"""The language-identification engine: CLD2, a fastText LID model and heliport, voting.

:class:`LanguageIdentifier` loads the models named in ``models`` and answers, per prepared text,
(code, lang_score, lang_top). The stage (:mod:`curate.stages.langid`) prepares the texts, applies
the per-language minimums and writes the columns; benchmarks use the identifier directly.

* CLD2 (:mod:`curate.lang.cld2`) settles the long texts it is sure of (:func:`cld2_settles`).
* fastText reads the rest, in one batched call: labels that already are full codes
  (``__label__eng_Latn``, GlotLID) are used as they are; lid.176 labels go through
  :func:`filters.langcodes.to_lang_code`, which reads the script from the text where the label
  does not fix it.
* heliport is asked where fastText is unsure or names a language of a confusable pair
  (:data:`CONFUSABLE`); the ensemble (:mod:`curate.lang.ensemble`) then picks the language and a
  specialist (:mod:`curate.lang.specialists`) the member of a pair.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from curate.lang.cld2 import cld2_votes
from curate.lang.ensemble import Votes, calibrate, choose, heliport_languages, heliport_probability
from curate.lang.models import DEFAULT_MODEL, resolve_model_path
from curate.lang.specialists import settle_chinese_script, settle_group
from curate.lang.text import prediction_text
from curate.lang.weights import CALIBRATION, CLD2_SETTLES_AT, ENSEMBLE_WEIGHTS, SKIP_SECOND_OPINION_AT
from filters.langcodes import (
    LABEL_PREFIX,
    LID176_TO_ISO639_3,
    MULTI_SCRIPT,
    language_code,
    settle_chinese_or_japanese,
    to_lang_code,
)
from filters.scripts import script_letters

HELIPORT = "heliport"
CLD2 = "cld2"
#: Models that are not fastText models: named, not given by path.
NAMED_MODELS = frozenset({HELIPORT, CLD2})
#: Languages heliport is asked about even when lid.176 is sure: the pairs lid.176 confuses (issue
#: 18's list). On the real texts of benchmarks/lid_accuracy.py a longer list (Slavic, Iberian,
#: Germanic neighbours) changed no language's accuracy by 0.4 points and cost heliport calls.
CONFUSABLE = frozenset({"zsm", "ind", "tgl", "ceb", "war", "ces", "slk", "urd", "pnb", "hin", "mar"})
#: A fastText model's top labels for one text: (our code, probability), best first.
Ranked = list[tuple[str, float]]
#: One text's answer: (code or None, lang_score, lang_top).
Identified = tuple[str | None, float, list[dict]]
#: Top labels asked of each model: enough for the runner-up languages the ensemble weighs.
_VOTES = 5
_HELIPORT_VOTES = 3
#: Characters heliport reads: its n-gram scores settle well within them, and its cost grows with length.
_HELIPORT_CHARS = 500
FULL_CODE = re.compile(r"[a-z]{3}_[A-Z][a-z]{3}")  # GlotLID / OpenLID / lid218 label: the code itself


def fasttext_model_of(models: Sequence[str]) -> str | None:
    """The fastText model among ``models`` (lid.176 or a path), if one votes."""
    return next((m for m in models if m not in NAMED_MODELS), None)


def is_calibrated(models: Sequence[str]) -> bool:
    """lang_score is calibrated unless a fastText model by path votes (we cannot measure it)."""
    return fasttext_model_of(models) in (None, DEFAULT_MODEL)


def ensemble_votes(text_in: str, ranked: Ranked | None, heliport: list[tuple[str, float]] | None) -> Votes:
    """What the ensemble weighs for one prepared input: fastText's languages (codes without the
    script), heliport's labels, the length and the letters per script (of what heliport reads)."""
    fasttext = [(code.split("_", 1)[0], q) for code, q in ranked] if ranked else None
    return Votes(fasttext, heliport, len(text_in), script_letters(text_in[:_HELIPORT_CHARS]))


def heliport_choice(text_in: str, heliport: list[tuple[str, float]]) -> str:
    """heliport's language when it runs alone: its first label (a macrolanguage as its first member,
    Malay and Indonesian settled by the specialist)."""
    return settle_group(heliport_languages(heliport[0][0])[0], text_in)


#: Prepared characters CLD2 needs before it may settle a text alone.
CLD2_MIN_CHARS = 400


def cld2_settles(ranked: list[tuple[str, float]], reliable: bool) -> bool:
    """CLD2 alone decides a text (of CLD2_MIN_CHARS or more) when it calls its answer reliable,
    gives the language CLD2_SETTLES_AT of the text, and the language is not a confusable one."""
    return reliable and bool(ranked) and ranked[0][1] >= CLD2_SETTLES_AT and ranked[0][0] not in CONFUSABLE



class LanguageIdentifier:
    """The models of ``models``, loaded, and how their votes become one answer per text."""

    def __init__(self, models: Sequence[str], *, top_k: int = 3, max_chars: int = 2000, chinese_script: bool = True) -> None:
        self.top_k, self.max_chars, self.chinese_script = top_k, max_chars, chinese_script
        self.calibrated = is_calibrated(models)
        self._codes: dict[str, str | None] = {}  # label -> code; None: the code depends on the text
        self.model = None
        self.heliport = None
        fasttext_model = fasttext_model_of(models)
        if fasttext_model is not None:
            import fasttext

            fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence its load-time warning
            self.model = fasttext.load_model(str(resolve_model_path(fasttext_model)))
        if HELIPORT in models:
            import heliport

            self.heliport = heliport.Identifier()
        self.cld2 = CLD2 in models

    def code(self, label: str, text: str) -> str:
        """Our code for a model label, Chinese and Japanese settled by the kana rule
        (:func:`~filters.langcodes.settle_chinese_or_japanese`)."""
        return settle_chinese_or_japanese(self._label_code(label, text), text)

    def _label_code(self, label: str, text: str) -> str:
        """Our code for a model label; cached per label unless the script must be read from ``text``."""
        code = self._codes.get(label, "")
        if code:
            return code
        if code is None:
            return to_lang_code(label, text)
        key = label.removeprefix(LABEL_PREFIX)
        if FULL_CODE.fullmatch(key):
            code = key  # GlotLID-style label: language and script are in the label
        elif key in LID176_TO_ISO639_3 and LID176_TO_ISO639_3[key] not in MULTI_SCRIPT:
            code = to_lang_code(label)  # default script, whatever the text
        else:  # multi-script language, or a label we do not know (und_<script of text>)
            self._codes[label] = None
            return to_lang_code(label, text)
        self._codes[label] = code
        return code

    def predict(self, texts: list[str]) -> list[Identified]:
        """(code, lang_score, lang_top) of each text, read as the stage reads a document."""
        return self.identify([prediction_text(t, self.max_chars) for t in texts], texts)

    def identify(self, inputs: list[str], texts: list[str]) -> list[Identified]:
        """(code, lang_score, lang_top) per prepared input; ``texts`` are the originals (for scripts
        and the kana rule). lang_top is the top-k of the model that decided first: CLD2's for the
        texts it settles, else fastText's (heliport's when it runs alone)."""
        settled = self.settled_by_cld2(inputs)
        rest = [j for j in range(len(inputs)) if j not in settled]
        fasttext, heliport = self.vote([inputs[j] for j in rest], [texts[j] for j in rest])
        out: list[Identified] = [(None, 0.0, [])] * len(inputs)
        for j, ranked in settled.items():
            out[j] = self._settled(inputs[j], texts[j], ranked)
        for r, j in enumerate(rest):
            out[j] = self._decide(inputs[j], texts[j], fasttext[r], heliport.get(r))
        if self.chinese_script:
            script = self._script_of_chinese
            out = [(script(code, texts[j]), score, [{**t, "lang": script(t["lang"], texts[j])} for t in top])
                   for j, (code, score, top) in enumerate(out)]
        return out

    @staticmethod
    def _script_of_chinese(code: str | None, text: str) -> str | None:
        """``cmn_Hani`` as ``cmn_Hans`` or ``cmn_Hant`` (:func:`~curate.lang.specialists.settle_chinese_script`)."""
        return settle_chinese_script(code, text) if code else code

    def settled_by_cld2(self, inputs: list[str]) -> dict[int, list[tuple[str, float]]]:
        """CLD2's languages, by input index, for the inputs it settles alone (:func:`cld2_settles`)."""
        if not self.cld2:
            return {}
        settled = {}
        for j, text in enumerate(inputs):
            if len(text) >= CLD2_MIN_CHARS:
                ranked, reliable = cld2_votes(text)
                if cld2_settles(ranked, reliable):
                    settled[j] = ranked
        return settled

    def _settled(self, text_in: str, text: str, ranked: list[tuple[str, float]]) -> tuple[str, float, list[dict]]:
        """Code, calibrated score and lang_top of a text CLD2 settled."""
        codes = [settle_chinese_or_japanese(language_code(lang, text), text) for lang, _ in ranked]
        share = ranked[0][1]
        score = calibrate(share, len(text_in), CALIBRATION[CLD2]) if self.calibrated else share
        return codes[0], score, [{"lang": c, "score": q} for c, (_, q) in zip(codes, ranked)][: self.top_k]

    def vote(
        self, inputs: list[str], texts: list[str], ask_all: bool = False
    ) -> tuple[list[Ranked | None], dict[int, list[tuple[str, float]]]]:
        """Each model's top labels: fastText's (our codes, probabilities) for every input, in one
        batched call; heliport's (its labels, raw scores) by input index, for the inputs that need
        a second opinion (:meth:`needs_second_opinion`), or all of them with ``ask_all``."""
        n = len(inputs)
        fasttext: list[Ranked | None] = [None] * n
        if self.model is not None and n:
            # The list form of predict works with numpy 2 (the single-string form does not).
            k = max(self.top_k, _VOTES) if self.heliport else self.top_k
            labels, probs = self.model.predict(inputs, k=k)
            for j, (row, p) in enumerate(zip(labels, probs)):
                fasttext[j] = [(self.code(label, texts[j]), float(q)) for label, q in zip(row, p)]
        heliport: dict[int, list[tuple[str, float]]] = {}
        if self.heliport is not None:
            for j in range(n):
                if ask_all or self.needs_second_opinion(fasttext[j]):
                    ranked = self.heliport.identify_topk_with_score(inputs[j][:_HELIPORT_CHARS], _HELIPORT_VOTES)
                    heliport[j] = [(label, float(score)) for label, score in ranked]
        return fasttext, heliport

    def needs_second_opinion(self, ranked: Ranked | None) -> bool:
        """heliport is asked unless fastText is sure (SKIP_SECOND_OPINION_AT) of a language outside
        :data:`CONFUSABLE`."""
        if not ranked:
            return True
        code, probability = ranked[0]
        return probability < SKIP_SECOND_OPINION_AT or code.split("_", 1)[0] in CONFUSABLE

    def _decide(
        self, text_in: str, text: str, ranked: Ranked | None, heliport: list[tuple[str, float]] | None
    ) -> Identified:
        """One input's code, lang_score and lang_top from the votes it got."""
        if heliport is not None and ranked is None:  # heliport alone: its first label, as calibrated
            code = settle_chinese_or_japanese(language_code(heliport_choice(text_in, heliport), text), text)
            probability, key = heliport_probability(heliport), HELIPORT
            best = heliport[0][1]
            ranked = [(self._heliport_code(label, text), float(np.exp(best - score))) for label, score in heliport]
        elif heliport is not None:
            lang, probability = choose(ensemble_votes(text_in, ranked, heliport), ENSEMBLE_WEIGHTS)
            if lang is None:
                return None, 0.0, []
            code = self._ensemble_code(settle_group(lang, text_in), ranked, text)
            key = "lid.176+heliport"
        elif ranked:
            code, probability = ranked[0]
            key = "lid.176"
        else:
            return None, 0.0, []
        score = calibrate(probability, len(text_in), CALIBRATION[key]) if self.calibrated else probability
        return code, score, [{"lang": c, "score": q} for c, q in ranked[: self.top_k]]

    def _ensemble_code(self, lang: str, ranked: Ranked | None, text: str) -> str:
        """The ensemble's language as a full code: fastText's code when it named that language
        (its script choice included), else the language with the script of the text; then the
        kana rule."""
        code = next((c for c, _ in ranked or () if c.split("_", 1)[0] == lang), None) or language_code(lang, text)
        return settle_chinese_or_japanese(code, text)

    @staticmethod
    def _heliport_code(label: str, text: str) -> str:
        """A heliport label as our code (a macrolanguage as its first member: ``msa`` -> ``zsm_Latn``)."""
        return language_code(heliport_languages(label)[0], text)

    def first_labels(self, inputs: list[str]) -> list[tuple[str | None, float]]:
        """(code, score) of the first label of each short input (lines, comments): one model, the
        fastText one when it runs; calibrated like a document's score."""
        if self.model is not None:
            labels, probs = self.model.predict(inputs, k=1)
            out = [(self.code(row[0], text), float(p[0])) if len(row) else (None, 0.0)
                   for row, p, text in zip(labels, probs, inputs)]
            key = "lid.176"
        else:
            out = []
            for text in inputs:
                ranked = self.heliport.identify_topk_with_score(text, 2)
                out.append((self._heliport_code(ranked[0][0], text), heliport_probability(ranked)))
            key = HELIPORT
        if self.chinese_script:
            out = [(self._script_of_chinese(code, text), score) for (code, score), text in zip(out, inputs)]
        if not self.calibrated:
            return out
        return [(code, calibrate(score, len(text), CALIBRATION[key]) if code else 0.0) for (code, score), text in zip(out, inputs)]
