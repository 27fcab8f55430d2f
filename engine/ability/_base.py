"""Shared parts of the ability estimators: the result type, the base class, grid helpers.

See :mod:`engine.ability` for the rules of each estimator.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from item_banks.bank import ItemBank
from item_banks.errors import InvalidConfigError, InvalidResponseError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
Prior = tuple[FloatArray, FloatArray] | None
"""A normal prior per row: ``(mean, sd)``, each of shape ``(N,)``; ``None``: the
estimator's own prior."""

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


def prior_log_weight(points: FloatArray, prior: tuple[FloatArray, FloatArray]) -> FloatArray:
    """Log normal prior densities (one prior per row) plus log trapezoid weights.

    Parameters
    ----------
    points : ndarray, shape (Q,)
        Equally spaced grid.
    prior : (mean, sd)
        Arrays of shape (N,), ``sd > 0``.

    Returns
    -------
    ndarray, shape (N, Q)
    """
    mean, sd = prior
    trap = np.ones(points.size)
    trap[[0, -1]] = 0.5
    z = (points[None, :] - np.asarray(mean, dtype=float)[:, None]) / np.asarray(sd, float)[:, None]
    return -0.5 * z**2 + np.log(trap)


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
            f"response {int(resp_arr[j])} to item {bank.item_at(items_arr[j]).item_id!r} "
            f"(entry {j}) is not a category 0..{int(k[j]) - 1}",
            details={"item_id": bank.item_at(items_arr[j]).item_id, "response": int(resp_arr[j])},
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
            f"row {row}, item {bank.item_at(col).item_id!r}: response {int(arr[row, col])} is "
            f"not -1 (missing) or a category 0..{int(bank.n_categories[col]) - 1} "
            f"({int(bad.sum())} invalid entries in all)",
            details={"row": row, "item_id": bank.item_at(col).item_id},
        )
    return arr


# -------------------------------------------------------------------------- estimators
class AbilityEstimator(ABC):
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
        >>> from engine.ability import EAP
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
        >>> from engine.ability import ML
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
        self, bank: ItemBank, cols: IntArray, resp: IntArray, prior: Prior = None
    ) -> tuple[FloatArray, FloatArray]:
        """Estimates and SEs of the rows of ``resp`` (answers to the items ``cols``).

        ``prior`` gives each row its own normal prior (used by EAP, MAP and the EAP
        fallback of ML and WLE); ``None`` keeps the estimator's own.
        """


