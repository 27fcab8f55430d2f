"""Computerized adaptive testing engine: pure functions of (bank, config, state).

* :mod:`engine.config` - :class:`CATConfig`, composed of role configurations
  (:mod:`engine.roles`).
* :mod:`engine.state` - :class:`CATState`, one test in progress (serialisable), with its
  own prior when it has one.
* :mod:`engine.session` - :func:`start`, :func:`respond`, :func:`result`, :func:`next_item`.
* :mod:`engine.simulation` - :func:`simulate` and :func:`report` (:mod:`engine.summary`).
* Roles, registered strategies one module each: :mod:`engine.ability` (EAP, MAP, ML,
  WLE), :mod:`engine.selection`, :mod:`engine.exposure` (and :func:`fit_sympson_hetter`),
  :mod:`engine.constraints`, :mod:`engine.stopping`.
* :mod:`engine.simulation_report` (HTML report of a simulation) and :mod:`engine.plots`.
"""

from engine.ability import EAP, MAP, ML, WLE, AbilityEstimate, AbilityEstimator, get_estimator
from engine.config import CATConfig
from engine.exposure import fit_sympson_hetter
from engine.exposure.fit import SympsonHetterFit
from engine.roles import (
    AbilityConfig,
    ConstraintsConfig,
    ExposureConfig,
    SelectionConfig,
    StartConfig,
    StoppingConfig,
)
from engine.session import next_item, respond, result, start
from engine.simulation import SimulationResult, report, simulate
from engine.state import CATState

__all__ = [
    "EAP",
    "MAP",
    "ML",
    "WLE",
    "AbilityConfig",
    "AbilityEstimate",
    "AbilityEstimator",
    "CATConfig",
    "CATState",
    "ConstraintsConfig",
    "ExposureConfig",
    "SelectionConfig",
    "SimulationResult",
    "StartConfig",
    "StoppingConfig",
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
