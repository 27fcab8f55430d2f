"""Minimum expected posterior variance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from engine.selection._base import SELECTORS, Selector
from engine.selection._posterior import posterior

if TYPE_CHECKING:
    from engine._core import Rows


@SELECTORS.register
class MinExpectedPosteriorVariance(Selector):
    """Minimum expected posterior variance after the item (van der Linden, 1998).

    The criterion is minus ``sum_k P(X = k | data) Var(theta | data, X = k)``.
    """

    name = "mepv"

    def criterion(self, rows: Rows, sub: NDArray[np.intp], theta: NDArray) -> NDArray:
        plan = self.plan
        w = posterior(plan, rows, sub, theta)
        n, k_max, q = plan.log_prob.shape
        prob = plan.grid.prob
        prob = np.where(np.isfinite(plan.grid.log_prob), prob, 0.0).reshape(n * k_max, q)
        pts = plan.points
        m0 = (prob @ w.T).T.reshape(-1, n, k_max)
        m1 = (prob @ (w * pts).T).T.reshape(-1, n, k_max)
        m2 = (prob @ (w * pts**2).T).T.reshape(-1, n, k_max)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.where(m0 > 0, m2 / m0 - (m1 / m0) ** 2, 0.0)
        return -(m0 * np.maximum(var, 0.0)).sum(axis=2)
