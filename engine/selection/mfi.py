"""Maximum Fisher information at the current estimate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from engine.selection._base import SELECTORS, Selector

if TYPE_CHECKING:
    from engine._core import Rows


@SELECTORS.register
class MaxInfo(Selector):
    """Maximum Fisher information at the current ability estimate (Lord, 1980).

    Information is read from the bank's fine table (linear interpolation, step 0.01 up to
    4,000 items).
    """

    name = "mfi"

    def criterion(self, rows: Rows, sub: NDArray[np.intp], theta: NDArray) -> NDArray:
        plan = self.plan
        return plan.tables.information_at(theta, plan.lo, plan.hi)
