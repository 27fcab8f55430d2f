"""Online exposure cap from counts kept outside the bank (by the service)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from engine._core import Plan


def capped_items(plan: Plan, exposure: Mapping[str, int] | None) -> NDArray[np.bool_] | None:
    """Items whose exposure rate has reached ``max_exposure_rate`` (``None``: no cap).

    ``exposure`` is ``{item_id: tests that gave it, "__tests__": tests started}``.
    """
    rate = plan.config.exposure_control.max_rate
    if rate is None or not exposure:
        return None
    n_tests = exposure.get("__tests__", 0)
    if not n_tests:
        return None
    counts = np.zeros(plan.n_items)
    for item_id, count in exposure.items():
        if item_id != "__tests__" and item_id in plan.bank:
            counts[plan.bank.index_of(item_id)] = count
    return counts / n_tests >= rate
