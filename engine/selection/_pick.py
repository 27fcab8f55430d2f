"""The pick wrapped around every selector: best item, randomesque, exposure refusals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from engine._random import RANDOMESQUE, uniforms

if TYPE_CHECKING:
    from engine._core import Plan, Rows

IntArray = NDArray[np.intp]


def pick(plan: Plan, rows: Rows, sub: IntArray, crit: NDArray) -> IntArray:
    """Best (or randomesque) item per row, with exposure-control refusals.

    ``crit`` (R, n) is the caller's fresh array, ``-inf`` where not eligible; ``-1`` where
    nothing is left. A refused item is blocked for the rest of that row's test and
    recorded in ``rows.rejected``.
    """
    k_later, k_first = plan.config.selection.randomesque, plan.config.start.randomesque
    control = plan.exposure
    if control is None and (k_later == 1 and (k_first == 1 or rows.n_scored[sub].min() > 0)):
        best_item = np.argmax(crit, axis=1)
        best = crit[np.arange(sub.size), best_item]
        return np.where(np.isfinite(best), best_item, -1)
    k_rows = np.where(rows.n_scored[sub] == 0, max(k_first, k_later), k_later)
    out = np.full(sub.size, -1, dtype=np.intp)
    pending = np.arange(sub.size)
    attempt = np.zeros(sub.size, dtype=np.intp)
    while pending.size:
        c = crit[pending]
        choice = np.argmax(c, axis=1)
        for k in np.unique(k_rows[pending]):
            if k > 1:
                r = np.nonzero(k_rows[pending] == k)[0]
                p = pending[r]
                choice[r] = randomesque(c[r], int(k), rows.seed[sub[p]], rows.n_total[sub[p]],
                                        attempt[p])  # fmt: skip
        best = c[np.arange(pending.size), choice]
        none_left = ~np.isfinite(best)
        accept = ~none_left
        if control is not None:
            refused = accept & control.refuses(rows, sub[pending], choice, attempt[pending])
            if refused.any():
                r = pending[refused]
                crit[r, choice[refused]] = -np.inf
                rows.blocked[sub[r], choice[refused]] = True
                for row, item in zip(sub[r], choice[refused], strict=True):
                    rows.rejected[row].append(int(item))
                attempt[r] += 1
            accept &= ~refused
        out[pending[accept]] = choice[accept]
        pending = pending[~(accept | none_left)]
    return out


def randomesque(crit: NDArray, k: int, seed, step, attempt) -> IntArray:
    """One of the ``k`` best items of each row, drawn uniformly (ties: lower index first)."""
    n_rows = crit.shape[0]
    k = min(k, crit.shape[1])
    work = np.array(crit, copy=True)
    top = np.empty((n_rows, k), dtype=np.intp)
    valid = np.empty((n_rows, k), dtype=bool)
    every = np.arange(n_rows)
    for j in range(k):  # k argmax passes: cheaper than a partition for small k
        best = np.argmax(work, axis=1)
        top[:, j] = best
        valid[:, j] = np.isfinite(work[every, best])
        work[every, best] = -np.inf
    order = np.argsort(top, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    count = valid.sum(axis=1)
    u = uniforms(seed, step, RANDOMESQUE, attempt)
    chosen = np.floor(u * np.maximum(count, 1)).astype(np.intp)
    pos = np.argmax(np.cumsum(valid, axis=1) > chosen[:, None], axis=1)
    return top[every, pos]
