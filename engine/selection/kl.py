"""Posterior-weighted Kullback-Leibler information."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from engine.selection._base import SELECTORS, Selector
from engine.selection._posterior import posterior

if TYPE_CHECKING:
    from engine._core import Rows


@SELECTORS.register
class KullbackLeibler(Selector):
    """Posterior-weighted Kullback-Leibler information (Chang & Ying, 1996).

    ``KL_i = sum_k P_ik(theta_hat) [log P_ik(theta_hat) - E_post log P_ik(theta)]``.
    """

    name = "kl"

    def criterion(self, rows: Rows, sub: NDArray[np.intp], theta: NDArray) -> NDArray:
        plan = self.plan
        w = posterior(plan, rows, sub, theta)  # (R, Q)
        n, k_max, q = plan.log_prob.shape
        logp_now = plan.bank.log_prob(theta)  # (R, n, K)
        p_now = np.exp(logp_now)
        expected = (plan.log_prob.reshape(n * k_max, q) @ w.T).T.reshape(-1, n, k_max)
        logp_now = np.where(p_now > 0, logp_now, 0.0)
        return (p_now * (logp_now - expected)).sum(axis=2)
