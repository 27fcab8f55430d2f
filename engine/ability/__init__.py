"""Ability estimation: EAP, MAP, ML and WLE (Warm) for any mix of item models.

Every estimator works on one response pattern (:meth:`estimate`) or on a persons x items
matrix with missing responses (:meth:`estimate_many`, vectorised over persons). The
estimates never leave ``theta_range`` and their standard errors are always finite.

Rules
-----
* **EAP**: posterior mean on ``n_points`` equally spaced points of ``theta_range``
  (trapezoid weights) under a normal prior truncated to the range; SE is the posterior
  standard deviation. An empty pattern gives the (truncated) prior mean and SD.
* **MAP**: posterior mode (root of ``S(theta) - (theta - mu) / sigma^2``); SE is
  ``1 / sqrt(I(theta) + 1 / sigma^2)``.
* **ML**: root of the score ``S(theta) = sum_i d log P_i(x_i | theta) / d theta``; SE is
  ``1 / sqrt(I(theta))``. A pattern that is not mixed (every answered item in its lowest
  category, or every one in its highest, or nothing answered) has no finite ML estimate:
  it is scored by EAP under a standard normal prior on the same range (the "EAP until the
  pattern is mixed" rule of adaptive tests). A mixed pattern whose likelihood keeps
  rising to the edge of the range is given the edge.
* **WLE**: root of Warm's equation ``S(theta) + J(theta) / (2 I(theta)) = 0`` with
  ``J = sum_i sum_k P'_ik P''_ik / P_ik``; SE ``1 / sqrt(I(theta))``. Non-mixed patterns
  keep their WLE when it lies inside the range and otherwise follow the ML rule (EAP).

Roots are bracketed on a grid of step 0.1 (the crossing with the highest objective wins
when there are several, as with some 3PL patterns) and refined by the Illinois method to
``1e-10``.

A new estimator is a subclass of :class:`AbilityEstimator` registered in
:data:`ESTIMATORS`.
"""

from __future__ import annotations

from engine._registry import Registry
from engine.ability._base import (
    AbilityEstimate,
    AbilityEstimator,
    Prior,
    eap_from_loglik,
    normal_log_weight,
)
from engine.ability.eap import EAP
from engine.ability.roots import MAP, ML, WLE
from item_banks.errors import InvalidConfigError

ESTIMATORS: Registry[AbilityEstimator] = Registry("estimator")
"""Registered ability estimators by name (``ESTIMATORS.register`` adds one)."""
for _cls in (EAP, MAP, ML, WLE):
    ESTIMATORS.register(_cls)
del _cls


def get_estimator(name: str, **kwargs: object) -> AbilityEstimator:
    """Build an ability estimator by name.

    Parameters
    ----------
    name : {"eap", "map", "ml", "wle"}
    **kwargs
        Hyperparameters of that estimator (``prior_mean``, ``prior_sd``, ``n_points``,
        ``theta_range``); a ``method`` key equal to ``name`` is accepted and ignored.

    Raises
    ------
    InvalidConfigError
        Unknown name or hyperparameter, or an invalid value.

    Examples
    --------
    >>> get_estimator("wle")
    WLE(theta_range=[-4.0, 4.0])
    """
    key = str(name).lower()
    if key not in ESTIMATORS:
        known = ", ".join(ESTIMATORS.names())
        raise InvalidConfigError([f"unknown estimator {name!r}; known: {known}"])
    kwargs = dict(kwargs)
    if kwargs.pop("method", key) != key:
        raise InvalidConfigError([f"estimator method mismatch for {name!r}"])
    if "theta_range" in kwargs and kwargs["theta_range"] is not None:
        kwargs["theta_range"] = tuple(kwargs["theta_range"])  # type: ignore[arg-type]
    try:
        return ESTIMATORS.get(key)(**kwargs)  # type: ignore[arg-type]
    except TypeError as error:
        raise InvalidConfigError([f"estimator {key!r}: {error}"]) from None



__all__ = [
    "EAP",
    "ESTIMATORS",
    "MAP",
    "ML",
    "WLE",
    "AbilityEstimate",
    "AbilityEstimator",
    "Prior",
    "eap_from_loglik",
    "get_estimator",
    "normal_log_weight",
]
