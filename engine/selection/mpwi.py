"""Maximum posterior-weighted information (van der Linden, 1998)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from engine.selection._base import SELECTORS, Selector
from engine.selection._posterior import posterior

if TYPE_CHECKING:
    from engine._core import Rows


@SELECTORS.register
class MaxPosteriorWeightedInfo(Selector):
    """Maximum posterior-weighted Fisher information (van der Linden, 1998).

    ``MPWI_i = integral I_i(theta) p(theta | data) d theta``, by quadrature on the
    estimator's grid under the test's prior (its own or the configuration's): unlike
    maximum information at a point estimate, it accounts for the uncertainty of the
    estimate early in a test.
    """

    name = "mpwi"

    def criterion(self, rows: Rows, sub: NDArray[np.intp], theta: NDArray) -> NDArray:
        plan = self.plan
        w = posterior(plan, rows, sub, theta)  # (R, Q)
        return w @ plan.grid.info.T  # (R, n)
