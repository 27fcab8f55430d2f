"""Stop when the standard error is small enough."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from engine._registry import Param, positive
from engine.stopping._base import StopRule, register_rule


@register_rule
class StandardError(StopRule):
    """Stop when ``SE(theta_hat) <= threshold``."""

    name = "se"
    reason = "se"
    params: ClassVar[dict[str, Param]] = {
        "threshold": Param(0.3, "number", positive, "largest SE at which to stop")
    }
    threshold: float

    def met(self, rows: Any, idx: NDArray[np.intp]) -> NDArray[np.bool_]:
        return rows.se[idx] <= self.threshold
