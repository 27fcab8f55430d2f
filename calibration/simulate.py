"""Simulated responses from known item parameters (for recovery tests and benchmarks)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from item_banks.bank import ItemBank
from item_banks.errors import CalibrationError


def simulate_responses(
    bank: ItemBank,
    theta: ArrayLike,
    rng: np.random.Generator,
    *,
    answered: ArrayLike | None = None,
    chunk: int = 20_000,
) -> NDArray[np.int64]:
    """Draw responses of persons with abilities ``theta`` to every item of ``bank``.

    Parameters
    ----------
    bank : ItemBank
    theta : array_like, shape (n_persons,)
    rng : numpy Generator
        Source of randomness (seeded by the caller).
    answered : array_like of bool, shape (n_persons, n_items), optional
        Which cells are observed; the others are ``-1``.
    chunk : int
        Persons per batch (bounds memory).

    Returns
    -------
    ndarray of int, shape (n_persons, n_items)
        Categories ``0 .. K-1``; ``-1`` where not answered.

    Examples
    --------
    >>> from item_banks.bank import Item, ItemBank
    >>> bank = ItemBank([Item("q1", "2pl", {"a": 1.0, "b": 0.0})], name="x")
    >>> simulate_responses(bank, [0.0, 1.0], np.random.default_rng(0)).shape
    (2, 1)
    """
    theta = np.asarray(theta, dtype=float).reshape(-1)
    if not np.all(np.isfinite(theta)):
        raise CalibrationError("theta must be finite")
    out = np.empty((theta.size, len(bank)), dtype=np.int64)
    for start in range(0, theta.size, chunk):
        part = theta[start : start + chunk]
        cum = np.cumsum(bank.prob(part), axis=-1)  # (T, n, K)
        u = rng.random((part.size, len(bank), 1))
        out[start : start + chunk] = np.minimum((u > cum).sum(axis=-1), bank.n_categories - 1)
    if answered is not None:
        mask = np.asarray(answered, dtype=bool)
        if mask.shape != out.shape:
            raise CalibrationError(f"answered must have shape {out.shape}, got {mask.shape}")
        out[~mask] = -1
    return out
