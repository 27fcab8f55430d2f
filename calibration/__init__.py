"""Calibration: marginal maximum likelihood estimation of item parameters.

>>> from calibration import calibrate, read_responses
>>> # result = calibrate(read_responses("responses.csv"), "2pl")
>>> # result.summary(); result.to_item_bank("my-bank")
"""

from calibration.classical import item_statistics
from calibration.data import ResponseData, read_responses
from calibration.estimation import Calibrator, calibrate, quadrature
from calibration.priors import Prior, parse_prior
from calibration.results import CalibrationResult

__all__ = [
    "CalibrationResult",
    "Calibrator",
    "Prior",
    "ResponseData",
    "calibrate",
    "item_statistics",
    "parse_prior",
    "quadrature",
    "read_responses",
]
