from __future__ import annotations

import numpy as np
import pytest

from item_banks import Item, ItemBank


def make_mixed_bank(n: int = 60, seed: int = 0) -> ItemBank:
    """Mixed dichotomous/polytomous bank with areas, enemy pairs, pretest and retired items."""
    rng = np.random.default_rng(seed)
    areas = ["alg", "geo", "num"]
    items = []
    for i in range(n):
        a = float(rng.lognormal(0.2, 0.25))
        b = float(rng.normal(0, 1.2))
        kind = i % 5
        if kind in (0, 1):
            model, params = "2pl", {"a": a, "b": b}
        elif kind == 2:
            model, params = "3pl", {"a": a, "b": b, "c": 0.15}
        elif kind == 3:
            bs = np.sort(rng.normal(b, 0.8, 3))
            model, params = "grm", {"a": a, "b1": bs[0], "b2": bs[1], "b3": bs[2]}
        else:
            bs = rng.normal(b, 0.7, 2)
            model, params = "gpcm", {"a": a, "b1": bs[0], "b2": bs[1]}
        status = "operational"
        if i % 12 == 11:
            status = "pretest"
        if i == n - 2:
            status = "retired"
        enemy = (f"e{i // 2}",) if i < 12 else ()
        items.append(Item(f"q{i:03d}", model, params, content_areas=(areas[i % 3],),
                          enemy_groups=enemy, status=status))  # fmt: skip
    return ItemBank(items, name="mixed", version="1")


def make_2pl_bank(n: int, seed: int = 0) -> ItemBank:
    rng = np.random.default_rng(seed)
    return ItemBank(
        [Item(f"i{j:05d}", "2pl", {"a": float(rng.lognormal(0, 0.3)), "b": float(rng.normal())})
         for j in range(n)],
        name=f"2pl-{n}",
    )  # fmt: skip


@pytest.fixture(scope="session")
def mixed_bank() -> ItemBank:
    return make_mixed_bank()


@pytest.fixture(scope="session")
def bank500() -> ItemBank:
    return make_2pl_bank(500)
