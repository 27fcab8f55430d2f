"""Helpers of the calibration tests: generating parameters, simulation, numerical Hessian."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calibration import ResponseData
from calibration.simulate import simulate_responses
from item_banks.bank import Item, ItemBank
from item_banks.models import get_model

DATA = Path(__file__).resolve().parents[1] / "data"

ALL_MODELS = [("rasch", 2), ("1pl", 2), ("2pl", 2), ("3pl", 2), ("4pl", 2), ("grm", 4),
              ("gpcm", 3), ("pcm", 4), ("rsm", 4)]  # fmt: skip
"""Every built-in model with a number of categories to test it at."""


def true_params(model: str, n_items: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Generating parameters (n_items, P) in the model's column order."""
    a = rng.uniform(0.7, 2.0, n_items)
    b = rng.normal(0.0, 0.9, n_items)
    if model == "rasch":
        return b[:, None]
    if model == "1pl":
        return np.column_stack([np.full(n_items, 1.3), b])
    if model == "2pl":
        return np.column_stack([a, b])
    if model == "3pl":
        return np.column_stack([a + 0.3, b, rng.uniform(0.1, 0.25, n_items)])
    if model == "4pl":
        return np.column_stack(
            [a + 0.5, b, np.full(n_items, 0.15), rng.uniform(0.85, 0.95, n_items)]
        )
    steps = np.sort(rng.normal(0.0, 1.0, (n_items, k - 1)), axis=1) + np.linspace(-0.7, 0.7, k - 1)
    if model == "grm":
        return np.column_stack([a, steps])
    if model == "gpcm":
        return np.column_stack([a, steps])
    if model == "pcm":
        return steps
    if model == "rsm":
        t = np.linspace(-1.0, 1.0, k - 1)
        return np.column_stack([b, np.tile(t, (n_items, 1))])
    raise ValueError(model)


def make_bank(model: str, params: np.ndarray, k: int, prefix: str = "i") -> ItemBank:
    names = get_model(model).param_names(k)
    items = [
        Item(f"{prefix}{j:03d}", model, dict(zip(names, map(float, row), strict=True)), k)
        for j, row in enumerate(params)
    ]
    return ItemBank(items, name="truth")


def simulate(
    bank: ItemBank, n_persons: int, rng: np.random.Generator, answered: np.ndarray | None = None
) -> ResponseData:
    theta = rng.normal(size=n_persons)
    x = simulate_responses(bank, theta, rng, answered=answered)
    return ResponseData.from_matrix(x, item_ids=bank.item_ids)


def numerical_hessian(problem, beta: np.ndarray) -> np.ndarray:
    """Central differences of the analytic gradient of the marginal log-likelihood, in the
    natural (bank) parameters."""
    nat = problem.natural(beta)
    n = nat.size
    out = np.zeros((n, n))
    for i in range(n):
        h = 1e-5 * (1.0 + abs(nat[i]))
        e = np.zeros(n)
        e[i] = h
        up = problem.gradient(problem.from_natural(nat + e))
        down = problem.gradient(problem.from_natural(nat - e))
        out[:, i] = (up - down) / (2 * h)
    return 0.5 * (out + out.T)


def simulated_items(
    model: str, k: int, n: int, m: int, rng: np.random.Generator
) -> tuple[ItemBank, list[np.ndarray], np.ndarray]:
    """A bank of ``m`` items with generating parameters, their rows, and ``n`` persons' answers.

    ``model`` may name several models joined by ``+`` (items take them in turn); the
    polytomous ones get ``k`` categories, the others 2. Answers (n, m), complete.
    """
    names = model.split("+")
    items, values = [], []
    for j in range(m):
        name = names[j % len(names)]
        kj = k if name in ("grm", "gpcm", "pcm", "rsm") else 2
        row = true_params(name, 1, kj, rng)[0]
        pnames = get_model(name).param_names(kj)
        items.append(Item(f"i{j:03d}", name, dict(zip(pnames, map(float, row), strict=True)), kj))
        values.append(row)
    bank = ItemBank(items, name="truth")
    return bank, values, simulate_responses(bank, rng.normal(size=n), rng)
