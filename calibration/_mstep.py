"""The M-step of each item group: Fisher scoring on the expected complete-data log-likelihood.

Each item's parameters are moved by one Fisher-scoring step with step halving (the
objective may not fall) inside the admissible region; items sharing parameters (a common
slope, anchored or constrained entries) are moved together. Used by
:meth:`calibration._em.EMProblem.mstep` and by online calibration.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from calibration._layout import LOGP_FLOOR, FloatArray, Group

MAX_NEWTON = 1  # Fisher-scoring steps per M-step (a generalised EM step; SQUAREM does the rest)
MAX_HALVINGS = 12
M_TOL = 1e-8  # M-step Newton iterations stop when no parameter moves more
MAX_STEP = 1.0  # largest change of one parameter in one Newton step
PARAM_LIMIT = 1e3


def _to_beta(g: Group, grad_e: FloatArray) -> FloatArray:
    """Map a gradient over a group's entries (n_g, P) to its part of beta."""
    if g.jac is not None:
        return g.jac.T @ grad_e.ravel()
    return grad_e[g.free_rows].ravel()


def _valid_rows(g: Group, v: FloatArray) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):  # rows with inf are rejected anyway
        return _valid_rows_unchecked(g, v)


def _valid_rows_unchecked(g: Group, v: FloatArray) -> NDArray[np.bool_]:
    limited = np.ones(len(g.names), dtype=bool)
    if g.slope_intercept:  # b = -d / a may be large while a and d are moderate
        limited[g.b_cols] = False
    ok = np.all(np.isfinite(v), axis=1) & np.all(np.abs(v[:, limited]) < PARAM_LIMIT, axis=1)
    # the model's admissible region; negative slopes are allowed (reverse-keyed items):
    # the true maximum
    return ok & g.model.admissible(v, g.n_categories, reverse_slopes=True)


def _item_objective(
    g: Group, v: FloatArray, r: FloatArray, theta: FloatArray, lp: FloatArray | None = None
) -> FloatArray:
    """Expected complete-data log-likelihood + log prior of each item, (n,)."""
    if lp is None:
        lp = g.model.log_prob(theta, v)  # (Q, n, K)
    obj = np.einsum("nkq,qnk->n", r, np.maximum(lp, LOGP_FLOOR))
    for c, prior in enumerate(g.col_priors):
        if prior is not None:
            obj = obj + prior.logpdf(v[:, c])
    return obj


def _score_info(
    g: Group, v: FloatArray, r: FloatArray, theta: FloatArray, lp: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Gradient (n, P) and Fisher information (n, P, P) of the expected log-likelihood."""
    if lp is None:
        lp = g.model.log_prob(theta, v)  # (Q, n, K)
    deriv = g.model.dlog_prob_dparams(theta, v)  # (Q, n, K, P)
    n_q, n, k, n_p = deriv.shape
    # per item, (Q K, P) blocks: the sums over points and categories are batched
    # products (einsum's loops over these small axes took up to 30x longer)
    d_item = np.ascontiguousarray(deriv.transpose(1, 0, 2, 3)).reshape(n, n_q * k, n_p)
    r_item = np.ascontiguousarray(r.transpose(0, 2, 1)).reshape(n, 1, n_q * k)
    grad = (r_item @ d_item)[:, 0]
    n_tot = r.sum(axis=1)  # (n, Q)
    weight = np.exp(lp).transpose(1, 0, 2) * n_tot[:, :, None]  # (n, Q, K)
    info = d_item.transpose(0, 2, 1) @ (d_item * weight.reshape(n, n_q * k, 1))
    return grad, info


def _newton_items(
    g: Group, u: FloatArray, r: FloatArray, theta: FloatArray, lp: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Fisher scoring with step halving, vectorised over items (no shared parameters).

    ``u`` holds the free items' rows of ``beta`` (slope-intercept form where the group uses
    it); the model's derivatives (natural parameters) are mapped by the chain rule.
    ``lp`` is ``log_prob`` at ``u`` (Q, n, K) when known. Returns the new rows and
    ``log_prob`` there.
    """
    u = u.copy()
    n_p = g.n_params

    def nat(x: FloatArray) -> FloatArray:
        return g.natural(x.ravel()).reshape(x.shape)

    # (Q, n, K), kept for accepted points
    lp_all = g.model.log_prob(theta, nat(u)) if lp is None else lp.copy()
    obj = _item_objective(g, nat(u), r, theta, lp_all)
    active = np.ones(u.shape[0], dtype=bool)
    for _ in range(MAX_NEWTON):
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        v = nat(u[idx])
        grad, info = _score_info(g, v, r[idx], theta, lp_all[:, idx])
        for c, prior in enumerate(g.col_priors):
            if prior is not None:
                grad[:, c] += prior.grad(v[:, c])
                info[:, c, c] += np.maximum(-prior.hess(v[:, c]), 0.0)
        if g.slope_intercept:
            jn = g.natural_jacobian(u[idx].ravel())  # d natural / d u, (n, P, P)
            jt = jn.transpose(0, 2, 1)
            grad = (jt @ grad[..., None])[..., 0]
            info = jt @ info @ jn
        info += 1e-9 * np.eye(n_p)
        try:
            step = np.linalg.solve(info, grad[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = grad / np.maximum(np.einsum("npp->np", info), 1e-6)
        biggest = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, MAX_STEP / np.maximum(biggest, 1e-300))[:, None]
        t = np.ones(idx.size)
        pending = biggest > M_TOL
        new_u = u[idx].copy()
        new_obj = obj[idx].copy()
        for _half in range(MAX_HALVINGS):
            sub = np.nonzero(pending)[0]
            if sub.size == 0:
                break
            trial = u[idx[sub]] + t[sub, None] * step[sub]
            trial_v = nat(trial)
            ok = np.nonzero(_valid_rows(g, trial_v))[0]
            trial_obj = np.full(sub.size, -np.inf)
            lp_ok = None
            if ok.size:
                lp_ok = g.model.log_prob(theta, trial_v[ok])
                trial_obj[ok] = _item_objective(g, trial_v[ok], r[idx[sub[ok]]], theta, lp_ok)
            accept = trial_obj >= obj[idx[sub]]
            if lp_ok is not None:
                acc_ok = accept[ok]
                lp_all[:, idx[sub[ok[acc_ok]]]] = lp_ok[:, acc_ok]
            new_u[sub[accept]] = trial[accept]
            new_obj[sub[accept]] = trial_obj[accept]
            pending[sub[accept]] = False
            t[sub[~accept]] *= 0.5
        moved = np.abs(new_u - u[idx]).max(axis=1)
        u[idx] = new_u
        obj[idx] = new_obj
        done = (moved < M_TOL) | pending
        active[idx[done]] = False
    return u, lp_all


def _newton_shared(
    g: Group, v: FloatArray, r: FloatArray, theta: FloatArray, part: FloatArray
) -> FloatArray:
    """Fisher scoring with step halving on a group whose parameters are shared."""
    jac = g.jac
    assert jac is not None
    n_g, n_p = v.shape

    def objective(b: FloatArray) -> tuple[float, FloatArray]:
        vals = g.offset + (jac @ b).reshape(n_g, n_p)
        if not _valid_rows(g, vals).all():
            return -np.inf, vals
        lp = np.maximum(g.model.log_prob(theta, vals), LOGP_FLOOR)
        total = float(np.einsum("nkq,qnk->", r, lp))
        for i, prior in enumerate(g.beta_priors):
            if prior is not None:
                total += float(prior.logpdf(b[i]))
        return total, vals

    b = part.copy()
    obj, vals = objective(b)
    for _ in range(MAX_NEWTON):
        grad_e, info_e = _score_info(g, vals, r, theta)
        grad = jac.T @ grad_e.ravel()
        jr = jac.reshape(n_g, n_p, -1)
        info = np.einsum("npr,nrk->npk", info_e, jr).reshape(n_g * n_p, -1)
        info = jac.T @ info
        for i, prior in enumerate(g.beta_priors):
            if prior is not None:
                grad[i] += prior.grad(b[i])
                info[i, i] += max(-float(prior.hess(b[i])), 0.0)
        info += 1e-9 * np.eye(b.size)
        step = np.linalg.lstsq(info, grad, rcond=None)[0]
        biggest = float(np.abs(step).max()) if step.size else 0.0
        step *= min(1.0, MAX_STEP / max(biggest, 1e-300))
        if biggest < M_TOL:
            break
        t = 1.0
        for _half in range(MAX_HALVINGS):
            trial = b + t * step
            trial_obj, trial_vals = objective(trial)
            if trial_obj >= obj:
                break
            t *= 0.5
        else:
            break
        moved = float(np.abs(trial - b).max())
        b, obj, vals = trial, trial_obj, trial_vals
        if moved < M_TOL:
            break
    return b
