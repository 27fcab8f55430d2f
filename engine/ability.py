"""Ability estimation: EAP, MAP, ML and WLE (Warm) for any mix of item models.

Every estimator works on one response pattern (:meth:`estimate`) or on a persons x items
matrix with missing responses (:meth:`estimate_many`, vectorised over persons). The
estimates never leave ``theta_range`` and their standard errors are always finite.

Rules
-----
* **EAP**: posterior mean on ``n_points`` equally spaced points of ``theta_range``
  (trapezoid weights) under a normal prior truncated to the range; SE is the posterior
  standard deviation. An empty pattern gives the (truncated) prior mean and SD.
* **MAP**: posterior mode (root of ``S(theta) - (theta - mu) / sigma^2``); SE is
  ``1 / sqrt(I(theta) + 1 / sigma^2)``.
* **ML**: root of the score ``S(theta) = sum_i d log P_i(x_i | theta) / d theta``; SE is
  ``1 / sqrt(I(theta))``. A pattern that is not mixed (every answered item in its lowest
  category, or every one in its highest, or nothing answered) has no finite ML estimate:
  it is scored by EAP under a standard normal prior on the same range (the "EAP until the
  pattern is mixed" rule of adaptive tests). A mixed pattern whose likelihood keeps
  rising to the edge of the range is given the edge.
* **WLE**: root of Warm's equation ``S(theta) + J(theta) / (2 I(theta)) = 0`` with
  ``J = sum_i sum_k P'_ik P''_ik / P_ik``; SE ``1 / sqrt(I(theta))``. Non-mixed patterns
  keep their WLE when it lies inside the range and otherwise follow the ML rule (EAP).

Roots are bracketed on a grid of step 0.1 (the crossing with the highest objective wins
when there are several, as with some 3PL patterns) and refined by the Illinois method to
``1e-10``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from engine._tables import bank_tables, pair_eval
from item_banks.bank import ItemBank
from item_banks.errors import InvalidConfigError, InvalidResponseError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

_ROOT_GRID_STEP = 0.1
_CHUNK = 2_000_000  # persons x answered items x categories per vectorised block


class AbilityEstimate(NamedTuple):
    """An ability estimate.

    Attributes
    ----------
    theta : float
        Estimate on the logit scale, inside the estimator's ``theta_range``.
    se : float
        Standard error (finite, > 0).
    method : str
        ``"eap"``, ``"map"``, ``"ml"`` or ``"wle"``.
    """

    theta: float
    se: float
    method: str


# ----------------------------------------------------------------------------- helpers
def _check_range(theta_range: tuple[float, float], problems: list[str]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in theta_range)
    except (TypeError, ValueError):
        problems.append(f"theta_range must be two numbers (low, high), got {theta_range!r}")
        return (-4.0, 4.0)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        problems.append(f"theta_range must be finite with low < high, got {theta_range!r}")
    return (lo, hi)


def _grid_sums(table: FloatArray, cols: IntArray, resp: IntArray) -> FloatArray:
    """``sum_j [resp_j >= 0] table[cols_j, resp_j, :]`` for each row, shape ``(N, Q)``.

    ``table`` has shape (n_items, K_max, Q) with zeros in padded categories.
    """
    if resp.shape[0] == 1:
        obs = resp[0] >= 0
        return table[cols[obs], resp[0, obs]].sum(axis=0)[None, :]
    out = np.zeros((resp.shape[0], table.shape[2]))
    sub = table[cols]
    for k in range(table.shape[1]):
        hit = resp == k
        if hit.any():
            out += hit.astype(float) @ sub[:, k, :]
    return out


def _pick(values: FloatArray, resp: IntArray) -> FloatArray:
    """``values[n, j, resp[n, j]]`` with 0 where ``resp < 0``; values (N, m, K)."""
    obs = resp >= 0
    got = np.take_along_axis(values, np.where(obs, resp, 0)[..., None], axis=-1)[..., 0]
    return np.where(obs, got, 0.0)


def eap_from_loglik(
    loglik: FloatArray, points: FloatArray, log_weight: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Posterior mean and SD on a grid.

    Parameters
    ----------
    loglik : ndarray, shape (N, Q)
        Log-likelihood of each row at each grid point.
    points : ndarray, shape (Q,)
    log_weight : ndarray, shape (Q,)
        Log prior density plus log quadrature weight.

    Returns
    -------
    theta, se : ndarray, shape (N,)
    """
    log_post = loglik + log_weight
    log_post = log_post - log_post.max(axis=1, keepdims=True)
    w = np.exp(log_post)
    w /= w.sum(axis=1, keepdims=True)
    theta = (w * points).sum(axis=1)
    var = (w * (points - theta[:, None]) ** 2).sum(axis=1)
    return theta, np.sqrt(np.maximum(var, 1e-300))


def normal_log_weight(points: FloatArray, mean: float, sd: float) -> FloatArray:
    """Log of a normal prior density times trapezoid weights on equally spaced points."""
    trap = np.ones_like(points)
    trap[[0, -1]] = 0.5
    return -0.5 * ((points - mean) / sd) ** 2 + np.log(trap)


def _validate_pattern(
    bank: ItemBank, items: ArrayLike, responses: ArrayLike
) -> tuple[IntArray, IntArray]:
    items_arr = np.asarray(items).reshape(-1)
    resp_arr = np.asarray(responses).reshape(-1)
    if items_arr.size != resp_arr.size:
        raise InvalidResponseError(
            f"items and responses differ in length ({items_arr.size} vs {resp_arr.size})"
        )
    if items_arr.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    if not np.issubdtype(items_arr.dtype, np.integer):
        raise InvalidResponseError(f"items must be integer positions in the bank, got {items!r}")
    n = len(bank)
    bad = (items_arr < 0) | (items_arr >= n)
    if bad.any():
        j = int(np.nonzero(bad)[0][0])
        raise InvalidResponseError(
            f"item position {int(items_arr[j])} (entry {j}) is outside the bank (0..{n - 1})"
        )
    if np.unique(items_arr).size != items_arr.size:
        raise InvalidResponseError("an item appears more than once in the pattern")
    if not np.issubdtype(resp_arr.dtype, np.integer):
        if not np.all(np.isfinite(resp_arr.astype(float))) or np.any(resp_arr % 1 != 0):
            raise InvalidResponseError(f"responses must be integer categories, got {responses!r}")
    items_arr = items_arr.astype(np.intp)
    resp_arr = resp_arr.astype(np.intp)
    k = bank.n_categories[items_arr]
    bad = (resp_arr < 0) | (resp_arr >= k)
    if bad.any():
        j = int(np.nonzero(bad)[0][0])
        raise InvalidResponseError(
            f"response {int(resp_arr[j])} to item {bank.items[items_arr[j]].item_id!r} "
            f"(entry {j}) is not a category 0..{int(k[j]) - 1}",
            details={"item_id": bank.items[items_arr[j]].item_id, "response": int(resp_arr[j])},
        )
    return items_arr, resp_arr


def _validate_matrix(bank: ItemBank, responses: ArrayLike) -> IntArray:
    arr = np.asarray(responses)
    if arr.ndim != 2 or arr.shape[1] != len(bank):
        raise InvalidResponseError(
            f"responses must have shape (n_persons, {len(bank)}), got {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        as_float = arr.astype(float)
        if not np.all(np.isfinite(as_float)) or np.any(as_float % 1 != 0):
            raise InvalidResponseError(
                "responses must be integer categories with -1 for missing (no NaN or fractions)"
            )
    arr = arr.astype(np.intp)
    bad = (arr < -1) | (arr >= bank.n_categories[None, :])
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raise InvalidResponseError(
            f"row {row}, item {bank.items[col].item_id!r}: response {int(arr[row, col])} is "
            f"not -1 (missing) or a category 0..{int(bank.n_categories[col]) - 1} "
            f"({int(bad.sum())} invalid entries in all)",
            details={"row": row, "item_id": bank.items[col].item_id},
        )
    return arr


# -------------------------------------------------------------------------- estimators
class _Estimator(ABC):
    """Shared public interface; subclasses implement ``get_params`` and ``_estimate_rows``."""

    method: ClassVar[str]

    def __init__(self, theta_range: tuple[float, float]) -> None:
        problems: list[str] = []
        self.theta_range = _check_range(theta_range, problems)
        self._problems = problems

    def _raise_problems(self) -> None:
        if self._problems:
            raise InvalidConfigError([f"{self.method} estimator: {p}" for p in self._problems])

    @abstractmethod
    def get_params(self) -> dict[str, object]:
        """Hyperparameters as a JSON-ready dict (``get_estimator(**params)`` rebuilds)."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_params() == other.get_params()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.method, tuple(sorted(map(str, self.get_params().items())))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if k != "method")
        return f"{type(self).__name__}({args})"

    def estimate(self, bank: ItemBank, items: ArrayLike, responses: ArrayLike) -> AbilityEstimate:
        """Estimate ability from one response pattern.

        Parameters
        ----------
        bank : ItemBank
        items : array_like of int, shape (n,)
            Positions of the answered items in the bank (distinct).
        responses : array_like of int, shape (n,)
            Category ``0 .. K-1`` of each answered item.

        Returns
        -------
        AbilityEstimate
            ``theta`` inside ``theta_range`` and a finite ``se``.

        Raises
        ------
        InvalidResponseError
            Naming the item id and value of the first bad entry.

        Examples
        --------
        >>> from item_banks import Item, ItemBank
        >>> bank = ItemBank([Item(f"q{i}", "2pl", {"a": 1.0, "b": b})
        ...                  for i, b in enumerate([-1.0, 0.0, 1.0])], name="demo")
        >>> round(EAP().estimate(bank, [0, 1, 2], [1, 1, 0]).theta, 3)
        0.315
        """
        cols, resp = _validate_pattern(bank, items, responses)
        theta, se = self._estimate_rows(bank, cols, resp[None, :])
        return AbilityEstimate(float(theta[0]), float(se[0]), self.method)

    def estimate_many(self, bank: ItemBank, responses: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Estimate the ability of many persons at once.

        Parameters
        ----------
        bank : ItemBank
        responses : array_like of int, shape (n_persons, len(bank))
            Categories, ``-1`` where an item was not answered.

        Returns
        -------
        theta, se : ndarray, shape (n_persons,)
            Rows with no response get the rule of the estimator (see module docstring).

        Examples
        --------
        >>> from item_banks import Item, ItemBank
        >>> bank = ItemBank([Item(f"q{i}", "2pl", {"a": 1.0, "b": b})
        ...                  for i, b in enumerate([-1.0, 0.0, 1.0])], name="demo")
        >>> theta, se = ML().estimate_many(bank, [[1, 0, -1], [1, 1, 1]])
        >>> theta.round(3)
        array([-0.5  ,  0.959])
        """
        resp = _validate_matrix(bank, responses)
        n_persons = resp.shape[0]
        theta = np.empty(n_persons)
        se = np.empty(n_persons)
        if n_persons == 0:
            return theta, se
        cols = np.arange(len(bank), dtype=np.intp)
        step = max(1, _CHUNK // (len(bank) * bank.max_categories))
        for start in range(0, n_persons, step):
            block = resp[start : start + step]
            if block.shape[0] == 1:  # keep the matrix code path
                block = np.vstack([block, block])
                t, s = self._estimate_rows(bank, cols, block)
                theta[start], se[start] = t[0], s[0]
            else:
                theta[start : start + step], se[start : start + step] = self._estimate_rows(
                    bank, cols, block
                )
        return theta, se

    @abstractmethod
    def _estimate_rows(
        self, bank: ItemBank, cols: IntArray, resp: IntArray
    ) -> tuple[FloatArray, FloatArray]:
        """Estimates and SEs of the rows of ``resp`` (answers to the items ``cols``)."""


class EAP(_Estimator):
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
        self, bank: ItemBank, cols: IntArray, resp: IntArray
    ) -> tuple[FloatArray, FloatArray]:
        grid = bank_tables(bank).grid(*self.theta_range, self.n_points)
        loglik = _grid_sums(grid.log_prob0, cols, resp)
        return eap_from_loglik(loglik, grid.points, self.log_weight(grid.points))


class _RootEstimator(_Estimator):
    """Estimators defined as the root of an estimating equation ``f(theta) = 0``."""

    fallback_rule: ClassVar[str] = "ml"  # "ml": EAP for non-mixed or empty patterns

    def get_params(self) -> dict[str, object]:
        return {"method": self.method, "theta_range": list(self.theta_range)}

    # terms added to the score and to the log-likelihood (objective) ----------------
    def _extra_grid(
        self, grid, cols: IntArray, resp: IntArray
    ) -> tuple[FloatArray | float, FloatArray | float]:
        return 0.0, 0.0

    def _extra_pairs(
        self, bank: ItemBank, theta: FloatArray, pairs: tuple[IntArray, IntArray, IntArray]
    ) -> FloatArray | float:
        """Term added to the score at ``theta`` (N,), from the observed pairs."""
        return 0.0

    def _se(self, info: FloatArray) -> FloatArray:
        return 1.0 / np.sqrt(np.maximum(info, 1e-12))

    def _f_pairs(
        self, bank: ItemBank, theta: FloatArray, pairs: tuple[IntArray, IntArray, IntArray]
    ) -> FloatArray:
        """Estimating function at one theta per row, from the observed (row, item) pairs."""
        r, items, x = pairs
        dl = pair_eval(bank, theta[r], items, "dlog_prob_dtheta")
        score = np.bincount(r, weights=dl[np.arange(r.size), x], minlength=theta.size)
        return score + self._extra_pairs(bank, theta, pairs)

    def _estimate_rows(
        self, bank: ItemBank, cols: IntArray, resp: IntArray
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
        extra_f, extra_obj = self._extra_grid(grid, cols, resp)
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
            )
        # standard errors at the estimate
        pairs = _observed_pairs(cols, resp)
        info = _pair_information(bank, theta, pairs)
        se = self._se(info)
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
            theta[rows], se[rows] = eap._estimate_rows(bank, cols, resp[rows])
        return theta, se

    def _refine(
        self,
        bank: ItemBank,
        pairs: tuple[IntArray, IntArray, IntArray],
        a: FloatArray,
        b: FloatArray,
        fa: FloatArray,
        fb: FloatArray,
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
            fc = self._f_pairs(bank, c, (pairs[0][keep], pairs[1][keep], pairs[2][keep]))
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
    fallback_rule = "wle"  # EAP for empty patterns and non-mixed ones without a root

    def __init__(self, theta_range: tuple[float, float] = (-4.0, 4.0)) -> None:
        super().__init__(theta_range)
        self._raise_problems()

    def _extra_grid(self, grid, cols: IntArray, resp: IntArray):
        obs = (resp >= 0).astype(float)
        info = obs @ grid.info[cols]
        j_term = obs @ grid.j_term[cols]
        safe = np.maximum(info, 1e-12)
        return j_term / (2.0 * safe), 0.5 * np.log(safe)

    def _f_pairs(self, bank, theta, pairs):
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

    def _extra_grid(self, grid, cols, resp):
        z = (grid.points - self.prior_mean) / self.prior_sd
        return -z / self.prior_sd, -0.5 * z**2

    def _extra_pairs(self, bank, theta, pairs):
        return -(theta - self.prior_mean) / self.prior_sd**2

    def _se(self, info: FloatArray) -> FloatArray:
        return 1.0 / np.sqrt(info + 1.0 / self.prior_sd**2)


_ESTIMATORS: dict[str, type[_Estimator]] = {"eap": EAP, "map": MAP, "ml": ML, "wle": WLE}


def get_estimator(name: str, **kwargs: object) -> _Estimator:
    """Build an ability estimator by name.

    Parameters
    ----------
    name : {"eap", "map", "ml", "wle"}
    **kwargs
        Hyperparameters of that estimator (``prior_mean``, ``prior_sd``, ``n_points``,
        ``theta_range``); a ``method`` key equal to ``name`` is accepted and ignored.

    Raises
    ------
    InvalidConfigError
        Unknown name or hyperparameter, or an invalid value.

    Examples
    --------
    >>> get_estimator("wle")
    WLE(theta_range=[-4.0, 4.0])
    """
    key = str(name).lower()
    if key not in _ESTIMATORS:
        raise InvalidConfigError([f"unknown estimator {name!r}; known: {', '.join(_ESTIMATORS)}"])
    kwargs = dict(kwargs)
    if kwargs.pop("method", key) != key:
        raise InvalidConfigError([f"estimator method mismatch for {name!r}"])
    if "theta_range" in kwargs and kwargs["theta_range"] is not None:
        kwargs["theta_range"] = tuple(kwargs["theta_range"])  # type: ignore[arg-type]
    try:
        return _ESTIMATORS[key](**kwargs)  # type: ignore[arg-type]
    except TypeError as error:
        raise InvalidConfigError([f"estimator {key!r}: {error}"]) from None


__all__ = ["EAP", "MAP", "ML", "WLE", "AbilityEstimate", "get_estimator"]
