"""Stop when the standard error is small enough."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from engine._registry import Param, positive
from engine.stopping._base import StopRule, register_rule

if TYPE_CHECKING:
    from engine._core import Rows


@register_rule
class StandardError(StopRule):
    """Stop when ``SE(theta_hat) <= threshold``."""

    name = "se"
    reason = "se"
    params: ClassVar[dict[str, Param]] = {
        "threshold": Param(0.3, "number", positive, "largest SE at which to stop")
    }
    threshold: float

    def met(self, rows: Rows, idx: NDArray[np.intp]) -> NDArray[np.bool_]:
        return rows.se[idx] <= self.threshold
