"""Classification by the sequential probability ratio test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from engine._registry import Param, positive
from engine.stopping._base import StopRule, register_rule

if TYPE_CHECKING:
    from engine._core import Plan, Rows


def _below_half(value: float) -> str | None:
    return None if 0 < value < 0.5 else "must be in (0, 0.5)"


@register_rule
class SPRT(StopRule):
    """Stop when every cut score is decided by an SPRT (Reckase, 1983; Eggen, 1999).

    For each cut ``c`` the log-likelihood ratio of ``c + delta`` against ``c - delta``
    is compared with ``log((1 - beta) / alpha)`` and ``log(beta / (1 - alpha))``.
    """

    name = "sprt"
    reason = "classified"
    needs_cut_scores = True
    params: ClassVar[dict[str, Param]] = {
        "delta": Param(0.2, "number", positive, "half width of the indifference region"),
        "alpha": Param(0.05, "number", _below_half, "type I error rate"),
        "beta": Param(0.05, "number", _below_half, "type II error rate"),
    }
    delta: float
    alpha: float
    beta: float

    def __init__(self, plan: Plan, **params: Any) -> None:
        super().__init__(plan, **params)
        cuts = plan.config.stopping.cut_scores
        pts = tuple(float(v) for c in cuts for v in (c - self.delta, c + self.delta))
        self.log_prob = plan.tables.points(pts).log_prob0  # (n, K, 2C)
        self.upper = np.log((1 - self.beta) / self.alpha)
        self.lower = np.log(self.beta / (1 - self.alpha))

    def init_rows(self, rows: Rows) -> None:
        rows.cut_loglik = np.zeros((rows.n_rows, self.log_prob.shape[2]))

    def add_scored(self, rows: Rows, idx: Any, items: Any, resp: Any) -> None:
        rows.cut_loglik[idx] += self.log_prob[items, resp]

    def sum_scored(self, rows: Rows, items: Any, resp: Any) -> None:
        rows.cut_loglik[0] = self.log_prob[items, resp].sum(axis=0)

    def met(self, rows: Rows, idx: NDArray[np.intp]) -> NDArray[np.bool_]:
        ll = rows.cut_loglik[idx]
        ratio = ll[:, 1::2] - ll[:, 0::2]  # log L(c + delta) - log L(c - delta)
        decided = (ratio >= self.upper) | (ratio <= self.lower)
        return decided.all(axis=1) & (rows.n_scored[idx] > 0)
