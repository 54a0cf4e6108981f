"""LSH banding for MinHash signatures: choosing (bands, rows) and hashing bands.

Two documents become near-duplicate candidates when they share a band hash: the same
``rows`` signature values in the same band. The distributed dedup shuffles on
``(band, band_hash)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def _datasketch_search():
    """datasketch's own parameter search (the one MinHashLSH runs), so our (b, r) always equals
    MinHashLSH(threshold, num_perm, weights).b/.r; None without datasketch or scipy. Imported
    when asked: datasketch imports scipy.integrate (~0.5 s), which every worker process that
    only hashes bands would otherwise pay."""
    try:
        from datasketch.lsh import _optimal_param
    except ImportError:  # pragma: no cover - datasketch (or scipy) missing
        return None
    return _optimal_param


def _integrate(f, lo: float, hi: float, n: int = 2048) -> float:
    """Composite Simpson's rule (fallback when scipy's quad via datasketch is unavailable)."""
    if hi <= lo:
        return 0.0
    x = np.linspace(lo, hi, n + 1)
    y = f(x)
    h = (hi - lo) / n
    return float(h / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum()))


def _optimal_param_fallback(threshold, num_perm, false_positive_weight, false_negative_weight):
    """datasketch's ``_optimal_param``: minimise the weighted integrated FP and FN rates."""
    min_error = float("inf")
    opt = (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):

            def p(s, b=b, r=r):
                return 1 - (1 - s ** float(r)) ** float(b)

            fp = _integrate(p, 0.0, threshold)
            fn = _integrate(lambda s, p=p: 1 - p(s), threshold, 1.0)
            error = fp * false_positive_weight + fn * false_negative_weight
            if error < min_error:
                min_error, opt = error, (b, r)
    return opt


@lru_cache(maxsize=256)
def optimal_bands(
    threshold: float,
    num_perm: int,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
) -> tuple[int, int]:
    """``(bands, rows)`` minimising the weighted false positive / negative probability mass
    for Jaccard ``threshold``, exactly as ``datasketch.MinHashLSH`` chooses them."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be in [0.0, 1.0]")
    if num_perm < 2:
        raise ValueError("num_perm must be at least 2")
    if abs(false_positive_weight + false_negative_weight - 1.0) > 1e-6:
        raise ValueError("false_positive_weight + false_negative_weight must equal 1.0")
    search = _datasketch_search() or _optimal_param_fallback
    b, r = search(threshold, num_perm, false_positive_weight, false_negative_weight)
    return int(b), int(r)


# splitmix64 constants (Steele, Lea, Flood 2014).
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_BAND_SALT = np.uint64(0x6375726174650001)  # "curate" + 1: keeps band 0 off the zero state


def _mix64_in_place(z: np.ndarray, scratch: np.ndarray, result: np.ndarray | None = None) -> None:
    """The splitmix64 finaliser (a bijective avalanche on uint64, wrapping arithmetic) of ``z``,
    written into ``result`` (default: ``z`` itself, which it overwrites), with ``scratch`` (same
    shape) for the shifts: no temporary array per step. Only the last operation writes
    ``result``, so a caller's buffer costs no extra pass over the data."""
    for shift, multiplier in ((_S30, _M1), (_S27, _M2), (_S31, None)):
        np.right_shift(z, shift, out=scratch)
        np.bitwise_xor(z, scratch, out=z if multiplier is not None or result is None else result)
        if multiplier is not None:
            np.multiply(z, multiplier, out=z)


def band_hashes(signatures: np.ndarray, bands: int, rows: int, out: np.ndarray | None = None) -> np.ndarray:
    """A stable 64-bit hash of each band of each signature, shape ``(n_docs, bands)`` uint64.

    Band ``k`` covers signature columns ``[k * rows, (k + 1) * rows)`` (as in datasketch's
    MinHashLSH); the band index is mixed into the starting state so equal row values in
    different bands hash differently. Per row: ``h = mix64(h + GOLDEN + value)``, the
    splitmix64 step. Deterministic across runs, processes and platforms.

    ``out`` (an ``(n_docs, bands)`` uint64 array or view, strided is fine) receives the hashes
    from the last operation itself (no copy pass), so they land in a caller's own buffer. Each step works in place over column
    views of the signatures: no widened copy of the matrix and no temporary per operation.
    """
    sig = np.asarray(signatures)
    if sig.ndim == 1:
        sig = sig[None, :]
    if sig.ndim != 2 or sig.dtype.kind not in "ui":
        raise ValueError("signatures must be a 2-D integer array (n_docs, num_perm)")
    if bands < 1 or rows < 1:
        raise ValueError("bands and rows must be positive")
    if bands * rows > sig.shape[1]:
        raise ValueError(f"bands * rows = {bands * rows} exceeds num_perm = {sig.shape[1]}")
    n = sig.shape[0]
    if sig.dtype.kind == "i":  # negative values wrap as their uint64 two's complement, as astype does
        sig = sig.astype(np.int64).view(np.uint64)
    h = np.empty((n, bands), np.uint64)
    scratch = np.empty_like(h)
    with np.errstate(over="ignore"):
        start = np.arange(bands, dtype=np.uint64) + _BAND_SALT
        _mix64_in_place(start, np.empty_like(start))
        h[:] = start
        for j in range(rows):
            np.add(h, _GOLDEN, out=h)
            np.add(h, sig[:, j : bands * rows : rows], out=h, casting="unsafe")  # column j of every band
            _mix64_in_place(h, scratch, out if j == rows - 1 else None)  # the last step lands in out
    return h if out is None else out
