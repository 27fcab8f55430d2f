"""The items held fixed: each person's log-likelihood on a grid and the population it implies.

Shared by online calibration (:mod:`calibration.online`, OEM's posteriors from the
operational items) and drift checks (:mod:`calibration.drift`): the bank's items are not
estimated, only the normal population (mean, SD) behind the responses.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from calibration._layout import FloatArray
from calibration.data import ResponseData
from calibration.estimation import normal_log_weights
from item_banks.bank import ItemBank
from item_banks.errors import CalibrationError


def person_loglik(data: ResponseData, bank: ItemBank, theta: FloatArray) -> FloatArray:
    """Log-likelihood of each person's responses at each point, (n_persons, Q).

    Parameters
    ----------
    data : ResponseData
        Categories ``0 .. K - 1`` of items of ``bank`` (as :func:`read_export` reads them).
    bank : ItemBank
    theta : ndarray, (Q,)
    """
    idx = bank.indices_of(data.item_ids)
    k_max = bank.max_categories
    lp = bank.log_prob(theta, idx)  # (Q, n_items, K_max)
    lp = np.where(np.isfinite(lp), lp, -1e6).transpose(1, 2, 0).reshape(-1, theta.size)
    category = _original_codes(data)
    if np.any((category < 0) | (category >= bank.n_categories[idx][data.item])):
        raise CalibrationError(
            "responses outside the bank items' categories 0 .. K - 1 (read the data with "
            "calibration.online.read_export)"
        )
    cols = data.item.astype(np.int64) * k_max + category
    y = sparse.csr_array(
        (np.ones(cols.size), (data.person, cols)), shape=(data.n_persons, lp.shape[0])
    )
    return np.asarray(y @ lp)


def _original_codes(data: ResponseData) -> np.ndarray:
    """The original response codes (bank categories) of each observed response."""
    table = np.zeros((data.n_items, int(data.n_categories.max())), dtype=np.int64)
    for j, codes in enumerate(data.category_codes):
        table[j, : len(codes)] = np.asarray(codes, dtype=np.int64)
    return table[data.item, data.category]


def person_posterior(loglik: FloatArray, log_weights: FloatArray) -> FloatArray:
    """Each person's posterior weights over the points, (n_persons, Q), rows summing to 1.

    Parameters
    ----------
    loglik : ndarray, (n_persons, Q)
        Log-likelihoods (:func:`person_loglik`).
    log_weights : ndarray, (Q,)
        Log prior weights of the points (for example :func:`normal_log_weights`).
    """
    z = loglik + log_weights
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def estimate_latent(
    loglik: FloatArray, theta: FloatArray, *, tol: float = 1e-4, max_iter: int = 1000
) -> tuple[float, float, int]:
    """Mean and SD of a normal population by EM, with the items fixed.

    Parameters
    ----------
    loglik : ndarray, (n_persons, Q)
        Each person's log-likelihood at each point (:func:`person_loglik`).
    theta : ndarray, (Q,)

    Returns
    -------
    mean, sd : float
    n_iter : int
    """
    mean, sd = 0.0, 1.0
    for n in range(1, max_iter + 1):
        f = person_posterior(loglik, normal_log_weights(theta, mean, sd)).sum(axis=0)
        f /= f.sum()
        new_mean = float(f @ theta)
        new_sd = float(np.sqrt(f @ (theta - new_mean) ** 2))
        change = max(abs(new_mean - mean), abs(new_sd - sd))
        mean, sd = new_mean, new_sd
        if change < tol:
            return mean, sd, n
    return mean, sd, max_iter
