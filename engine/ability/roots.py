"""Estimators defined as roots of an estimating equation: ML, WLE (Warm) and MAP."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from engine._tables import bank_tables, pair_eval
from engine.ability._base import AbilityEstimator, FloatArray, IntArray, Prior, _grid_sums
from engine.ability.eap import EAP
from item_banks.bank import ItemBank

_ROOT_GRID_STEP = 0.1


class _RootEstimator(AbilityEstimator):
    """Estimators defined as the root of an estimating equation ``f(theta) = 0``."""

    fallback_rule: ClassVar[str] = "ml"  # "ml": EAP for non-mixed or empty patterns

    def get_params(self) -> dict[str, object]:
        return {"method": self.method, "theta_range": list(self.theta_range)}

    # terms added to the score and to the log-likelihood (objective) ----------------
    def _extra_grid(
        self, grid, cols: IntArray, resp: IntArray, prior: Prior = None
    ) -> tuple[FloatArray | float, FloatArray | float]:
        return 0.0, 0.0

    def _extra_pairs(
        self,
        bank: ItemBank,
        theta: FloatArray,
        pairs: tuple[IntArray, IntArray, IntArray],
        prior: Prior = None,
    ) -> FloatArray | float:
        """Term added to the score at ``theta`` (N,), from the observed pairs."""
        return 0.0

    def _se(self, info: FloatArray, prior: Prior = None) -> FloatArray:
        return 1.0 / np.sqrt(np.maximum(info, 1e-12))

    def _f_pairs(
        self,
        bank: ItemBank,
        theta: FloatArray,
        pairs: tuple[IntArray, IntArray, IntArray],
        prior: Prior = None,
    ) -> FloatArray:
        """Estimating function at one theta per row, from the observed (row, item) pairs."""
        r, items, x = pairs
        dl = pair_eval(bank, theta[r], items, "dlog_prob_dtheta")
        score = np.bincount(r, weights=dl[np.arange(r.size), x], minlength=theta.size)
        return score + self._extra_pairs(bank, theta, pairs, prior)

    def _estimate_rows(
        self, bank: ItemBank, cols: IntArray, resp: IntArray, prior: Prior = None
    ) -> tuple[FloatArray, FloatArray]:
        lo, hi = self.theta_range
        tables = bank_tables(bank)
        n_grid = round((hi - lo) / _ROOT_GRID_STEP) + 1
        grid = tables.grid(lo, hi, n_grid)
        pts = grid.points
        n_rows = resp.shape[0]
        obs = resp >= 0
        n_obs = obs.sum(axis=1)
        f = _grid_sums(grid.score, cols, resp)
        obj = _grid_sums(grid.log_prob0, cols, resp)
        extra_f, extra_obj = self._extra_grid(grid, cols, resp, prior)
        f = f + extra_f
        obj = obj + extra_obj
        # candidate maxima: interior sign changes + -> -, and the two edges
        cross = (f[:, :-1] > 0) & (f[:, 1:] <= 0)
        cand = np.where(cross, np.maximum(obj[:, :-1], obj[:, 1:]), -np.inf)
        q = np.argmax(cand, axis=1)
        best = cand[np.arange(n_rows), q]
        low_val = np.where(f[:, 0] <= 0, obj[:, 0], -np.inf)
        high_val = np.where(f[:, -1] > 0, obj[:, -1], -np.inf)
        theta = np.where(high_val > np.maximum(best, low_val), hi, lo)
        interior = best >= np.maximum(low_val, high_val)
        interior &= np.isfinite(best)
        if interior.any():
            rows = np.nonzero(interior)[0]
            theta[rows] = self._refine(
                bank,
                _observed_pairs(cols, resp[rows]),
                pts[q[rows]],
                pts[q[rows] + 1],
                f[rows, q[rows]],
                f[rows, q[rows] + 1],
                None if prior is None else (prior[0][rows], prior[1][rows]),
            )
        # standard errors at the estimate
        pairs = _observed_pairs(cols, resp)
        info = _pair_information(bank, theta, pairs)
        se = self._se(info, prior)
        # rule for patterns without a (usable) root
        k_max = bank.n_categories[cols][None, :] - 1
        all_low = np.where(obs, resp == 0, True).all(axis=1)
        all_high = np.where(obs, resp == k_max, True).all(axis=1)
        if self.fallback_rule == "ml":
            fallback = (n_obs == 0) | all_low | all_high
        elif self.fallback_rule == "wle":
            fallback = (n_obs == 0) | ((all_low | all_high) & ~interior)
        else:
            fallback = np.zeros(n_rows, dtype=bool)
        if fallback.any():
            rows = np.nonzero(fallback)[0]
            eap = EAP(0.0, 1.0, 61, self.theta_range)
            sub = None if prior is None else (prior[0][rows], prior[1][rows])
            theta[rows], se[rows] = eap._estimate_rows(bank, cols, resp[rows], sub)
        return theta, se

    def _refine(
        self,
        bank: ItemBank,
        pairs: tuple[IntArray, IntArray, IntArray],
        a: FloatArray,
        b: FloatArray,
        fa: FloatArray,
        fb: FloatArray,
        prior: Prior = None,
    ) -> FloatArray:
        """Illinois (modified regula falsi) in the brackets ``[a, b]``, ``fa > 0 >= fb``."""
        a, b, fa, fb = a.copy(), b.copy(), fa.copy(), fb.copy()
        active = np.abs(fb) > 0
        for _ in range(100):
            if not active.any():
                break
            denom = fb - fa
            c = np.where(denom != 0, b - fb * (b - a) / np.where(denom != 0, denom, 1.0), a)
            c = np.clip(c, np.minimum(a, b), np.maximum(a, b))
            c = np.where(active, c, b)
            keep = active[pairs[0]]
            fc = self._f_pairs(bank, c, (pairs[0][keep], pairs[1][keep], pairs[2][keep]), prior)
            flip = np.sign(fc) != np.sign(fb)
            upd = active
            a = np.where(upd & flip, b, a)
            fa = np.where(upd, np.where(flip, fb, fa * 0.5), fa)
            b = np.where(upd, c, b)
            fb = np.where(upd, fc, fb)
            done = (np.abs(fc) < 1e-12) | (np.abs(b - a) < 1e-11)
            active &= ~done
        return b


def _observed_pairs(cols: IntArray, resp: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """(row, bank position, response) of every observed entry of ``resp`` (N, m)."""
    r, j = np.nonzero(resp >= 0)
    return r, cols[j], resp[r, j]


def _pair_information(
    bank: ItemBank, theta: FloatArray, pairs: tuple[IntArray, IntArray, IntArray]
) -> FloatArray:
    """Test information of each row at its theta, shape ``(N,)``."""
    r, items, _ = pairs
    return np.bincount(r, weights=pair_eval(bank, theta[r], items, "information"),
                       minlength=theta.size)  # fmt: skip


class ML(_RootEstimator):
    """Maximum likelihood estimate (root of the score), EAP for non-mixed patterns.

    Parameters
    ----------
    theta_range : (float, float), default (-4.0, 4.0)

    Examples
    --------
    >>> ML().get_params()
    {'method': 'ml', 'theta_range': [-4.0, 4.0]}
    """

    method = "ml"
    name = "ml"

    def __init__(self, theta_range: tuple[float, float] = (-4.0, 4.0)) -> None:
        super().__init__(theta_range)
        self._raise_problems()


class WLE(_RootEstimator):
    """Warm's weighted likelihood estimate (root of ``S + J / (2 I)``).

    Parameters
    ----------
    theta_range : (float, float), default (-4.0, 4.0)

    Examples
    --------
    >>> WLE(theta_range=(-5, 5)).theta_range
    (-5.0, 5.0)
    """

    method = "wle"
    name = "wle"
    fallback_rule = "wle"  # EAP for empty patterns and non-mixed ones without a root

    def __init__(self, theta_range: tuple[float, float] = (-4.0, 4.0)) -> None:
        super().__init__(theta_range)
        self._raise_problems()

    def _extra_grid(self, grid, cols: IntArray, resp: IntArray, prior: Prior = None):
        obs = (resp >= 0).astype(float)
        info = obs @ grid.info[cols]
        j_term = obs @ grid.j_term[cols]
        safe = np.maximum(info, 1e-12)
        return j_term / (2.0 * safe), 0.5 * np.log(safe)

    def _f_pairs(self, bank, theta, pairs, prior=None):
        # score + J / (2 I) from one evaluation at theta and two at theta +- h
        r, items, x = pairs
        t = theta[r]
        h = 1e-4
        logp, dlog = pair_eval(bank, t, items, ("log_prob", "dlog_prob_dtheta"))
        prob = np.exp(logp)
        slope = prob * dlog
        ends = []
        for shift in (h, -h):
            lp, dl = pair_eval(bank, t + shift, items, ("log_prob", "dlog_prob_dtheta"))
            ends.append(np.exp(lp) * dl)
        curve = (ends[0] - ends[1]) / (2.0 * h)
        with np.errstate(divide="ignore", invalid="ignore"):
            j_pair = np.where(prob > 0, slope * curve / np.where(prob > 0, prob, 1.0), 0.0)
        n = theta.size
        score = np.bincount(r, weights=dlog[np.arange(r.size), x], minlength=n)
        info = np.bincount(r, weights=(slope * dlog).sum(axis=1), minlength=n)
        j_term = np.bincount(r, weights=j_pair.sum(axis=1), minlength=n)
        return score + j_term / (2.0 * np.maximum(info, 1e-12))


class MAP(_RootEstimator):
    """Maximum a posteriori estimate under a normal prior.

    Parameters
    ----------
    prior_mean : float, default 0.0
    prior_sd : float, default 1.0
    theta_range : (float, float), default (-4.0, 4.0)

    Examples
    --------
    >>> MAP(prior_sd=2.0).prior_sd
    2.0
    """

    method = "map"
    name = "map"
    fallback_rule = "none"  # the posterior mode always exists

    def __init__(
        self,
        prior_mean: float = 0.0,
        prior_sd: float = 1.0,
        theta_range: tuple[float, float] = (-4.0, 4.0),
    ) -> None:
        super().__init__(theta_range)
        self.prior_mean = float(prior_mean)
        self.prior_sd = float(prior_sd)
        if not np.isfinite(self.prior_mean):
            self._problems.append(f"prior_mean must be finite, got {prior_mean!r}")
        if not (np.isfinite(self.prior_sd) and self.prior_sd > 0):
            self._problems.append(f"prior_sd must be > 0, got {prior_sd!r}")
        self._raise_problems()

    def get_params(self) -> dict[str, object]:
        return {
            "method": "map",
            "prior_mean": self.prior_mean,
            "prior_sd": self.prior_sd,
            "theta_range": list(self.theta_range),
        }

    def _extra_grid(self, grid, cols, resp, prior: Prior = None):
        if prior is None:
            z = (grid.points - self.prior_mean) / self.prior_sd
            return -z / self.prior_sd, -0.5 * z**2
        mean, sd = prior[0][:, None], prior[1][:, None]
        z = (grid.points[None, :] - mean) / sd
        return -z / sd, -0.5 * z**2

    def _extra_pairs(self, bank, theta, pairs, prior: Prior = None):
        if prior is None:
            return -(theta - self.prior_mean) / self.prior_sd**2
        return -(theta - prior[0]) / prior[1] ** 2

    def _se(self, info: FloatArray, prior: Prior = None) -> FloatArray:
        sd = self.prior_sd if prior is None else prior[1]
        return 1.0 / np.sqrt(info + 1.0 / sd**2)


