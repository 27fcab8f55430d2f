"""The three-skill demo battery (coding, project management, design): simulated banks.

:func:`build_battery_demo` writes ``battery_demo/`` exactly: three 2PL/GRM banks whose
parameters are drawn at random (not calibrated on real data; the files say so) and a
``zapcat-battery/1`` file with levels, a 100 + 15 theta reporting scale, a 45-item budget
and latent correlations of 0.45-0.6 (the kind found between related job skills).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from item_banks.bank import Item, ItemBank
from item_banks.io import write_bank

BATTERY_DEMO_DIR = Path(__file__).resolve().parent / "battery_demo"
DEMO_BATTERY_PATH = BATTERY_DEMO_DIR / "battery.json"
DEMO_CATALOGUE_PATH = BATTERY_DEMO_DIR / "catalogue.json"
"""The demo credential catalogue (``zapcat-catalogue/1``; see guidance.catalogue)."""

_SKILLS = (
    ("coding", "Coding", "Writing, reading and debugging code.",
     "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"),
    ("project-management", "Project management",
     "Planning, estimating and steering work to a deadline.",
     "http://data.europa.eu/esco/skill/7111b95d-0ce3-441a-9d92-4c75d05c4388"),
    ("design", "Design", "User research, interaction and visual design.", None),
)  # fmt: skip
_CORR = [[1.0, 0.45, 0.55], [0.45, 1.0, 0.5], [0.55, 0.5, 1.0]]
_LEVELS = [
    {"name": "Foundation", "descriptor": "Knows the basics; needs guidance on real tasks."},
    {"name": "Practitioner", "theta_cut": -0.3,
     "descriptor": "Handles routine work on their own."},
    {"name": "Expert", "theta_cut": 1.2,
     "descriptor": "Handles hard, open problems and guides others."},
]  # fmt: skip


def _bank(skill: str, label: str, seed: int, n: int = 120) -> ItemBank:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(1, n + 1):
        a = round(float(rng.lognormal(0.2, 0.25)), 3)
        b = round(float(rng.normal(0.0, 1.1)), 3)
        if rng.random() < 0.2:
            steps = np.sort(rng.normal(b, 0.7, 2)) + np.array([-0.3, 0.3])
            params = {"a": a, **{f"b{k + 1}": round(float(s), 3) for k, s in enumerate(steps)}}
            items.append(Item(f"{skill[:4]}-{i:03d}", "grm", params, tags=("task",)))
        else:
            items.append(Item(f"{skill[:4]}-{i:03d}", "2pl", {"a": a, "b": b}))
    return ItemBank(items, name=f"{skill}-demo", version="1",
                    description=f"Simulated {label} bank for the demo battery (parameters "
                    "drawn at random, not calibrated on real data).",
                    provenance={"source": "simulated",
                                "generator": "item_banks.examples.battery_demo",
                                "seed": seed})  # fmt: skip


def build_battery_demo(directory: Path = BATTERY_DEMO_DIR, seed: int = 2027) -> Path:
    """Write the demo battery and its banks into ``directory``; returns the battery path."""
    directory.mkdir(parents=True, exist_ok=True)
    sections = []
    for j, (skill, name, desc, uri) in enumerate(_SKILLS):
        write_bank(_bank(skill, name.lower(), seed + j), directory / f"{skill}.json")
        section = {
            "skill_id": skill, "name": name, "description": desc,
            "bank": {"path": f"{skill}.json"},
            "cat": {"stop_se": 0.35, "min_items": 4, "max_items": 20},
            "collateral": {"borrow": j > 0, "min_items": 6},
            "scale": {"intercept": 100, "slope": 15, "decimals": 0, "range": [40, 160]},
            "levels": _LEVELS, "target_level": "Practitioner",
        }  # fmt: skip
        if uri:
            section["esco_uri"] = uri
        sections.append(section)
    battery = {
        "format": "zapcat-battery/1", "name": "skills-profile-demo", "version": "1",
        "description": "Demo battery: coding, project management and design (simulated "
        "banks, not calibrated on real data).",
        "budget": 45, "order": "fixed", "z": 1.645,
        "correlations": {"skills": [s[0] for s in _SKILLS], "matrix": _CORR},
        "sections": sections,
    }  # fmt: skip
    path = directory / "battery.json"
    path.write_text(json.dumps(battery, indent=1) + "\n", encoding="utf-8")
    return path


__all__ = ["BATTERY_DEMO_DIR", "DEMO_BATTERY_PATH", "DEMO_CATALOGUE_PATH", "build_battery_demo"]
