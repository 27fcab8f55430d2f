"""Calibrating a skill battery: items per skill, then the latent correlations.

From one response file whose items belong to several skills and an item -> skill map:

1. each skill's items are calibrated on their own scale (``N(0, 1)`` latent, any
   registered model per item) by the ordinary :class:`~calibration.Calibrator`;
2. with those item parameters fixed, the correlation ``rho`` of each pair of skills is
   estimated by marginal maximum likelihood over a two-dimensional quadrature grid:

       l(rho) = sum_p log sum_{a,b} L_pj(x_a) L_pk(x_b) w_ab(rho)

   where ``L_pj`` is person ``p``'s likelihood of their skill-``j`` responses and
   ``w(rho)`` the bivariate standard normal density on the grid (normalised to sum 1);
   its SE comes from the observed information (the numerical second derivative of
   ``l`` at the maximum). Persons with no response to one of the two skills carry no
   information on that pair and drop out of it.

The item parameters are treated as known in step 2, so the SEs leave out their
uncertainty (small beside the correlations' own with hundreds of persons per item).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar

from calibration.data import ResponseData
from calibration.estimation import Calibrator
from calibration.results import CalibrationResult
from item_banks.bank import ItemBank
from item_banks.errors import CalibrationError

FloatArray = NDArray[np.float64]

N_QUAD = 61
THETA_RANGE = (-5.0, 5.0)


def grid(n_quad: int = N_QUAD, theta_range: tuple[float, float] = THETA_RANGE) -> FloatArray:
    """Equally spaced quadrature points, shape ``(n_quad,)``."""
    return np.linspace(theta_range[0], theta_range[1], n_quad)


def person_likelihoods(bank: ItemBank, responses: NDArray, points: FloatArray) -> FloatArray:
    """Each person's likelihood of their responses on the grid, shape ``(N, Q)``.

    Parameters
    ----------
    bank : ItemBank
    responses : ndarray of int, shape (N, len(bank))
        Categories, ``-1`` where not answered.
    points : ndarray, shape (Q,)
    """
    lp = bank.log_prob(points)  # (Q, n, K)
    loglik = np.zeros((responses.shape[0], points.size))
    for i in range(responses.shape[1]):
        seen = responses[:, i] >= 0
        if seen.any():
            loglik[seen] += lp[:, i, responses[seen, i]].T
    top = loglik.max(axis=1, keepdims=True)
    return np.exp(loglik - top)  # scaled per person (a constant of l(rho))


def bivariate_weights(rho: float, points: FloatArray) -> FloatArray:
    """Bivariate standard normal density with correlation ``rho`` on the grid, sum 1."""
    x, y = np.meshgrid(points, points, indexing="ij")
    q = (x * x - 2 * rho * x * y + y * y) / (1 - rho * rho)
    w = np.exp(-0.5 * (q - q.min()))
    return w / w.sum()


def pair_loglik(rho: float, lik_j: FloatArray, lik_k: FloatArray, points: FloatArray) -> float:
    """Marginal log-likelihood (up to a constant) of ``rho`` for one pair of skills.

    Parameters
    ----------
    rho : float in (-1, 1)
    lik_j, lik_k : ndarray, shape (N, Q)
        Person likelihoods on the grid (:func:`person_likelihoods`).
    points : ndarray, shape (Q,)
    """
    marg = ((lik_j @ bivariate_weights(rho, points)) * lik_k).sum(axis=1)
    return float(np.log(marg).sum())


def estimate_correlation(
    lik_j: FloatArray, lik_k: FloatArray, points: FloatArray
) -> tuple[float, float]:
    """Maximum marginal likelihood ``rho`` and its SE (observed information)."""
    f = lambda r: -pair_loglik(r, lik_j, lik_k, points)  # noqa: E731
    res = minimize_scalar(f, bounds=(-0.995, 0.995), method="bounded",
                          options={"xatol": 1e-5})  # fmt: skip
    rho = float(res.x)
    h = 1e-4 * max(0.05, 1 - abs(rho))
    lo, hi = max(-0.9999, rho - h), min(0.9999, rho + h)
    mid = (lo + hi) / 2
    step = (hi - lo) / 2
    second = (f(hi) - 2 * f(mid) + f(lo)) / step**2
    se = float(1 / np.sqrt(second)) if second > 0 else float("nan")
    return rho, se


def nearest_correlation(m: FloatArray, floor: float = 1e-3, n_iter: int = 100) -> FloatArray:
    """The nearest correlation matrix with eigenvalues >= ``floor`` (Higham 2002).

    Pairwise estimates need not form a possible (positive definite) matrix; alternating
    projections with Dykstra's correction onto {eigenvalues >= floor} and {unit diagonal}
    find the nearest one in the Frobenius norm. A positive definite ``m`` is returned as
    it is.
    """
    m = (np.asarray(m, dtype=float) + np.asarray(m, dtype=float).T) / 2
    if np.linalg.eigvalsh(m).min() >= floor:
        return m
    y, ds = m.copy(), np.zeros_like(m)
    for _ in range(n_iter):
        r = y - ds
        w, v = np.linalg.eigh(r)
        x = (v * np.maximum(w, floor)) @ v.T
        ds = x - r
        y = x.copy()
        np.fill_diagonal(y, 1.0)
        if np.linalg.eigvalsh(y).min() >= floor / 2:
            break
    return y


@dataclass(frozen=True)
class BatteryCalibration:
    """Result of :func:`calibrate_battery`.

    Attributes
    ----------
    skills : tuple of str
    results : dict of skill to CalibrationResult
    banks : dict of skill to ItemBank
    correlations : ndarray, shape (K, K)
        The pairwise estimates, moved to the nearest positive definite correlation matrix
        when they do not form one (:func:`nearest_correlation`; ``adjusted`` says so).
    pairwise, correlation_se : ndarray, shape (K, K)
        The pairwise maximum-likelihood estimates and their SEs.
    adjusted : bool
    n_pairs : ndarray of int, shape (K, K)
        Persons with responses to both skills of each pair.
    """

    skills: tuple[str, ...]
    results: dict[str, CalibrationResult]
    banks: dict[str, ItemBank]
    correlations: FloatArray
    pairwise: FloatArray
    correlation_se: FloatArray
    adjusted: bool
    n_pairs: NDArray[np.intp]

    def battery_dict(self, name: str, bank_paths: Mapping[str, str], **cat: Any) -> dict:
        """A ``zapcat-battery/1`` mapping of these banks and correlations."""
        sections = [{"skill_id": s, "name": s, "bank": {"path": bank_paths[s]},
                     "cat": dict(cat) or {"stop_se": 0.35, "max_items": 20},
                     "collateral": {"borrow": j > 0, "min_items": 5}}
                    for j, s in enumerate(self.skills)]  # fmt: skip
        note = (" (pairwise correlations moved to the nearest positive definite matrix)"
                if self.adjusted else "")
        source = next(iter(self.results.values())).data.source
        return {"format": "zapcat-battery/1", "name": name, "version": "1",
                "description": f"Calibrated from {source}{note}",
                "order": "fixed", "sections": sections,
                "correlations": {"skills": list(self.skills),
                                 "matrix": self.correlations.round(6).tolist(),
                                 "se": np.nan_to_num(self.correlation_se).round(6).tolist()}}


def _skill_columns(data: ResponseData, skills: Mapping[str, str]) -> dict[str, NDArray]:
    problems = [f"item {i!r} of the responses has no skill in the item -> skill map"
                for i in data.item_ids if i not in skills]  # fmt: skip
    unknown = sorted(set(skills) - set(data.item_ids))
    if unknown:
        problems.append(f"{len(unknown)} item(s) of the skill map are not in the responses: "
                        f"{', '.join(map(repr, unknown[:10]))}")  # fmt: skip
    if problems:
        raise CalibrationError("; ".join(problems[:20]), details={"problems": problems})
    names = list(dict.fromkeys(skills[i] for i in data.item_ids))
    cols = {s: np.array([skills[i] == s for i in data.item_ids]) for s in names}
    if len(cols) < 2:
        raise CalibrationError(f"a battery needs at least 2 skills, the map gives {names}")
    return cols


def calibrate_battery(
    data: ResponseData, skills: Mapping[str, str], model: str = "2pl", **options: Any
) -> BatteryCalibration:
    """Calibrate each skill's items, then the latent correlations between skills.

    Parameters
    ----------
    data : ResponseData
    skills : mapping of item id to skill
        Every item of ``data`` and only those.
    model : str, default "2pl"
    **options
        Passed to :class:`~calibration.Calibrator` (``item_models``, ``priors`` ...).

    Returns
    -------
    BatteryCalibration
    """
    cols = _skill_columns(data, skills)
    names = tuple(cols)
    points = grid()
    results, banks, liks, seen = {}, {}, {}, {}
    item_models = options.pop("item_models", None) or {}
    for s in names:
        sub = data.subset_items(cols[s])
        own = {i: m for i, m in item_models.items() if i in sub.item_ids}
        result = Calibrator(model, item_models=own, **options).fit(sub).result_
        bank = result.to_item_bank(s)
        matrix = sub.to_matrix()
        keep = [sub.item_ids.index(i) for i in bank.item_ids]
        responses = matrix[:, keep]
        results[s], banks[s] = result, bank
        liks[s] = person_likelihoods(bank, responses, points)
        seen[s] = (responses >= 0).any(axis=1)
    k = len(names)
    corr, se = np.eye(k), np.zeros((k, k))
    n_pairs = np.zeros((k, k), dtype=np.intp)
    for a in range(k):
        n_pairs[a, a] = int(seen[names[a]].sum())
        for b in range(a + 1, k):
            both = seen[names[a]] & seen[names[b]]
            n_pairs[a, b] = n_pairs[b, a] = int(both.sum())
            if both.sum() < 10:
                raise CalibrationError(f"skills {names[a]!r} and {names[b]!r} share "
                                       f"{int(both.sum())} persons; their correlation needs "
                                       f"at least 10")  # fmt: skip
            r, e = estimate_correlation(liks[names[a]][both], liks[names[b]][both], points)
            corr[a, b] = corr[b, a] = r
            se[a, b] = se[b, a] = e
    fixed = nearest_correlation(corr)
    adjusted = not np.array_equal(fixed, corr)
    return BatteryCalibration(names, results, banks, fixed, corr, se, adjusted, n_pairs)


__all__ = [
    "BatteryCalibration",
    "bivariate_weights",
    "calibrate_battery",
    "estimate_correlation",
    "grid",
    "nearest_correlation",
    "pair_loglik",
    "person_likelihoods",
]  # fmt: skip
