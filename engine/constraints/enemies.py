"""Enemy items: items sharing an enemy group are never in the same test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.constraints._base import CONSTRAINTS, Constraint

if TYPE_CHECKING:
    from engine._core import Plan, Rows


@CONSTRAINTS.register
class Enemies(Constraint):
    """Once an item is given, the items sharing one of its enemy groups are blocked."""

    name = "enemies"

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.indptr = plan.tables.meta("enemy_indptr")
        self.indices = plan.tables.meta("enemy_indices")

    @classmethod
    def build(cls, plan: Plan) -> Enemies | None:
        if plan.config.constraints.enemies and plan.tables.meta("has_enemies"):
            return cls(plan)
        return None

    def add_given(self, rows: Rows, idx: Any, items: Any) -> None:
        start = self.indptr[items]
        count = self.indptr[items + 1] - start
        if count.sum() == 0:
            return
        row_rep = np.repeat(idx, count)
        offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        rows.blocked[row_rep, self.indices[np.repeat(start, count) + offsets]] = True
