"""The collateral prior of a battery's next skill, and the order rule's measure.

The population model is ``theta ~ MVN(0, R)`` over the battery's skills (each skill
calibrated on its own N(0, 1) scale, ``R`` the latent correlations). A finished skill ``s``
tested under a normal prior ``N(m0, sd0)`` with posterior ``N(theta_s, se_s)`` carries the
normal approximation of its *own data's* likelihood, ``y_s ~ N(theta_s, 1 / lam_s)`` with

    lam_s = 1 / se_s**2 - 1 / sd0**2,    y_s = (theta_s / se_s**2 - m0 / sd0**2) / lam_s

(the posterior divided by the prior it was computed under, so a skill whose own prior
already borrowed is not counted twice). The collateral prior of skill ``k`` given the
finished skills ``S`` is the conditional normal

    mean = R_kS (R_SS + D)^-1 y,    var = 1 - R_kS (R_SS + D)^-1 R_Sk,    D = diag(1 / lam)

which is the conditional normal of ``theta_k`` given ``theta_S`` widened for the earlier
estimates' uncertainty: with one earlier skill under N(0, 1) it is
``N(r theta_s, 1 - r**2 + r**2 se_s**2)``, exactly the mixture of ``N(r t, 1 - r**2)``
over ``t ~ N(theta_s, se_s**2)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def own_likelihood(
    theta: FloatArray, se: FloatArray, prior_mean: FloatArray, prior_sd: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Normal approximation ``(y, lam)`` of each row's own-data likelihood.

    Parameters
    ----------
    theta, se : ndarray, shape (N,)
        Posterior mean and SD of the skill (``se > 0``).
    prior_mean, prior_sd : ndarray, shape (N,)
        The normal prior the posterior was computed under.

    Returns
    -------
    y, lam : ndarray, shape (N,)
        Likelihood centre and precision (``lam = 0``, ``y = 0``: no information).
    """
    lam = 1.0 / np.square(se) - 1.0 / np.square(prior_sd)
    lam = np.where(lam > 1e-9, lam, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = (theta / np.square(se) - prior_mean / np.square(prior_sd)) / lam
    return np.where(lam > 0, y, 0.0), lam


def conditional_prior(
    corr: FloatArray, k: int, earlier: Sequence[int], y: FloatArray, lam: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Collateral prior ``(mean, sd)`` of skill ``k`` for each row.

    Parameters
    ----------
    corr : ndarray, shape (K, K)
        Latent correlation matrix.
    k : int
        The skill about to start.
    earlier : sequence of int, length S
        Finished skills (columns of ``y`` and ``lam``).
    y, lam : ndarray, shape (N, S)
        Their own-data likelihoods (:func:`own_likelihood`).

    Returns
    -------
    mean, sd : ndarray, shape (N,)
    """
    n = y.shape[0]
    if not len(earlier):
        return np.zeros(n), np.ones(n)
    s = np.asarray(earlier, dtype=np.intp)
    r_ss = corr[np.ix_(s, s)]
    r_ks = corr[k, s]
    mean = np.empty(n)
    var = np.empty(n)
    for row in range(n):
        use = lam[row] > 0
        if not use.any():
            mean[row], var[row] = 0.0, 1.0
            continue
        a = r_ss[np.ix_(use, use)] + np.diag(1.0 / lam[row, use])
        w = np.linalg.solve(a, r_ks[use])
        mean[row] = float(w @ y[row, use])
        var[row] = float(1.0 - w @ r_ks[use])
    return mean, np.sqrt(np.maximum(var, 1e-6))


__all__ = ["conditional_prior", "own_likelihood"]
