"""Skill batteries: the ``zapcat-battery/1`` file (several skills in one session).

A battery is one adaptive test per skill (a *section*) run in one session, ending in a
profile. The file names, per section, the skill, its bank, its CAT configuration, its
reporting scale and proficiency levels; for the battery, a total item budget, the
section order and an optional latent correlation matrix (the collateral prior)::

    {"format": "zapcat-battery/1", "name": "skills-profile", "version": "1",
     "description": "...", "budget": 60, "order": "fixed", "z": 1.645,
     "correlations": {"skills": ["coding", "design"], "matrix": [[1, 0.5], [0.5, 1]],
                      "se": [[0, 0.03], [0.03, 0]]},
     "sections": [
       {"skill_id": "coding", "name": "Coding", "description": "...",
        "esco_uri": "http://data.europa.eu/esco/skill/...",
        "bank": {"name": "coding-bank", "version": "1"}    # in the service
             or {"path": "coding.json"},                  # in files (relative to the battery)
        "cat": {... a zapcat-cat-config ...},
        "collateral": {"borrow": true, "min_items": 6},
        "scale": {"intercept": 100, "slope": 15, "decimals": 0, "range": [40, 160]},
        "levels": [{"name": "Foundation", "descriptor": "..."},
                   {"name": "Practitioner", "theta_cut": -0.5, "descriptor": "..."},
                   {"name": "Expert", "theta_cut": 1.0, "descriptor": "..."}],
        "target_level": "Practitioner"},                    # optional
       ...]}

``order`` is ``"fixed"`` (file order) or ``"adaptive"`` (next, the section whose prior SD
is furthest above its SE target). The first level has no cut; later levels need
increasing ``theta_cut``. The CAT configuration is kept as given (a mapping): the engine
validates it against the section's bank (:mod:`engine.battery`). This module reads and
checks everything else, naming every problem with its place (``sections[2].levels[1]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from item_banks.errors import ZapcatError

FORMAT = "zapcat-battery/1"
"""Value of the ``format`` field of battery files."""

ORDERS = ("fixed", "adaptive")
DEFAULT_Z = 1.645


class BatteryValidationError(ZapcatError):
    """A battery file failed validation; ``details["problems"]`` lists every problem."""

    code = "invalid_battery"

    def __init__(self, problems: Sequence[str], *, source: str | None = None) -> None:
        self.problems = tuple(problems)
        head = f"{source}: " if source else ""
        n = len(self.problems)
        lines = [f"{head}{n} problem{'s' if n != 1 else ''} in battery:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines), details={"problems": list(self.problems)})


@dataclass(frozen=True)
class Scale:
    """Reporting scale ``score = intercept + slope * theta``, rounded and clipped."""

    intercept: float = 0.0
    slope: float = 1.0
    decimals: int = 2
    range: tuple[float, float] | None = None

    def score(self, theta: float) -> float:
        """Reported score of ``theta`` (rounded to ``decimals``, clipped to ``range``)."""
        value = self.intercept + self.slope * float(theta)
        if self.range is not None:
            value = min(max(value, self.range[0]), self.range[1])
        value = round(value, self.decimals)
        return float(int(value)) if self.decimals == 0 else value

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"intercept": self.intercept, "slope": self.slope,
                               "decimals": self.decimals}  # fmt: skip
        if self.range is not None:
            out["range"] = list(self.range)
        return out


@dataclass(frozen=True)
class Level:
    """A proficiency level: ``name``, lower ``theta_cut`` (``None`` for the first)."""

    name: str
    theta_cut: float | None = None
    descriptor: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "descriptor": self.descriptor}
        if self.theta_cut is not None:
            out["theta_cut"] = self.theta_cut
        return out


@dataclass(frozen=True)
class Section:
    """One skill of a battery (see the module docstring for the fields)."""

    skill_id: str
    name: str
    bank: Mapping[str, Any]
    cat: Mapping[str, Any]
    description: str = ""
    esco_uri: str | None = None
    borrow: bool = False
    collateral_min_items: int = 0
    scale: Scale = field(default_factory=Scale)
    levels: tuple[Level, ...] = ()
    target_level: str | None = None

    @property
    def cuts(self) -> tuple[float, ...]:
        """Theta cut scores of the levels above the first, increasing."""
        return tuple(lv.theta_cut for lv in self.levels[1:] if lv.theta_cut is not None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"skill_id": self.skill_id, "name": self.name,
                               "description": self.description, "bank": dict(self.bank),
                               "cat": dict(self.cat),
                               "collateral": {"borrow": self.borrow,
                                              "min_items": self.collateral_min_items},
                               "scale": self.scale.to_dict(),
                               "levels": [lv.to_dict() for lv in self.levels]}  # fmt: skip
        if self.esco_uri:
            out["esco_uri"] = self.esco_uri
        if self.target_level:
            out["target_level"] = self.target_level
        return out


@dataclass(frozen=True)
class Battery:
    """A validated ``zapcat-battery/1`` definition.

    Attributes
    ----------
    sections : tuple of Section
    budget : int or None
        Most items over all sections (``None``: the sum of the sections' maxima).
    order : {"fixed", "adaptive"}
    correlations : ndarray, shape (K, K), or None
        Latent correlations in section order (symmetric, unit diagonal, positive definite).
    correlation_se : ndarray, shape (K, K), or None
    z : float
        Multiplier of the SE of a skill's difference from the learner's mean.
    """

    name: str
    version: str
    sections: tuple[Section, ...]
    description: str = ""
    budget: int | None = None
    order: str = "fixed"
    correlations: np.ndarray | None = None
    correlation_se: np.ndarray | None = None
    z: float = DEFAULT_Z
    source: str | None = None

    @property
    def skill_ids(self) -> tuple[str, ...]:
        return tuple(s.skill_id for s in self.sections)

    def __hash__(self) -> int:
        return hash((self.name, self.version, self.skill_ids))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Battery) and self.to_dict() == other.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``battery_from_dict(b.to_dict()) == b``)."""
        out: dict[str, Any] = {"format": FORMAT, "name": self.name, "version": self.version,
                               "description": self.description, "budget": self.budget,
                               "order": self.order, "z": self.z,
                               "sections": [s.to_dict() for s in self.sections]}  # fmt: skip
        if self.correlations is not None:
            corr: dict[str, Any] = {"skills": list(self.skill_ids),
                                    "matrix": self.correlations.tolist()}  # fmt: skip
            if self.correlation_se is not None:
                corr["se"] = self.correlation_se.tolist()
            out["correlations"] = corr
        return out


def read_battery(path: str | Path) -> Battery:
    """Read and validate a battery file (JSON)."""
    path = Path(path)
    if not path.is_file():
        raise ZapcatError(f"battery file not found: {str(path)!r}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise BatteryValidationError([f"not valid JSON: {error}"], source=str(path)) from None
    return battery_from_dict(data, source=str(path))


def write_battery(battery: Battery, path: str | Path) -> Path:
    """Write ``battery`` as JSON."""
    path = Path(path)
    path.write_text(json.dumps(battery.to_dict(), indent=1) + "\n", encoding="utf-8")
    return path


from item_banks.battery_validate import battery_from_dict  # noqa: E402

__all__ = ["FORMAT", "Battery", "BatteryValidationError", "Level", "Scale", "Section",
           "battery_from_dict", "read_battery", "write_battery"]  # fmt: skip
