"""Content balancing by target proportions (Kingsbury & Zara, 1989)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from engine.constraints._base import CONSTRAINTS, Constraint

if TYPE_CHECKING:
    from engine._core import Plan, Rows


@CONSTRAINTS.register
class ContentProportions(Constraint):
    """Target proportions per content area.

    The next item comes from the area furthest below its target among the areas with
    eligible items left.
    """

    name = "content_proportions"
    masks = True

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        props = plan.config.constraints.content_proportions
        areas = list(plan.tables.meta("areas"))
        membership = plan.tables.meta("membership")
        self.names = [a for a, _ in props]
        self.member = membership[:, [areas.index(a) for a in self.names]].astype(float)
        self.target = np.array([p for _, p in props])

    @classmethod
    def build(cls, plan: Plan) -> ContentProportions | None:
        return cls(plan) if plan.config.constraints.content_proportions else None

    def init_rows(self, rows: Rows) -> None:
        rows.p_counts = np.zeros((rows.n_rows, self.member.shape[1]))

    def add_scored(self, rows: Rows, idx: Any, items: Any, resp: Any) -> None:
        rows.p_counts[idx] += self.member[items]

    def sum_scored(self, rows: Rows, items: Any, resp: Any) -> None:
        rows.p_counts[0] = self.member[items].sum(axis=0)

    def shadow_bounds(self, given: NDArray[np.bool_]) -> tuple[NDArray, NDArray, NDArray]:
        length = self.plan.config.stopping.max_items
        done = self.member[given].sum(axis=0)
        lower = np.maximum(np.floor(self.target * length) - done, 0.0)
        return self.member, lower, np.ceil(self.target * length) - done

    def mask(self, rows: Rows, sub: NDArray[np.intp], elig: NDArray[np.bool_]) -> NDArray:
        n_scored = np.maximum(rows.n_scored[sub], 1)
        gap = self.target - rows.p_counts[sub] / n_scored[:, None]
        gap = np.where(rows.n_scored[sub][:, None] == 0, self.target, gap)
        has = (elig.astype(float) @ self.member) > 0
        gap = np.where(has, gap, -np.inf)
        area = np.argmax(gap, axis=1)
        ok = np.isfinite(gap[np.arange(sub.size), area])
        target = self.member.T[area] > 0  # (R, n)
        return np.where(ok[:, None], elig & target, elig)
