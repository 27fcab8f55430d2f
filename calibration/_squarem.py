"""SQUAREM acceleration of EM (Varadhan & Roland, 2008), with a monotonicity guard."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from calibration._em import EMProblem
from calibration._layout import FloatArray


def squarem(
    problem: EMProblem,
    beta: FloatArray,
    *,
    max_iter: int,
    tol: float,
    accelerate: bool = True,
    callback: Callable[[int, float, float], None] | None = None,
) -> tuple[FloatArray, list[float], int, bool]:
    """Run EM with SQUAREM (Varadhan & Roland, 2008, scheme S3) and a monotonicity guard.

    One cycle maps ``beta -> b1 -> b2`` by EM, extrapolates, and takes one stabilising EM
    step from the extrapolated point: three E-steps (at ``b1``, at the extrapolated point
    and at the result), none at ``b2`` unless the extrapolation fails. The accelerated
    point is kept only if it does not lower the penalised marginal log-likelihood;
    otherwise the better of the plain EM steps is kept, so the objective never decreases.

    Parameters
    ----------
    problem : EMProblem
    beta : ndarray, start values
    max_iter : int
        Largest number of EM steps (each costs one E-step and one M-step).
    tol : float
        Convergence when one EM step changes no parameter by more than ``tol``.
    accelerate : bool
        Plain EM when false.
    callback : callable(n_steps, objective, change), optional
        Called after each accepted point (progress bars).

    Returns
    -------
    beta : ndarray
    history : list of float
        Penalised log-likelihood at each accepted point (non-decreasing).
    n_steps : int
        EM steps taken.
    converged : bool
    """
    ll, counts, _ = problem.estep(beta)
    obj = ll + problem.log_prior(beta)
    history = [obj]
    steps = 0
    converged = False

    def em_step(b: FloatArray, c: FloatArray) -> tuple[FloatArray, float, FloatArray]:
        nb = problem.mstep(b, c)
        nll, ncounts, _ = problem.estep(nb)
        return nb, nll + problem.log_prior(nb), ncounts

    while steps < max_iter:
        b1, obj1, c1 = em_step(beta, counts)
        steps += 1
        change = float(np.abs(b1 - beta).max()) if beta.size else 0.0
        if obj1 < obj:
            # an EM step can only lower the objective by rounding: the maximum is reached
            # to machine precision; stop without moving (a real decrease is a failure)
            converged = obj - obj1 <= 1e-10 * max(1.0, abs(obj))
            break
        if change < tol or not accelerate:
            beta, obj, counts = b1, obj1, c1
            history.append(obj)
            if callback:
                callback(steps, obj, change)
            if change < tol:
                converged = True
                break
            continue
        # the second EM map needs no E-step at its result unless the extrapolation fails
        b2 = problem.mstep(b1, c1)
        steps += 1
        r = b1 - beta
        w = b2 - 2.0 * b1 + beta
        alpha = -np.sqrt((r @ r) / max(w @ w, 1e-300))
        alpha = min(alpha, -1.0)
        best = (b1, obj1, c1)
        cand = beta - 2.0 * alpha * r + alpha**2 * w  # b2 itself when alpha = -1
        at_b2 = None
        if problem.valid(cand):
            ll_c, c_c, _ = problem.estep(cand)
            if alpha == -1.0:
                at_b2 = (ll_c, c_c)
            if np.isfinite(ll_c):
                b3, obj3, c3 = em_step(cand, c_c)  # stabilising EM step
                steps += 1
                if obj3 >= obj1:
                    best = (b3, obj3, c3)
        if best[0] is b1 and problem.valid(b2):  # extrapolation failed: plain EM from b1
            ll2, c2 = at_b2 if at_b2 is not None else problem.estep(b2)[:2]
            obj2 = ll2 + problem.log_prior(b2)
            if obj2 >= obj1:
                best = (b2, obj2, c2)
        new_beta, new_obj, new_counts = best
        change = float(np.abs(new_beta - beta).max())
        beta, counts, obj = new_beta, new_counts, new_obj
        history.append(obj)
        if callback:
            callback(steps, obj, change)
    return beta, history, steps, converged
