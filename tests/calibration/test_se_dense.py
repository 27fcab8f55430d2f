"""The batched dense Louis term equals the point-by-point loop it replaced, for every model.

Independent truth: the loop over quadrature points of commit 8789689
(``calibration/_se.py::_covariance_dense``), kept here as ``_loop_reference``:
one Gram matrix, one ``F_q' G_q F_q`` and one set of category-0 terms per point, with the
dense maps ``F_q`` of :func:`calibration._se._point_maps` (the batched path uses compact
ones and sums over points in a few large products).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from calib_helpers import simulated_items
from scipy.linalg import blas
from test_se_sparse import ALL_MODELS

from calibration import ResponseData, _se, _se_dense
from calibration._em import EMProblem
from calibration._layout import build_design, build_groups
from calibration._se_sparse import WEIGHT_FLOOR
from calibration.estimation import quadrature
from item_banks.models import get_model


def _loop_reference(problem, post, dmat, n_items, p_max):
    """``sum_i c_i E_i[s s']`` over rows, point by point (the code before the batching)."""
    d = problem.design
    p_e = n_items * p_max
    ent = _se._entries_of_columns(d, p_max)
    second = np.zeros((p_e, p_e))
    order = np.argsort(post @ problem.theta, kind="stable")
    z = np.asarray(d.z)[order]
    post_t = np.ascontiguousarray(post[order].T)
    cnt = d.counts[order]
    for q in range(problem.theta.size):
        active = np.nonzero(post_t[q] > WEIGHT_FLOOR)[0]
        if active.size == 0:
            continue
        lo, hi = int(active[0]), int(active[-1]) + 1
        cw = cnt[lo:hi] * post_t[q, lo:hi]
        f, h = _se._point_maps(d, dmat[q], ent, p_e)
        zw = z[lo:hi] * np.sqrt(cw)[:, None]
        gram = blas.dsyrk(1.0, zw.T, trans=0, lower=0)
        second += f.T @ blas.dsymm(1.0, gram, f, side=0, lower=0)
        if d.complete:
            fv = f.T @ (z[lo:hi].T @ cw)
            second += _se._complete_terms(fv, h, cw.sum())
    return second - _se_dense._cross_product(problem, post, dmat, n_items, p_max)


def _dense_problem(model: str, k: int, n: int, m: int, observed: float, seed: str):
    """A dense pattern problem of simulated data (``observed`` < 1: cells missing at
    random), and the generating beta."""
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    bank, values, x = simulated_items(model, k, n, m, rng)
    if observed < 1.0:
        x[rng.random((n, m)) > observed] = -1
    data = ResponseData.from_matrix(x, item_ids=bank.item_ids)
    cats = data.n_categories
    groups = build_groups([get_model(it.model) for it in bank.items], cats, {}, {})
    theta, logw = quadrature()
    problem = EMProblem(groups, build_design(data, cats, dense=True), theta, logw)
    beta = np.zeros(problem.n_beta)
    for g in groups:
        block = np.array([values[i] for i in g.items])
        beta[g.beta_start : g.beta_start + g.n_beta] = g.pack(block)
    assert problem.design.dense and problem.design.complete == (observed == 1.0)
    return problem, beta


def _dense_parts(problem, beta):
    _, _, post = problem.estep(beta, keep_posterior=True)
    p_max = max(g.n_params for g in problem.groups)
    n_items = int(problem.design.col_offset.size - 1)
    dmat = _se._score_derivatives(problem, problem.unpack(beta), p_max)
    return post, dmat, n_items, p_max


@pytest.mark.parametrize(("model", "k"), ALL_MODELS, ids=[m for m, _ in ALL_MODELS])
@pytest.mark.parametrize("observed", [0.6, 1.0], ids=["missing", "complete"])
@pytest.mark.parametrize("chunk", [None, 1], ids=["one-chunk", "chunk-per-column-and-point"])
@pytest.mark.parametrize("grams", [10**12, 0], ids=["one-product", "syrk-per-point"])
def test_batched_equals_point_loop(model, k, observed, chunk, grams, monkeypatch):
    """Both ways of forming the points' Gram matrices, in one or many chunks."""
    dense, beta = _dense_problem(model, k, 500, 7, observed, "dense" + model)
    if chunk is not None:
        monkeypatch.setattr(_se_dense, "COMPACT_DOUBLES", chunk)
        monkeypatch.setattr(_se_dense, "GRAM_DOUBLES", chunk)
        monkeypatch.setattr(_se_dense, "PAIR_BLOCK_DOUBLES", 1000)  # blocks of rows
    monkeypatch.setattr(_se_dense, "SMALL_GRAM_DOUBLES", grams)
    parts = _dense_parts(dense, beta)
    want = _loop_reference(dense, *parts)
    got = _se_dense._covariance_dense(dense, *parts)
    scale = np.abs(want).max()
    assert np.abs(got - want).max() <= 1e-10 * scale
