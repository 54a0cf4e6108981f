"""Near-duplicate detection: shingling, MinHash signatures and LSH banding.

Pure, vectorised library code; the distributed (Ray) dedup stage builds on it.
"""

from curate.dedup.lsh import band_hashes, optimal_bands
from curate.dedup.minhash import (
    MinHasher,
    estimated_jaccard,
    jaccard,
    normalize_for_dedup,
    shingles,
)

__all__ = [
    "MinHasher",
    "band_hashes",
    "estimated_jaccard",
    "jaccard",
    "normalize_for_dedup",
    "optimal_bands",
    "shingles",
]
