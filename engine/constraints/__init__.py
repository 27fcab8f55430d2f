"""Constraints on the items of a test: registered strategies, one module each.

* ``content`` - minimum/maximum counts per content area (:mod:`.content`);
* ``content_proportions`` - Kingsbury-Zara target proportions (:mod:`.proportions`);
* ``enemies`` - items of one enemy group never together (:mod:`.enemies`);
* ``pretest`` - unscored pretest items seeded at random positions (:mod:`.pretest`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from engine.constraints._base import CONSTRAINTS, Constraint
from engine.constraints.content import ContentCounts
from engine.constraints.enemies import Enemies
from engine.constraints.pretest import PretestSeeding
from engine.constraints.proportions import ContentProportions

if TYPE_CHECKING:
    from engine._core import Plan, Rows


def constrain(plan: Plan, rows: Rows, sub: NDArray[np.intp], elig: NDArray[np.bool_]) -> NDArray:
    """Eligible items of each row of ``sub`` under every masking constraint of the plan."""
    for constraint in plan.masking:
        elig = constraint.mask(rows, sub, elig)
    return elig


__all__ = [
    "CONSTRAINTS",
    "Constraint",
    "ContentCounts",
    "ContentProportions",
    "Enemies",
    "PretestSeeding",
    "constrain",
]
