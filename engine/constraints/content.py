"""Content balancing by minimum and maximum counts per content area."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from engine.constraints._base import CONSTRAINTS, Constraint

if TYPE_CHECKING:
    from engine._core import Plan, Rows


@CONSTRAINTS.register
class ContentCounts(Constraint):
    """Minimum and maximum numbers of scored items per content area.

    An area at its maximum is closed; when the items still needed to reach the minimums
    fill the remaining places, only items of areas below their minimum are eligible; a
    test does not stop while a minimum is unmet.
    """

    name = "content"
    masks = True
    holds_stop = True

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        content = plan.config.constraints.content
        areas = list(plan.tables.meta("areas"))
        membership = plan.tables.meta("membership")
        self.names = [a for a, _, _ in content]
        self.member = membership[:, [areas.index(a) for a in self.names]].astype(float)
        self.min = np.array([m for _, m, _ in content], dtype=float)
        self.max = np.array([m for _, _, m in content], dtype=float)

    @classmethod
    def build(cls, plan: Plan) -> ContentCounts | None:
        return cls(plan) if plan.config.constraints.content else None

    def init_rows(self, rows: Rows) -> None:
        rows.c_counts = np.zeros((rows.n_rows, self.member.shape[1]))

    def add_scored(self, rows: Rows, idx: Any, items: Any, resp: Any) -> None:
        rows.c_counts[idx] += self.member[items]

    def sum_scored(self, rows: Rows, items: Any, resp: Any) -> None:
        rows.c_counts[0] = self.member[items].sum(axis=0)

    def shadow_bounds(self, given: NDArray[np.bool_]) -> tuple[NDArray, NDArray, NDArray]:
        done = self.member[given].sum(axis=0)
        return self.member, np.maximum(self.min - done, 0.0), self.max - done

    def deficit(self, counts: NDArray) -> NDArray:
        """Items still needed to meet the minimums, shape ``(N,)``."""
        return np.maximum(self.min - counts, 0.0).sum(axis=1)

    def may_stop(self, rows: Rows, idx: NDArray[np.intp]) -> NDArray[np.bool_]:
        return self.deficit(rows.c_counts[idx]) == 0

    def mask(self, rows: Rows, sub: NDArray[np.intp], elig: NDArray[np.bool_]) -> NDArray:
        counts = rows.c_counts[sub]
        full = (counts >= self.max).astype(float)
        elig = elig & ~((full @ self.member.T) > 0)
        deficit = np.maximum(self.min - counts, 0.0)
        remaining = self.plan.config.stopping.max_items - rows.n_scored[sub]
        tight = deficit.sum(axis=1) >= remaining
        if tight.any():
            need = ((deficit > 0).astype(float) @ self.member.T) > 0
            forced = elig & need
            use = tight & forced.any(axis=1)
            elig = np.where(use[:, None], forced, elig)
        return elig
