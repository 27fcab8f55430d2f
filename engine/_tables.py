"""Per-bank arrays computed once and cached on the bank object.

Everything the engine evaluates at every step (log-probabilities on the quadrature grid,
information on a fine grid, scores for root finding) is tabulated here once per bank and
grid, so that one CAT step costs a few gathers and vector operations, never a call into
the item models for the whole bank. The cache is keyed on the identity of the (immutable)
bank and released when the bank is garbage-collected.
"""

from __future__ import annotations

import json
import weakref
from typing import Any

import numpy as np
from numpy.typing import NDArray

from item_banks.bank import ItemBank

FloatArray = NDArray[np.float64]

_CACHE: dict[int, tuple[weakref.ref, BankTables]] = {}

INFO_TABLE_BYTES = 64_000_000
"""Budget of the fine information table and its differences; step 0.01 unless the bank
has more than 4,000 items."""

CHUNK_VALUES = 262_144
"""Most values (points x items x categories) one call into the item models computes while
tables are built. A numpy call over tens of millions of values holds Python's GIL for tens
of milliseconds (every request thread of a server waits that long); the tables are built
a few theta points at a time instead, each call a millisecond or two. Every value is
computed exactly as in one call (the models are elementwise over points)."""


def _by_points(
    fn: Any, points: FloatArray, width: int, shape: tuple[int, ...], fill: float
) -> FloatArray:
    """``fn(points)`` computed a few points at a time, stacked on a last axis of points.

    ``fn(chunk)`` returns shape ``(len(chunk), *shape[:-1])`` (possibly with fewer
    categories than ``shape`` holds: the rest is ``fill``); the result has ``shape`` with
    ``shape[-1] == points.size``.
    """
    out = np.empty(shape)
    step = max(1, CHUNK_VALUES // max(1, width))
    for start in range(0, points.size, step):
        block = np.moveaxis(fn(points[start : start + step]), 0, -1)
        target = out[..., start : start + step]
        if block.shape != target.shape:  # fewer categories in this call: pad
            target[...] = fill
        target[tuple(slice(0, d) for d in block.shape)] = block
    return out


def second_derivative_term(bank: ItemBank, theta: FloatArray, items: NDArray | None) -> FloatArray:
    """Warm's ``J_i(theta) = sum_k P'_k P''_k / P_k`` for each item, shape ``(T, n)``.

    ``P'`` is analytic (``P * dlog P``); ``P''`` is a central difference of ``P'``.
    """
    h = 1e-4
    logp = bank.log_prob(theta, items)
    prob = np.exp(logp)
    d1 = prob * bank.dlog_prob_dtheta(theta, items)
    up = np.exp(bank.log_prob(theta + h, items)) * bank.dlog_prob_dtheta(theta + h, items)
    down = np.exp(bank.log_prob(theta - h, items)) * bank.dlog_prob_dtheta(theta - h, items)
    d2 = (up - down) / (2.0 * h)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(prob > 0, d1 * d2 / np.where(prob > 0, prob, 1.0), 0.0)
    return term.sum(axis=-1)


def _location_columns(model: Any, n_categories: int) -> list[int] | None:
    """Parameter columns that shift with theta (``P(theta; b) = P(theta - s; b - s)``).

    The model's ``location`` parameters, checked numerically once per model layout;
    ``None`` if the model is not of this location family (every built-in model is).
    """
    cols = model.columns(n_categories, "location")
    if not cols:
        return None
    params = model.default_params(n_categories)[None, :]
    shifted = params.copy()
    shifted[:, cols] -= 0.7
    if np.allclose(model.log_prob([0.7], params), model.log_prob([0.0], shifted), atol=1e-12):
        return cols
    return None


_LOCATION: dict[tuple[str, int], list[int] | None] = {}


def pair_eval(
    bank: ItemBank, theta: FloatArray, items: NDArray[np.intp], method: str | tuple[str, ...]
) -> Any:
    """Item model methods at one theta per item: ``method(theta_r, items[r])``.

    Parameters
    ----------
    theta : ndarray, shape (P,)
    items : ndarray of int, shape (P,)
        Bank positions (repeats allowed).
    method : str or tuple of str
        ``"log_prob"``, ``"dlog_prob_dtheta"`` or ``"information"``.

    Returns
    -------
    ndarray (or tuple of them, one per method)
        Shape (P, K_max), ``-inf`` / 0 padded, or (P,) for ``"information"``.

    Notes
    -----
    The bank's methods evaluate every theta with every item; this evaluates only the P
    pairs: location-family models at theta 0 with their difficulties shifted by
    ``-theta_r`` (exact), any other model pair by pair.
    """
    methods = (method,) if isinstance(method, str) else tuple(method)
    outs = []
    for name in methods:
        if name == "information":
            outs.append(np.zeros(items.size))
        else:
            fill = -np.inf if name == "log_prob" else 0.0
            outs.append(np.full((items.size, bank.max_categories), fill))
    tables = bank_tables(bank)
    groups = bank.groups
    which = tables.meta("group_of")[items] if len(groups) > 1 else None
    rowpos = tables.meta("row_of")
    for g in range(len(groups)) if which is not None else (0,):
        group = groups[g]
        sel = np.nonzero(which == g)[0] if which is not None else slice(None)
        sel_items = items[sel]
        if sel_items.size == 0:
            continue
        params = group.params[rowpos[sel_items]]
        key = (group.model.name, group.n_categories)
        if key not in _LOCATION:
            _LOCATION[key] = _location_columns(group.model, group.n_categories)
        cols = _LOCATION[key]
        if cols is not None:
            params[:, cols] -= theta[sel][:, None]
        for name, out in zip(methods, outs, strict=True):
            fn = getattr(group.model, name)
            if cols is not None:
                values = fn([0.0], params)[0]
            else:
                t_sel = theta[sel]
                values = np.stack(
                    [fn(t_sel[j : j + 1], params[j : j + 1])[0, 0] for j in range(t_sel.size)]
                )
            if name == "information":
                out[sel] = values
            else:
                out[sel, : group.n_categories] = values
    return outs[0] if isinstance(method, str) else tuple(outs)


class GridTables:
    """Bank arrays on one grid of theta points.

    Attributes
    ----------
    points : ndarray, shape (Q,)
    log_prob : ndarray, shape (n_items, K_max, Q)
        ``log P(X = k | theta_q)``; ``-inf`` for categories an item does not have.
    log_prob0 : ndarray, shape (n_items, K_max, Q)
        The same with 0 in padded categories (for one-hot matrix products).
    """

    def __init__(self, bank: ItemBank, points: FloatArray, arrays: dict | None = None) -> None:
        self._bank = weakref.ref(bank)
        self.points = points
        if arrays is not None:  # computed elsewhere (see BankTables.adopt)
            self.log_prob, self.log_prob0 = arrays.pop("log_prob"), arrays.pop("log_prob0")
            self._lazy: dict[str, Any] = arrays
            return
        n, k = len(bank), bank.max_categories
        self.log_prob = _by_points(bank.log_prob, points, n * k, (n, k, points.size), -np.inf)
        self.log_prob0 = np.empty_like(self.log_prob)
        rows = max(1, CHUNK_VALUES // max(1, k * points.size))
        for start in range(0, n, rows):
            block = self.log_prob[start : start + rows]
            self.log_prob0[start : start + rows] = np.where(np.isfinite(block), block, 0.0)
        self._lazy = {}

    def _get(self, name: str) -> Any:
        if name not in self._lazy:
            bank = self._bank()
            pts = self.points
            n, k = self.log_prob.shape[:2]
            if name == "prob":
                value = np.exp(self.log_prob)
            elif name == "score":  # d log P / d theta, (n, K, Q), 0 where padded
                value = _by_points(bank.dlog_prob_dtheta, pts, n * k, (n, k, pts.size), 0.0)
            elif name == "info":  # (n, Q)
                value = _by_points(bank.information, pts, n, (n, pts.size), 0.0)
            elif name == "j_term":  # (n, Q)
                value = _by_points(
                    lambda t: second_derivative_term(bank, t, None), pts, n * k, (n, pts.size), 0.0
                )
            else:  # pragma: no cover - programming error
                raise KeyError(name)
            self._lazy[name] = value
        return self._lazy[name]

    @property
    def prob(self) -> FloatArray:
        """``P(X = k | theta_q)``, shape ``(n_items, K_max, Q)``, 0 where padded."""
        return self._get("prob")

    @property
    def score(self) -> FloatArray:
        """``d log P / d theta``, shape ``(n_items, K_max, Q)``, 0 where padded."""
        return self._get("score")

    @property
    def info(self) -> FloatArray:
        """Item information, shape ``(n_items, Q)``."""
        return self._get("info")

    @property
    def j_term(self) -> FloatArray:
        """Warm's ``J`` term per item, shape ``(n_items, Q)``."""
        return self._get("j_term")


def _key(values: list) -> str:
    return json.dumps(values, separators=(",", ":"))


class BankTables:
    """Cached arrays of one bank (see :func:`bank_tables`)."""

    def __init__(self, bank: ItemBank) -> None:
        self._bank = weakref.ref(bank)
        self.n_items = len(bank)
        self.n_categories = np.asarray(bank.n_categories)
        self.max_categories = bank.max_categories
        self._grids: dict[tuple[float, ...], GridTables] = {}
        self._info: dict[tuple[float, float], tuple[float, float, NDArray[np.float32]]] = {}
        self._meta: dict[str, Any] = {}
        self.plans: dict[Any, Any] = {}  # engine._core.Plan by CATConfig

    def grid(self, lo: float, hi: float, n_points: int) -> GridTables:
        """Tables on ``n_points`` equally spaced points of ``[lo, hi]``."""
        key = (float(lo), float(hi), float(n_points))
        if key not in self._grids:
            self._grids[key] = GridTables(self._bank(), np.linspace(lo, hi, int(n_points)))
        return self._grids[key]

    def export(self) -> dict[str, NDArray]:
        """Every table computed so far, by name (for :meth:`adopt` in another process)."""
        out: dict[str, NDArray] = {}
        for key, grid in self._grids.items():
            for name, value in {"log_prob": grid.log_prob, "log_prob0": grid.log_prob0,
                                **grid._lazy}.items():  # fmt: skip
                out[f"grid {_key(list(key))} {name}"] = value
        for key, (lo, step, table, slope) in self._info.items():
            stem = f"info {_key([*key, lo, step])}"
            out[f"{stem} table"], out[f"{stem} slope"] = table, slope
        return out

    def adopt(self, arrays: dict[str, NDArray]) -> None:
        """Take tables of :meth:`export` (of the same bank), computed elsewhere.

        A grid's points are made here as :meth:`grid` and :meth:`points` make them.
        """
        grids: dict[tuple, dict[str, NDArray]] = {}
        for name, value in arrays.items():
            kind, key, field = name.split(" ")
            if kind == "grid":
                grids.setdefault(tuple(json.loads(key)), {})[field] = value
            elif field == "table":
                lo, hi, lo_, step = json.loads(key)
                stem = f"info {key}"
                self._info[(lo, hi)] = (lo_, step, value, arrays[f"{stem} slope"])
        for key, fields in grids.items():
            if key[0] == "pts":
                points = np.asarray(key[1:], dtype=float)
            else:
                points = np.linspace(key[0], key[1], int(key[2]))
            self._grids[key] = GridTables(self._bank(), points, fields)  # type: ignore[index]

    def points(self, values: tuple[float, ...]) -> GridTables:
        """Tables at arbitrary points (for example ``cut +- delta`` of an SPRT)."""
        key = ("pts", *values)
        if key not in self._grids:
            self._grids[key] = GridTables(self._bank(), np.asarray(values, dtype=float))  # type: ignore[index]
        return self._grids[key]  # type: ignore[index]

    def info_table(
        self, lo: float, hi: float
    ) -> tuple[float, float, NDArray[np.float32], NDArray[np.float32]]:
        """Information of every item on a fine grid of ``[lo, hi]``.

        Returns
        -------
        lo, step : float
        table : ndarray of float32, shape (Q, n_items)
            Row ``q`` holds the information at ``lo + q * step``; read with
            :meth:`information_at` (linear interpolation).
        slope : ndarray of float32, shape (Q - 1, n_items)
            ``table[q + 1] - table[q]``.
        """
        key = (float(lo), float(hi))
        if key not in self._info:
            bank = self._bank()
            budget_points = INFO_TABLE_BYTES // (8 * max(self.n_items, 1))
            n_points = int(np.clip(budget_points, 161, round((hi - lo) / 0.01) + 1))
            points = np.linspace(lo, hi, n_points)
            table = np.empty((n_points, self.n_items), dtype=np.float32)
            step = max(1, CHUNK_VALUES // max(1, self.n_items * self.max_categories))
            for start in range(0, n_points, step):
                table[start : start + step] = bank.information(points[start : start + step])
            slope = np.empty((n_points - 1, self.n_items), dtype=np.float32)
            for start in range(0, n_points - 1, step):
                stop = min(start + step, n_points - 1)
                np.subtract(table[start + 1 : stop + 1], table[start:stop], out=slope[start:stop])
            self._info[key] = (lo, (hi - lo) / (n_points - 1), table, slope)
        return self._info[key]

    def information_at(self, theta: FloatArray, lo: float, hi: float) -> NDArray[np.float32]:
        """Information of every item at each theta, shape ``(N, n_items)``.

        Linear interpolation in the fine table (step 0.01 up to 4,000 items, relative error
        below about ``1e-5 a^2``); theta is clipped to ``[lo, hi]``.
        """
        lo_, step, table, slope = self.info_table(lo, hi)
        pos = (np.clip(theta, lo, hi) - lo_) / step
        q = np.minimum(pos.astype(np.intp), table.shape[0] - 2)
        w = (pos - q).astype(np.float32)[:, None]
        out = table[q]  # fresh (N, n) arrays
        rise = slope[q]
        rise *= w
        out += rise
        return out

    def meta(self, name: str) -> Any:
        """Item metadata arrays (built once): slopes, locations, statuses, areas, enemies."""
        if not self._meta:
            self._build_meta()
        return self._meta[name]

    def _build_meta(self) -> None:
        bank = self._bank()
        n = self.n_items
        slope = np.ones(n)
        location = np.zeros(n)
        for group in bank.groups:
            model, k = group.model, group.n_categories
            params = np.asarray(group.params)
            slope_cols = model.columns(k, "slope")
            if slope_cols:
                slope[group.indices] = params[:, slope_cols[0]]
            loc = params[:, model.columns(k, "location")].mean(axis=1)
            offsets = model.columns(k, "offset")
            if offsets:
                loc = loc + params[:, offsets].mean(axis=1)
            location[group.indices] = loc
        # a flagged item (its calibration ran off) is given only once its owner accepts it:
        # it is treated like an item of no administrable status
        columns = bank.columns()
        usable = columns.usable
        areas = list(columns.areas)
        membership = columns.membership("areas")
        groups = list(columns.enemy_groups)
        enemy_member = columns.membership("enemy_groups")
        # enemies of each item (items sharing a group, itself excluded), CSR layout
        counts = np.zeros(n, dtype=np.intp)
        indices: list[int] = []
        for i in np.flatnonzero(np.diff(columns.enemy_indptr)).tolist():
            own = np.nonzero(enemy_member[i])[0]
            mates = np.nonzero(enemy_member[:, own].any(axis=1))[0]
            mates = mates[mates != i]
            indices.extend(mates.tolist())
            counts[i] = mates.size
        indptr = np.concatenate([[0], np.cumsum(counts)])
        group_of = np.empty(n, dtype=np.intp)
        row_of = np.empty(n, dtype=np.intp)
        for g, group in enumerate(bank.groups):
            group_of[group.indices] = g
            row_of[group.indices] = np.arange(group.indices.size)
        self._meta.update(
            group_of=group_of,
            row_of=row_of,
            slope=slope,
            location=location,
            operational=columns.has_status("operational") & usable,
            pretest=columns.has_status("pretest") & usable,
            areas=tuple(areas),
            membership=membership,
            enemy_groups=tuple(groups),
            enemy_member=enemy_member,
            enemy_indptr=np.asarray(indptr, dtype=np.intp),
            enemy_indices=np.asarray(indices, dtype=np.intp),
            has_enemies=bool(indices),
        )


def bank_tables(bank: ItemBank) -> BankTables:
    """The cached :class:`BankTables` of ``bank`` (built on first use).

    Examples
    --------
    >>> from item_banks import Item, ItemBank
    >>> bank = ItemBank([Item("q1", "2pl", {"a": 1.0, "b": 0.0})], name="demo")
    >>> bank_tables(bank) is bank_tables(bank)
    True
    """
    key = id(bank)
    entry = _CACHE.get(key)
    if entry is not None and entry[0]() is bank:
        return entry[1]
    tables = BankTables(bank)
    _CACHE[key] = (weakref.ref(bank), tables)
    weakref.finalize(bank, _CACHE.pop, key, None)
    return tables
