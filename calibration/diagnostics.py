"""Item diagnostics after a fit: parameters that ran off, with their reasons and remedies.

Maximum likelihood has no finite maximum for some items on some data: a perfect (or almost
perfect) split of the persons sends a slope to infinity, an item almost nobody passes
sends its location far beyond the persons, an item unrelated to the others has a slope
near zero and a location at any distance. EM then stops when its steps become small, with
an estimate that means nothing. :func:`item_diagnostics` flags such parameters after every
fit, so that no degenerate estimate reaches a bank, or a test, silently:

* ``location_off_scale``: a location or threshold (``b``, ``b1..``) beyond the quadrature
  range (default [-6, 6]: no person can be there);
* ``slope_diverging``: a slope ``a`` above ``MAX_SLOPE`` (10: the item would tell apart
  persons 0.1 logits apart, which no real item does);
* ``slope_near_zero``: a slope less than ``Z_ZERO`` (1) standard error from zero (the item
  does not measure the trait the others measure);
* ``se_too_large``: a location SE above a quarter of the quadrature range, or a slope SE
  above ``MAX_SLOPE_SE`` (5): the 95% interval covers the whole scale;
* ``singular``: the information matrix is singular in the item's direction (the data do
  not identify its parameters; no SE).

``location_off_scale``, ``slope_diverging`` and ``singular`` mean the estimate diverged:
the fit is then not called converged. Each flag names its remedy: a prior (given as
``--prior`` on the command line), leaving the item out (``--drop``) or more data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_SLOPE = 10.0
"""Largest credible slope (logistic metric)."""

MAX_SLOPE_SE = 5.0
"""Largest meaningful standard error of a slope."""

Z_ZERO = 1.0
"""A slope less than this many SEs from zero is indistinguishable from zero."""

DIVERGED = ("location_off_scale", "slope_diverging", "singular")
"""Flag kinds that mean a parameter diverged (the fit is not converged)."""

PRIOR_FOR = {"a": "a=lognormal(0,0.5)", "b": "b=normal(0,2)"}
"""The prior named as the remedy of a flag on each kind of parameter."""


def _num(x: float) -> str:
    """A number for messages: 4 significant digits, never a numpy repr."""
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    return f"{x:.4g}" if abs(x) < 1e6 else f"{x:,.0f}"


@dataclass(frozen=True)
class ItemFlag:
    """One flagged parameter of one item.

    Attributes
    ----------
    item_id : str
    param : str
        Parameter name (``a``, ``b``, ``b2`` ...) or ``"*"`` for the whole item.
    kind : str
        One of ``location_off_scale, slope_diverging, slope_near_zero, se_too_large,
        singular``.
    reason : str
        What was seen, with the values.
    remedy : str
        What to do about it.
    """

    item_id: str
    param: str
    kind: str
    reason: str
    remedy: str

    @property
    def diverged(self) -> bool:
        """Whether this flag means the estimate diverged."""
        return self.kind in DIVERGED

    def __str__(self) -> str:
        return f"{self.item_id}: {self.reason}; {self.remedy}"

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {
            "item_id": self.item_id,
            "param": self.param,
            "kind": self.kind,
            "reason": self.reason,
            "remedy": self.remedy,
        }


def _remedy(item_id: str, param: str, kind: str) -> str:
    drop = f"--drop {item_id}"
    if kind == "slope_near_zero":
        return (
            f"check its scoring key, or leave it out ({drop}); "
            f"a prior --prior '{PRIOR_FOR['a']}' keeps it on the scale"
        )
    prior = PRIOR_FOR["a" if param == "a" else "b"]
    if kind == "singular":
        prior = PRIOR_FOR["a"]
    return f"a prior takes it (--prior '{prior}'), or leave it out ({drop}), or more data"


def item_diagnostics(
    params: pd.DataFrame,
    theta_range: tuple[float, float],
    singular: Iterable[str] = (),
) -> list[ItemFlag]:
    """Flag every parameter that ran off, in item order.

    Parameters
    ----------
    params : DataFrame
        The parameter table of a calibration (index ``item_id``; parameter columns and
        their ``*_se``), as :attr:`CalibrationResult.params`.
    theta_range : (float, float)
        The quadrature range of the fit.
    singular : iterable of str
        Items in whose direction the information matrix is singular.

    Returns
    -------
    list of ItemFlag
        Empty for a fit whose every estimate is meaningful.

    Examples
    --------
    >>> table = pd.DataFrame({"a": [1.0, 250.0], "a_se": [0.1, 9e5], "b": [0.2, 2.1],
    ...                       "b_se": [0.1, 300.0]}, index=pd.Index(["q1", "q2"]))
    >>> [f.kind for f in item_diagnostics(table, (-6, 6))]
    ['slope_diverging', 'se_too_large']
    """
    lo, hi = float(theta_range[0]), float(theta_range[1])
    max_loc_se = (hi - lo) / 4.0
    singular = set(singular)
    out: list[ItemFlag] = []
    cols = [c for c in params.columns if c not in ("model", "n_categories", "codes")]
    names = [c for c in cols if not c.endswith("_se")]
    # the columns as float arrays (None -> NaN); only the rows that can hold a flag go
    # through the row-by-row wording below (iterrows over every item cost ~0.6 ms each)
    nan = np.full(len(params), np.nan)
    values_of = {c: pd.to_numeric(params[c], errors="coerce").to_numpy(float) for c in cols}
    ses_of = {n: values_of.get(f"{n}_se", nan) for n in names}
    candidate = np.zeros(len(params), dtype=bool)
    with np.errstate(invalid="ignore"):
        for name in names:
            v, se = values_of[name], ses_of[name]
            if name == "b" or (name.startswith("b") and name[1:].isdigit()):
                candidate |= (v < lo) | (v > hi) | (se > max_loc_se)
            if name == "a":
                candidate |= (v > MAX_SLOPE) | (np.abs(v) < Z_ZERO * se) | (se > MAX_SLOPE_SE)
    ids = [str(i) for i in params.index]
    candidate |= np.array([i in singular for i in ids], dtype=bool)
    for row in np.nonzero(candidate)[0]:
        item_id = ids[row]
        found: list[tuple[str, str, str]] = []
        for name in names:
            value = float(values_of[name][row])
            if np.isnan(value):
                continue
            se = float(ses_of[name][row])
            se_text = f" (SE {_num(se)})" if np.isfinite(se) else ""
            is_location = name == "b" or (name.startswith("b") and name[1:].isdigit())
            if is_location and not lo <= value <= hi:
                found.append(
                    (
                        name,
                        "location_off_scale",
                        f"{name} = {_num(value)}{se_text} is beyond the quadrature range "
                        f"[{_num(lo)}, {_num(hi)}]",
                    )
                )
            elif is_location and np.isfinite(se) and se > max_loc_se:
                found.append(
                    (
                        name,
                        "se_too_large",
                        f"{name} = {_num(value)} has SE {_num(se)}, its 95% interval covers "
                        "the whole scale",
                    )
                )
            if name != "a":
                continue
            if value > MAX_SLOPE:
                found.append(
                    (
                        name,
                        "slope_diverging",
                        f"slope a = {_num(value)}{se_text} is diverging (above {_num(MAX_SLOPE)})",
                    )
                )
            elif np.isfinite(se) and abs(value) < Z_ZERO * se:
                found.append(
                    (
                        name,
                        "slope_near_zero",
                        f"slope a = {_num(value)} (SE {_num(se)}) is indistinguishable from zero",
                    )
                )
            elif np.isfinite(se) and se > MAX_SLOPE_SE:
                found.append(
                    (
                        name,
                        "se_too_large",
                        f"slope a = {_num(value)} has SE {_num(se)}, too large to mean anything",
                    )
                )
        if item_id in singular:
            found.append(
                (
                    "*",
                    "singular",
                    "the information matrix is singular in its direction (the data do not "
                    "identify its parameters)",
                )
            )
        for param, kind, reason in found:
            out.append(ItemFlag(item_id, param, kind, reason, _remedy(item_id, param, kind)))
    return out


def flags_by_item(flags: Iterable[ItemFlag]) -> dict[str, list[ItemFlag]]:
    """Flags grouped by item id (item order kept)."""
    out: dict[str, list[ItemFlag]] = {}
    for flag in flags:
        out.setdefault(flag.item_id, []).append(flag)
    return out


def diverged_items(flags: Iterable[ItemFlag]) -> list[str]:
    """Ids of the items with a diverged parameter, in order."""
    return list(dict.fromkeys(f.item_id for f in flags if f.diverged))
