"""The README's "Extending" example of a filter, run by tests/stages/test_filter.py."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field

from filters.base import Filter, Rejection

_PLACEHOLDER = re.compile(r"\blorem ipsum\b|\bdolor sit amet\b", re.IGNORECASE)


class PlaceholderText(Filter):
    """Reject pages that are mostly template filler ("lorem ipsum dolor sit amet")."""

    name: Literal["placeholder"] = "placeholder"
    signals: ClassVar[tuple[str, ...]] = ("placeholders",)

    max_placeholders: int = Field(default=0, ge=0, description="Filler phrases a page may hold.")

    def score(self, text: str, lang: str | None = None) -> dict[str, float]:
        return {"placeholders": float(len(_PLACEHOLDER.findall(text)))}

    def reject_reason(self, signals: dict[str, float]) -> Rejection | None:
        if signals["placeholders"] > self.max_placeholders:
            return Rejection("template_filler", f"{signals['placeholders']:.0f} filler phrases")
        return None
