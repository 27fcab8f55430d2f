"""Stop when the standard error has stopped improving (jsCAT's SE-plateau rule)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from engine._registry import Param, at_least_one, positive
from engine.stopping._base import StopRule, register_rule

if TYPE_CHECKING:
    from engine._core import Rows


@register_rule
class SEPlateau(StopRule):
    """Stop when the SE changed by at most ``tolerance`` over the last ``window`` items.

    With ``s_j`` the SE after the ``j``-th scored item (``s_0`` the SE before any), the
    rule is met after ``m >= window`` scored items when
    ``max(s_{m-window} .. s_m) - min(s_{m-window} .. s_m) <= tolerance``: more items
    would barely sharpen the estimate (items left are uninformative at this ability).
    """

    name = "se_plateau"
    reason = "se_plateau"
    params: ClassVar[dict[str, Param]] = {
        "tolerance": Param(0.01, "number", positive, "largest change of the SE"),
        "window": Param(3, "integer", at_least_one, "number of scored items"),
    }
    tolerance: float
    window: int

    def met(self, rows: Rows, idx: NDArray[np.intp]) -> NDArray[np.bool_]:
        m = rows.n_scored[idx]
        scored = rows.hist_scored[idx]
        rank = np.cumsum(scored, axis=1)  # scored items up to each position
        first = (m - self.window)[:, None]
        use = scored & (rank >= np.maximum(first, 1))
        se = rows.hist_se[idx]
        high = np.where(use, se, -np.inf).max(axis=1)
        low = np.where(use, se, np.inf).min(axis=1)
        start = first[:, 0] == 0  # the window reaches back to before the first item
        high = np.where(start, np.maximum(high, rows.se_init[idx]), high)
        low = np.where(start, np.minimum(low, rows.se_init[idx]), low)
        return (m >= self.window) & (high - low <= self.tolerance)
