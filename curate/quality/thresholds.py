"""The per-domain quality threshold rule, in one place: the quality stage, distilled_quality and
the dashboard all ask it which minimum ``quality_score`` a document's domain is held to."""

from __future__ import annotations

from collections.abc import Mapping

#: The ``thresholds`` key that stands for every domain not named.
ANY_DOMAIN = "*"


def domain_threshold(thresholds: Mapping[str, float], domain: str | None) -> float | None:
    """The domain's own minimum, else the ``*`` one, else None (no minimum: score only)."""
    return thresholds.get(domain or "", thresholds.get(ANY_DOMAIN))
