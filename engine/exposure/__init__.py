"""Exposure control: registered methods, the online cap, and fitting Sympson-Hetter.

* ``none`` and ``sympson_hetter`` (:mod:`.sympson_hetter`) act when an item is picked;
* the online cap (:mod:`.cap`) removes items whose exposure rate, from counts kept by the
  service, has reached ``max_exposure_rate``;
* :func:`fit_sympson_hetter` fits the Sympson-Hetter probabilities by simulation.
"""

from __future__ import annotations

from typing import Any

from engine.exposure._base import EXPOSURE_METHODS, ExposureControl, NoExposureControl
from engine.exposure.cap import capped_items
from engine.exposure.sympson_hetter import SympsonHetter


def __getattr__(name: str) -> Any:
    # the fit runs simulations (engine.simulation imports the engine's kernels, which
    # import this package): imported on first use
    if name in ("fit_sympson_hetter", "SympsonHetterFit"):
        from engine.exposure import fit

        return getattr(fit, name)
    raise AttributeError(name)


__all__ = [
    "EXPOSURE_METHODS",
    "ExposureControl",
    "NoExposureControl",
    "SympsonHetter",
    "SympsonHetterFit",
    "capped_items",
    "fit_sympson_hetter",
]
