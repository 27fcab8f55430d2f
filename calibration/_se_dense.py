"""The persons' part of the Louis information for dense (pattern) designs.

A row's complete-data score at point q is ``s_iq = z_i' F_q (+ h_q)`` with
``F_q = zmap @ Dm_q`` (``Dm_q`` the columns' parameter derivatives) and ``h_q = e' Dm_q``
when every row answered every item, so that ``sum_i c_i w_iq s_iq s_iq'`` is
``F_q' G_q F_q + F_q' v_q h_q' + h_q v_q' F_q + T_q h_q h_q'`` with the rows' Gram matrix
``G_q = Z' diag(c w_q) Z``, ``v_q = Z' c w_q`` and ``T_q = sum c w_q``. Row ``a`` of
``F_q`` is zero outside the entries of the item of column ``a``, so the sum over points
is formed from the compact ``(Q, n_z, p_max)`` values in a few batched products, not one
``(n_z, p_e)`` product per point. Rows whose posterior weight at a point is at most
``WEIGHT_FLOOR`` are left out there.
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import blas

from calibration._em import EMProblem
from calibration._layout import Design, FloatArray
from calibration._se_sparse import WEIGHT_FLOOR
from calibration._threads import map_persons

COMPACT_DOUBLES = 2_000_000
"""Doubles of one chunk of the products ``G_q[a, b] F_q[b]`` of the dense Louis term."""

PAIR_BLOCK_DOUBLES = 32_768
"""Doubles of the buffer of row-wise pair products (small designs' Gram matrices)."""

GRAM_DOUBLES = 4_000_000
"""Doubles of the points' Gram matrices held at once (points in groups for wide tests)."""

SMALL_GRAM_DOUBLES = 500_000
"""Designs whose row-wise products ``z_a z_b`` (a <= b) fit in this many doubles get the
points' Gram matrices from one product with all the weights (no loop over points)."""


def _cross_product(
    problem: EMProblem, post: FloatArray, dmat: FloatArray, n_items: int, p_max: int
) -> FloatArray:
    """``sum_i c_i s_i s_i'`` of the rows' posterior-mean scores, in batches of rows."""
    d = problem.design
    n_rows, p_e = d.n_rows, n_items * p_max
    colidx = d.colidx
    assert colidx is not None
    flat = dmat.reshape(dmat.shape[0], -1)  # (Q, (sum K + 1) * p_max)
    out = np.zeros((p_e, p_e))
    batch = max(1, 2_000_000 // max(flat.shape[1], p_e))
    n_cols = flat.shape[1] // p_max
    for start in range(0, n_rows, batch):
        stop = min(n_rows, start + batch)
        wd = (post[start:stop] @ flat).reshape(-1, p_max)  # ((stop - start) * n_cols, p_max)
        # each row's (column, entries) of its answers: one gather of contiguous p_max blocks
        at = np.arange(stop - start, dtype=np.intp)[:, None] * n_cols + colidx[start:stop]
        mean = np.take(wd, at.ravel(), axis=0).reshape(stop - start, -1)
        if not problem.unit_counts:
            mean *= np.sqrt(d.counts[start:stop])[:, None]
        out = blas.dsyrk(1.0, mean.T, beta=1.0, c=out, trans=0, lower=0, overwrite_c=True)
    return np.triu(out) + np.triu(out, 1).T


def _compact_maps(design: Design, dmat: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    """Every point's ``F_q`` in compact form, (Q, n_z, p_max), and the entry of each value.

    Row ``a`` of ``F_q = zmap @ Dm_q`` is zero outside the entries of the item of ``z``'s
    column ``a``; ``fc[q, a]`` holds those ``p_max`` values, and ``ent[a * p_max + e]``
    is the item entry of value ``e`` (item * p_max + e), (n_z * p_max,).
    """
    n_q, _, p_max = dmat.shape
    n_cols, zmap = design.n_cols, design.zmap
    flat = dmat[:, :n_cols].transpose(1, 0, 2).reshape(n_cols, n_q * p_max)
    fc = np.asarray(zmap @ flat).reshape(-1, n_q, p_max).transpose(1, 0, 2)
    item_of_col = np.repeat(np.arange(design.col_offset.size - 1), np.diff(design.col_offset))
    item_of_z = item_of_col[zmap.indices[zmap.indptr[:-1]]]  # one item per row of zmap
    return np.ascontiguousarray(fc), (item_of_z[:, None] * p_max + np.arange(p_max)).ravel()


def _point_weights(
    problem: EMProblem, post: FloatArray
) -> tuple[FloatArray, FloatArray, NDArray[np.intp], NDArray[np.intp]]:
    """Rows sorted by posterior mean, their weights ``c w_q`` (Q, n_rows) and the slices.

    At each point only the rows whose weight exceeds ``WEIGHT_FLOOR`` count: sorted by
    posterior mean they are one slice ``lo[q]:hi[q]`` (and the rows inside it count too);
    the weights outside it are set to zero.
    """
    d = problem.design
    order = np.argsort(post @ problem.theta, kind="stable")
    post_t = np.take(post.T, order, axis=1)  # (Q, n_rows): one point per row
    n_rows = post_t.shape[1]
    active = post_t > WEIGHT_FLOOR
    lo = np.argmax(active, axis=1)
    hi = np.where(active.any(axis=1), n_rows - np.argmax(active[:, ::-1], axis=1), 0)
    rows = np.arange(n_rows)
    inside = (rows >= lo[:, None]) & (rows < hi[:, None])
    cw = np.multiply(post_t, d.counts[order], out=post_t)  # post_t is not used below
    cw *= inside
    return np.asarray(d.z)[order], cw, lo, hi


def _point_grams(
    z: FloatArray, cw: FloatArray, lo: NDArray[np.intp], hi: NDArray[np.intp]
) -> FloatArray:
    """``G_q = Z' diag(c w_q) Z`` of the points of ``cw`` (rows of :func:`_point_weights`).

    One BLAS product per point over its slice of rows (the points on the person threads);
    for small designs (``n_z (n_z + 1) / 2 * n_rows`` up to ``SMALL_GRAM_DOUBLES``) one
    product of the row-wise pair products with all the weights. (n_points, n_z, n_z).
    """
    n_q, n_rows = cw.shape
    n_z = z.shape[1]
    upper = np.triu_indices(n_z)
    if upper[0].size * n_rows <= SMALL_GRAM_DOUBLES:
        zt = np.ascontiguousarray(z.T)
        tri_t = np.zeros((upper[0].size, n_q))
        # z_a z_b (a <= b, in the order of ``upper``) of a block of rows, in one small
        # buffer (fresh arrays of megabytes cost more in page faults than in arithmetic)
        step = max(1, PAIR_BLOCK_DOUBLES // upper[0].size)
        pairs = np.empty((upper[0].size, min(step, n_rows)))
        for r0 in range(0, n_rows, step):
            r1 = min(n_rows, r0 + step)
            at = 0
            for a in range(n_z):
                np.multiply(zt[a, r0:r1], zt[a:, r0:r1], out=pairs[at : at + n_z - a, : r1 - r0])
                at += n_z - a
            tri_t += pairs[:, : r1 - r0] @ cw[:, r0:r1].T
        tri = tri_t.T  # (Q, n_z (n_z + 1) / 2)
    else:
        root = np.sqrt(cw)
        tri = np.zeros((n_q, upper[0].size))
        scratch = threading.local()  # each thread's weighted rows, reused at every point

        def point(q: int) -> None:
            a, b = int(lo[q]), int(hi[q])
            if not hasattr(scratch, "buffer"):
                scratch.buffer = np.empty_like(z)
            zw = np.multiply(z[a:b], root[q, a:b, None], out=scratch.buffer[: b - a])
            # numpy's product (BLAS gemm, the GIL released), not scipy's syrk wrapper,
            # which holds the GIL: the points run on map_persons' threads. 40,000 x 100:
            # syrk 12.2 ms, gemm 9.8 ms on one thread, 5.3 ms per point on two
            tri[q] = (zw.T @ zw)[upper]

        for _ in map_persons(point, np.nonzero(hi > lo)[0]):
            pass
    gram = np.empty((n_q, n_z, n_z))
    gram[:, upper[0], upper[1]] = tri
    gram[:, upper[1], upper[0]] = tri
    return gram


def _sandwich(fc: FloatArray, gram: FloatArray, ent: NDArray[np.intp], p_e: int) -> FloatArray:
    """``sum_q F_q' G_q F_q`` over item entries, from the compact ``F_q``, (p_e, p_e).

    Block (a, b) of columns is ``sum_q fc[q, a]' G_q[a, b] fc[q, b]`` (p_max x p_max); all
    of them as one batched product per chunk of columns ``a``, then summed into items.
    """
    n_q, n_z, p = fc.shape
    left = fc.transpose(1, 2, 0)  # (n_z, p, Q)
    out = np.empty((n_z * p, n_z * p))
    chunk = max(1, COMPACT_DOUBLES // (n_q * n_z * p))
    for lo in range(0, n_z, chunk):
        hi = min(n_z, lo + chunk)
        # right[a, q, b, e] = G_q[a, b] fc[q, b, e]
        right = gram[:, lo:hi].transpose(1, 0, 2)[..., None] * fc[None]
        block = np.matmul(left[lo:hi], right.reshape(hi - lo, n_q, n_z * p))
        out[lo * p : hi * p] = block.reshape((hi - lo) * p, n_z * p)
    at = (ent[:, None] * p_e + ent[None, :]).ravel()
    return np.bincount(at, out.ravel(), minlength=p_e * p_e).reshape(p_e, p_e)


def _covariance_dense(
    problem: EMProblem,
    post: FloatArray,
    dmat: FloatArray,
    n_items: int,
    p_max: int,
    method: str = "louis",
) -> FloatArray:
    """Sum over rows of counts * E[s s'] and the cross-product of the posterior means.

    With ``y_i = zmap' z_i (+ e)``, the score at point q is ``s_iq = z_i' F_q (+ h_q)``
    with ``F_q = zmap @ Dm_q`` and ``h_q = e' Dm_q``; so ``sum_i c_i w_iq s_iq s_iq'`` is
    ``F' G_q F + F' v h' + h v' F + T h h'`` with ``G_q = Z' diag(c w_q) Z`` (one BLAS
    product per point over the rows with weight), ``v = Z' c w_q`` and ``T = sum c w_q``;
    the sums over points are batched products (:func:`_sandwich`).
    """
    d = problem.design
    xpd = _cross_product(problem, post, dmat, n_items, p_max)
    if method != "louis":
        return xpd
    z, cw, lo, hi = _point_weights(problem, post)
    fc, ent = _compact_maps(d, dmat)
    p_e = n_items * p_max
    second = np.zeros((p_e, p_e))
    n_z = z.shape[1]
    step = max(1, GRAM_DOUBLES // (n_z * n_z))  # points whose Gram matrices are held at once
    for q0 in range(0, fc.shape[0], step):
        q1 = q0 + step
        gram = _point_grams(z, cw[q0:q1], lo[q0:q1], hi[q0:q1])
        second += _sandwich(fc[q0:q1], gram, ent, p_e)
    v, total = cw @ z, cw.sum(axis=1)
    if d.complete:
        n_q = fc.shape[0]
        h = dmat[:, d.base_cols, :].reshape(n_q, p_e)  # h_q
        # F_q' v_q: each compact value times its column's v, summed into its entry
        at = (np.arange(n_q)[:, None] * p_e + ent[None, :]).ravel()
        fv = np.bincount(at, (fc * v[:, :, None]).ravel(), minlength=n_q * p_e)
        fv = fv.reshape(n_q, p_e)
        second += fv.T @ h + h.T @ fv + (h * total[:, None]).T @ h
    return second - xpd
