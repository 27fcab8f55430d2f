"""Contract test run over every registered item model.

Independent truths: finite differences of the model's own log-probabilities (central,
step 1e-5), probabilities computed in 50-digit arithmetic with mpmath, and the known
reductions between models.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import mpmath
import numpy as np
import pytest

from item_banks.models import get_model, model_names

Factory = Callable[[np.random.Generator, int, int], np.ndarray]


def _thresholds(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return np.sort(rng.normal(0.0, 1.2, size=(n, m)), axis=1) + np.linspace(0, 0.3, m)


def _logistic(free: str) -> Factory:
    def make(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
        cols = {
            "a": rng.uniform(0.3, 6.0, n),
            "b": rng.normal(0.0, 1.5, n),
            "c": rng.uniform(0.0, 0.35, n),
            "u": rng.uniform(0.8, 1.0, n),
        }
        return np.column_stack([cols[name] for name in free])

    return make


def _slope_thresholds(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return np.column_stack([rng.uniform(0.3, 6.0, n), _thresholds(rng, n, k - 1)])


def _unordered_steps(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return np.column_stack([rng.uniform(0.3, 3.0, n), rng.normal(0, 1.5, (n, k - 1))])


PARAM_FACTORIES: dict[str, Factory] = {
    "rasch": _logistic("b"),
    "1pl": _logistic("ab"),
    "2pl": _logistic("ab"),
    "3pl": _logistic("abc"),
    "4pl": _logistic("abcu"),
    "grm": _slope_thresholds,
    "gpcm": _unordered_steps,
    "pcm": lambda rng, n, k: rng.normal(0, 1.5, (n, k - 1)),
    "rsm": lambda rng, n, k: np.column_stack(
        [rng.normal(0, 1, n), np.tile(np.linspace(-1.5, 1.5, k - 1), (n, 1))]
    ),
}


def _cases() -> list[tuple[str, int]]:
    cases = []
    for name in model_names():
        model = get_model(name)
        for k in (2, 3, 5, 8):
            if model.check_n_categories(k) is None:
                cases.append((name, k))
    return cases


CASES = _cases()
THETA = np.linspace(-4.0, 4.0, 9)


def test_every_registered_model_has_a_factory() -> None:
    assert set(model_names()) == set(PARAM_FACTORIES)


@pytest.fixture(params=CASES, ids=[f"{m}-K{k}" for m, k in CASES])
def case(request: pytest.FixtureRequest) -> tuple:
    name, k = request.param
    rng = np.random.default_rng(zlib.crc32(f"{name}-{k}".encode()))
    params = PARAM_FACTORIES[name](rng, 6, k)
    model = get_model(name)
    assert model.check_params(params, k) == []
    return model, params, k


def test_shapes_and_probabilities(case: tuple) -> None:
    model, params, k = case
    p = model.prob(THETA, params)
    assert p.shape == (THETA.size, params.shape[0], k)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(model.log_prob(THETA, params)), p, rtol=1e-12)
    assert model.information(THETA, params).shape == (THETA.size, params.shape[0])


def _fd_theta(model, theta: np.ndarray, params: np.ndarray) -> np.ndarray:
    h = 1e-5
    return (model.log_prob(theta + h, params) - model.log_prob(theta - h, params)) / (2 * h)


def test_dlog_prob_dtheta_matches_finite_differences(case: tuple) -> None:
    model, params, _ = case
    analytic = model.dlog_prob_dtheta(THETA, params)
    np.testing.assert_allclose(analytic, _fd_theta(model, THETA, params), rtol=1e-6, atol=1e-7)
    dprob = model.dprob_dtheta(THETA, params)
    h = 1e-5
    fd = (model.prob(THETA + h, params) - model.prob(THETA - h, params)) / (2 * h)
    np.testing.assert_allclose(dprob, fd, rtol=1e-6, atol=1e-9)


def test_dlog_prob_dparams_matches_finite_differences(case: tuple) -> None:
    model, params, _ = case
    analytic = model.dlog_prob_dparams(THETA, params)
    assert analytic.shape == (*model.log_prob(THETA, params).shape, params.shape[1])
    for j in range(params.shape[1]):
        h = 1e-6
        up, down = params.copy(), params.copy()
        up[:, j] += h
        down[:, j] -= h
        fd = (model.log_prob(THETA, up) - model.log_prob(THETA, down)) / (2 * h)
        np.testing.assert_allclose(analytic[..., j], fd, rtol=1e-6, atol=1e-7, err_msg=f"col {j}")
    dprob = model.dprob_dparams(THETA, params)
    np.testing.assert_allclose(dprob, np.exp(model.log_prob(THETA, params))[..., None] * analytic)


def test_information_matches_finite_difference_score_and_curvature(case: tuple) -> None:
    model, params, _ = case
    info = model.information(THETA, params)
    p = model.prob(THETA, params)
    score = _fd_theta(model, THETA, params)
    np.testing.assert_allclose(info, np.sum(p * score**2, axis=-1), rtol=1e-6, atol=1e-10)
    # Fisher information also equals minus the expected second derivative of log P.
    h = 1e-4
    lp = [model.log_prob(THETA + s * h, params) for s in (-1, 0, 1)]
    curvature = (lp[0] - 2 * lp[1] + lp[2]) / h**2
    np.testing.assert_allclose(info, -np.sum(p * curvature, axis=-1), rtol=1e-4, atol=1e-5)
    assert np.all(info >= 0)


def _mp_prob(name: str, theta: float, row: np.ndarray) -> list:
    """Category probabilities in 50-digit arithmetic, straight from the definitions."""
    mpmath.mp.dps = 50
    t = mpmath.mpf(theta)
    sig = lambda x: 1 / (1 + mpmath.exp(-x))  # noqa: E731
    r = [mpmath.mpf(float(v)) for v in row]
    if name in {"rasch", "1pl", "2pl", "3pl", "4pl"}:
        full = dict(a=1, c=0, u=1)
        full.update(
            zip(
                {"rasch": "b", "1pl": "ab", "2pl": "ab", "3pl": "abc", "4pl": "abcu"}[name],
                r,
                strict=True,
            )
        )
        p1 = full["c"] + (full["u"] - full["c"]) * sig(full["a"] * (t - full["b"]))
        return [1 - p1, p1]
    if name == "grm":
        star = [mpmath.mpf(1)] + [sig(r[0] * (t - b)) for b in r[1:]] + [mpmath.mpf(0)]
        return [star[k] - star[k + 1] for k in range(len(r))]
    a, steps = {
        "gpcm": (r[0], r[1:]),
        "pcm": (mpmath.mpf(1), r),
        "rsm": (mpmath.mpf(1), [r[0] + tj for tj in r[1:]]),
    }[name]
    num = [mpmath.exp(sum(a * (t - s) for s in steps[:k])) for k in range(len(steps) + 1)]
    total = sum(num)
    return [x / total for x in num]


@pytest.mark.parametrize("name", model_names())
def test_log_prob_is_accurate_at_extremes(name: str) -> None:
    """|theta| <= 10, a up to 6 and 21 categories: log P equals the 50-digit value."""
    model = get_model(name)
    rng = np.random.default_rng(7)
    k = 21 if model.max_categories is None else 2
    params = PARAM_FACTORIES[name](rng, 4, k)
    if "a" in model.param_names(k):
        params[:, 0] = 6.0
    theta = np.array([-10.0, -6.0, 0.0, 6.0, 10.0])
    logp = model.log_prob(theta, params)
    assert np.all(np.isfinite(logp))
    assert np.all(np.isfinite(model.dlog_prob_dtheta(theta, params)))
    assert np.all(np.isfinite(model.dlog_prob_dparams(theta, params)))
    assert np.all(np.isfinite(model.information(theta, params)))
    for ti, t in enumerate(theta):
        for i in range(params.shape[0]):
            ref = [float(mpmath.log(v)) for v in _mp_prob(name, t, params[i])]
            np.testing.assert_allclose(logp[ti, i], ref, rtol=1e-9, atol=1e-9)


def test_reductions_between_models() -> None:
    rng = np.random.default_rng(3)
    n = 8
    a, b = rng.uniform(0.4, 3, n), rng.normal(0, 1, n)
    two = get_model("2pl").log_prob(THETA, np.column_stack([a, b]))
    zeros, ones = np.zeros(n), np.ones(n)
    three = get_model("3pl").log_prob(THETA, np.column_stack([a, b, zeros]))
    four = get_model("4pl").log_prob(THETA, np.column_stack([a, b, zeros, ones]))
    grm2 = get_model("grm").log_prob(THETA, np.column_stack([a, b]))
    gpcm2 = get_model("gpcm").log_prob(THETA, np.column_stack([a, b]))
    one = get_model("1pl").log_prob(THETA, np.column_stack([a, b]))
    for other in (three, four, grm2, gpcm2, one):
        np.testing.assert_allclose(other, two, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        get_model("rasch").log_prob(THETA, b[:, None]),
        get_model("2pl").log_prob(THETA, np.column_stack([ones, b])),
        rtol=1e-12,
    )
    steps = rng.normal(0, 1, (n, 4))
    np.testing.assert_allclose(
        get_model("pcm").log_prob(THETA, steps),
        get_model("gpcm").log_prob(THETA, np.column_stack([ones, steps])),
        rtol=1e-12,
    )
    t = np.array([-1.2, -0.3, 0.4, 1.1])
    rsm = get_model("rsm").log_prob(THETA, np.column_stack([b, np.tile(t, (n, 1))]))
    pcm = get_model("pcm").log_prob(THETA, b[:, None] + t[None, :])
    np.testing.assert_allclose(rsm, pcm, rtol=1e-12)
    # 3PL information at c = 0 equals 2PL information a^2 P Q
    info3 = get_model("3pl").information(THETA, np.column_stack([a, b, zeros]))
    p = np.exp(two[..., 1])
    np.testing.assert_allclose(info3, a**2 * p * (1 - p), rtol=1e-10)


def test_check_params_reports_each_problem() -> None:
    problems = get_model("3pl").check_params([[1.0, 0.0, 0.1], [-1.0, np.nan, 1.2]], 2)
    fields = sorted((row, field) for row, field, _ in problems)
    assert fields == [(1, "a"), (1, "b"), (1, "c")]
    messages = " ".join(msg for *_, msg in problems)
    assert "-1.0" in messages and "1.2" in messages and "nan" in messages
    grm = get_model("grm").check_params([[1.0, -1.0, 0.5, 0.2]], 4)
    assert [(r, f) for r, f, _ in grm] == [(0, "b3")]
    assert "0.5" in grm[0][2] and "0.2" in grm[0][2]


def test_score_sufficient_flag_matches_the_log_odds(case: tuple) -> None:
    """The flag holds exactly when log P(k) - log P(0) - k a theta does not vary with theta.

    Calibration groups persons by sum score on the strength of this flag, so a wrong
    ``True`` would give wrong estimates and a wrong ``False`` a slower E-step.
    """
    model, params, k = case
    names = model.param_names(k)
    slope = params[:, names.index("a")] if "a" in names else np.ones(params.shape[0])
    theta = np.linspace(-5.0, 5.0, 21)
    lp = model.log_prob(theta, params)  # (T, I, K)
    rest = lp - lp[..., :1] - np.arange(k) * slope[None, :, None] * theta[:, None, None]
    spread = np.abs(rest - rest[:1]).max()
    if model.score_sufficient:
        assert spread < 1e-9
    elif not (model.name == "grm" and k == 2):  # the 2-category GRM is the 2PL
        assert spread > 1e-3
