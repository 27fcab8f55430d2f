"""Prior densities on item parameters (Bayes modal estimation).

A prior is attached to a parameter name (``"a"``, ``"b"``, ``"c"``, ``"u"``; ``"b"`` also
covers the thresholds ``b1 .. bK-1`` and ``"t"`` the rating-scale thresholds). Its
log-density, gradient and curvature are added to the EM objective, the M-step and the
information matrix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from item_banks.errors import CalibrationError

FloatArray = NDArray[np.float64]

PRIOR_KINDS = ("normal", "lognormal", "beta")


@dataclass(frozen=True)
class Prior:
    """A univariate prior density on one item parameter.

    Parameters
    ----------
    kind : {"normal", "lognormal", "beta"}
    p1, p2 : float
        ``normal``: mean and sd; ``lognormal``: mean and sd of ``log x``; ``beta``: the
        shape parameters alpha and beta (both > 0).

    Examples
    --------
    >>> Prior("beta", 5, 17).mode()
    0.2
    """

    kind: str
    p1: float
    p2: float

    def __post_init__(self) -> None:
        if self.kind not in PRIOR_KINDS:
            raise CalibrationError(
                f"unknown prior {self.kind!r}; use one of {', '.join(PRIOR_KINDS)}"
            )
        if not (np.isfinite(self.p1) and np.isfinite(self.p2)) or self.p2 <= 0:
            raise CalibrationError(f"prior {self}: second parameter must be finite and > 0")
        if self.kind == "beta" and self.p1 <= 0:
            raise CalibrationError(f"prior {self}: beta shapes must be > 0")

    def __str__(self) -> str:
        return f"{self.kind}({self.p1:g}, {self.p2:g})"

    def mode(self) -> float:
        """Mode of the density (a sensible start value)."""
        if self.kind == "normal":
            return self.p1
        if self.kind == "lognormal":
            return float(np.exp(self.p1 - self.p2**2))
        a, b = self.p1, self.p2
        return (a - 1) / (a + b - 2) if a > 1 and b > 1 else a / (a + b)

    def logpdf(self, x: ArrayLike) -> FloatArray:
        """Log-density at ``x`` (``-inf`` outside the support)."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "normal":
                z = (x - self.p1) / self.p2
                return -0.5 * z**2 - np.log(self.p2 * np.sqrt(2.0 * np.pi))
            if self.kind == "lognormal":
                lx = np.log(np.where(x > 0, x, np.nan))
                out = (
                    -lx
                    - np.log(self.p2 * np.sqrt(2.0 * np.pi))
                    - 0.5 * ((lx - self.p1) / self.p2) ** 2
                )
                return np.where(x > 0, out, -np.inf)
            inside = (x > 0) & (x < 1)
            xc = np.where(inside, x, 0.5)
            out = (
                (self.p1 - 1) * np.log(xc)
                + (self.p2 - 1) * np.log1p(-xc)
                - special.betaln(self.p1, self.p2)
            )
            return np.where(inside, out, -np.inf)

    def grad(self, x: ArrayLike) -> FloatArray:
        """First derivative of the log-density."""
        x = np.asarray(x, dtype=float)
        if self.kind == "normal":
            return -(x - self.p1) / self.p2**2
        if self.kind == "lognormal":
            return -(np.log(x) - self.p1) / (self.p2**2 * x) - 1.0 / x
        return (self.p1 - 1) / x - (self.p2 - 1) / (1 - x)

    def hess(self, x: ArrayLike) -> FloatArray:
        """Second derivative of the log-density."""
        x = np.asarray(x, dtype=float)
        if self.kind == "normal":
            return np.full_like(x, -1.0 / self.p2**2)
        if self.kind == "lognormal":
            s2 = self.p2**2
            return (np.log(x) - self.p1 - 1.0) / (s2 * x**2) + 1.0 / x**2
        return -(self.p1 - 1) / x**2 - (self.p2 - 1) / (1 - x) ** 2


_PRIOR_TEXT = re.compile(r"^\s*(\w+)\s*\(\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*\)\s*$")


def parse_prior(text: str) -> Prior:
    """Parse ``"lognormal(0, 0.5)"``, ``"beta(5, 17)"`` or ``"normal(0, 2)"``.

    Raises
    ------
    CalibrationError
        Naming the text that could not be read.
    """
    match = _PRIOR_TEXT.match(text)
    if not match:
        raise CalibrationError(
            f"cannot read prior {text!r}; expected e.g. 'lognormal(0, 0.5)' or 'beta(5, 17)'"
        )
    return Prior(match.group(1).lower(), float(match.group(2)), float(match.group(3)))


def prior_for(name: str, priors: Mapping[str, Prior]) -> Prior | None:
    """The prior of parameter ``name`` (``b3`` falls back to ``b``, ``t2`` to ``t``)."""
    if name in priors:
        return priors[name]
    base = name.rstrip("0123456789")
    return priors.get(base)


DEFAULT_PRIORS: dict[str, dict[str, Prior]] = {
    # BILOG-MG's default for the guessing parameter of 5-option items: mean 0.2, weight 20
    "3pl": {"c": Prior("beta", 5.0, 17.0)},
    "4pl": {"c": Prior("beta", 5.0, 17.0), "u": Prior("beta", 17.0, 2.0)},
}
"""Priors used when ``priors="default"``: only the asymptotes of the 3PL and 4PL."""
