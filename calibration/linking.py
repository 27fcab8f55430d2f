"""Linking two calibrations that share items: mean/mean, mean/sigma, Haebara, Stocking-Lord.

A link ``(A, B)`` puts the FROM scale on the TO scale: ``theta_to = A theta_from + B``,
so a FROM item's parameters become ``a / A`` (slopes), ``A b + B`` (difficulties and
GRM/GPCM thresholds ``b1..``), ``A t`` (rating-scale thresholds) and unchanged ``c, u``
(Kolen & Brennan, 2014, ch. 6; plink, equateIRT).

* **mean/mean**: ``A = mean(a_from) / mean(a_to)``, ``B = mean(b_to) - A mean(b_from)``.
* **mean/sigma**: ``A = sd(b_to) / sd(b_from)``, same ``B``.
* **Haebara**: minimises the squared differences of the common items' category
  probabilities, summed over items and categories, at quadrature points of the TO scale
  weighted by N(0, 1).
* **Stocking-Lord**: minimises the squared difference of the common items' test
  characteristic curves (sum of expected scores) at the same points.

Standard errors by the delta method: the derivative of ``(A, B)`` with respect to every
common item parameter of both calibrations (central differences; for the characteristic
curve methods each perturbed criterion is minimised again), with the parameters'
standard errors from the banks (independent across items and calibrations; the
covariance of one item's parameters is not stored in bank files). Each common item's
contribution is shown by the link without it (leave-one-out).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from calibration._layout import FloatArray
from item_banks.bank import ItemBank
from item_banks.errors import CalibrationError
from item_banks.models import get_model

METHODS = ("mean-mean", "mean-sigma", "haebara", "stocking-lord")
ALIASES = {"mm": "mean-mean", "ms": "mean-sigma", "ha": "haebara", "sl": "stocking-lord"}
LINK_FORMAT = "zapcat-link/1"


def _kind(name: str) -> str:
    """How a parameter transforms: ``slope``, ``location``, ``spread`` or ``fixed``."""
    if name == "a":
        return "slope"
    if name == "b" or (name[0] == "b" and name[1:].isdigit()):
        return "location"
    if name[0] == "t" and name[1:].isdigit():
        return "spread"
    return "fixed"


def transform_params(model: str, params: dict[str, float], A: float, B: float) -> dict[str, float]:
    """An item's parameters on the TO scale (``theta_to = A theta_from + B``).

    Raises
    ------
    CalibrationError
        ``A`` is not positive, or not 1 for a model without a slope (Rasch, PCM, RSM).

    Examples
    --------
    >>> transform_params("2pl", {"a": 1.2, "b": 0.5}, 2.0, 1.0)
    {'a': 0.6, 'b': 2.0}
    """
    if not A > 0:
        raise CalibrationError(f"the link's A must be positive, got {A!r}")
    if "a" not in params and abs(A - 1.0) > 1e-9:
        raise CalibrationError(
            f"model {model!r} has no slope, so only links with A = 1 apply to it, got A = {A:g}"
        )
    out = {}
    for name, value in params.items():
        kind = _kind(name)
        out[name] = (
            value / A
            if kind == "slope"
            else A * value + B
            if kind == "location"
            else A * value
            if kind == "spread"
            else value
        )
    return out


@dataclass(frozen=True)
class Link:
    """A linear link ``theta_to = A theta_from + B`` with its standard errors.

    Attributes
    ----------
    A, B : float
    A_se, B_se : float
        Delta-method standard errors (NaN when some common item has no SEs).
    method : str
    common_items : tuple of str
    items : DataFrame
        Per common item: ``b_from`` (mean location on the FROM scale), ``b_to``,
        ``b_linked`` (FROM transformed), ``loo_A``, ``loo_B`` (the link without it).
    """

    A: float
    B: float
    A_se: float
    B_se: float
    method: str
    common_items: tuple[str, ...]
    from_bank: dict[str, str] = field(default_factory=dict)
    to_bank: dict[str, str] = field(default_factory=dict)
    criterion: float = 0.0
    items: pd.DataFrame | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``zapcat-link/1`` document."""
        out: dict[str, Any] = {
            "format": LINK_FORMAT,
            "A": self.A,
            "B": self.B,
            "A_se": self.A_se,
            "B_se": self.B_se,
            "method": self.method,
            "common_items": list(self.common_items),
            "from": dict(self.from_bank),
            "to": dict(self.to_bank),
            "criterion": self.criterion,
        }
        if self.items is not None:
            out["items"] = [
                {"item_id": str(i), **{k: float(v) for k, v in row.items()}}
                for i, row in self.items.iterrows()
            ]
        return out

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "link") -> Link:
        """Read a ``zapcat-link/1`` document (``A`` and ``B`` are required)."""
        if not isinstance(data, dict):
            raise CalibrationError(f"{source}: a link is a JSON object, got {type(data).__name__}")
        problems = []
        for key in ("A", "B"):
            value = data.get(key)
            if not isinstance(value, int | float) or not np.isfinite(value):
                problems.append(f"{key} must be a finite number, got {value!r}")
        if not problems and not data["A"] > 0:
            problems.append(f"A must be positive, got {data['A']!r}")
        if problems:
            raise CalibrationError(f"{source}: invalid link: " + "; ".join(problems))
        return cls(
            A=float(data["A"]),
            B=float(data["B"]),
            A_se=float(data.get("A_se", np.nan)),
            B_se=float(data.get("B_se", np.nan)),
            method=str(data.get("method", "given")),
            common_items=tuple(data.get("common_items", ())),
            from_bank=dict(data.get("from", {})),
            to_bank=dict(data.get("to", {})),
            criterion=float(data.get("criterion", 0.0)),
        )


@dataclass
class _Common:
    """Common items in a form the criteria evaluate quickly."""

    ids: list[str]
    models: list[str]
    k: list[int]
    names: list[tuple[str, ...]]
    p_from: FloatArray  # concatenated parameters
    p_to: FloatArray
    se: FloatArray  # SEs of p_from then p_to
    slices: list[slice]
    groups: list[tuple[str, int, list[int], np.ndarray]] = field(default_factory=list)

    def __post_init__(self) -> None:
        keys: dict[tuple[str, int], list[int]] = {}
        for j, key in enumerate(zip(self.models, self.k, strict=True)):
            keys.setdefault(key, []).append(j)
        for (model, k), js in keys.items():
            index = np.array([np.arange(self.slices[j].start, self.slices[j].stop) for j in js])
            self.groups.append((model, k, js, index))


def _common(from_bank: ItemBank, to_bank: ItemBank, items: Iterable[str] | None) -> _Common:
    ids = list(items) if items is not None else [i for i in from_bank.item_ids if i in to_bank]
    problems = []
    for i in ids:
        if i not in from_bank or i not in to_bank:
            problems.append(f"item {i!r} is not in both banks")
        elif from_bank[i].model != to_bank[i].model:
            problems.append(
                f"item {i!r}: model {from_bank[i].model} in FROM, {to_bank[i].model} in TO"
            )
        elif from_bank[i].n_categories != to_bank[i].n_categories:
            problems.append(f"item {i!r}: different numbers of categories")
    if problems:
        raise CalibrationError("cannot link: " + "; ".join(problems))
    if len(ids) < 2:
        raise CalibrationError(f"linking needs at least 2 common items, got {len(ids)}")
    models, ks, names, pf, pt, sf, st, slices = [], [], [], [], [], [], [], []
    pos = 0
    for i in ids:
        fi, ti = from_bank[i], to_bank[i]
        n = get_model(fi.model).param_names(fi.n_categories)
        models.append(fi.model)
        ks.append(fi.n_categories)
        names.append(n)
        pf += [fi.params[x] for x in n]
        pt += [ti.params[x] for x in n]
        sf += [fi.se.get(x, np.nan) for x in n]
        st += [ti.se.get(x, np.nan) for x in n]
        slices.append(slice(pos, pos + len(n)))
        pos += len(n)
    return _Common(ids, models, ks, names, np.array(pf), np.array(pt), np.array(sf + st), slices)


def _values(c: _Common, p: FloatArray, kind: str) -> FloatArray:
    return np.array(
        [
            p[s][n]
            for s, names in zip(c.slices, c.names, strict=True)
            for n in range(len(names))
            if _kind(names[n]) == kind
        ]
    )


def _grid(n: int = 41, lo: float = -4.0, hi: float = 4.0) -> tuple[FloatArray, FloatArray]:
    theta = np.linspace(lo, hi, n)
    w = stats.norm.pdf(theta)
    return theta, w / w.sum()


def _curves(c: _Common, p: FloatArray, theta: FloatArray) -> list[FloatArray]:
    """Category probabilities of each common item at ``theta``, each (Q, K)."""
    out: list[FloatArray] = [np.empty(0)] * len(c.ids)
    for model, k, js, index in c.groups:
        prob = get_model(model).prob(theta, p[index])  # (Q, n_g, K)
        for r, j in enumerate(js):
            out[j] = prob[:, r, :k]
    return out


def _transformed(c: _Common, p: FloatArray, A: float, B: float) -> FloatArray:
    kinds = np.array([_kind(n) for names in c.names for n in names])
    return np.where(
        kinds == "slope",
        p / A,
        np.where(kinds == "location", A * p + B, np.where(kinds == "spread", A * p, p)),
    )


def _residuals(
    c: _Common,
    method: str,
    p_from: FloatArray,
    target: list[FloatArray],
    x: FloatArray,
    theta: FloatArray,
    sw: FloatArray,
) -> FloatArray:
    A, B = float(x[0]), float(x[1])
    if not A > 1e-6:
        return np.full(sum(t.size for t in target) if method == "haebara" else theta.size, 1e3)
    linked = _curves(c, _transformed(c, p_from, A, B), theta)
    if method == "haebara":
        return np.concatenate(
            [(sw[:, None] * (t - m)).ravel() for t, m in zip(target, linked, strict=True)]
        )
    score = np.arange
    tcc_t = sum(t @ score(t.shape[1]) for t in target)
    tcc_l = sum(m @ score(m.shape[1]) for m in linked)
    return sw * (tcc_t - tcc_l)


def _solve(
    c: _Common, method: str, p_from: FloatArray, p_to: FloatArray, start: FloatArray | None = None
) -> tuple[float, float, float]:
    """(A, B, criterion) of one method at given parameters."""
    if method in ("mean-mean", "mean-sigma"):
        b_f, b_t = _values(c, p_from, "location"), _values(c, p_to, "location")
        if method == "mean-mean":
            a_f, a_t = _values(c, p_from, "slope"), _values(c, p_to, "slope")
            A = 1.0 if a_f.size == 0 else float(a_f.mean() / a_t.mean())
        else:
            A = float(b_t.std(ddof=0) / b_f.std(ddof=0))
        return A, float(b_t.mean() - A * b_f.mean()), 0.0
    theta, w = _grid()
    sw = np.sqrt(w)
    target = _curves(c, p_to, theta)
    x0 = np.array([1.0, 0.0]) if start is None else start
    fit = optimize.least_squares(
        lambda x: _residuals(c, method, p_from, target, x, theta, sw),
        x0,
        xtol=1e-13,
        ftol=1e-13,
        gtol=1e-13,
        method="lm",
    )
    return float(fit.x[0]), float(fit.x[1]), float(2 * fit.cost)


def link(
    from_bank: ItemBank,
    to_bank: ItemBank,
    method: str = "stocking-lord",
    *,
    items: Sequence[str] | None = None,
) -> Link:
    """Link ``from_bank``'s scale to ``to_bank``'s through their common items.

    Parameters
    ----------
    from_bank, to_bank : ItemBank
        Two calibrations sharing items (same ids, models and categories).
    method : {"mean-mean", "mean-sigma", "haebara", "stocking-lord"}
        Also written ``mean/mean``, ``stocking_lord``, ``sl`` ...
    items : sequence of str, optional
        The common items to use (default every item in both banks).

    Returns
    -------
    Link

    Raises
    ------
    CalibrationError
        Unknown method, fewer than 2 common items, items that differ in model.
    """
    method = str(method).strip().lower().replace("_", "-").replace("/", "-").replace(" ", "-")
    method = ALIASES.get(method, method)
    if method not in METHODS:
        raise CalibrationError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    c = _common(from_bank, to_bank, items)
    A, B, crit = _solve(c, method, c.p_from, c.p_to)
    x0 = np.array([A, B])
    # delta method: d(A, B) / d(parameters of FROM, then TO), central differences
    p = np.concatenate([c.p_from, c.p_to])
    n_f = c.p_from.size
    jac = np.zeros((2, p.size))
    for i in range(p.size):
        h = 1e-5 * max(1.0, abs(p[i]))
        out = []
        for sign in (1.0, -1.0):
            q = p.copy()
            q[i] += sign * h
            out.append(np.array(_solve(c, method, q[:n_f], q[n_f:], x0)[:2]))
        jac[:, i] = (out[0] - out[1]) / (2 * h)
    used = np.abs(jac).sum(axis=0) > 0
    if np.all(np.isfinite(c.se[used])):
        cov = (
            (jac * c.se**2) @ jac.T
            if np.all(np.isfinite(c.se))
            else ((jac[:, used] * c.se[used] ** 2) @ jac[:, used].T)
        )
        A_se, B_se = float(np.sqrt(cov[0, 0])), float(np.sqrt(cov[1, 1]))
    else:
        A_se = B_se = float("nan")
    rows = {}
    for j, item_id in enumerate(c.ids):
        s = c.slices[j]
        loc = [n for n, name in enumerate(c.names[j]) if _kind(name) == "location"]
        b_f = float(np.mean(c.p_from[s][loc])) if loc else np.nan
        b_t = float(np.mean(c.p_to[s][loc])) if loc else np.nan
        if len(c.ids) > 2:
            keep = [i for i in c.ids if i != item_id]
            sub = _common(from_bank, to_bank, keep)
            la, lb, _ = _solve(sub, method, sub.p_from, sub.p_to, x0)
        else:
            la = lb = np.nan
        rows[item_id] = {
            "b_from": b_f,
            "b_to": b_t,
            "b_linked": A * b_f + B,
            "loo_A": la,
            "loo_B": lb,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "item_id"
    return Link(
        A=A,
        B=B,
        A_se=A_se,
        B_se=B_se,
        method=method,
        common_items=tuple(c.ids),
        from_bank={"name": from_bank.name, "version": from_bank.version},
        to_bank={"name": to_bank.name, "version": to_bank.version},
        criterion=crit,
        items=table,
    )


def transform_bank(
    bank: ItemBank, link_: Link, *, name: str | None = None, version: str | None = None
) -> ItemBank:
    """Put every item of ``bank`` on the link's TO scale.

    SEs are transformed with the parameters (``a_se / A``, ``A b_se``; the link's own
    uncertainty is not added). The provenance records the link.

    Raises
    ------
    CalibrationError
        A model without a slope and ``A != 1``.
    """
    items = []
    for it in bank:
        params = transform_params(it.model, dict(it.params), link_.A, link_.B)
        se = {
            n: (
                v / link_.A
                if _kind(n) == "slope"
                else v * link_.A
                if _kind(n) in ("location", "spread")
                else v
            )
            for n, v in it.se.items()
        }
        # everything but the scale stays the item's own: texts, codes, flags, metadata
        items.append(dataclasses.replace(it, params=params, se=se))
    provenance = {
        **dict(bank.provenance),
        "linked": {
            "A": link_.A,
            "B": link_.B,
            "A_se": link_.A_se,
            "B_se": link_.B_se,
            "method": link_.method,
            "to": dict(link_.to_bank),
            "from": {"name": bank.name, "version": bank.version},
        },
    }
    return ItemBank(
        items,
        name=name or bank.name,
        version=version or bank.version,
        description=bank.description,
        provenance=provenance,
    )
