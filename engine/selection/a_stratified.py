"""a-stratified selection with b-matching."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from engine._registry import Param, at_least_one
from engine.selection._base import SELECTORS, Selector

if TYPE_CHECKING:
    from engine._core import Plan, Rows


@SELECTORS.register
class AStratified(Selector):
    """a-stratified selection with b-matching (Chang & Ying, 1999).

    Operational items are split into ``n_strata`` strata of increasing slope; the test
    moves through them in equal parts of ``max_items`` and takes, within the current
    stratum, the item whose location is closest to the estimate.
    """

    name = "a_stratified"
    params: ClassVar[dict[str, Param]] = {
        "n_strata": Param(4, "integer", at_least_one, "number of strata (>= 1)")
    }
    n_strata: int

    def __init__(self, plan: Plan, **params: Any) -> None:
        super().__init__(plan, **params)
        n = plan.n_items
        slope = plan.tables.meta("slope")
        stratum = np.full(n, self.n_strata, dtype=float)
        oper = np.nonzero(plan.operational)[0]
        order = oper[np.argsort(slope[oper], kind="stable")]
        stratum[order] = np.floor(np.arange(order.size) * self.n_strata / max(order.size, 1))
        self.stratum = stratum
        self.location = plan.tables.meta("location")

    def criterion(self, rows: Rows, sub: NDArray[np.intp], theta: NDArray) -> NDArray:
        k, max_items = self.n_strata, self.plan.config.max_items
        stage = np.minimum(k - 1, rows.n_scored[sub] * k // max_items)
        dist = np.abs(self.stratum[None, :] - stage[:, None])
        return -(dist * 1e6 + np.abs(self.location[None, :] - theta[:, None]))
