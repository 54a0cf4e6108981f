"""curate's filter library, importable on its own: ``from filters.web import GopherQuality``.

:data:`FILTERS` maps the names a pipeline YAML uses to filter classes. Modules by domain:
``text`` (length, Gopher repetition), ``web`` (Gopher quality, C4, FineWeb, multilingual),
``code`` (StarCoder-style), ``math``, ``decontamination`` (benchmark n-gram overlap) and
``pii`` (redaction). ``words`` and ``stopwords`` hold the language-aware helpers they share.
"""

from __future__ import annotations

from filters.base import Filter, Rejection
from filters.code import CodeQuality
from filters.decontamination import Decontamination
from filters.math import MathQuality
from filters.pii import PIIRedaction
from filters.text import LengthFilter, RepetitionFilter
from filters.web import C4Quality, FineWebQuality, GopherQuality

FILTERS: dict[str, type[Filter]] = {
    "length": LengthFilter,
    "repetition": RepetitionFilter,
    "gopher_quality": GopherQuality,
    "c4": C4Quality,
    "fineweb": FineWebQuality,
    "code_quality": CodeQuality,
    "math_quality": MathQuality,
    "decontamination": Decontamination,
    "pii": PIIRedaction,
}

__all__ = [
    "FILTERS", "C4Quality", "CodeQuality", "Decontamination", "Filter", "FineWebQuality", "GopherQuality",
    "LengthFilter", "MathQuality", "PIIRedaction", "Rejection", "RepetitionFilter",
]
