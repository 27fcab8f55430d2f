"""Exposure control: fitting Sympson-Hetter parameters by iterated simulation.

Sympson-Hetter gives each item a probability ``k_i``: when the selector picks the item,
it is administered with probability ``k_i`` and otherwise set aside for the rest of that
examinee's test. :func:`fit_sympson_hetter` finds the ``k_i`` for a target maximum
exposure rate ``r`` by the classic iteration (Sympson & Hetter, 1985): simulate, estimate
each item's selection rate ``P(S_i)``, set ``k_i = 1`` if ``P(S_i) <= r`` else
``r / P(S_i)``, and repeat with fresh simulees; the ``k_i`` used for the next
iteration (and returned) average the last third of the iterations to damp simulation
noise. Exposure counts of live tests are kept outside the bank (see ``exposure`` of
:func:`engine.session.start`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.config import CATConfig
from engine.simulation import simulate
from item_banks.bank import ItemBank
from item_banks.errors import InvalidConfigError


@dataclass(frozen=True)
class SympsonHetterFit:
    """Result of :func:`fit_sympson_hetter`.

    Attributes
    ----------
    config : CATConfig
        The input config with ``exposure="sympson_hetter"`` and the fitted
        ``exposure_params`` (items with ``k < 1`` only).
    max_exposure : tuple of float
        Maximum exposure rate observed in each iteration's simulation.
    mean_length : tuple of float
        Mean scored test length in each iteration.
    """

    config: CATConfig
    max_exposure: tuple[float, ...]
    mean_length: tuple[float, ...]


def fit_sympson_hetter(
    bank: ItemBank,
    config: CATConfig,
    *,
    target: float = 0.2,
    n_simulees: int = 2000,
    n_iterations: int = 12,
    seed: int = 0,
    margin: float = 0.0,
) -> SympsonHetterFit:
    """Fit Sympson-Hetter exposure parameters to a target maximum exposure rate.

    Parameters
    ----------
    bank : ItemBank
    config : CATConfig
        Test design (selector, stopping rule ...); its exposure settings are replaced.
    target : float, default 0.2
        Target maximum exposure rate ``r`` in (0, 1].
    n_simulees : int, default 2000
        Simulees per iteration, abilities ``N(0, 1)``.
    n_iterations : int, default 12
    seed : int, default 0
        Iteration ``t`` simulates with seed ``seed + t`` (fresh simulees each time).
    margin : float, default 0.0
        Aim at ``target - margin``: the maximum rate observed in a finite run exceeds the
        true maximum by sampling noise (about ``2 sqrt(r (1 - r) / n)`` for ``n``
        simulees), so a margin keeps observed maxima under a hard limit.

    Returns
    -------
    SympsonHetterFit

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> fit = fit_sympson_hetter(read_bank(DEMO_BANK_PATH), CATConfig(max_items=10),
    ...                          target=0.5, n_simulees=200, n_iterations=2)
    >>> fit.config.exposure
    'sympson_hetter'
    """
    if not 0 <= margin < target:
        raise InvalidConfigError([f"margin must be in [0, target), got {margin!r}"])
    if not 0 < target <= 1:
        raise InvalidConfigError([f"target exposure rate must be in (0, 1], got {target!r}"])
    if n_simulees < 1 or n_iterations < 1:
        raise InvalidConfigError(["n_simulees and n_iterations must be >= 1"])
    aim = target - margin
    k = np.ones(len(bank))
    history: list[np.ndarray] = []
    max_exposure, mean_length = [], []
    current = config.replace(exposure="sympson_hetter", exposure_params=())
    for t in range(n_iterations):
        res = simulate(bank, current, n=n_simulees, seed=seed + t)
        given = res.exposure_counts(len(bank)).astype(float)
        selected = (given + res.refusals) / n_simulees  # P(S_i) under the current k
        max_exposure.append(float(given.max() / n_simulees))
        mean_length.append(float(res.n_scored.mean()))
        k = np.where(selected > aim, aim / np.maximum(selected, 1e-12), 1.0)
        history.append(k)
        # average the last third of the iterations: less simulation noise in k
        k_used = np.mean(history[-max(1, (t + 1) // 3) :], axis=0) if t >= 2 else k
        params = tuple(
            (bank.item_ids[i], float(round(k_used[i], 6))) for i in np.nonzero(k_used < 1)[0]
        )
        current = config.replace(exposure="sympson_hetter", exposure_params=params)
    return SympsonHetterFit(current, tuple(max_exposure), tuple(mean_length))


__all__ = ["SympsonHetterFit", "fit_sympson_hetter"]
