"""Example item banks shipped with Zapcat.

``skills_demo.json`` is a simulated (not calibrated) Python-programming skills bank used by
``make run``, the tutorials and the tests; :func:`build_skills_demo` regenerates it exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from item_banks.bank import Item, ItemBank

EXAMPLES_DIR = Path(__file__).resolve().parent
DEMO_BANK_PATH = EXAMPLES_DIR / "skills_demo.json"

_AREAS = {
    "syntax": 50,
    "data-structures": 50,
    "functions": 45,
    "object-oriented": 40,
    "testing": 35,
    "debugging": 30,
}


def build_skills_demo(seed: int = 2026) -> ItemBank:
    """Simulate the demo Python-skills bank (250 items, six content areas).

    Items are four-option multiple choice (3PL, guessing near 0.25) and short-answer
    (2PL), plus graded practical tasks scored 0-3 (GRM); 10% are pretest items; pairs of
    items that give each other away share an enemy group. Parameters are drawn from the
    distributions typical of calibrated skills tests (``a ~ lognormal(0.1, 0.3)``,
    ``b ~ N(0, 1)``) and rounded to three decimals.

    Parameters
    ----------
    seed : int, default 2026

    Returns
    -------
    ItemBank
    """
    rng = np.random.default_rng(seed)
    items: list[Item] = []
    enemy = 0
    for area, count in _AREAS.items():
        for i in range(1, count + 1):
            item_id = f"py-{area[:4]}-{i:03d}"
            kind = rng.choice(["mc", "short", "task"], p=[0.55, 0.3, 0.15])
            a = round(float(rng.lognormal(0.1, 0.3)), 3)
            b = round(float(rng.normal(0.0, 1.0)), 3)
            if kind == "mc":
                c = round(float(rng.beta(6, 18)), 3)
                model, params, tags = "3pl", {"a": a, "b": b, "c": c}, ("multiple-choice",)
            elif kind == "short":
                model, params, tags = "2pl", {"a": a, "b": b}, ("short-answer",)
            else:
                steps = np.sort(rng.normal(b, 0.8, 3)) + np.array([-0.3, 0.0, 0.3])
                params = {"a": a, **{f"b{k + 1}": round(float(s), 3) for k, s in enumerate(steps)}}
                model, tags = "grm", ("practical-task",)
            status = "pretest" if rng.random() < 0.1 else "operational"
            groups: tuple[str, ...] = ()
            if i % 12 == 0:  # this item and the previous one give each other away
                enemy += 1
                groups = (f"enemy-{enemy:02d}",)
                prev = items[-1]
                items[-1] = Item(
                    prev.item_id,
                    prev.model,
                    prev.params,
                    prev.n_categories,
                    content_areas=prev.content_areas,
                    enemy_groups=groups,
                    status=prev.status,
                    tags=prev.tags,
                )
            items.append(
                Item(
                    item_id,
                    model,
                    params,
                    content_areas=(area,),
                    enemy_groups=groups,
                    status=status,
                    tags=tags,
                )
            )
    return ItemBank(
        items,
        name="skills-demo",
        version="1",
        description="Simulated Python-programming skills bank for demos and tests "
        "(parameters drawn at random, not calibrated on real data).",
        provenance={
            "source": "simulated",
            "generator": "item_banks.examples.build_skills_demo",
            "seed": seed,
        },
    )


from item_banks.examples.battery_demo import DEMO_BATTERY_PATH  # noqa: E402

__all__ = ["DEMO_BANK_PATH", "DEMO_BATTERY_PATH", "EXAMPLES_DIR", "build_skills_demo"]
