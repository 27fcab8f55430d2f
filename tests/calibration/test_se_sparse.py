"""The sparse Louis term over item pairs equals the dense design's, for every model.

Independent truths: the dense (pattern) design's information, computed from the pattern
Gram matrices at each point (:func:`calibration._se_dense._covariance_dense`), a different
algorithm on a different layout of the same data; and the numerical Hessian of the
marginal log-likelihood (``tests/calibration/test_estimation.py``, sparse and dense).
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest
from calib_helpers import ALL_MODELS as BUILT_IN
from calib_helpers import make_bank, numerical_hessian, simulated_items, true_params

from calibration import Calibrator, ResponseData, _se, _se_dense, _se_sparse
from calibration._em import EMProblem
from calibration._layout import build_design, build_groups
from calibration.estimation import quadrature
from calibration.simulate import simulate_responses
from item_banks.models import get_model

ALL_MODELS = [*BUILT_IN, ("2pl+3pl+grm", 3)]  # and a mixed-model fit


def _problems(model: str, k: int, n: int, m: int, observed: float, seed: str):
    """The same data as a sparse and as a dense (pattern) problem, and the true beta."""
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    bank, values, x = simulated_items(model, k, n, m, rng)
    # missing at random: different numbers of answers per person, one answer for some
    x[rng.random((n, m)) > observed] = -1
    x[:5, 1:] = -1
    data = ResponseData.from_matrix(x, item_ids=bank.item_ids)
    cats = data.n_categories
    models = [get_model(it.model) for it in bank.items]
    groups = build_groups(models, cats, {}, {})
    theta, logw = quadrature()
    sparse = EMProblem(groups, build_design(data, cats, dense=False), theta, logw)
    dense = EMProblem(groups, build_design(data, cats, dense=True), theta, logw)
    beta = np.zeros(sparse.n_beta)
    for g in groups:
        block = np.array([values[i] for i in g.items])
        beta[g.beta_start : g.beta_start + g.n_beta] = g.pack(block)
    assert sparse.valid(beta)
    return sparse, dense, beta


@pytest.mark.parametrize(("model", "k"), ALL_MODELS, ids=[m for m, _ in ALL_MODELS])
@pytest.mark.parametrize("method", ["louis", "crossprod"])
def test_sparse_pairs_equal_dense_patterns(model, k, method, monkeypatch):
    sparse, dense, beta = _problems(model, k, 600, 7, 0.6, model)
    assert not sparse.design.dense and dense.design.dense
    # keep every posterior weight on both paths (their floors are applied differently)
    monkeypatch.setattr(_se_dense, "WEIGHT_FLOOR", 0.0)
    monkeypatch.setattr(_se_sparse, "WEIGHT_FLOOR", 0.0)
    info_s = _se.information(sparse, beta, method)
    info_d = _se.information(dense, beta, method)
    np.testing.assert_allclose(info_s, info_d, rtol=1e-9, atol=1e-10 * np.abs(info_d).max())
    # the sampling variances (squared SEs; at the true beta an information may be
    # indefinite, so compare the inverse's diagonal itself)
    var_s = np.diag(np.linalg.inv(info_s))
    var_d = np.diag(np.linalg.inv(info_d))
    np.testing.assert_allclose(var_s, var_d, rtol=1e-8)


@pytest.mark.parametrize(("model", "k"), [("2pl", 2), ("3pl", 2), ("grm", 4)])
def test_batches_change_nothing(model, k, monkeypatch):
    """Compute batches of one person and scatter batches of a few, against one batch of
    everything: the same sums in another order."""
    sparse, _, beta = _problems(model, k, 400, 30, 0.2, "batches" + model)
    monkeypatch.setattr(_se_sparse, "WEIGHT_FLOOR", 0.0)
    whole = _se.information(sparse, beta)
    monkeypatch.setattr(_se_sparse, "SPARSE_BATCH_DOUBLES", 1)
    monkeypatch.setattr(_se_sparse, "SCATTER_PAIRS", 50)
    small = _se.information(sparse, beta)
    np.testing.assert_allclose(small, whole, rtol=1e-12, atol=1e-12 * np.abs(whole).max())


def test_adaptive_log_equals_numerical_hessian():
    """A CAT-like log (a common routing block, then a window of items near each ability):
    persons are sorted by where their items lie, each scatter batch covers a small part of
    the bank, and the result is still the Hessian of the marginal log-likelihood."""
    rng = np.random.default_rng(7)
    m, n = 40, 4000
    bank = make_bank("2pl", true_params("2pl", m, 2, rng), 2)
    b = np.array([it.params["b"] for it in bank])
    theta = rng.normal(size=n)
    x0 = simulate_responses(bank, theta, rng)
    mask = np.zeros((n, m), dtype=bool)
    np.put_along_axis(mask, rng.integers(0, 5, size=(n, 2)), True, axis=1)
    near = np.argsort(np.abs(b[None, :] - theta[:, None] + rng.normal(0, 0.3, (n, 1))), axis=1)
    np.put_along_axis(mask, near[:, :8], True, axis=1)
    data = ResponseData.from_matrix(np.where(mask, x0, -1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = Calibrator("2pl", dense=False).fit(data)
    problem, beta = fit.problem_, fit.beta_
    info = _se.information(problem, beta)
    hess = numerical_hessian(problem, beta)
    assert np.abs(info + hess).max() / np.abs(hess).max() < 1e-4
    se_num = np.sqrt(np.diag(np.linalg.inv(-hess)))
    np.testing.assert_allclose(np.sqrt(np.diag(np.linalg.inv(info))), se_num, rtol=1e-4)
