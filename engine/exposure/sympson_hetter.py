"""Sympson-Hetter exposure control (Sympson & Hetter, 1985)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from engine._random import SYMPSON_HETTER, uniforms
from engine.exposure._base import EXPOSURE_METHODS, ExposureControl

if TYPE_CHECKING:
    from engine._core import Plan, Rows


@EXPOSURE_METHODS.register
class SympsonHetter(ExposureControl):
    """Sympson-Hetter: a picked item is given with probability ``k_i``.

    Items not listed have ``k = 1``; a refused item is set aside for the rest of the
    test. Fit ``k`` with :func:`engine.exposure.fit_sympson_hetter`.
    """

    name = "sympson_hetter"

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        k = np.ones(plan.n_items)
        for item_id, value in plan.config.exposure_control.params:
            k[plan.bank.index_of(item_id)] = value
        self.k = k

    def refuses(
        self, rows: Rows, sub: NDArray[np.intp], items: NDArray[np.intp], attempt: NDArray
    ) -> NDArray[np.bool_]:
        u = uniforms(rows.seed[sub], rows.n_total[sub], SYMPSON_HETTER, attempt)
        return u >= self.k[items]
