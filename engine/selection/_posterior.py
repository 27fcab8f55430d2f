"""Posterior weights on the quadrature grid, shared by the posterior-weighted selectors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from engine.ability import normal_log_weight

if TYPE_CHECKING:
    from engine._core import Plan, Rows


def posterior(plan: Plan, rows: Rows, sub: NDArray[np.intp], theta: NDArray) -> NDArray:
    """Posterior weights of the rows ``sub`` on the grid, shape ``(R, Q)``, rows sum to 1.

    The prior is the row's own (a test started with its own prior) or the
    configuration's. Before any scored item it is centred at the drawn start ability, so
    that first items spread.
    """
    base = rows.log_weight(sub)
    if base.ndim == 1:
        base = np.broadcast_to(base, (sub.size, plan.points.size))
    fresh = rows.n_scored[sub] == 0
    if fresh.any():
        sd = plan.config.prior_sd if rows.prior is None else rows.prior[1][sub][:, None]
        shifted = normal_log_weight(plan.points[None, :], theta[:, None], sd)
        base = np.where(fresh[:, None], shifted, base)
    log_post = rows.loglik[sub] + base
    log_post -= log_post.max(axis=1, keepdims=True)
    w = np.exp(log_post)
    return w / w.sum(axis=1, keepdims=True)
