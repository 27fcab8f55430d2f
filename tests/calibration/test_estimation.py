"""Marginal maximum likelihood: published values, exact SEs, monotone EM, recovery.

Independent truths: mirt's published LSAT7 estimates, finite differences of the marginal
log-likelihood, generating parameters of simulated data (tolerances from the SEs).
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest
from calib_helpers import ALL_MODELS, make_bank, numerical_hessian, simulate, true_params
from scipy import stats

from calibration import (
    Calibrator,
    ResponseData,
    _se,
    _se_dense,
    _se_sparse,
    calibrate,
    read_responses,
)
from calibration.simulate import simulate_responses
from item_banks.errors import CalibrationError, ConvergenceWarning, UnknownModelError


# ----------------------------------------------------------------- published values
def test_lsat7_matches_mirt_published(lsat7_path):
    result = calibrate(read_responses(lsat7_path), "2pl")
    a = result.params["a"].to_numpy()
    intercept = -a * result.params["b"].to_numpy()
    np.testing.assert_allclose(a, [0.988, 1.081, 1.706, 0.765, 0.736], atol=0.01)
    np.testing.assert_allclose(intercept, [1.856, 0.808, 1.804, 0.486, 1.855], atol=0.01)
    # mirt: logLik = -2658.805, AIC = 5337.61, BIC = 5386.688
    assert result.loglik == pytest.approx(-2658.805, abs=1e-3)
    assert result.aic == pytest.approx(5337.61, abs=1e-2)
    assert result.bic == pytest.approx(5386.688, abs=1e-2)
    assert result.converged


@pytest.mark.parametrize("model", ["2pl", "rasch"])  # pattern rows; score groups
def test_loglik_is_the_marginal_likelihood(lsat7_path, model):
    """Brute force: integrate every person's likelihood with scipy quadrature."""
    from scipy import integrate, stats

    data = read_responses(lsat7_path)
    result = calibrate(data, model, se_method="none", n_quad=121, theta_range=(-8, 8))
    bank = result.to_item_bank()
    x = data.to_matrix()
    patterns, counts = np.unique(x, axis=0, return_counts=True)
    total = 0.0
    for pattern, count in zip(patterns, counts, strict=True):

        def f(t, pattern=pattern):
            return np.exp(bank.log_likelihood([t], np.arange(5), pattern)[0]) * stats.norm.pdf(t)

        value = integrate.quad(f, -10, 10, epsabs=1e-13, limit=200)[0]
        total += count * np.log(value)
    assert result.loglik == pytest.approx(total, abs=1e-6)


SCORE_GROUP_CASES = [
    ("rasch", 2, {}),
    ("1pl", 2, {}),
    ("pcm", 4, {}),
    ("rsm", 4, {}),
    ("rasch+pcm", 3, {}),
    ("rasch", 2, {"i0": [0.3]}),  # an anchored item
]


@pytest.mark.parametrize(("model", "k", "anchors"), SCORE_GROUP_CASES)
def test_score_groups_equal_pattern_rows(model, k, anchors, monkeypatch):
    """Rasch family: grouping persons by (answered items, sum score) changes nothing.

    The independent truth is the pattern design (one row per distinct pattern).
    """
    from calibration._em import EMProblem
    from calibration._layout import build_design, build_groups, common_slope
    from calibration.estimation import quadrature
    from item_banks.models import get_model

    rng = np.random.default_rng(zlib.crc32(f"{model}{anchors}".encode()))
    names = model.split("+")
    models = [get_model(names[j % len(names)]) for j in range(8)]
    k_items = np.array([2 if m.name == "rasch" else k for m in models])
    data = ResponseData.from_matrix(
        np.where(rng.random((900, 8)) < 0.05, -1, rng.integers(0, k_items, (900, 8))),
        item_ids=[f"i{j}" for j in range(8)],
    )
    cats = data.n_categories
    anchor_rows = {int(i[1:]): np.array(v) for i, v in anchors.items()}
    groups = build_groups(models, cats, anchor_rows, {})
    grouped = build_design(data, cats, dense=True, score_groups=True)
    patterns = build_design(data, cats, dense=True)
    theta, logw = quadrature()
    p1 = EMProblem(groups, grouped, theta, logw)
    p2 = EMProblem(groups, patterns, theta, logw)
    beta = rng.normal(0.0, 0.5, p1.n_beta)
    if model == "1pl":
        beta[0] = 1.3  # the common slope
    assert common_slope(groups) is True
    assert grouped.n_rows < patterns.n_rows / 2
    ll1, c1, _ = p1.estep(beta)
    ll2, c2, _ = p2.estep(beta)
    assert ll1 == pytest.approx(ll2, rel=1e-12)
    np.testing.assert_allclose(c1, c2, rtol=1e-9, atol=1e-9)
    # the pattern path leaves out posterior weights below WEIGHT_FLOOR: keep them all
    monkeypatch.setattr(_se_dense, "WEIGHT_FLOOR", 0.0)
    info1, info2 = _se.information(p1, beta), _se.information(p2, beta)
    np.testing.assert_allclose(info1, info2, rtol=1e-9, atol=1e-9 * np.abs(info2).max())


@pytest.mark.parametrize(
    ("models", "anchors"),
    [(["2pl"], {}), (["rasch", "1pl"], {}), (["1pl"], {0: [1.4, 0.0]}), (["rasch", "grm"], {})],
)
def test_score_groups_only_with_one_common_slope(models, anchors):
    from calibration._layout import build_groups, common_slope
    from item_banks.models import get_model

    ms = [get_model(models[j % len(models)]) for j in range(4)]
    cats = np.array([2, 2, 2, 2])
    groups = build_groups(ms, cats, {k: np.array(v) for k, v in anchors.items()}, {})
    assert common_slope(groups) is False


# ------------------------------------------------------------ standard errors, Hessian
@pytest.mark.parametrize("dense", [True, False], ids=["dense", "sparse"])
@pytest.mark.parametrize(("model", "k"), ALL_MODELS, ids=[m for m, _ in ALL_MODELS])
def test_louis_information_equals_numerical_hessian(model, k, dense):
    rng = np.random.default_rng(zlib.crc32(model.encode()))
    bank = make_bank(model, true_params(model, 6, k, rng), k)
    mask = rng.random((700, 6)) > 0.1  # 10% missing
    data = simulate(bank, 700, rng, answered=mask)
    priors = "default"
    if model == "4pl":  # keep the slopes of a 6-item 4PL away from infinity
        priors = {"a": "lognormal(0.3, 0.5)", "c": "beta(5, 17)", "u": "beta(17, 2)"}
    fit = Calibrator(model, dense=dense, priors=priors).fit(data)
    problem, beta = fit.problem_, fit.beta_
    info = _se.information(problem, beta)
    hess = numerical_hessian(problem, beta)
    scale = np.abs(hess).max()
    assert np.abs(info + hess).max() / scale < 1e-3
    # and the SEs themselves, relative 1e-3
    se_num = np.sqrt(np.diag(np.linalg.inv(-hess)))
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    np.testing.assert_allclose(se, se_num, rtol=1e-3)


def test_gradient_is_derivative_of_loglik(lsat7_path):
    fit = Calibrator("2pl", se_method="none").fit(read_responses(lsat7_path))
    problem = fit.problem_
    nat = problem.natural(fit.beta_) + 0.05  # away from the maximum
    grad = problem.gradient(problem.from_natural(nat))
    num = np.empty_like(nat)
    for i in range(nat.size):
        e = np.zeros_like(nat)
        e[i] = 1e-6
        up = problem.estep(problem.from_natural(nat + e))[0]
        down = problem.estep(problem.from_natural(nat - e))[0]
        num[i] = (up - down) / 2e-6
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-5)


def test_se_with_priors_includes_prior_curvature():
    rng = np.random.default_rng(5)
    bank = make_bank("2pl", true_params("2pl", 5, 2, rng), 2)
    data = simulate(bank, 400, rng)
    fit = Calibrator("2pl", priors={"a": "lognormal(0, 0.3)", "b": "normal(0, 1)"}, tol=1e-7).fit(
        data
    )
    problem, beta = fit.problem_, fit.beta_
    assert np.abs(problem.gradient(beta)).max() < 1e-3  # penalised maximum
    info = _se.information(problem, beta)
    hess = numerical_hessian(problem, beta)
    assert np.abs(info + hess).max() / np.abs(hess).max() < 1e-3


def test_params_table_se_equals_inverse_information(lsat7_path):
    fit = Calibrator("2pl").fit(read_responses(lsat7_path))
    cov = np.linalg.inv(_se.information(fit.problem_, fit.beta_))
    table = fit.result_.params
    np.testing.assert_allclose(
        table[["a_se", "b_se"]].to_numpy().ravel(), np.sqrt(np.diag(cov)), rtol=1e-12
    )
    ci = fit.result_.conf_int(0.05)
    row = ci[(ci.item_id == "item1") & (ci.param == "a")].iloc[0]
    assert row.upper - row.lower == pytest.approx(2 * 1.959964 * row.se, rel=1e-6)


# --------------------------------------------------------------------- monotone EM
@pytest.mark.parametrize(("model", "k"), ALL_MODELS, ids=[m for m, _ in ALL_MODELS])
def test_loglik_never_decreases(model, k):
    rng = np.random.default_rng(11)
    bank = make_bank(model, true_params(model, 8, k, rng), k)
    data = simulate(bank, 800, rng)
    for accelerate in (True, False):
        fit = Calibrator(model, se_method="none", accelerate=accelerate, tol=1e-7).fit(data)
        history = np.asarray(fit.loglik_history_)
        assert np.all(np.diff(history) >= 0.0), np.diff(history).min()
        assert fit.converged_


# ------------------------------------------------------------------------ recovery
def _z_scores(result, bank) -> np.ndarray:
    table = result.params
    z = []
    for item in bank:
        for name, value in item.params.items():
            se = table.loc[item.item_id, f"{name}_se"]
            if np.isfinite(se) and se > 0:
                z.append((table.loc[item.item_id, name] - value) / se)
    return np.asarray(z)


def _recovered(result, bank, max_z: float = 4.0, alpha: float = 1e-3) -> None:
    """Estimates agree with the truth given their covariance: every |z| < max_z and the
    Mahalanobis distance of all free parameters passes a chi-square test at ``alpha``."""
    z = _z_scores(result, bank)
    assert np.abs(z).max() < max_z, z.round(2)
    problem = result.problem
    truth = np.zeros_like(result.beta)
    for g in problem.groups:
        ids = [result.item_ids[j] for j in g.items]
        values = np.array([[bank[i].params[n] for n in g.names] for i in ids])
        truth[g.beta_start : g.beta_start + g.n_beta] = g.pack(values)
    delta = problem.natural(result.beta) - problem.natural(truth)
    d2 = float(delta @ np.linalg.solve(result.cov, delta))
    assert stats.chi2.sf(d2, delta.size) > alpha, (d2, delta.size)


RECOVERY = [
    ("rasch", 2, 3000),
    ("1pl", 2, 3000),
    ("2pl", 2, 3000),
    ("3pl", 2, 20000),
    ("4pl", 2, 10000),
    ("grm", 4, 2000),
    ("gpcm", 3, 2000),
    ("pcm", 4, 2000),
    ("rsm", 4, 2000),
]


@pytest.mark.parametrize(("model", "k", "n"), RECOVERY, ids=[m for m, _, _ in RECOVERY])
def test_recovery_every_model(model, k, n):
    rng = np.random.default_rng(20 + RECOVERY.index((model, k, n)))
    bank = make_bank(model, true_params(model, 12, k, rng), k)
    data = simulate(bank, n, rng)
    asymptotes = model in ("3pl", "4pl")  # Bayes modal: the prior on c (and u) adds bias
    result = calibrate(data, model, priors="default" if asymptotes else None)
    assert result.converged
    _recovered(result, bank, max_z=5.0 if asymptotes else 4.0)


def test_recovery_sparse_and_design_independent():
    rng = np.random.default_rng(3)
    bank = make_bank("2pl", true_params("2pl", 60, 2, rng), 2)
    n = 6000
    mask = np.zeros((n, 60), dtype=bool)
    pick = np.argsort(rng.random((n, 60)), axis=1)[:, :15]  # 25% observed
    np.put_along_axis(mask, pick, True, axis=1)
    data = simulate(bank, n, rng, answered=mask)
    sparse = calibrate(data, "2pl", dense=False)
    dense = calibrate(data, "2pl", dense=True)
    np.testing.assert_allclose(sparse.params[["a", "b"]], dense.params[["a", "b"]], atol=2e-4)
    np.testing.assert_allclose(
        sparse.params[["a_se", "b_se"]], dense.params[["a_se", "b_se"]], rtol=1e-6
    )
    assert sparse.loglik == pytest.approx(dense.loglik, abs=1e-6)
    _recovered(sparse, bank)


def test_recovery_mixed_models_in_one_fit():
    rng = np.random.default_rng(8)
    p3 = true_params("3pl", 8, 2, rng)
    grm = true_params("grm", 6, 4, rng)
    p2 = true_params("2pl", 6, 2, rng)
    items = (
        list(make_bank("3pl", p3, 2, "mc"))
        + list(make_bank("grm", grm, 4, "rt"))
        + list(make_bank("2pl", p2, 2, "sa"))
    )
    from item_banks.bank import ItemBank

    bank = ItemBank(items, name="mixed")
    data = simulate(bank, 6000, rng, answered=rng.random((6000, 20)) > 0.2)
    models = {it.item_id: it.model for it in bank}
    result = calibrate(data, "2pl", item_models=models)
    assert result.params.loc["mc000", "model"] == "3pl"
    assert result.params.loc["rt000", "model"] == "grm"
    _recovered(result, bank)


def _adaptive_data(bank, n_persons, test_length, rng):
    """CAT: each person gets one of the 5 most informative unseen items at their EAP."""
    theta = rng.normal(size=n_persons)
    grid = np.linspace(-5, 5, 81)
    log_post = np.tile(-0.5 * grid**2, (n_persons, 1))
    x = np.full((n_persons, len(bank)), -1)
    seen = np.zeros((n_persons, len(bank)), dtype=bool)
    p_grid = bank.prob(grid)[..., 1]  # (G, items)
    p_true = bank.prob(theta)[..., 1]  # (persons, items)
    rows = np.arange(n_persons)
    for _ in range(test_length):
        w = np.exp(log_post - log_post.max(axis=1, keepdims=True))
        eap = (w @ grid) / w.sum(axis=1)
        info = bank.information(eap)  # (persons, items)
        info[seen] = -np.inf
        top5 = np.argsort(-info, axis=1)[:, :5]
        pick = top5[rows, rng.integers(0, 5, n_persons)]
        resp = (rng.random(n_persons) < p_true[rows, pick]).astype(int)
        x[rows, pick] = resp
        seen[rows, pick] = True
        pg = p_grid[:, pick].T  # (persons, G)
        log_post += np.where(resp[:, None] == 1, np.log(pg), np.log1p(-pg))
    return x


@pytest.mark.slow
def test_recovery_adaptive_data():
    """Which items a person saw depends on earlier answers: MML stays unbiased (MAR)."""
    rng = np.random.default_rng(12)
    params = true_params("2pl", 50, 2, rng)
    bank = make_bank("2pl", params, 2)
    x = _adaptive_data(bank, 8000, 20, rng)
    data = ResponseData.from_matrix(x, item_ids=bank.item_ids)
    result = calibrate(data, "2pl", min_responses=400)
    assert result.converged
    used = list(result.params.index)
    assert len(used) >= 35
    _recovered(result, bank.subset(used))
    # proportions correct are far from the truth here (each person got items near their
    # ability), the MML difficulties are not
    b_true = np.array([bank[i].params["b"] for i in used])
    b_err = result.params.loc[used, "b"].to_numpy() - b_true
    assert abs(b_err.mean()) < 0.05 and np.sqrt(np.mean(b_err**2)) < 0.15
    p_correct = np.array(
        [(x[:, bank.index_of(i)][x[:, bank.index_of(i)] >= 0]).mean() for i in used]
    )
    assert np.corrcoef(p_correct, b_true)[0, 1] > -0.5  # raw p-values barely track b


@pytest.mark.slow
def test_interval_coverage_is_nominal():
    """95% Wald intervals cover the generating value at a rate in [0.90, 0.99]."""
    rng = np.random.default_rng(2026)
    params = true_params("2pl", 10, 2, rng)
    bank = make_bank("2pl", params, 2)
    covered = []
    for _ in range(80):
        data = simulate(bank, 1000, rng)
        ci = calibrate(data, "2pl", tol=1e-5).conf_int(0.05)
        truth = np.array([bank[i].params[p] for i, p in zip(ci.item_id, ci.param, strict=True)])
        covered += list((ci.lower <= truth) & (truth <= ci.upper))
    rate = float(np.mean(covered))
    assert 0.90 <= rate <= 0.99, rate


# ---------------------------------------------------------- anchors, shared, options
def test_anchor_items_stay_fixed_and_set_the_scale():
    rng = np.random.default_rng(4)
    params = true_params("2pl", 10, 2, rng)
    bank = make_bank("2pl", params, 2)
    data = simulate(bank, 3000, rng)
    anchors = {i: dict(bank[i].params) for i in bank.item_ids[:4]}
    result = calibrate(data, "2pl", fixed=anchors)
    for item_id, values in anchors.items():
        assert result.params.loc[item_id, "a"] == values["a"]
        assert np.isnan(result.params.loc[item_id, "a_se"])
    assert result.n_params == 12
    assert result.anchored == tuple(anchors)
    _recovered(result, bank)
    with pytest.raises(CalibrationError, match="anchor item 'nope' is not in the data"):
        calibrate(data, "2pl", fixed={"nope": {"a": 1.0, "b": 0.0}})
    with pytest.raises(CalibrationError, match="needs parameters a, b"):
        calibrate(data, "2pl", fixed={"i000": {"a": 1.0}})


def test_shared_parameters():
    rng = np.random.default_rng(6)
    for model, k in (("1pl", 2), ("rsm", 4)):
        bank = make_bank(model, true_params(model, 8, k, rng), k)
        result = calibrate(simulate(bank, 2000, rng), model)
        table = result.params
        if model == "1pl":
            assert table["a"].nunique() == 1
            assert result.n_params == 9
        else:
            t = table[["t1", "t2", "t3"]].to_numpy()
            assert np.ptp(t, axis=0).max() == 0.0
            assert abs(t[0].sum()) < 1e-10
            assert result.n_params == 8 + 2


def test_convergence_warning_and_bad_options(lsat7_path):
    data = read_responses(lsat7_path)
    with pytest.warns(ConvergenceWarning, match="did not converge in"):
        fit = Calibrator("2pl", max_iter=2, se_method="none").fit(data)
    assert not fit.converged_
    with pytest.raises(UnknownModelError, match="unknown item model 'xyz'"):
        calibrate(data, "xyz")
    with pytest.raises(CalibrationError, match="item_models names item"):
        calibrate(data, "2pl", item_models={"item9": "3pl"})
    with pytest.raises(CalibrationError, match="se_method must be one of"):
        calibrate(data, "2pl", se_method="sandwich")
    with pytest.raises(CalibrationError, match="cannot read prior"):
        calibrate(data, "2pl", priors={"a": "lognormal 0 1"})
    poly = ResponseData.from_matrix(np.random.default_rng(0).integers(0, 3, (100, 3)))
    with pytest.raises(CalibrationError, match=r"item 'item1': model '2pl' allows at most 2"):
        calibrate(poly, "2pl")


def test_unestimable_items_and_empty_persons_are_reported():
    rng = np.random.default_rng(9)
    bank = make_bank("2pl", true_params("2pl", 6, 2, rng), 2)
    x = simulate_responses(bank, rng.normal(size=500), rng)
    x[:, 0] = 1  # no variance
    x[5:, 1] = -1  # 5 responses only
    x[7, :] = -1  # a person with no responses
    x[8, 2:] = -1  # a person who answered only the left-out items
    data = ResponseData.from_matrix(x, item_ids=bank.item_ids)
    result = calibrate(data, "2pl")
    assert set(result.excluded_items) == {"i000", "i001"}
    assert "no variance" in result.excluded_items["i000"]
    assert "5 responses, fewer than min_responses = 10" in result.excluded_items["i001"]
    assert set(result.excluded_persons) == {"8", "9"}
    assert result.n_persons == 498
    assert list(result.params.index) == ["i002", "i003", "i004", "i005"]
    text = str(result.summary())
    assert "i000 (no variance" in text and "excluded persons  2" in text
    # a declared category nobody used
    frame = data.to_matrix()
    declared = read_responses(
        __import__("pandas").DataFrame(frame, columns=bank.item_ids).replace(-1, None),
        categories={"i003": [0, 1, 2]},
    )
    result = calibrate(declared, "2pl", item_models={"i003": "grm"})
    assert result.excluded_items["i003"] == "category (code) 2 never used"


def test_no_warnings_on_clean_fit(lsat7_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        calibrate(read_responses(lsat7_path), "3pl")


def test_reverse_keyed_item_gets_negative_slope_and_bank_refuses_it():
    """The true maximum has a < 0 for a reverse-keyed item (as mirt); slope-intercept
    estimation crosses a = 0 freely."""
    rng = np.random.default_rng(21)
    params = true_params("grm", 8, 4, rng)
    params[0, 0] = -1.2  # reverse keyed: P(X >= k) falls with theta
    params[0, 1:] = params[0, :0:-1]  # thresholds decrease when a < 0
    from item_banks.models import get_model

    model = get_model("grm")
    theta = rng.normal(size=3000)
    cum = np.cumsum(model.prob(theta, params), axis=-1)
    x = (rng.random((3000, 8, 1)) > cum).sum(axis=-1)
    data = ResponseData.from_matrix(x)
    fit = Calibrator("grm").fit(data)
    result = fit.result_
    assert fit.converged_ and fit.n_iter_ < 200
    assert result.params.loc["item1", "a"] < -0.9
    assert result.negative_slopes() == ["item1"]
    nat = np.array([params[0, 0], *params[0, 1:]])
    est = result.params.loc["item1", ["a", "b1", "b2", "b3"]].to_numpy(dtype=float)
    se = result.params.loc["item1", ["a_se", "b1_se", "b2_se", "b3_se"]].to_numpy(dtype=float)
    assert np.all(np.abs(est - nat) < 4 * se)
    with pytest.raises(CalibrationError, match=r"1 item\(s\) have negative slopes.*item1 \(a = -"):
        result.to_item_bank()
    scores = result.scores("eap")
    assert "left out of scoring: item1" in scores.attrs["notes"][0]


def test_prior_densities_and_derivatives_match_scipy():
    from calibration.priors import Prior, parse_prior

    x = np.array([0.05, 0.2, 0.5, 0.9, 1.7])
    cases = [
        (Prior("normal", 0.3, 1.2), stats.norm(0.3, 1.2)),
        (Prior("lognormal", 0.2, 0.5), stats.lognorm(0.5, scale=np.exp(0.2))),
        (parse_prior("beta(5, 17)"), stats.beta(5, 17)),
    ]
    for prior, ref in cases:
        inside = ref.support()[0] < x
        inside &= x < ref.support()[1]
        np.testing.assert_allclose(prior.logpdf(x[inside]), ref.logpdf(x[inside]), rtol=1e-12)
        h = 1e-6
        num = (ref.logpdf(x[inside] + h) - ref.logpdf(x[inside] - h)) / (2 * h)
        np.testing.assert_allclose(prior.grad(x[inside]), num, rtol=1e-6)
        num2 = (prior.grad(x[inside] + h) - prior.grad(x[inside] - h)) / (2 * h)
        np.testing.assert_allclose(prior.hess(x[inside]), num2, rtol=1e-5)
    assert Prior("beta", 5, 17).logpdf(1.2) == -np.inf


def test_singular_information_leaves_only_unidentified_parameters_without_se():
    from calibration.estimation import _covariance

    rng = np.random.default_rng(0)
    block = rng.normal(size=(3, 3))
    block = block @ block.T + 3 * np.eye(3)
    info = np.zeros((4, 4))
    info[:3, :3] = block  # the fourth parameter is not identified at all
    cov, weak = _covariance(info)
    assert weak.tolist() == [False, False, False, True]
    np.testing.assert_allclose(cov[:3, :3], np.linalg.inv(block), rtol=1e-10)
    assert np.isnan(cov[3, 3])
    full, none = _covariance(block)
    np.testing.assert_allclose(full, np.linalg.inv(block), rtol=1e-10)
    assert not none.any()


def test_sparse_louis_over_item_windows_equals_numerical_hessian(monkeypatch):
    """Adaptive data in small batches of persons (each batch answered a few of the items):
    the blocks are added over the batch's items only, and the result is the same matrix."""
    rng = np.random.default_rng(42)
    m, n = 100, 3000
    bank = make_bank("2pl", true_params("2pl", m, 2, rng), 2)
    b = np.array([it.params["b"] for it in bank])
    theta = rng.normal(size=n)
    first = rng.integers(0, 4, size=(n, 2))  # two of four common items, then a window
    x0 = simulate_responses(bank, theta, rng)
    near = np.argsort(np.abs(b[None, :] - theta[:, None]), axis=1)[:, :6]
    mask = np.zeros((n, m), dtype=bool)
    np.put_along_axis(mask, first, True, axis=1)
    np.put_along_axis(mask, near, True, axis=1)
    data = ResponseData.from_matrix(np.where(mask, x0, -1))
    fit = Calibrator("2pl", dense=False).fit(data)
    problem, beta = fit.problem_, fit.beta_
    monkeypatch.setattr(_se_sparse, "SPARSE_BATCH_DOUBLES", 10_000)  # ~10 persons per batch
    monkeypatch.setattr(_se_sparse, "SCATTER_PAIRS", 500)  # ~10 persons per scatter batch
    info = _se.information(problem, beta)
    monkeypatch.setattr(_se_sparse, "SPARSE_BATCH_DOUBLES", 10**9)  # one batch: every item
    monkeypatch.setattr(_se_sparse, "SCATTER_PAIRS", 10**9)
    whole = _se.information(problem, beta)
    # equal up to the points left out below WEIGHT_FLOOR, which depend on the batches
    np.testing.assert_allclose(info, whole, rtol=1e-6, atol=1e-7 * np.abs(whole).max())
    hess = numerical_hessian(problem, beta)
    assert np.abs(info + hess).max() / np.abs(hess).max() < 1e-3


# --------------------------------------------------------------- quadrature accuracy
@pytest.mark.parametrize(("model", "k"), [("2pl", 2), ("3pl", 2), ("grm", 4)])
def test_default_quadrature_gives_the_slopes_of_a_161_point_fit(model, k):
    """The 61-point default estimates the maximum of an accurately integrated likelihood.

    A long test (60 items, steep slopes up to 2.3) has narrow posteriors, where a coarse
    grid shrinks slopes (mirt's 21 points: about 7% on 100 items): the default's slopes,
    at its default tolerance, are within 1e-3 of a 161-point fit converged 100x tighter.
    """
    rng = np.random.default_rng(zlib.crc32(model.encode()))
    params = true_params(model, 60, k, rng)
    data = simulate(make_bank(model, params, k), 4000, rng)
    default = Calibrator(model, se_method="none").fit(data)
    fine = Calibrator(model, se_method="none", n_quad=161, tol=1e-6).fit(data)
    assert default.converged_ and fine.converged_
    a, a_fine = default.result_.params["a"], fine.result_.params["a"]
    assert float(np.max(np.abs(a - a_fine))) < 1e-3
    coarse = Calibrator(model, se_method="none", n_quad=21, theta_range=(-4, 4)).fit(data)
    # the check can fail: mirt's default grid is visibly off on the same data
    assert float(np.max(np.abs(coarse.result_.params["a"] - a_fine))) > 1e-3
