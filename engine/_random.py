"""Counter-based random draws: every draw of a test is a function of its seed.

Every draw is ``uniforms(seed, step, purpose, attempt)`` (SplitMix64 mixing), so a row
needs no generator object and a test replays exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

# purposes of random draws
START, PRETEST_POSITIONS, PRETEST_ITEM, RANDOMESQUE, SYMPSON_HETTER, RESPONSE = range(1, 7)


def uniforms(seed: NDArray, step: NDArray, purpose: int, attempt: NDArray | int = 0) -> FloatArray:
    """Counter-based uniform draws in ``[0, 1)``, one per row.

    Parameters
    ----------
    seed, step : array_like of int, shape (N,)
    purpose : int
    attempt : int or array_like of int, shape (N,)

    Returns
    -------
    ndarray, shape (N,)
    """
    with np.errstate(over="ignore"):
        z = np.asarray(seed, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z ^= np.asarray(step, dtype=np.uint64) * np.uint64(0xBF58476D1CE4E5B9)
        z ^= np.uint64(purpose) * np.uint64(0x94D049BB133111EB)
        z ^= np.asarray(attempt, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93)
        for _ in range(2):
            z = z + np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def derive_seeds(seed: int, n: int) -> NDArray[np.int64]:
    """``n`` test seeds (``0 <= s < 2**53``) derived from one simulation seed."""
    u = uniforms(np.full(n, seed), np.arange(n), 99)
    return (u * 2.0**53).astype(np.int64)


def draw_response(prob: FloatArray, u: FloatArray) -> IntArray:
    """Category drawn by inverse CDF: ``prob`` (N, K) zero-padded, ``u`` (N,)."""
    k = (np.cumsum(prob, axis=1) < u[:, None]).sum(axis=1)
    n_cat = (prob > 0).sum(axis=1)
    return np.minimum(k, np.maximum(n_cat - 1, 0)).astype(np.intp)
