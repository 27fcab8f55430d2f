"""Ability estimators against independent truths.

* EAP: posterior mean and SD by ``scipy.integrate.quad`` of the (truncated) posterior.
* ML / MAP / WLE: ``scipy.optimize.brentq`` roots of their estimating equations, written
  here from probabilities only (derivatives by central finite differences of ``prob``).
* SEs: ``1 / sqrt(test information)`` with the information also from finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize

from engine.ability import EAP, MAP, ML, WLE, AbilityEstimate, get_estimator
from item_banks import Item, ItemBank
from item_banks.errors import InvalidConfigError, InvalidResponseError


def _dich_bank(rng: np.random.Generator, n: int = 30) -> ItemBank:
    items = []
    for i in range(n):
        a, b = float(rng.lognormal(0.1, 0.3)), float(rng.normal(0, 1))
        kind = i % 3
        if kind == 0:
            items.append(Item(f"d{i}", "2pl", {"a": a, "b": b}))
        elif kind == 1:
            items.append(Item(f"d{i}", "3pl", {"a": a, "b": b, "c": 0.2}))
        else:
            items.append(Item(f"d{i}", "rasch", {"b": b}))
    return ItemBank(items, name="dich")


def _poly_bank(rng: np.random.Generator, n: int = 24) -> ItemBank:
    items = []
    for i in range(n):
        a = float(rng.lognormal(0.1, 0.3))
        kind = i % 3
        if kind == 0:
            bs = np.sort(rng.normal(0, 1, 3))
            items.append(Item(f"p{i}", "grm", {"a": a, "b1": bs[0], "b2": bs[1], "b3": bs[2]}))
        elif kind == 1:
            bs = rng.normal(0, 1, 2)
            items.append(Item(f"p{i}", "gpcm", {"a": a, "b1": bs[0], "b2": bs[1]}))
        else:
            items.append(Item(f"p{i}", "2pl", {"a": a, "b": float(rng.normal())}))
    return ItemBank(items, name="poly")


@pytest.fixture(scope="module", params=["dich", "poly"])
def bank(request) -> ItemBank:
    rng = np.random.default_rng(11)
    return _dich_bank(rng) if request.param == "dich" else _poly_bank(rng)


def _simulate(bank: ItemBank, items, theta: float, rng) -> np.ndarray:
    p = bank.prob([theta], items)[0]
    u = rng.random(len(items))
    return (np.cumsum(p, axis=1) < u[:, None]).sum(axis=1).clip(0, bank.n_categories[items] - 1)


def _loglik(bank, items, resp, theta: float) -> float:
    return float(bank.log_likelihood([theta], items, resp)[0])


def _num_score(bank, items, resp, theta: float, h: float = 1e-5) -> float:
    return (_loglik(bank, items, resp, theta + h) - _loglik(bank, items, resp, theta - h)) / (2 * h)


def _num_info_terms(bank, items, theta: float, h: float = 1e-4) -> tuple[float, float]:
    """Test information and Warm's J from finite differences of probabilities only."""
    p0 = bank.prob([theta], items)[0]
    pp = bank.prob([theta + h], items)[0]
    pm = bank.prob([theta - h], items)[0]
    d1 = (pp - pm) / (2 * h)
    d2 = (pp - 2 * p0 + pm) / h**2
    mask = p0 > 0
    info = float(np.sum(np.where(mask, d1**2 / np.where(mask, p0, 1), 0)))
    j_term = float(np.sum(np.where(mask, d1 * d2 / np.where(mask, p0, 1), 0)))
    return info, j_term


def _patterns(bank, n_patterns=6, seed=3):
    rng = np.random.default_rng(seed)
    out = []
    for t in np.linspace(-2, 2, n_patterns):
        items = rng.choice(len(bank), size=12, replace=False)
        resp = _simulate(bank, items, float(t), rng)
        out.append((items, resp))
    return out


def _mixed(bank, items, resp) -> bool:
    top = bank.n_categories[items] - 1
    return not (np.all(resp == 0) or np.all(resp == top))


# ----------------------------------------------------------------------------------- EAP
@pytest.mark.parametrize("n_points, tol", [(61, 2e-4), (401, 2e-5)])
def test_eap_matches_quadrature_of_posterior(bank, n_points, tol):
    est = EAP(prior_mean=0.3, prior_sd=1.2, n_points=n_points)
    lo, hi = est.theta_range
    for items, resp in _patterns(bank):

        def dens(t, items=items, resp=resp):
            return np.exp(_loglik(bank, items, resp, t) - 0.5 * ((t - 0.3) / 1.2) ** 2)

        z = integrate.quad(dens, lo, hi, limit=200, epsabs=0)[0]
        mean = integrate.quad(lambda t, d=dens: t * d(t), lo, hi, limit=200, epsabs=0)[0] / z
        var = integrate.quad(lambda t, d=dens, m=mean: (t - m) ** 2 * d(t), lo, hi, limit=200,
                             epsabs=0)[0] / z  # fmt: skip
        got = est.estimate(bank, items, resp)
        assert got.method == "eap"
        assert got.theta == pytest.approx(mean, abs=tol)
        assert got.se == pytest.approx(np.sqrt(var), abs=tol)


def test_eap_empty_pattern_is_truncated_prior():
    bank = _dich_bank(np.random.default_rng(0), 5)
    got = EAP(prior_mean=0.5, prior_sd=1.0, n_points=401).estimate(bank, [], [])
    a, b = (-4 - 0.5), (4 - 0.5)
    from scipy.stats import truncnorm

    assert got.theta == pytest.approx(truncnorm(a, b, loc=0.5).mean(), abs=1e-6)
    assert got.se == pytest.approx(truncnorm(a, b, loc=0.5).std(), abs=1e-6)


# ---------------------------------------------------------------------------- ML / MAP
def test_ml_is_root_of_score_equation(bank):
    est = ML()
    checked = 0
    for items, resp in _patterns(bank):
        if not _mixed(bank, items, resp):
            continue
        root = optimize.brentq(lambda t, i=items, r=resp: _num_score(bank, i, r, t), -4, 4,
                               xtol=1e-12)  # fmt: skip
        got = est.estimate(bank, items, resp)
        assert got.theta == pytest.approx(root, abs=1e-5)
        info, _ = _num_info_terms(bank, items, root)
        assert got.se == pytest.approx(1 / np.sqrt(info), rel=1e-4)
        checked += 1
    assert checked >= 4


def test_map_is_root_of_posterior_score(bank):
    est = MAP(prior_mean=-0.2, prior_sd=0.8)
    for items, resp in _patterns(bank):

        def f(t, i=items, r=resp):
            return _num_score(bank, i, r, t) - (t + 0.2) / 0.8**2

        root = optimize.brentq(f, -4, 4, xtol=1e-12)
        got = est.estimate(bank, items, resp)
        assert got.theta == pytest.approx(root, abs=1e-5)
        info, _ = _num_info_terms(bank, items, root)
        assert got.se == pytest.approx(1 / np.sqrt(info + 1 / 0.8**2), rel=1e-4)


def test_wle_is_root_of_warm_equation(bank):
    est = WLE()
    for items, resp in _patterns(bank):

        def f(t, i=items, r=resp):
            info, j_term = _num_info_terms(bank, i, t)
            return _num_score(bank, i, r, t) + j_term / (2 * info)

        grid = np.linspace(-4, 4, 81)
        vals = np.array([f(t) for t in grid])
        sign = np.nonzero((vals[:-1] > 0) & (vals[1:] <= 0))[0]
        if sign.size == 0:
            continue
        root = optimize.brentq(f, grid[sign[0]], grid[sign[0] + 1], xtol=1e-12)
        got = est.estimate(bank, items, resp)
        assert got.theta == pytest.approx(root, abs=2e-5)
        info, _ = _num_info_terms(bank, items, root)
        assert got.se == pytest.approx(1 / np.sqrt(info), rel=1e-3)


def test_wle_rasch_all_correct_has_finite_root_in_range():
    bs = np.linspace(-1, 1, 10)
    bank = ItemBank([Item(f"r{i}", "rasch", {"b": b}) for i, b in enumerate(bs)], name="r")
    items = np.arange(10)
    resp = np.ones(10, dtype=int)

    def f(t):
        info, j_term = _num_info_terms(bank, items, t)
        return _num_score(bank, items, resp, t) + j_term / (2 * info)

    root = optimize.brentq(f, 0, 4)
    got = WLE().estimate(bank, items, resp)
    assert got.theta == pytest.approx(root, abs=1e-5)
    assert -4 <= got.theta <= 4


# ------------------------------------------------------------------------ extreme rules
@pytest.mark.parametrize("value", [0, "top"])
def test_ml_extreme_pattern_uses_documented_eap_rule(bank, value):
    items = np.arange(8)
    resp = np.zeros(8, dtype=int) if value == 0 else bank.n_categories[items] - 1
    got = ML().estimate(bank, items, resp)
    ref = EAP(0.0, 1.0, 61).estimate(bank, items, resp)
    assert (got.theta, got.se) == pytest.approx((ref.theta, ref.se))
    assert got.method == "ml"


@pytest.mark.parametrize("name", ["eap", "map", "ml", "wle"])
def test_estimates_never_leave_range_and_se_finite(bank, name):
    est = get_estimator(name, theta_range=(-1.5, 1.5))
    n = len(bank)
    patterns = [
        (np.arange(n), bank.n_categories - 1),
        (np.arange(n), np.zeros(n, dtype=int)),
        (np.arange(3), np.array([1, 0, 0])),
        (np.array([], dtype=int), np.array([], dtype=int)),
    ]
    for items, resp in patterns:
        got = est.estimate(bank, items, resp)
        assert isinstance(got, AbilityEstimate)
        assert -1.5 <= got.theta <= 1.5
        assert np.isfinite(got.se) and got.se > 0


def test_mixed_pattern_beyond_range_is_clipped_to_edge():
    bank = ItemBank(
        [Item("e", "2pl", {"a": 1.0, "b": -6.0}), Item("h", "2pl", {"a": 1.0, "b": 6.0})], name="x"
    )
    # one correct on a very easy item, wrong on a very hard one: ML root near 0
    got = ML(theta_range=(-4, 4)).estimate(bank, [0, 1], [1, 0])
    assert got.theta == pytest.approx(0.0, abs=1e-8)
    # one of two hard items right: the root (theta = 5) lies beyond the range
    hard = ItemBank([Item(f"h{i}", "2pl", {"a": 1.0, "b": 5.0}) for i in (1, 2)], name="y")
    got = ML(theta_range=(-2, 2)).estimate(hard, [0, 1], [1, 0])
    assert got.theta == 2.0
    assert np.isfinite(got.se)


# ----------------------------------------------------------------------- estimate_many
@pytest.mark.parametrize("name", ["eap", "map", "ml", "wle"])
def test_estimate_many_agrees_with_estimate(bank, name):
    rng = np.random.default_rng(5)
    est = get_estimator(name)
    n_persons = 25
    resp = np.full((n_persons, len(bank)), -1)
    thetas = rng.normal(size=n_persons)
    for p in range(n_persons - 1):
        items = rng.choice(len(bank), size=rng.integers(1, 15), replace=False)
        resp[p, items] = _simulate(bank, items, thetas[p], rng)
    theta, se = est.estimate_many(bank, resp)
    assert theta.shape == se.shape == (n_persons,)
    for p in range(n_persons):
        items = np.nonzero(resp[p] >= 0)[0]
        one = est.estimate(bank, items, resp[p, items])
        assert theta[p] == pytest.approx(one.theta, abs=1e-8)
        assert se[p] == pytest.approx(one.se, rel=1e-7)


def test_estimate_many_recovers_known_abilities():
    rng = np.random.default_rng(21)
    bank = _poly_bank(rng, 60)
    thetas = np.linspace(-2, 2, 200)
    resp = np.stack([_simulate(bank, np.arange(60), t, rng) for t in thetas])
    for name in ("eap", "ml", "wle", "map"):
        theta, se = get_estimator(name).estimate_many(bank, resp)
        rmse = np.sqrt(np.mean((theta - thetas) ** 2))
        assert rmse < 1.3 * np.sqrt(np.mean(se**2))
        assert abs(np.mean(theta - thetas)) < 0.06


# ------------------------------------------------------------------------------ errors
def test_bad_input_names_item_and_value():
    bank = _poly_bank(np.random.default_rng(0), 6)
    with pytest.raises(InvalidResponseError, match="'p0'"):
        EAP().estimate(bank, [0, 1], [7, 0])
    with pytest.raises(InvalidResponseError, match="outside the bank"):
        EAP().estimate(bank, [99], [0])
    with pytest.raises(InvalidResponseError, match="row 1, item 'p2'"):
        EAP().estimate_many(bank, [[0, 0, 0, 0, 0, 0], [0, 0, 9, 0, 0, 0]])
    with pytest.raises(InvalidResponseError, match="shape"):
        EAP().estimate_many(bank, [[0, 0]])
    with pytest.raises(InvalidConfigError, match="prior_sd"):
        EAP(prior_sd=0)
    with pytest.raises(InvalidConfigError, match="unknown estimator"):
        get_estimator("bayes")


@pytest.mark.parametrize("method", ["log_prob", "dlog_prob_dtheta", "information"])
def test_pair_evaluation_equals_full_evaluation(method):
    from engine._tables import pair_eval

    rng = np.random.default_rng(4)
    bank = _poly_bank(rng, 30)
    items = rng.integers(0, 30, size=200)
    theta = rng.normal(0, 2, size=200)
    got = pair_eval(bank, theta, items, method)
    full = getattr(bank, method)(theta, None)  # every theta with every item
    want = full[np.arange(200), items]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
