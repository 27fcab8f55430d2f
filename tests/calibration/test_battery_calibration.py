"""Battery calibration: the 2-D marginal likelihood against scipy, correlation recovery."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from calibration.battery import (
    calibrate_battery,
    estimate_correlation,
    grid,
    pair_loglik,
    person_likelihoods,
)
from calibration.data import ResponseData
from item_banks import Item, ItemBank


def _bank(rng, n: int, prefix: str) -> ItemBank:
    items = [Item(f"{prefix}{i}", "2pl", {"a": float(rng.lognormal(0.2, 0.3)),
                                          "b": float(rng.normal())}) for i in range(n)]
    return ItemBank(items, name=prefix)


def _answers(rng, bank: ItemBank, theta) -> np.ndarray:
    p = bank.prob(theta)[:, :, 1]  # (N, n)
    return (rng.random(p.shape) < p).astype(np.intp)


def test_pair_likelihood_matches_scipy_double_quadrature():
    rng = np.random.default_rng(3)
    bj, bk = _bank(rng, 3, "j"), _bank(rng, 2, "k")
    yj = np.array([[1, 0, 1], [0, 0, -1], [1, 1, 1]])
    yk = np.array([[0, 1], [1, -1], [1, 1]])

    def lik(bank: ItemBank, y: np.ndarray, t: float) -> float:
        out = 1.0
        for item, r in zip(bank, y, strict=True):  # the 2PL written out
            if r >= 0:
                p = 1 / (1 + np.exp(-item.params["a"] * (t - item.params["b"])))
                out *= p if r == 1 else 1 - p
        return out

    def exact(rho: float) -> float:
        total = 0.0
        c = 1 / (2 * np.pi * np.sqrt(1 - rho**2))
        for p in range(3):
            def f(t2: float, t1: float, p: int = p) -> float:
                q = (t1 * t1 - 2 * rho * t1 * t2 + t2 * t2) / (1 - rho**2)
                return lik(bj, yj[p], t1) * lik(bk, yk[p], t2) * c * np.exp(-q / 2)
            total += np.log(integrate.dblquad(f, -7, 7, -7, 7, epsabs=1e-10)[0])
        return total

    points = grid()
    lj, lk = person_likelihoods(bj, yj, points), person_likelihoods(bk, yk, points)
    ours = [pair_loglik(r, lj, lk, points) for r in (0.0, 0.4, 0.8)]
    truth = [exact(r) for r in (0.0, 0.4, 0.8)]
    # equal up to a constant (person scaling): differences agree
    assert ours[1] - ours[0] == pytest.approx(truth[1] - truth[0], abs=1e-6)
    assert ours[2] - ours[0] == pytest.approx(truth[2] - truth[0], abs=1e-6)


def test_correlation_intervals_cover_known_values():
    rng = np.random.default_rng(11)
    points = grid()
    hits, total = 0, 0
    for rho in (0.3, 0.6, 0.85):
        bj, bk = _bank(rng, 10, "j"), _bank(rng, 8, "k")
        for _ in range(50):
            th = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], 300)
            lj = person_likelihoods(bj, _answers(rng, bj, th[:, 0]), points)
            lk = person_likelihoods(bk, _answers(rng, bk, th[:, 1]), points)
            r, se = estimate_correlation(lj, lk, points)
            hits += abs(r - rho) <= 1.96 * se
            total += 1
    assert 0.90 <= hits / total <= 0.99


def test_calibrate_battery_recovers_correlations():
    rng = np.random.default_rng(5)
    corr = np.array([[1, 0.4, 0.7], [0.4, 1, 0.55], [0.7, 0.55, 1]])
    th = rng.multivariate_normal(np.zeros(3), corr, 1500)
    banks = [_bank(rng, 12, f"s{k}_") for k in range(3)]
    y = np.hstack([_answers(rng, b, th[:, k]) for k, b in enumerate(banks)]).astype(float)
    y[rng.random(y.shape) < 0.15] = np.nan
    ids = [i for b in banks for i in b.item_ids]
    skills = {i: f"skill{i[1]}" for i in ids}
    res = calibrate_battery(ResponseData.from_matrix(y, item_ids=ids), skills)
    assert res.skills == ("skill0", "skill1", "skill2")
    off = ~np.eye(3, dtype=bool)
    assert (np.abs(res.correlations - corr)[off] <= 3.5 * res.correlation_se[off]).all()
    assert (res.correlation_se[off] < 0.05).all()
    assert set(res.banks["skill1"].item_ids) == set(banks[1].item_ids)


def test_items_without_a_skill_are_named():
    y = np.random.default_rng(0).integers(0, 2, size=(50, 3)).astype(float)
    data = ResponseData.from_matrix(y, item_ids=["a", "b", "c"])
    with pytest.raises(Exception, match="item 'c' of the responses has no skill"):
        calibrate_battery(data, {"a": "x", "b": "y"})


def test_nearest_correlation_is_positive_definite_and_close():
    from calibration.battery import nearest_correlation

    m = np.array([[1, 0.98, 0.5], [0.98, 1, 0.9], [0.5, 0.9, 1.0]])  # not possible
    assert np.linalg.eigvalsh(m).min() < 0
    fixed = nearest_correlation(m)
    assert np.allclose(np.diag(fixed), 1) and np.linalg.eigvalsh(fixed).min() > 0
    assert np.abs(fixed - m).max() < 0.15
    good = np.array([[1, 0.3], [0.3, 1.0]])
    assert nearest_correlation(good) is not None and np.array_equal(nearest_correlation(good), good)
