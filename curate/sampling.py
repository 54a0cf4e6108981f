"""Seeded choices of documents that come out the same on every run, whatever the partitioning.

A document's place in a sample is a hash of (seed, id), never its position in a batch, so
the distilled-quality sample and synthesis's tie-breaks do not move when Ray splits the data
differently or a run resumes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def seeded_key(seed: int, doc_id: str) -> str:
    """The seeded hash that orders documents for sampling (smallest first): 16 hex digits."""
    return hashlib.sha256(f"{seed}\x00{doc_id}".encode()).hexdigest()[:16]


def sample_per_group(ids: Sequence[str], groups: Sequence[str], per_group: int, seed: int = 0) -> np.ndarray:
    """True for up to ``per_group`` documents of each group (e.g. domain/lang), the ones with the
    smallest :func:`seeded_key`: the same documents on every run and every partitioning."""
    keyed = sorted(range(len(ids)), key=lambda i: seeded_key(seed, ids[i]))
    taken: dict[str, int] = {}
    mask = np.zeros(len(ids), dtype=bool)
    for i in keyed:
        if taken.get(groups[i], 0) < per_group:
            taken[groups[i]] = taken.get(groups[i], 0) + 1
            mask[i] = True
    return mask
