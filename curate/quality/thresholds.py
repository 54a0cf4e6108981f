"""The per-domain quality threshold rule, in one place: the quality stage, distilled_quality and
the dashboard all ask it which minimum ``quality_score`` a document's domain is held to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from curate.schema import reject_rows

#: The ``thresholds`` key that stands for every domain not named.
ANY_DOMAIN = "*"


def domain_threshold(thresholds: Mapping[str, float], domain: str | None) -> float | None:
    """The domain's own minimum, else the ``*`` one, else None (no minimum: score only)."""
    return thresholds.get(domain or "", thresholds.get(ANY_DOMAIN))


def reject_low_scores(batch: pa.Table, scores: Sequence[float], thresholds: Mapping[str, float], stage: str,
                      scorer: str) -> pa.Table:
    """``batch`` with the documents scored under their domain's minimum rejected as ``low_quality``,
    the detail naming the score, the minimum and the domain (``scorer``: "judge", "distilled")."""
    domains = batch.column("domain").to_pylist()
    limits = [domain_threshold(thresholds, d) for d in domains]
    low = np.array([t is not None and not s >= t for s, t in zip(scores, limits)], dtype=bool)
    details = [f"{scorer} score {s:.3f} < {t:g} ({d})" if t is not None else None
               for s, t, d in zip(scores, limits, domains)]
    return reject_rows(batch, low, stage, "low_quality", details)
