"""Bock-Aitkin EM: the marginal likelihood, its E-step over a quadrature grid, the M-step.

One function, :meth:`EMProblem.estep`, computes the marginal log-likelihood (used by EM,
standard errors, AIC/BIC and the tests) together with the expected counts
``R = Y.T @ posterior`` (sum K x Q). The items' Fisher-scoring steps are in
:mod:`calibration._mstep`, the SQUAREM acceleration in :mod:`calibration._squarem`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from calibration._layout import LOGP_FLOOR, Design, FloatArray, Group
from calibration._mstep import _newton_items, _newton_shared, _to_beta, _valid_rows
from calibration._threads import blas_threads, map_persons

EXP_CUTOFF = 40.0  # exp(-40) * Q is far below the rounding of a posterior total >= 1
ZMAP_DENSE_CELLS = 250_000  # a dense design's map held as a dense matrix up to this size
CHUNK_ROWS = 16384  # persons per chunk of a sparse E-step: (rows, Q) doubles fit in cache
DENSE_CHUNK_ROWS = 8192  # rows per chunk of a large dense E-step (run on person threads)


class EMProblem:
    """The marginal likelihood of a calibration as a function of the free parameters.

    Parameters
    ----------
    groups : list of Group
    design : Design
    theta : ndarray, (Q,)
        Quadrature points.
    log_weights : ndarray, (Q,)
        Log of the normalised prior weights of the points.
    """

    def __init__(
        self, groups: list[Group], design: Design, theta: FloatArray, log_weights: FloatArray
    ) -> None:
        self.groups = groups
        self.design = design
        self.theta = theta
        self.log_weights = log_weights
        self.n_beta = sum(g.n_beta for g in groups)
        self.unit_counts = bool(np.all(design.counts == 1.0))
        self.zmap = design.zmap.tocsr()
        self.zmap_t = design.zmap.T.tocsr()
        self.zmap_is_identity = not design.dense
        if self.zmap_is_identity or self.zmap.shape[0] * self.zmap.shape[1] > ZMAP_DENSE_CELLS:
            self._zmap_dense = self._zmap_t_dense = None
        else:  # +-1 entries, log P floored (finite): the same sums, a BLAS call instead of scipy's
            self._zmap_dense = self.zmap.toarray()
            self._zmap_t_dense = np.ascontiguousarray(self._zmap_dense.T)
        self.group_cols = [
            design.col_offset[g.items][:, None] + np.arange(g.n_categories)[None, :] for g in groups
        ]
        # operations of the E-step's two products (dense designs: BLAS; see _threads)
        n_z = int(design.zmap.shape[0])
        self._product_flops = 2.0 * design.n_rows * n_z * theta.size if design.dense else 0.0
        # the groups' log_prob at the last point an E- or M-step evaluated (beta, list)
        self._lp_cache: tuple[FloatArray, list[FloatArray]] | None = None

    # ------------------------------------------------------------------- parameters
    def unpack(self, beta: FloatArray) -> list[FloatArray]:
        """Parameter matrices of every group."""
        return [g.unpack(beta) for g in self.groups]

    def valid(self, beta: FloatArray) -> bool:
        """Whether every parameter is admissible (slopes > 0, asymptotes, order ...)."""
        return all(
            bool(_valid_rows(g, v).all())
            for g, v in zip(self.groups, self.unpack(beta), strict=True)
        )

    def natural(self, beta: FloatArray) -> FloatArray:
        """``beta`` in the bank's parameterisation (``b`` instead of intercepts), same layout."""
        out = beta.copy()
        for g in self.groups:
            sl = slice(g.beta_start, g.beta_start + g.n_beta)
            out[sl] = g.natural(beta[sl])
        return out

    def from_natural(self, natural: FloatArray) -> FloatArray:
        """Inverse of :meth:`natural`."""
        out = natural.copy()
        for g in self.groups:
            sl = slice(g.beta_start, g.beta_start + g.n_beta)
            out[sl] = g.from_natural(natural[sl])
        return out

    def _prior_sets(self) -> list[tuple[object, NDArray[np.intp]]]:
        """Each distinct prior with the positions in ``beta`` it applies to."""
        if not hasattr(self, "_prior_cache"):
            sets: dict[int, tuple[object, list[int]]] = {}
            for g in self.groups:
                for i, prior in enumerate(g.beta_priors):
                    if prior is not None:
                        sets.setdefault(id(prior), (prior, []))[1].append(g.beta_start + i)
            self._prior_cache = [(p, np.asarray(idx, dtype=np.intp)) for p, idx in sets.values()]
        return self._prior_cache

    def log_prior(self, beta: FloatArray) -> float:
        """Sum of the log prior densities of the free parameters (0 without priors)."""
        sets = self._prior_sets()
        if not sets:
            return 0.0
        nat = self.natural(beta)
        return float(sum(np.sum(prior.logpdf(nat[idx])) for prior, idx in sets))

    def log_prob_matrix(
        self, values: list[FloatArray], group_lps: list[FloatArray] | None = None
    ) -> FloatArray:
        """``log P`` of every (item, category) column at every point, (sum K, Q).

        ``group_lps``: each group's ``log_prob`` (Q, n_g, K) at ``values`` when known.
        """
        if group_lps is None:
            group_lps = self._group_log_probs(values)
        out = np.empty((self.design.n_cols, self.theta.size))
        for lp, cols in zip(group_lps, self.group_cols, strict=True):
            out[cols.ravel()] = lp.transpose(1, 2, 0).reshape(-1, self.theta.size)
        return np.maximum(out, LOGP_FLOOR)

    def _group_log_probs(self, values: list[FloatArray]) -> list[FloatArray]:
        """Each group's ``log_prob`` (Q, n_g, K) at its parameter matrix."""
        return [g.model.log_prob(self.theta, v) for g, v in zip(self.groups, values, strict=True)]

    def _cached_log_probs(self, beta: FloatArray) -> list[FloatArray] | None:
        """The groups' ``log_prob`` at ``beta`` when the last E- or M-step computed them.

        EM alternates E- and M-steps at the same points: the M-step starts where the
        E-step evaluated the models, and the next E-step starts where the M-step's
        accepted trial points did.
        """
        if self._lp_cache is not None and np.array_equal(self._lp_cache[0], beta):
            return self._lp_cache[1]
        return None

    # ------------------------------------------------------------------------ E-step
    def _log_lik_points(self, logp: FloatArray) -> tuple[FloatArray, float]:
        """``(Y @ log P + log w)'`` for every design row, (Q, n_rows), and the score-group term.

        Points by rows (the transpose of the persons x points layout): the reductions of
        the posterior over the points then run along contiguous rows of persons, about
        twice as fast as across the 61 columns of each person. The second value is the part
        of the marginal log-likelihood that score groups leave out (free of theta; 0 for
        pattern rows), see :class:`Design`.
        """
        d = self.design
        if self.zmap_is_identity:
            zlogp = logp
        else:
            zlogp = self.zmap @ logp if self._zmap_dense is None else self._zmap_dense @ logp
        with blas_threads(self._product_flops):
            out = zlogp.T @ d.z.T
        shift = self.log_weights
        if d.complete:
            shift = shift + logp[d.base_cols].sum(axis=0)
        out += shift[:, None]
        extra = 0.0 if d.excess is None else float(d.excess @ zlogp[:, zlogp.shape[1] // 2])
        return out, extra

    def estep(
        self, beta: FloatArray, *, keep_posterior: bool = False
    ) -> tuple[float, FloatArray, FloatArray | None]:
        """Marginal log-likelihood and expected counts at ``beta``.

        Returns
        -------
        loglik : float
            ``sum_persons log sum_q w_q prod_items P(x | theta_q)`` (no prior).
        counts : ndarray, (sum K, Q)
            Expected number of persons at each point answering each category.
        posterior : ndarray (n_rows, Q) or None
            Posterior weights of each design row (when ``keep_posterior``).
        """
        d = self.design
        values = self.unpack(beta)
        lps = self._cached_log_probs(beta)
        if lps is None:
            lps = self._group_log_probs(values)
            self._lp_cache = (beta.copy(), lps)
        logp = self.log_prob_matrix(values, lps)
        if not d.dense and d.n_rows > CHUNK_ROWS:
            return self._estep_chunks(logp, keep_posterior)
        if d.dense and d.n_rows > 2 * DENSE_CHUNK_ROWS:
            return self._estep_dense_chunks(logp, keep_posterior)
        log_lik, extra = self._log_lik_points(logp)
        post_t, row_ll = _posterior_points(log_lik)  # (Q, n_rows)
        loglik = float(d.counts @ row_ll) + extra
        with blas_threads(self._product_flops):
            counts = np.asarray(d.zt_sum @ post_t.T)
        if self._zmap_t_dense is not None:
            counts = self._zmap_t_dense @ counts
        elif not self.zmap_is_identity:
            counts = np.asarray(self.zmap_t @ counts)
        if d.complete:
            counts[d.base_cols] += post_t @ d.counts
        return loglik, counts, (np.ascontiguousarray(post_t.T) if keep_posterior else None)

    def _estep_chunks(
        self, logp: FloatArray, keep_posterior: bool
    ) -> tuple[float, FloatArray, FloatArray | None]:
        """The E-step of a sparse design, persons in chunks of :data:`CHUNK_ROWS`.

        Each chunk's (rows, Q) log-likelihoods and posterior stay in the processor's cache
        through the seven passes over them (products, maximum, exp, sums) instead of going
        through memory; a million persons x 61 points never exist as one array unless the
        posterior is kept. The chunks run on :func:`~calibration._threads.map_persons`'s
        threads and their sums are added in chunk order (the same result on any number of
        threads).
        """
        y = self.design.z
        n_rows, n_cols = y.shape
        counts = np.zeros((n_cols, self.theta.size))
        post_all = np.empty((n_rows, self.theta.size)) if keep_posterior else None

        def chunk(lo: int) -> tuple[float, FloatArray]:
            hi = min(n_rows, lo + CHUNK_ROWS)
            a, b = int(y.indptr[lo]), int(y.indptr[hi])
            sub = sparse.csr_array(
                (y.data[a:b], y.indices[a:b], y.indptr[lo : hi + 1] - a), shape=(hi - lo, n_cols)
            )
            log_lik = sub @ logp
            log_lik += self.log_weights
            post, row_ll = _posterior(log_lik)
            if post_all is not None:
                post_all[lo:hi] = post
            return float(row_ll.sum()), sub.T @ post  # the CSC view: row by row

        loglik = 0.0
        for part_ll, part_counts in map_persons(chunk, range(0, n_rows, CHUNK_ROWS)):
            loglik += part_ll
            counts += part_counts
        return loglik, counts, post_all

    def _estep_dense_chunks(
        self, logp: FloatArray, keep_posterior: bool
    ) -> tuple[float, FloatArray, FloatArray | None]:
        """The E-step of a large dense design, rows in chunks of :data:`DENSE_CHUNK_ROWS`.

        The same products as the one-call path (:meth:`_log_lik_points`), a block of rows
        at a time on :func:`~calibration._threads.map_persons`'s threads (one BLAS thread
        each), added in chunk order: the same result on any number of threads.
        """
        d = self.design
        z, zt_sum = np.asarray(d.z), np.asarray(d.zt_sum)
        zlogp = self.zmap @ logp if self._zmap_dense is None else self._zmap_dense @ logp
        zlogp_t = np.ascontiguousarray(zlogp.T)  # (Q, n_z)
        shift = self.log_weights
        if d.complete:
            shift = shift + logp[d.base_cols].sum(axis=0)
        n_rows, n_q = d.n_rows, self.theta.size
        post_all = np.empty((n_rows, n_q)) if keep_posterior else None

        def chunk(lo: int) -> tuple[float, FloatArray, FloatArray]:
            hi = min(n_rows, lo + DENSE_CHUNK_ROWS)
            log_lik = zlogp_t @ z[lo:hi].T  # (Q, rows)
            log_lik += shift[:, None]
            post_t, row_ll = _posterior_points(log_lik)
            if post_all is not None:
                post_all[lo:hi] = post_t.T
            # expected counts of the z columns, and the persons at each point
            persons = post_t @ d.counts[lo:hi]
            return float(d.counts[lo:hi] @ row_ll), zt_sum[:, lo:hi] @ post_t.T, persons

        loglik = 0.0 if d.excess is None else float(d.excess @ zlogp[:, zlogp.shape[1] // 2])
        counts_z = np.zeros((zlogp.shape[0], n_q))
        persons = np.zeros(n_q)
        for part_ll, part_z, part_persons in map_persons(chunk, range(0, n_rows, DENSE_CHUNK_ROWS)):
            loglik += part_ll
            counts_z += part_z
            persons += part_persons
        if self._zmap_t_dense is not None:
            counts = self._zmap_t_dense @ counts_z
        else:
            counts = np.asarray(self.zmap_t @ counts_z)
        if d.complete:
            counts[d.base_cols] += persons
        return loglik, counts, post_all

    def gradient(self, beta: FloatArray) -> FloatArray:
        """Analytic gradient of the marginal log-likelihood (+ log prior) at ``beta``.

        With respect to the natural parameters (:meth:`natural`), (n_beta,).
        """
        _, counts, _ = self.estep(beta)
        out = np.zeros(self.n_beta)
        for g, v, cols in zip(self.groups, self.unpack(beta), self.group_cols, strict=True):
            r = counts[cols]  # (n_g, K, Q)
            deriv = g.model.dlog_prob_dparams(self.theta, v)  # (Q, n_g, K, P)
            grad_e = np.einsum("gkq,qgkp->gp", r, deriv)
            out[g.beta_start : g.beta_start + g.n_beta] = _to_beta(g, grad_e)
        return out + self.prior_gradient(beta)

    def prior_gradient(self, beta: FloatArray) -> FloatArray:
        """Gradient of the log prior w.r.t. the natural parameters, (n_beta,)."""
        out = np.zeros(self.n_beta)
        nat = self.natural(beta)
        for prior, idx in self._prior_sets():
            out[idx] = prior.grad(nat[idx])
        return out

    def prior_hessian(self, beta: FloatArray) -> FloatArray:
        """Diagonal of the Hessian of the log prior (natural parameters), (n_beta,)."""
        out = np.zeros(self.n_beta)
        nat = self.natural(beta)
        for prior, idx in self._prior_sets():
            out[idx] = prior.hess(nat[idx])
        return out

    # ------------------------------------------------------------------------ M-step
    def mstep(self, beta: FloatArray, counts: FloatArray) -> FloatArray:
        """Maximise the expected complete-data log-likelihood (+ log prior) from ``beta``."""
        out = beta.copy()
        lps = self._cached_log_probs(beta)
        new_lps: list[FloatArray] | None = [] if lps is not None else None
        for i, (g, v, cols) in enumerate(
            zip(self.groups, self.unpack(beta), self.group_cols, strict=True)
        ):
            lp_g = lps[i] if lps is not None else None
            if g.n_beta == 0:
                if new_lps is not None and lp_g is not None:
                    new_lps.append(lp_g)  # nothing moves
                continue
            r = counts[cols]  # (n_g, K, Q)
            if g.shared:
                new = _newton_shared(
                    g, v, r, self.theta, beta[g.beta_start : g.beta_start + g.n_beta]
                )
                out[g.beta_start : g.beta_start + g.n_beta] = new
                new_lps = None  # its log-probabilities at the new point are not kept
            else:
                rows = g.free_rows
                part = beta[g.beta_start : g.beta_start + g.n_beta].reshape(-1, g.n_params)
                lp_free = lp_g[:, rows] if lp_g is not None else None
                new, lp_new = _newton_items(g, part, r[rows], self.theta, lp_free)
                out[g.beta_start : g.beta_start + g.n_beta] = new.ravel()
                if new_lps is not None and lp_g is not None:
                    full = lp_g.copy()
                    full[:, rows] = lp_new
                    new_lps.append(full)
        if new_lps is not None:
            self._lp_cache = (out.copy(), new_lps)
        return out


def _posterior(log_lik: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Posterior weights of rows of log-likelihoods (in place) and the rows' log totals."""
    top = log_lik.max(axis=1, keepdims=True)
    np.subtract(log_lik, top, out=log_lik)
    # points more than EXP_CUTOFF below a row's top get weight 0: their exp is below the
    # rounding of the row's total (>= 1), and skipping them avoids the slow underflowing
    # exp of the far tails (about 5x faster on long tests)
    keep = log_lik > -EXP_CUTOFF
    post = np.exp(log_lik, out=log_lik, where=keep)
    np.multiply(post, keep, out=post)
    total = post.sum(axis=1, keepdims=True)
    post /= total
    return post, top[:, 0] + np.log(total[:, 0])


def _posterior_points(log_lik: FloatArray) -> tuple[FloatArray, FloatArray]:
    """As :func:`_posterior` for log-likelihoods laid out points by rows, (Q, n_rows).

    Points more than :data:`EXP_CUTOFF` below a row's top are raised to that floor
    before the exponential (no slow underflowing exp): their weight, ``exp(-40)`` of the
    top's, is below the rounding of the row's total (>= 1).
    """
    top = log_lik.max(axis=0)
    np.subtract(log_lik, top, out=log_lik)
    np.maximum(log_lik, -EXP_CUTOFF, out=log_lik)
    post = np.exp(log_lik, out=log_lik)
    total = post.sum(axis=0)
    post *= 1.0 / total
    return post, top + np.log(total)
