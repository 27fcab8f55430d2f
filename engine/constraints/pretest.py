"""Pretest seeding: unscored pretest items at random positions of the test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from engine._random import PRETEST_ITEM, PRETEST_POSITIONS, uniforms
from engine.constraints._base import CONSTRAINTS, Constraint

if TYPE_CHECKING:
    from engine._core import Plan, Rows


@CONSTRAINTS.register
class PretestSeeding(Constraint):
    """Pretest items seeded at random positions of the test.

    ``pretest_count`` positions are drawn from the test's seed in ``pretest_first ..
    pretest_last``; each item is drawn uniformly among the eligible pretest items.
    """

    name = "pretest"

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        c = plan.config.constraints
        self.count = c.pretest_count
        last = c.pretest_last or plan.config.stopping.max_items
        self.window = np.arange(c.pretest_first, last + 1)

    @classmethod
    def build(cls, plan: Plan) -> PretestSeeding | None:
        return cls(plan) if plan.config.constraints.pretest_count else None

    def draw_positions(self, rows: Rows) -> None:
        """The first ``count`` of a random order of the window, from each row's seed."""
        zeros = np.zeros(rows.n_rows, dtype=np.intp)
        keys = np.stack(
            [uniforms(rows.seed, zeros, PRETEST_POSITIONS, j) for j in range(self.window.size)],
            axis=1,
        )
        order = np.argsort(keys, axis=1, kind="stable")[:, : self.count]
        rows.pretest_pos = np.sort(self.window[order], axis=1)

    def fill(self, rows: Rows, idx: NDArray[np.intp], unavailable: NDArray, out: NDArray) -> None:
        """Put a pretest item in ``out`` for the rows of ``idx`` at a pretest position."""
        slot = (rows.pretest_pos[idx] == (rows.n_total[idx] + 1)[:, None]).any(axis=1)
        if not slot.any():
            return
        pr = np.nonzero(slot)[0]
        cand = ~unavailable[pr] & self.plan.pretest
        count = cand.sum(axis=1)
        u = uniforms(rows.seed[idx[pr]], rows.n_total[idx[pr]], PRETEST_ITEM)
        k = np.floor(u * count).astype(np.intp)
        chosen = np.argmax(np.cumsum(cand, axis=1) > k[:, None], axis=1)
        ok = count > 0
        out[pr[ok]] = chosen[ok]
