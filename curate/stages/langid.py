"""Language identification by up to three models (``models``; default: CLD2, fastText ``lid.176``
and heliport), on a normalised prefix of the text (no URLs, LaTeX or code fences, one line) so
long documents cost the same as short ones.

CLD2 settles the long texts it is sure of, fastText (``lid.176`` by default, or any fastText LID
model by path: GlotLID, OpenLID, NLLB's lid218) reads the rest, and heliport gives a second opinion
where fastText is unsure or names a confusable language: :mod:`curate.lang.identifier` is that
engine; this module prepares the texts, applies the minimums and writes the columns.

Writes ``lang`` as ISO 639-3 + script (``srp_Latn``; Chinese as ``cmn_Hans`` or ``cmn_Hant``, or
FineWeb-2's ``cmn_Hani`` with ``chinese_script: false``), ``lang_score``
(calibrated: the measured probability that ``lang`` is right; a fastText model by path gives its
own probability) and ``lang_top``, the top-k of the model that decided.

Math and code documents (``prose_only_domains``) are identified by their prose alone
(:func:`filters.math.prose_text`: no LaTeX, ``$`` spans, numbers, expressions or code), because
formulas pull the score down: English competition solutions scored 0.456 on the whole text.
When under ``min_prose_chars`` of prose remain, the whole text is used as for other domains.

A document is kept when its score reaches the minimum for its language: the ``thresholds`` of the
config; else ``threshold`` when the config sets one (it then applies to every other language);
else 0.5 (CALIBRATED_THRESHOLD). With an uncalibrated fastText model by path, the measured lid.176
table of :mod:`curate.lang.thresholds` applies instead (unless ``default_thresholds: false``).

Optional columns: ``lang_mix`` (``line_mix``, off by default for speed) gives the share of the document's
non-empty lines in each language, from one prediction per line (first ``line_mix_max_lines``
lines, each cut to ``line_chars``; lines under ``min_line_chars`` count with the next predicted
line, or the previous one at the end; documents with a single predicted line get the document's
language; codes are the model's top label per line, no threshold). ``comment_lang``
(``code_comments``) is the language of the comments and docstrings of code documents, which are
otherwise skipped (their ``lang`` stays null): null with under 40 characters of comment text,
``und_<script>`` when the comments score under the language's minimum. All the line and comment
texts of a batch go to the fastText model in one ``predict`` call (heliport's when it runs alone).

Cost (benchmarks/stage_kernels.py, one core): the default runs at about the speed of a bare
per-document lid.176 ``model.predict`` loop (CLD2 settles most long documents in microseconds);
``line_mix`` adds one (short) prediction per line.
"""

from __future__ import annotations

import importlib.util
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from curate.config import ConfigError
from curate.lang.comments import comment_text
from curate.lang.identifier import (
    CLD2,
    FULL_CODE,
    HELIPORT,
    NAMED_MODELS,
    LanguageIdentifier,
    fasttext_model_of,
    is_calibrated,
)
from curate.lang.models import DEFAULT_MODEL, resolve_model_path
from curate.lang.text import line_units, one_line, prediction_text, strip_markup
from curate.lang.thresholds import DEFAULT_THRESHOLDS
from curate.lang.weights import CALIBRATED_THRESHOLD
from curate.schema import reject_rows, set_column
from curate.stage import Resources, Stage, StageConfig
from filters.langcodes import LABEL_PREFIX, code_listed, lookup_by_code, normalize_lang_code
from filters.math import prose_text

#: Minimum lang_score for languages with no measured default (and no configured threshold).
FALLBACK_THRESHOLD = 0.5

_TOP_TYPE = pa.list_(pa.struct([("lang", pa.string()), ("score", pa.float32())]))
_MIX_TYPE = pa.list_(pa.struct([("lang", pa.string()), ("share", pa.float32())]))

#: Characters of a long document scanned for its first lines (64 lines of 256 characters).
_LINE_WINDOW = 16_384
#: Comment text (letters, spaces, punctuation; markers removed) needed before we name its language.
MIN_COMMENT_CHARS = 40




def _valid_code(code: str) -> str:
    """normalize_lang_code, but a full code for a language lid.176 lacks (``kab_Latn``, from
    GlotLID) is taken as written, so configs can name any language a model can output. A known
    language with an unknown script (``eng_Latx``) stays an error: that is a typo."""
    try:
        return normalize_lang_code(code)
    except ValueError:
        lang, _, script = code.strip().removeprefix(LABEL_PREFIX).partition("_")
        full = f"{lang.lower()}_{script.title()}"
        if not FULL_CODE.fullmatch(full):
            raise
        try:
            normalize_lang_code(lang)
        except ValueError:
            return full
        raise


class LangIDConfig(StageConfig):
    model: str = Field(
        default=DEFAULT_MODEL, description="The fastText voice: 'lid.176' or the path of a fastText LID model (GlotLID, ...)."
    )
    models: list[str] | None = Field(
        default=None,
        description="Models that read: 'lid.176' (or a fastText path), 'heliport', 'cld2'; unset: [model, heliport, cld2].",
    )
    threshold: float | None = Field(
        default=None, ge=0, le=1,
        description=f"Minimum lang_score for every language not in `thresholds`; unset: {CALIBRATED_THRESHOLD} "
        "with calibrated models, else the lid.176 table and 0.5.",
    )
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per-language minimum, e.g. {cmn_Hani: 0.3}; wins over the default table."
    )
    default_thresholds: bool = Field(
        default=True,
        description="With an uncalibrated model (a fastText model by path): the lid.176 per-language table.",
    )
    below_threshold: Literal["reject", "keep_as_und"] = "reject"
    keep_languages: list[str] | None = Field(default=None, description="Reject documents in other languages.")
    top_k: int = Field(default=3, gt=0)
    max_chars: int = Field(default=2000, gt=0, description="Characters of normalised text the model sees.")
    skip_domains: list[str] = Field(default_factory=lambda: ["code"])
    prose_only_domains: list[str] = Field(
        default_factory=lambda: ["math", "code"],
        description="Domains whose documents are identified by their prose only (no LaTeX, numbers, code).",
    )
    min_prose_chars: int = Field(
        default=20, ge=0, description="Prose a prose-only document needs; with less, the whole text is read."
    )
    line_mix: bool = Field(default=False, description="Add lang_mix: share of the document's lines per language.")
    line_mix_max_lines: int = Field(default=64, gt=0, description="Lines predicted per document for lang_mix.")
    line_chars: int = Field(default=100, gt=0, description="Characters of each line the model sees for lang_mix.")
    min_line_chars: int = Field(default=20, ge=0, description="Shorter lines count with their neighbour in lang_mix.")
    code_comments: bool = Field(default=False, description="Add comment_lang: language of the comments of code documents.")
    chinese_script: bool = Field(
        default=True,
        description="Write Chinese as cmn_Hans or cmn_Hant (Simplified or Traditional characters); false: "
        "cmn_Hani, as FineWeb-2. A cmn_Hani in keep_languages, thresholds or a filter's languages covers both.",
    )
    resources: Resources = Resources(batch_size=1000)

    @field_validator("thresholds")
    @classmethod
    def _codes_in_thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        for code, minimum in value.items():
            if not 0 <= minimum <= 1:
                raise ValueError(f"threshold for {code!r} must be between 0 and 1, got {minimum}")
        return {_valid_code(k): v for k, v in value.items()}

    @field_validator("models")
    @classmethod
    def _known_models(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("name at least one model: 'lid.176', 'heliport' or a fastText model path")
        if len(set(value)) < len(value):
            raise ValueError(f"a model is listed twice: {value}")
        if value == [CLD2]:
            raise ValueError("'cld2' only settles the texts it is sure of: name lid.176 (or a fastText path) or heliport too")
        if sum(m not in NAMED_MODELS for m in value) > 1:
            raise ValueError(f"at most one fastText model (lid.176 or a path) can vote, got {value}")
        return value

    @model_validator(mode="after")
    def _default_models(self) -> LangIDConfig:
        """Unset ``models``: CLD2 settles what it is sure of, the fastText ``model`` and heliport the rest."""
        if self.models is None:
            self.models = [self.model, HELIPORT, CLD2]
        return self

    @property
    def fasttext_model(self) -> str | None:
        return fasttext_model_of(self.models)

    @property
    def calibrated(self) -> bool:
        return is_calibrated(self.models)

    def score_minimums(self) -> tuple[dict[str, float], float]:
        """The lang_score each language needs (``thresholds``, then the defaults), and the rest's."""
        calibrated = self.calibrated
        use_table = not calibrated and self.default_thresholds and self.threshold is None
        minimums = dict(DEFAULT_THRESHOLDS) if use_table else {}
        minimums.update(self.thresholds)
        default = CALIBRATED_THRESHOLD if calibrated else FALLBACK_THRESHOLD
        return minimums, default if self.threshold is None else self.threshold

    @field_validator("keep_languages")
    @classmethod
    def _codes_in_keep(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_valid_code(k) for k in value]


class LanguageID(Stage):
    name: ClassVar[str] = "langid"
    Config = LangIDConfig
    mode = "actors"

    def __init__(self, config: LangIDConfig, key: str | None = None) -> None:
        super().__init__(config, key)
        self.minimums, self.fallback = config.score_minimums()
        self.keep = None if config.keep_languages is None else frozenset(config.keep_languages)

    def output_columns(self) -> dict[str, pa.DataType]:
        columns = {"lang": pa.string(), "lang_score": pa.float32(), "lang_top": _TOP_TYPE}
        if self.config.line_mix:
            columns["lang_mix"] = _MIX_TYPE
        if self.config.code_comments:
            columns["comment_lang"] = pa.string()
        return columns

    def preflight(self) -> None:
        key = "models" if "models" in self.config.model_fields_set else "model"
        fasttext = self.config.fasttext_model
        if fasttext is not None:
            try:
                resolve_model_path(fasttext)
            except FileNotFoundError as exc:
                raise ConfigError(f"stages.{self.key}.{key}: {exc}") from None
        for name, package in ((HELIPORT, "heliport"), (CLD2, "pycld2")):
            if name in self.config.models and importlib.util.find_spec(package) is None:
                raise ConfigError(f"stages.{self.key}.models: {name!r} needs `pip install {package}`")

    def setup(self) -> None:
        cfg = self.config
        self.identifier = LanguageIdentifier(cfg.models, top_k=cfg.top_k, max_chars=cfg.max_chars,
                                             chinese_script=cfg.chinese_script)

    def minimum(self, lang: str) -> float:
        """The lang_score a document in ``lang`` needs (a ``cmn_Hani`` entry covers ``cmn_Hans``)."""
        minimum = lookup_by_code(self.minimums, lang)
        return self.fallback if minimum is None else minimum


    def process(self, batch: pa.Table) -> pa.Table:
        cfg = self.config
        texts = batch.column("text").to_pylist()
        domains = batch.column("domain").to_pylist()
        n = len(texts)
        skip = set(cfg.skip_domains)
        todo = [i for i, d in enumerate(domains) if d not in skip]
        langs: list[str | None] = [None] * n
        scores: list[float | None] = [None] * n
        tops: list[list[dict] | None] = [None] * n
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n

        # Inputs: one text per document, plus (one predict call for all of them) its lines.
        head_chars = cfg.max_chars * 3
        doc_inputs: list[str] = []
        small_inputs: list[str] = []  # lines of documents, then comments of code files
        doc_units: list[tuple[int, list[int]]] = []  # (first index in small_inputs, weights) per document
        prose_only = set(cfg.prose_only_domains)
        for i in todo:
            text = texts[i]
            head = text[:head_chars]
            cleaned = strip_markup(head)
            prose = prose_text(head)[: cfg.max_chars] if domains[i] in prose_only else ""
            doc_inputs.append(prose if len(prose) >= cfg.min_prose_chars else one_line(cleaned, head, cfg.max_chars))
            if cfg.line_mix:
                if len(text) > head_chars:
                    cleaned = strip_markup(text[:_LINE_WINDOW])
                units, weights = line_units(cleaned, cfg.line_mix_max_lines, cfg.min_line_chars, cfg.line_chars)
                if len(units) > 1:
                    doc_units.append((len(small_inputs), weights))
                    small_inputs += units
                else:
                    doc_units.append((-1, weights))
        comment_docs: list[int] = []
        if cfg.code_comments:
            language = batch.column("code_language").to_pylist() if "code_language" in batch.column_names else [None] * n
            first_comment = len(small_inputs)
            for i, d in enumerate(domains):
                if d in skip:
                    comments = prediction_text(comment_text(texts[i], language[i]), cfg.max_chars)
                    if len(comments) >= MIN_COMMENT_CHARS:
                        comment_docs.append(i)
                        small_inputs.append(comments)

        for i, (lang, score, top) in zip(todo, self.identifier.identify(doc_inputs, [texts[i] for i in todo])):
            if lang is None:
                reasons[i], details[i] = "no_prediction", "the models returned no label"
                langs[i] = "und_Zyyy"
                continue
            langs[i], scores[i], tops[i] = lang, score, top
            minimum = self.minimum(lang)
            if score < minimum:
                if cfg.below_threshold == "reject":
                    reasons[i], details[i] = "low_score", f"{lang} {score:.3f} < {minimum}"
                else:
                    langs[i] = "und_" + lang.split("_", 1)[1]
            elif self.keep is not None and not code_listed(lang, self.keep):
                reasons[i], details[i] = "language_not_kept", f"{lang} not in keep_languages"
        if small_inputs:
            small = self.identifier.first_labels(small_inputs)
        batch = set_column(batch, "lang", pa.array(langs, pa.string()))
        batch = set_column(batch, "lang_score", pa.array(scores, pa.float32()))
        batch = set_column(batch, "lang_top", pa.array(tops, _TOP_TYPE))

        if cfg.line_mix:
            mixes: list[list[dict] | None] = [None] * n
            for i, (start, weights) in zip(todo, doc_units):
                top = tops[i]
                if start < 0:  # zero or one long line: the document's own prediction says it all
                    mixes[i] = [{"lang": top[0]["lang"], "share": 1.0}] if top else None
                    continue
                counts: dict[str, int] = {}
                for j, weight in enumerate(weights, start):
                    lang = small[j][0] or "und_Zyyy"
                    counts[lang] = counts.get(lang, 0) + weight
                total = sum(weights)
                ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                mixes[i] = [{"lang": lang, "share": count / total} for lang, count in ranked]
            batch = set_column(batch, "lang_mix", pa.array(mixes, _MIX_TYPE))
        if cfg.code_comments:
            comment_langs: list[str | None] = [None] * n
            for j, i in enumerate(comment_docs, first_comment):
                lang, score = small[j]
                if lang is None:
                    continue
                ok = score >= self.minimum(lang)
                comment_langs[i] = lang if ok else "und_" + lang.split("_", 1)[1]
            batch = set_column(batch, "comment_lang", pa.array(comment_langs, pa.string()))
        mask = np.array([r is not None for r in reasons], dtype=bool)
        return reject_rows(batch, mask, self.key, reasons, details)
