"""Computerized adaptive testing engine: pure functions of (bank, config, state).

* :mod:`engine.ability` - EAP, MAP, ML and WLE ability estimators.
* :mod:`engine.config` - :class:`CATConfig`, every rule of a test.
* :mod:`engine.state` - :class:`CATState`, one test in progress (serialisable).
* :mod:`engine.session` - :func:`start`, :func:`respond`, :func:`result`, :func:`next_item`.
* :mod:`engine.simulation` - :func:`simulate` and :func:`report`.
* :mod:`engine.exposure` - :func:`fit_sympson_hetter`.
"""

from engine.ability import EAP, MAP, ML, WLE, AbilityEstimate, get_estimator
from engine.config import CATConfig
from engine.exposure import SympsonHetterFit, fit_sympson_hetter
from engine.session import next_item, respond, result, start
from engine.simulation import SimulationResult, report, simulate
from engine.state import CATState

__all__ = [
    "EAP",
    "MAP",
    "ML",
    "WLE",
    "AbilityEstimate",
    "CATConfig",
    "CATState",
    "SimulationResult",
    "SympsonHetterFit",
    "fit_sympson_hetter",
    "get_estimator",
    "next_item",
    "report",
    "respond",
    "result",
    "simulate",
    "start",
]
