"""The persons' part of the Louis information for sparse designs, over item pairs.

Louis' covariance term is ``sum_i Cov_i(d l_c)``: for each person, the posterior
covariance of the complete-data score, whose only non-zero entries are the pairs of the
person's answered items. With ``D_a`` the (m, q) matrix of one parameter's centred,
posterior-weighted derivatives ``sqrt(w_iq) (d_ja(theta_q) - dbar_ja)`` over the person's
``m`` items and active points, component (a, e) of every item-pair block is ``D_a D_e'``.
The matrix is symmetric, so only the components ``a <= e`` are formed: ``p (p + 1) / 2``
products of (m, q) matrices and as many ``m^2`` scattered additions per person, against
one ``(m p)^2`` block (3 x 40^2 against 80^2 for a 2PL person with 40 answers).

Persons are sorted by number of answers, then by where their items lie in the bank, and
taken in *scatter batches*, whose sums are added up over the batch's own items (one short
``bincount`` per component) before going into the whole; inside a scatter batch they are
sorted by ability and taken in *compute batches*, which share their active quadrature
points. In an adaptive test a scatter batch answered a small part of a large bank. The
scatter batches run on :func:`~calibration._threads.map_persons`'s threads and are added
into the whole in batch order.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
from numpy.typing import NDArray

from calibration._em import EMProblem
from calibration._layout import Design, FloatArray
from calibration._threads import map_persons

SPARSE_BATCH_DOUBLES = 1_000_000
"""Doubles of the centred derivative array of one compute batch of persons."""

SCATTER_PAIRS = 2_000_000
"""Item pairs (j <= k) of the persons of one scatter batch, whose sums are added up over
the batch's own items, one ``bincount`` per component, before going into the whole."""

WEIGHT_FLOOR = 1e-9
"""Posterior weights below this are left out of the Louis term (relative change of the
information about 1e-10 against keeping every point)."""


def _person_order(design: Design, eap: FloatArray) -> NDArray[np.intp]:
    """Persons sorted by number of answered items, then by where their items lie.

    An item's location is the mean ability of the persons who answered it, a person's key
    the mean location of their items: in an adaptive test, persons given the same part
    of the bank sort together, so that a scatter batch answered a small set of items.
    """
    n_items = design.col_offset.size - 1
    n_obs = np.diff(design.indptr)
    item_of_col = np.repeat(np.arange(n_items), np.diff(design.col_offset))
    ones = np.ones(design.n_rows)
    mass = np.bincount(item_of_col, np.asarray(design.zt_sum @ ones), minlength=n_items)
    total = np.bincount(item_of_col, np.asarray(design.zt_sum @ eap), minlength=n_items)
    loc = total / np.maximum(mass, 1.0)
    key = np.asarray(design.z @ loc[item_of_col]) / np.maximum(n_obs, 1)
    return np.lexsort((eap, key, n_obs))


def covariance_sparse(
    problem: EMProblem,
    post: FloatArray,
    dmat: FloatArray,
    n_items: int,
    p_max: int,
    method: str = "louis",
) -> FloatArray:
    """``sum_i c_i Cov_i(s)`` (``louis``) or ``sum_i c_i s_i s_i'`` (``crossprod``).

    Parameters
    ----------
    problem : EMProblem
        With a sparse design.
    post : ndarray, (n_rows, Q)
        Posterior weights of the rows.
    dmat : ndarray, (Q, sum K + 1, p_max)
        ``d log P / d params`` of every column at every point (last row zero).
    n_items, p_max : int
    method : {"louis", "crossprod"}

    Returns
    -------
    ndarray, (n_items * p_max, n_items * p_max)
        Over the padded item entries ``item * p_max + parameter``.
    """
    d = problem.design
    eap = post @ problem.theta
    order = _person_order(d, eap)
    n_obs = np.diff(d.indptr)[order]
    # (p_max, sum K + 1, Q): one parameter's derivatives of a column are contiguous
    dmat_p = np.ascontiguousarray(dmat.transpose(2, 1, 0))
    width = n_items + 1  # the last item holds the padding (zero derivatives)
    # [c, j * width + k] for the components c = (a <= e) of _components(p_max)
    acc = np.zeros((len(_components(p_max)), width * width))
    counts = None if problem.unit_counts else d.counts
    scratch = threading.local()  # each thread's reused arrays (see _scatter_batch)
    # scatter batches: consecutive persons with about SCATTER_PAIRS pairs (at least one)
    cum = np.cumsum(n_obs * (n_obs + 1) // 2)
    cuts = np.searchsorted(cum, np.arange(SCATTER_PAIRS, int(cum[-1]), SCATTER_PAIRS))
    bounds = np.unique(np.concatenate([[0], cuts + 1, [order.size]]))

    def batch(lo_hi: tuple[int, int]) -> tuple[NDArray[np.int64], FloatArray]:
        rows = order[lo_hi[0] : lo_hi[1]]
        rows = rows[np.argsort(eap[rows], kind="stable")]  # compute batches share points
        if not hasattr(scratch, "work"):
            scratch.work = {}
        return _scatter_batch(d, rows, post, dmat_p, counts, width, method, scratch.work)

    # the batches run on map_persons' threads; their sums go into acc in batch order
    for used, summed in map_persons(batch, itertools.pairwise(bounds)):
        n_u = used.size
        for c in range(summed.shape[0]):
            block = acc[c].reshape(width, width)
            block[np.ix_(used, used)] += summed[c].reshape(n_u, n_u)
    return _assemble_pairs(acc, n_items, p_max)


def _rows_items(
    design: Design, rows: NDArray[np.intp], n_items: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Columns and items (b, m) of the rows' answers, increasing, padded at the end.

    Padding has column ``sum K`` (zero derivatives) and item ``n_items``.
    """
    start = design.indptr[rows]
    n_obs = design.indptr[rows + 1] - start
    m = max(1, int(n_obs.max()))
    pos = np.arange(m)[None, :] < n_obs[:, None]
    src = (start[:, None] + np.arange(m)[None, :])[pos]
    cols = np.full((rows.size, m), design.n_cols, dtype=np.int64)
    items = np.full((rows.size, m), n_items, dtype=np.int64)
    cols[pos] = design.obs_col[src]
    items[pos] = design.obs_item[src]
    return cols, items


def _scatter_batch(
    design: Design,
    rows: NDArray[np.intp],
    post: FloatArray,
    dmat_p: FloatArray,
    counts: FloatArray | None,
    width: int,
    method: str,
    work: dict[str, FloatArray],
) -> tuple[NDArray[np.int64], FloatArray]:
    """The components ``(a <= e)`` of the item-pair blocks of the persons ``rows``.

    Returns the batch's items ``used`` (n_u,) and ``summed`` (components, n_u * n_u), whose
    row ``c = (a, e)`` holds component ``c`` of every ordered pair of those items (j, k);
    component (e, a) of (j, k) is (a, e) of (k, j). ``work`` keeps the scratch arrays
    between calls (allocated once: fresh large arrays cost page faults on every batch).
    """
    p = dmat_p.shape[0]
    cols, items = _rows_items(design, rows, width - 1)
    b, m = cols.shape
    used = np.unique(items)
    n_u = used.size
    slot = np.full(width, -1, dtype=np.int64)
    slot[used] = np.arange(n_u)
    local = slot[items]
    key = (local[:, :, None] * n_u + local[:, None, :]).reshape(b, m * m)  # pairs (j, k)
    del local
    comps = _components(p)
    summed = np.zeros((len(comps), n_u * n_u))
    step = max(1, SPARSE_BATCH_DOUBLES // (p * m * dmat_p.shape[2]))
    for s0 in range(0, b, step):
        s1 = min(b, s0 + step)
        dev, mean = _centred(dmat_p, cols[s0:s1], post[rows[s0:s1]], counts, rows[s0:s1], work)
        x = dev if method == "louis" else mean
        prod = _scratch(work, "prod", (s1 - s0, m, m))
        part = key[s0:s1].ravel()
        for c, (a, e) in enumerate(comps):
            np.matmul(x[a], x[e].transpose(0, 2, 1), out=prod)
            summed[c] += np.bincount(part, prod.ravel(), minlength=n_u * n_u)
    return used, summed


def _scratch(work: dict[str, FloatArray], name: str, shape: tuple[int, ...]) -> FloatArray:
    """A C-contiguous array of ``shape`` in the reused buffer ``work[name]`` (grown if short)."""
    size = int(np.prod(shape))
    buf = work.get(name)
    if buf is None or buf.size < size:
        buf = work[name] = np.empty(size)
    return buf[:size].reshape(shape)


def _centred(
    dmat_p: FloatArray,
    cols: NDArray[np.int64],
    w: FloatArray,
    counts: FloatArray | None,
    rows: NDArray[np.intp],
    work: dict[str, FloatArray],
) -> tuple[FloatArray, FloatArray]:
    """Centred weighted derivatives at the batch's active points, and the means.

    Returns ``sqrt(c_i w_iq) (d(theta_q) - dbar)`` at the ``q`` points where some person
    of the batch has weight above :data:`WEIGHT_FLOOR`, (p, b, m, q), and ``sqrt(c_i) dbar``
    (the posterior mean score), (p, b, m, 1).
    """
    active = np.nonzero(w.max(axis=0) > WEIGHT_FLOOR)[0]
    lo, hi = int(active[0]), int(active[-1]) + 1
    wa = w[:, lo:hi]
    dev = _scratch(work, "dev", (dmat_p.shape[0], *cols.shape, hi - lo))
    for a in range(dmat_p.shape[0]):
        np.take(dmat_p[a, :, lo:hi], cols, axis=0, out=dev[a])
    mean = np.matmul(dev, wa[:, :, None])  # (p, b, m, 1)
    dev -= mean
    if counts is None:
        dev *= np.sqrt(wa)[None, :, None, :]
        return dev, mean
    c = counts[rows]
    dev *= np.sqrt(wa * c[:, None])[None, :, None, :]
    return dev, mean * np.sqrt(c)[None, :, None, None]


def _components(p: int) -> list[tuple[int, int]]:
    """The parameter pairs ``(a, e)``, ``a <= e``, whose item-pair sums are formed."""
    return [(a, e) for a in range(p) for e in range(a, p)]


def _assemble_pairs(acc: FloatArray, n_items: int, p_max: int) -> FloatArray:
    """The (n_items * p_max,) ** 2 matrix from the components ``a <= e`` in ``acc``."""
    width = n_items + 1
    out = np.empty((n_items, p_max, n_items, p_max))
    for c, (a, e) in enumerate(_components(p_max)):
        block = acc[c].reshape(width, width)[:n_items, :n_items]
        out[:, a, :, e] = block
        if e > a:
            out[:, e, :, a] = block.T
    return out.reshape(n_items * p_max, n_items * p_max)
