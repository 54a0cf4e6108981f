"""curate's filter library, importable on its own: ``from filters.text import LengthFilter``.

:data:`FILTERS` maps the names a pipeline YAML uses to filter classes.
"""

from __future__ import annotations

from filters.base import Filter, Rejection
from filters.text import LengthFilter, RepetitionFilter

FILTERS: dict[str, type[Filter]] = {
    "length": LengthFilter,
    "repetition": RepetitionFilter,
}

__all__ = ["FILTERS", "Filter", "LengthFilter", "Rejection", "RepetitionFilter"]
