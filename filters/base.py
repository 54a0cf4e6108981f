"""The filter contract: a small object that scores a document and decides whether to keep it.

Thresholds are pydantic fields, so a filter is configured from the YAML by name (see
:data:`filters.FILTERS`) and validated like every other option. The pieces:

* ``clean(text, lang)`` optionally rewrites the text first (C4 line removal, PII redaction) and
  returns signals about what it changed; most filters leave the text alone;
* ``score(text, lang)`` returns named signals (kept as columns when the config asks);
* ``reject_reason(signals)`` turns signals into a verdict with a short stable reason tag;
* ``overrides`` gives per-language thresholds (``{cmn_Hani: {min_words: 20}}``), applied by
  :meth:`Filter.for_language`; ``languages``/``domains`` restrict where a filter applies;
* ``action: flag`` keeps failing documents and only records the reason (e.g. decontamination
  when you want to inspect before dropping);
* ``setup()`` loads heavy state (benchmark n-gram indexes) once per worker.

``filter(doc)`` is the datatrove-style shortcut for use outside a pipeline.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from filters.langcodes import code_listed, lookup_by_code


class Rejection(tuple):
    """(reason, detail): a short stable tag analysts group by, and the numbers behind it."""

    __slots__ = ()

    def __new__(cls, reason: str, detail: str) -> Rejection:
        return super().__new__(cls, (reason, detail))

    @property
    def reason(self) -> str:
        return self[0]

    @property
    def detail(self) -> str:
        return self[1]


class Filter(BaseModel):
    """Base class of every filter. Subclasses set ``name`` (a Literal field) and implement score/reject_reason."""

    model_config = ConfigDict(extra="forbid")

    #: Signals this filter produces, in order (their names become ``<filter>_<signal>`` columns).
    signals: ClassVar[tuple[str, ...]] = ()
    #: True when ``check`` takes the row's programming language (``code_language=``): the filter
    #: stage passes the ``code_language`` column to such filters.
    wants_code_language: ClassVar[bool] = False

    domains: list[str] | None = None
    """Apply only to documents of these domains (None: every domain)."""
    languages: list[str] | None = None
    """Apply only to documents in these languages, as ``lang`` codes (None: every language)."""
    overrides: dict[str, dict[str, Any]] = {}
    """Per-language option overrides, keyed by ``lang`` code: ``{jpn_Jpan: {min_words: 30}}``."""
    action: Literal["drop", "flag"] = "drop"
    """drop: failing documents go to rejected/; flag: they are kept and the reason is recorded."""

    _per_language: dict[str | None, Filter] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _overrides_name_real_options(self) -> Filter:
        for lang, options in self.overrides.items():
            unknown = set(options) - set(type(self).model_fields) - {"name"}
            if unknown:
                raise ValueError(f"overrides.{lang}: unknown option(s) {sorted(unknown)} for filter {self.name!r}")
        return self

    def applies_to(self, domain: str | None, lang: str | None = None) -> bool:
        if self.domains is not None and domain not in self.domains:
            return False
        return self.languages is None or code_listed(lang, self.languages)

    def for_language(self, lang: str | None) -> Filter:
        """This filter with the language's overrides applied (cached; the base object if none).
        An override for ``cmn_Hani`` applies to ``cmn_Hans`` and ``cmn_Hant`` text too."""
        overrides = lookup_by_code(self.overrides, lang)
        if overrides is None:
            return self
        if lang not in self._per_language:
            variant = self.model_copy(update=overrides)
            variant.setup()
            self._per_language[lang] = variant
        return self._per_language[lang]

    def setup(self) -> None:
        """Load heavy state once per worker (the filter stage calls it before the first batch)."""

    def clean(self, text: str, lang: str | None = None) -> tuple[str, dict[str, float]]:
        """Rewrite the text before scoring; default: unchanged, no signals."""
        return text, {}

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        raise NotImplementedError

    def reject_reason(self, signals: dict[str, float]) -> Rejection | None:
        """None to keep the document, else why it goes."""
        raise NotImplementedError

    def report(self, signals: dict[str, float]) -> dict[str, float]:
        """Counts this document adds to the run's metrics (the filter stage sums them); default none."""
        return {}

    def summarize(self, metrics: dict[str, float]) -> dict[str, Any] | None:
        """This filter's part of the run summary, from the run's summed :meth:`report` counts."""
        return None

    def check(self, text: str, lang: str | None = None) -> tuple[str, dict[str, float], Rejection | None]:
        """(possibly cleaned text, signals, verdict) with this language's thresholds."""
        variant = self.for_language(lang)
        text, cleaned = variant.clean(text, lang)
        signals = {**cleaned, **variant.score(text, lang)}
        return text, signals, variant.reject_reason(signals)

    def filter(self, doc: dict | str, lang: str | None = None) -> bool:
        """True to keep. Accepts a text or a mapping with ``text`` (and optionally ``lang``)."""
        if isinstance(doc, str):
            return self.check(doc, lang)[2] is None
        return self.check(doc["text"], doc.get("lang", lang))[2] is None
