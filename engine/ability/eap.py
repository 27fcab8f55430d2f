"""EAP: the posterior mean under a normal prior, by quadrature."""

from __future__ import annotations

import numpy as np

from engine._tables import bank_tables
from engine.ability._base import (
    AbilityEstimator,
    FloatArray,
    IntArray,
    Prior,
    _grid_sums,
    eap_from_loglik,
    normal_log_weight,
    prior_log_weight,
)
from item_banks.bank import ItemBank


class EAP(AbilityEstimator):
    """Expected a posteriori estimate under a normal prior, by quadrature.

    Parameters
    ----------
    prior_mean : float, default 0.0
    prior_sd : float, default 1.0
        Must be > 0.
    n_points : int, default 61
        Equally spaced quadrature points on ``theta_range`` (>= 5).
    theta_range : (float, float), default (-4.0, 4.0)

    Examples
    --------
    >>> EAP(prior_sd=1.5).prior_sd
    1.5
    """

    method = "eap"
    name = "eap"

    def __init__(
        self,
        prior_mean: float = 0.0,
        prior_sd: float = 1.0,
        n_points: int = 61,
        theta_range: tuple[float, float] = (-4.0, 4.0),
    ) -> None:
        super().__init__(theta_range)
        self.prior_mean = float(prior_mean)
        self.prior_sd = float(prior_sd)
        self.n_points = int(n_points)
        if not np.isfinite(self.prior_mean):
            self._problems.append(f"prior_mean must be finite, got {prior_mean!r}")
        if not (np.isfinite(self.prior_sd) and self.prior_sd > 0):
            self._problems.append(f"prior_sd must be > 0, got {prior_sd!r}")
        if self.n_points != n_points or not 5 <= self.n_points <= 2001:
            self._problems.append(f"n_points must be an integer in 5..2001, got {n_points!r}")
        self._raise_problems()

    def get_params(self) -> dict[str, object]:
        return {
            "method": "eap",
            "prior_mean": self.prior_mean,
            "prior_sd": self.prior_sd,
            "n_points": self.n_points,
            "theta_range": list(self.theta_range),
        }

    def log_weight(self, points: FloatArray) -> FloatArray:
        """Log prior density plus log trapezoid weight at the grid points, shape ``(Q,)``."""
        return normal_log_weight(points, self.prior_mean, self.prior_sd)

    def _estimate_rows(
        self, bank: ItemBank, cols: IntArray, resp: IntArray, prior: Prior = None
    ) -> tuple[FloatArray, FloatArray]:
        grid = bank_tables(bank).grid(*self.theta_range, self.n_points)
        loglik = _grid_sums(grid.log_prob0, cols, resp)
        if prior is None:
            log_weight = self.log_weight(grid.points)
        else:
            log_weight = prior_log_weight(grid.points, prior)
        return eap_from_loglik(loglik, grid.points, log_weight)

