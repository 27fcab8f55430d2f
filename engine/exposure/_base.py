"""The exposure-control base class and registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from engine._registry import Registry, Role

if TYPE_CHECKING:
    from engine._core import Plan, Rows

EXPOSURE_METHODS: Registry[ExposureControl] = Registry("exposure control")
"""Registered exposure-control methods by name."""


class ExposureControl(Role):
    """Exposure control applied when the selector has picked an item.

    :meth:`refuses` says, per row, whether the picked item is set aside (it is then
    blocked for the rest of that test and the next best is tried).
    """

    name: ClassVar[str]

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def refuses(
        self, rows: Rows, sub: NDArray[np.intp], items: NDArray[np.intp], attempt: NDArray
    ) -> NDArray[np.bool_]:
        """Whether each row of ``sub`` refuses its picked item (attempt ``attempt``)."""
        return np.zeros(sub.size, dtype=bool)


@EXPOSURE_METHODS.register
class NoExposureControl(ExposureControl):
    """No exposure control (the engine skips it)."""

    name = "none"
