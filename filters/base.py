"""The filter contract: a small object that scores a document and decides whether to keep it.

Thresholds are pydantic fields, so a filter is configured from the YAML by name (see
:data:`filters.FILTERS`) and validated like every other option. ``score`` returns named
signals (kept as columns when the config asks); ``reject_reason`` turns signals into a verdict.
``filter(doc)`` is the datatrove-style shortcut for use outside a pipeline.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


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
    """Base class of every filter. Subclasses set ``name`` (a Literal field) and implement two methods."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Signals this filter produces, in order (their names become ``<filter>_<signal>`` columns).
    signals: ClassVar[tuple[str, ...]] = ()

    domains: list[str] | None = None
    """Apply only to documents of these domains (None: every domain)."""

    def applies_to(self, domain: str | None) -> bool:
        return self.domains is None or domain in self.domains

    def score(self, text: str) -> dict[str, float]:
        raise NotImplementedError

    def reject_reason(self, signals: dict[str, float]) -> Rejection | None:
        """None to keep the document, else why it goes."""
        raise NotImplementedError

    def check(self, text: str) -> tuple[dict[str, float], Rejection | None]:
        signals = self.score(text)
        return signals, self.reject_reason(signals)

    def filter(self, doc: dict | str) -> bool:
        """True to keep. Accepts a text or a mapping with a ``text`` key."""
        text = doc if isinstance(doc, str) else doc["text"]
        return self.check(text)[1] is None
