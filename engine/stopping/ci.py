"""Classification by a confidence interval clear of every cut score."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from engine._registry import Param, open_unit
from engine.stopping._base import StopRule, register_rule

if TYPE_CHECKING:
    from engine._core import Plan, Rows


@register_rule
class ConfidenceInterval(StopRule):
    """Stop when ``theta_hat +- z SE`` (level ``level``) contains no cut score."""

    name = "ci"
    reason = "classified"
    needs_cut_scores = True
    params: ClassVar[dict[str, Param]] = {
        "level": Param(0.95, "number", open_unit, "confidence level")
    }
    level: float

    def __init__(self, plan: Plan, **params: Any) -> None:
        super().__init__(plan, **params)
        self.z = float(norm.ppf(0.5 + self.level / 2))
        self.cuts = np.asarray(plan.config.stopping.cut_scores)

    def met(self, rows: Rows, idx: NDArray[np.intp]) -> NDArray[np.bool_]:
        half = self.z * rows.se[idx]
        gap = np.abs(rows.theta[idx][:, None] - self.cuts[None, :])
        return (gap > half[:, None]).all(axis=1)
