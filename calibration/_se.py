"""Observed information of the marginal log-likelihood by Louis' identity, and cross-product.

Louis (1982): ``-d2 l = E[-d2 l_c | x] - Cov[d l_c | x]``, per person, with the
expectation over the posterior on the quadrature grid. The first term is item-wise
(block diagonal) and uses the expected counts; the second needs, for each person, the
posterior covariance of the complete-data score, which is computed

* for dense (compressed) designs from the rows' Gram matrices at each quadrature point,
  summed over points in a few batched products (:mod:`calibration._se_dense`);
* for sparse designs per person over the pairs of their answered items only (work grows
  with observed responses; :mod:`calibration._se_sparse`).

The cross-product (XPD) information ``sum_i s_i s_i'`` of the person scores is a by-product.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from calibration._em import EMProblem
from calibration._layout import Design, FloatArray
from calibration._se_dense import _covariance_dense
from calibration._se_sparse import covariance_sparse
from calibration._threads import blas_threads


def _entry_map(problem: EMProblem, n_items: int, p_max: int) -> sparse.csr_array:
    """Sparse map from beta to item-major padded entries (n_items * p_max, n_beta)."""
    rows, cols, vals = [], [], []
    for g in problem.groups:
        n_p = g.n_params
        if g.jac is not None:
            jr, jc = np.nonzero(g.jac)
            item = g.items[jr // n_p]
            rows.append(item * p_max + jr % n_p)
            cols.append(g.beta_start + jc)
            vals.append(g.jac[jr, jc])
        else:
            item = np.repeat(g.items[g.free_rows], n_p)
            par = np.tile(np.arange(n_p), g.free_rows.size)
            rows.append(item * p_max + par)
            cols.append(g.beta_start + np.arange(g.n_beta))
            vals.append(np.ones(g.n_beta))
    r, c, v = (np.concatenate(x) if x else np.zeros(0) for x in (rows, cols, vals))
    return sparse.csr_array(
        (v, (r.astype(np.int64), c.astype(np.int64))), shape=(n_items * p_max, problem.n_beta)
    )


def _second_derivatives(
    problem: EMProblem, values: list[FloatArray], counts: FloatArray, n_items: int, p_max: int
) -> FloatArray:
    """Complete-data information ``sum_kq R_jkq (-d2 log P_jkq)`` per item.

    Central differences of the analytic parameter derivatives; (n_items, p_max, p_max).
    """
    out = np.zeros((n_items, p_max, p_max))
    theta = problem.theta
    for g, v, cols in zip(problem.groups, values, problem.group_cols, strict=True):
        r = counts[cols]  # (n_g, K, Q)
        n_p = g.n_params
        block = np.zeros((v.shape[0], n_p, n_p))
        for j in range(n_p):
            h = 1e-5 * (1.0 + np.abs(v[:, j]))
            up, down = v.copy(), v.copy()
            up[:, j] += h
            forward = np.zeros(v.shape[0], dtype=bool)
            if g.names[j] == "c":
                forward = v[:, j] - h < 0.0
            down[:, j] -= np.where(forward, 0.0, h)
            width = np.where(forward, h, 2.0 * h)
            d_up = g.model.dlog_prob_dparams(theta, up)
            d_down = g.model.dlog_prob_dparams(theta, down)
            second = (d_up - d_down) / width[None, :, None, None]  # (Q, n_g, K, P)
            block[:, :, j] = -np.einsum("gkq,qgkp->gp", r, second)
        out[g.items, :n_p, :n_p] = 0.5 * (block + block.transpose(0, 2, 1))
    return out


def _score_derivatives(problem: EMProblem, values: list[FloatArray], p_max: int) -> FloatArray:
    """``d log P / d params`` of every column at every point, (Q, sum K + 1, p_max).

    The last row is zero (a missing response).
    """
    d = problem.design
    out = np.zeros((problem.theta.size, d.n_cols + 1, p_max))
    for g, v, cols in zip(problem.groups, values, problem.group_cols, strict=True):
        deriv = g.model.dlog_prob_dparams(problem.theta, v)  # (Q, n_g, K, P)
        out[:, cols.ravel(), : g.n_params] = deriv.reshape(problem.theta.size, -1, g.n_params)
    return out


def _entries_of_columns(design: Design, p_max: int) -> NDArray[np.intp]:
    """Padded entries (item * p_max + parameter) of every (item, category) column."""
    item_of_col = np.repeat(np.arange(design.col_offset.size - 1), np.diff(design.col_offset))
    return item_of_col[:, None] * p_max + np.arange(p_max)[None, :]  # (sum K, p_max)


def _point_maps(
    design: Design, dmat_q: FloatArray, ent: NDArray[np.intp], p_e: int
) -> tuple[FloatArray, FloatArray]:
    """``F_q = zmap @ Dm_q`` (n_z, p_e) and ``h_q = e' Dm_q`` (p_e,) at one point.

    ``Dm_q`` is the (sum K, p_e) block matrix of the columns' parameter derivatives: the
    complete-data score of a row is ``z' F_q (+ h_q when complete)``.
    """
    n_cols = design.n_cols
    dm = np.zeros((n_cols, p_e))
    np.put_along_axis(dm, ent, dmat_q[:n_cols], axis=1)
    h = np.zeros(p_e)
    if design.complete:
        base = design.base_cols
        np.put_along_axis(h[None, :], ent[base].reshape(1, -1), dmat_q[base].reshape(1, -1), axis=1)
    return np.asarray(design.zmap @ dm), h


def _complete_terms(fv: FloatArray, h: FloatArray, total: float) -> FloatArray:
    """``F' v h' + h v' F + T h h'``: the category-0 part of ``sum w s s'`` (complete data)."""
    return np.outer(fv, h) + np.outer(h, fv) + total * np.outer(h, h)


def _covariance_groups(
    problem: EMProblem,
    post: FloatArray,
    dmat: FloatArray,
    n_items: int,
    p_max: int,
    method: str = "louis",
) -> FloatArray:
    """As :func:`_covariance_dense` for score groups, from each group's moments.

    A person's score at point q is ``s = z' F_q + h_q`` and the posterior is the group's,
    so the sums over persons need only the group sums of ``z`` and of ``z z'``
    (``M_g``): ``sum_p w s s' = F' (sum_g w_g M_g) F + F' v h' + h v' F + T h h'``.
    """
    d = problem.design
    p_e = n_items * p_max
    ent = _entries_of_columns(d, p_max)
    zsum = np.asarray(d.zt_sum).T  # (n_rows, n_z)
    n_z = zsum.shape[1]
    maps = [_point_maps(d, dmat[q], ent, p_e) for q in range(problem.theta.size)]
    f_all = np.stack([f for f, _ in maps])  # (Q, n_z, p_e)
    h_all = np.stack([h for _, h in maps])  # (Q, p_e)
    # group sums: sum_g w_gq M_g (Q, n_z, n_z) and, for the cross-product of the
    # posterior-mean scores s_bar = z' F_g + h_g, sum_g F_g' M_g F_g; in chunks of groups
    gram = np.zeros((problem.theta.size, n_z * n_z))
    xpd = np.zeros((p_e, p_e))
    assert d.moments is not None
    chunk = max(1, 20_000_000 // max(n_z * n_z, p_e * n_z))
    for lo in range(0, d.n_rows, chunk):
        hi = min(d.n_rows, lo + chunk)
        moments = d.moments(lo, hi)  # (chunk, n_z, n_z)
        if method == "louis":
            gram += post[lo:hi].T @ moments.reshape(hi - lo, -1)
        f_bar = np.einsum("gq,qzp->gzp", post[lo:hi], f_all)  # (chunk, n_z, p_e)
        xpd += np.einsum("gzp,gzy,gyr->pr", f_bar, moments, f_bar, optimize=True)
        if d.complete:
            h_bar = post[lo:hi] @ h_all  # (chunk, p_e)
            fz = np.einsum("gzp,gz->gp", f_bar, zsum[lo:hi])
            xpd += fz.T @ h_bar + h_bar.T @ fz + (h_bar * d.counts[lo:hi, None]).T @ h_bar
    out = np.zeros((p_e, p_e))
    if method == "louis":
        v_all = post.T @ zsum  # (Q, n_z): sum_g w_gq zsum_g
        t_all = post.T @ d.counts  # (Q,)
        for q in range(problem.theta.size):
            f, h = f_all[q], h_all[q]
            fv = f.T @ v_all[q]
            g_q = gram[q].reshape(n_z, n_z)
            out += f.T @ g_q @ f + _complete_terms(fv, h, t_all[q])
    return out - xpd if method == "louis" else xpd


def information(
    problem: EMProblem,
    beta: FloatArray,
    method: str = "louis",
    estep: tuple[FloatArray, FloatArray | None] | None = None,
) -> FloatArray:
    """Observed (``louis``) or cross-product (``crossprod``) information of ``beta``.

    Parameters
    ----------
    problem : EMProblem
        Or a partitioned problem (:mod:`calibration.distributed`): one with a method
        ``covariance_sum(beta, method)`` computes the sum over persons where they live.
    beta : ndarray, (n_beta,)
    method : {"louis", "crossprod"}
    estep : (counts, posterior), optional
        Expected counts (sum K, Q) and posterior (n_rows, Q) of :meth:`EMProblem.estep`
        at ``beta``, when the caller has them; computed otherwise.

    Returns
    -------
    ndarray, (n_beta, n_beta)
        Negative Hessian of the penalised marginal log-likelihood (``louis``, exact) or
        its outer-product approximation (``crossprod``), both including the prior's
        curvature.
    """
    partitioned = getattr(problem, "covariance_sum", None)
    if partitioned is not None:
        counts = problem.estep(beta)[1] if estep is None else estep[0]
        return assemble(problem, beta, method, counts, partitioned(beta, method))
    if estep is None or estep[1] is None:
        _, counts, post = problem.estep(beta, keep_posterior=True)
    else:
        counts, post = estep
    assert post is not None
    return assemble(problem, beta, method, counts, covariance_sum(problem, beta, method, post))


def covariance_sum(
    problem: EMProblem, beta: FloatArray, method: str, post: FloatArray
) -> FloatArray:
    """The persons' part of the information over item entries, (n_items * p_max,) ** 2.

    ``sum_i Cov_i(d l_c)`` (``louis``) or ``sum_i s_i s_i'`` (``crossprod``) of the rows of
    ``problem`` with posterior ``post``: a sum over persons, so that partitions of the
    persons can compute theirs where the data are and add them up.
    """
    p_max = max(g.n_params for g in problem.groups)
    n_items = int(problem.design.col_offset.size - 1)
    dmat = _score_derivatives(problem, problem.unpack(beta), p_max)
    if problem.design.moments is not None:
        covariance = _covariance_groups
    else:
        covariance = _covariance_dense if problem.design.dense else covariance_sparse
    with blas_threads(_largest_product(problem, p_max)):
        return covariance(problem, post, dmat, n_items, p_max, method)


def _largest_product(problem: EMProblem, p_max: int) -> float:
    """Operations of the largest single BLAS call of the information (threads, see _threads)."""
    d = problem.design
    p_e = (d.col_offset.size - 1) * p_max
    if d.dense:
        n_z = int(np.asarray(d.z).shape[1]) if d.moments is None else int(d.zt_sum.shape[0])
        return 2.0 * d.n_rows * n_z * max(n_z, p_e)
    return 8.0e6 * problem.theta.size  # sparse: one person's (m, q) x (q, m) per call, far below


def assemble(
    problem: EMProblem, beta: FloatArray, method: str, counts: FloatArray, cov: FloatArray
) -> FloatArray:
    """The information of ``beta`` from the persons' sum ``cov`` and the expected counts.

    Louis: ``E[-d2 l_c] - sum_i Cov_i(d l_c)``, the first term item-wise from ``counts``;
    then mapped from item entries to ``beta`` and the prior's curvature added.
    """
    values = problem.unpack(beta)
    n_items = int(problem.design.col_offset.size - 1)
    p_max = max(g.n_params for g in problem.groups)
    if method == "crossprod":
        info_e = cov.copy()
    else:
        info_e = -cov
        hess = _second_derivatives(problem, values, counts, n_items, p_max)
        idx = np.arange(n_items)[:, None, None] * p_max
        rr = (idx + np.arange(p_max)[None, :, None]).repeat(p_max, axis=2)
        cc = (idx + np.arange(p_max)[None, None, :]).repeat(p_max, axis=1)
        np.add.at(info_e, (rr.ravel(), cc.ravel()), hess.ravel())
    jac = _entry_map(problem, n_items, p_max)
    info = np.asarray(jac.T @ (jac.T @ info_e).T)
    info = 0.5 * (info + info.T)
    info -= np.diag(problem.prior_hessian(beta))
    return info
