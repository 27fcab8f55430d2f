"""Plots of calibration results: Wright map and item fit overview.

Each function draws on the matplotlib ``Axes`` it is given (or on a new figure) and
returns that ``Axes``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from numpy.typing import ArrayLike, NDArray

from item_banks.bank import Item, ItemBank
from item_banks.errors import PlotInputError
from item_banks.plots import THETA_LABEL, item_positions, legend_below, model_label, new_axes


def item_locations(item: Item) -> NDArray[np.float64]:
    """Where an item sits on the θ scale: its difficulty or its category thresholds.

    Dichotomous items: ``b`` (for the 3PL/4PL the θ where the curve is half way between
    its asymptotes). Polytomous items: the thresholds ``b1 .. bK-1`` (GRM: where
    ``P(X >= k) = 1/2``; GPCM/PCM: where adjacent categories are equally likely); rating
    scale items: ``b + t_k``.

    Returns
    -------
    ndarray, shape (1,) or (K-1,)

    Examples
    --------
    >>> from item_banks import Item
    >>> item_locations(Item("q", "grm", {"a": 1.2, "b1": -1.0, "b2": 0.5}))
    array([-1. ,  0.5])
    """
    p = item.params
    steps = [p[f"b{k}"] for k in range(1, item.n_categories) if f"b{k}" in p]
    if steps:
        return np.asarray(steps, dtype=float)
    ts = [p[f"t{k}"] for k in range(1, item.n_categories) if f"t{k}" in p]
    if ts:
        return p["b"] + np.asarray(ts, dtype=float)
    return np.array([p["b"]], dtype=float)


def wright_map(
    bank: ItemBank,
    person_theta: ArrayLike,
    *,
    item_ids: list[str] | None = None,
    bins: int = 30,
    label_items: bool | None = None,
    limits: tuple[float, float] = (-6.0, 6.0),
    ax: Axes | None = None,
) -> Axes:
    """Wright map (person-item map): persons and items on one θ scale.

    Left of zero: the distribution of the persons' abilities as a horizontal histogram
    (bar length = share of persons, drawn leftwards). Right of zero: each item at its
    location(s) (see :func:`item_locations`), one column per item in order of mean
    location, coloured by model.

    Parameters
    ----------
    bank : ItemBank
    person_theta : array_like, shape (n_persons,)
        Ability estimates of the calibration sample (finite).
    item_ids : list of str, optional
        Items to show (all when omitted).
    bins : int, default 30
        Number of histogram bins of the persons.
    label_items : bool, optional
        Write the item ids beside their points (default: when at most 60 items).
    limits : (float, float), default (-6, 6)
        Largest θ range drawn. Item locations beyond it (a nearly flat item's difficulty
        can run off to ±1000) are drawn at the edge as triangles pointing outwards, in a
        collection labelled ``"off scale"``, and counted in the title.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        ``ax.patches``: the person bars; one scatter collection per model label (points
        within ``limits``).

    Examples
    --------
    >>> import numpy as np
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> theta = np.random.default_rng(1).normal(size=500)
    >>> wright_map(read_bank(DEMO_BANK_PATH), theta).get_title()
    'Wright map: 500 persons, 250 items'
    """
    theta = np.asarray(person_theta, dtype=float)
    if theta.ndim != 1 or theta.size == 0:
        raise PlotInputError(f"person_theta must be a non-empty 1-D array, got shape {theta.shape}")
    bad = np.nonzero(~np.isfinite(theta))[0]
    if bad.size:
        raise PlotInputError(
            f"person_theta has a non-finite value {float(theta[bad[0]])!r} at {int(bad[0])}"
        )
    if bins < 1:
        raise PlotInputError(f"bins must be >= 1, got {bins!r}")
    low_limit, high_limit = (float(v) for v in limits)
    if not low_limit < high_limit:
        raise PlotInputError(f"limits must be increasing, got {limits!r}")
    pos = item_positions(bank, item_ids)
    items = [bank.items[i] for i in pos]
    locations = [item_locations(it) for it in items]
    order = np.argsort([loc.mean() for loc in locations], kind="stable")
    all_loc = np.clip(np.concatenate(locations), low_limit, high_limit)
    lo = max(min(theta.min(), all_loc.min()) - 0.25, low_limit - 0.25)
    hi = min(max(theta.max(), all_loc.max()) + 0.25, high_limit + 0.25)
    ax = new_axes(ax, figsize=(8.0, 6.0))
    counts, edges = np.histogram(theta, bins=bins)
    share = counts / theta.size
    width = share.max() if share.max() > 0 else 1.0
    ax.barh(
        edges[:-1],
        -share / width,
        height=np.diff(edges),
        align="edge",
        color="0.6",
        label=f"persons (n = {theta.size})",
    )
    by_label: dict[str, tuple[list[float], list[float]]] = {}
    off_x: list[float] = []
    off_y: list[float] = []
    off_marker: list[str] = []
    for column, idx in enumerate(order, start=1):
        x = 0.1 + 0.9 * column / len(items)
        xs, ys = by_label.setdefault(
            model_label(items[idx].model, items[idx].n_categories), ([], [])
        )
        for value in locations[idx]:
            if low_limit <= value <= high_limit:
                xs.append(x)
                ys.append(value)
            else:
                off_x.append(x)
                off_y.append(high_limit if value > high_limit else low_limit)
                off_marker.append("^" if value > high_limit else "v")
    for label, (xs, ys) in sorted(by_label.items()):
        ax.scatter(xs, ys, marker="D", s=18, label=f"items: {label}", zorder=3)
    if off_x:
        off_points = np.column_stack([off_x, off_y])
        up = np.array(off_marker) == "^"
        label = "off scale"
        for mask, marker in ((up, "^"), (~up, "v")):
            if mask.any():
                ax.scatter(
                    *off_points[mask].T, marker=marker, color="C3", s=40, zorder=4, label=label
                )
                label = "_nolegend_"
    if label_items is None:
        label_items = len(items) <= 60
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(lo, hi)
    if label_items:
        _label_items(ax, items, locations, order, (low_limit, high_limit))
    ax.axvline(0.0, color="k", linewidth=0.8)
    ax.set_xticks([-0.5, 0.5], ["persons", "items"])
    ax.set_ylabel(THETA_LABEL)
    title = f"Wright map: {theta.size} persons, {len(items)} items"
    if off_x:
        title += f" ({len(off_x)} locations off scale)"
    ax.set_title(title)
    legend_below(ax)
    return ax


LABEL_POINTS = 8.0
"""Font size of the item labels of a Wright map (points): readable at a normal window size."""


def _label_items(
    ax: Axes,
    items: list,
    locations: list,
    order: np.ndarray,
    limits: tuple[float, float],
) -> None:
    """Write each item id horizontally beside its highest point, without overlaps.

    Labels sit left of their marker (items rise from left to right, so the left side is
    free), or right of it when there is no room; a label that would overlap a label or a
    marker already there moves to the nearest free line above or below, with a thin leader
    line to its marker.
    Labels stay inside the axes (clipped there, never into the title).
    """
    fig = ax.figure
    width_pt = ax.get_position().width * fig.get_figwidth() * 72.0
    height_pt = ax.get_position().height * fig.get_figheight() * 72.0
    x_lo, x_hi = ax.get_xlim()
    y_lo, y_hi = ax.get_ylim()
    x_per_pt = (x_hi - x_lo) / max(width_pt, 1.0)
    y_per_pt = (y_hi - y_lo) / max(height_pt, 1.0)
    line = 1.25 * LABEL_POINTS * y_per_pt
    pad = 5.0 * x_per_pt
    n = len(items)
    anchors = []
    for column, idx in enumerate(order, start=1):
        x = 0.1 + 0.9 * column / n
        y = float(min(max(locations[idx].max(), limits[0]), limits[1]))
        anchors.append((y, x, idx))
    # markers are obstacles too: (x0, x1, y)
    taken: list[tuple[float, float, float]] = []
    for column, idx in enumerate(order, start=1):
        x = 0.1 + 0.9 * column / n
        for value in np.clip(locations[idx], limits[0], limits[1]):
            taken.append((x - pad, x + pad, float(value)))
    texts: dict[int, tuple[float, float, float, float, str]] = {}
    for y, x, idx in sorted(anchors, key=lambda t: t[0]):
        width = 0.62 * LABEL_POINTS * len(items[idx].item_id) * x_per_pt
        side = "right"  # the text's right end at the marker: text on the left
        x0, x1 = x - pad - width, x - pad
        if x0 < 0.03:
            side, x0, x1 = "left", x + pad, x + pad + width
        ty = y  # the nearest free line, up or down, inside the axes
        for k in range(4 * n + 4):
            step = (k + 1) // 2 * (1 if k % 2 else -1)
            trial = y + step * line
            if not y_lo + 0.6 * line <= trial <= y_hi - 0.6 * line:
                continue
            if not any(px0 < x1 and x0 < px1 and abs(trial - py) < line for px0, px1, py in taken):
                ty = trial
                break
        taken.append((x0, x1, ty))
        texts[idx] = (x, y, x1 if side == "right" else x0, ty, side)
    for idx in order:  # in column order (ax.texts follows the columns)
        x, y, tx, ty, side = texts[idx]
        shifted = abs(ty - y) > 0.5 * line
        ax.annotate(
            items[idx].item_id,
            (x, y),
            xytext=(tx, ty),
            textcoords="data",
            fontsize=LABEL_POINTS,
            ha=side,
            va="center",
            annotation_clip=True,
            clip_on=True,
            arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5} if shifted else None,
        )


def item_fit_overview(
    fit: pd.DataFrame,
    *,
    infit: str | None = "infit",
    outfit: str | None = "outfit",
    p_value: str | None = "sx2_p",
    alpha: float = 0.05,
    band: tuple[float, float] = (0.7, 1.3),
    ax: Axes | None = None,
) -> Axes:
    """Item fit at a glance: infit and outfit mean squares per item, misfit flagged.

    One row per item (top to bottom in the order of ``fit``): infit (circle) and outfit
    (cross) mean squares, the usual acceptable band shaded, and items whose fit test
    p-value is below ``alpha`` drawn in red with their p-value.

    Parameters
    ----------
    fit : pandas.DataFrame
        One row per item, indexed by item id.
    infit, outfit, p_value : str or None
        Column names of the infit and outfit mean squares and of a fit test's p-value
        (S-X2 by default); ``None`` (or a column missing from ``fit``) leaves it out. At
        least one of the mean squares must be present.
    alpha : float, default 0.05
        Level below which an item's p-value flags it, in (0, 1).
    band : (float, float), default (0.7, 1.3)
        Acceptable range of mean squares, shaded.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Scatter collections labelled ``"infit"``, ``"outfit"`` and, when there are
        flagged items, ``"p < alpha"``; y tick labels are the item ids.

    Examples
    --------
    >>> fit = pd.DataFrame({"infit": [1.0, 1.4], "outfit": [1.1, 1.9], "sx2_p": [0.5, 0.01]},
    ...                    index=["q1", "q2"])
    >>> item_fit_overview(fit).get_title()
    'Item fit: 1 of 2 items with p < 0.05'
    """
    if not isinstance(fit, pd.DataFrame) or fit.empty:
        raise PlotInputError("fit must be a non-empty DataFrame with one row per item")
    if not 0.0 < alpha < 1.0:
        raise PlotInputError(f"alpha must be in (0, 1), got {alpha!r}")
    columns = {
        name: col
        for name, col in (("infit", infit), ("outfit", outfit))
        if col is not None and col in fit.columns
    }
    if not columns:
        raise PlotInputError(
            f"fit has no mean-square column {infit!r} or {outfit!r}; columns: {list(fit.columns)}"
        )
    rows = np.arange(len(fit))
    ax = new_axes(ax, figsize=(6.4, max(3.0, 0.22 * len(fit) + 1.2)))
    ax.axvspan(*band, color="C2", alpha=0.12, label=f"{band[0]:g}–{band[1]:g}")
    ax.axvline(1.0, color="0.5", linewidth=0.8)
    markers = {"infit": "o", "outfit": "x"}
    for name, col in columns.items():
        values = pd.to_numeric(fit[col], errors="coerce").to_numpy(dtype=float)
        ax.scatter(
            values,
            rows,
            marker=markers[name],
            color="C0" if name == "infit" else "C1",
            label=name,
            zorder=3,
        )
    flagged = np.zeros(len(fit), dtype=bool)
    if p_value is not None and p_value in fit.columns:
        p = pd.to_numeric(fit[p_value], errors="coerce").to_numpy(dtype=float)
        flagged = np.isfinite(p) & (p < alpha)
        if flagged.any():
            first = next(iter(columns.values()))
            x = pd.to_numeric(fit[first], errors="coerce").to_numpy(dtype=float)
            ax.scatter(
                x[flagged],
                rows[flagged],
                s=120,
                facecolors="none",
                edgecolors="C3",
                label=f"{p_value} < {alpha:g}",
                zorder=4,
            )
            for r in rows[flagged]:
                ax.annotate(
                    f"p={p[r]:.3f}",
                    (x[r], r),
                    xytext=(8, 0),
                    textcoords="offset points",
                    fontsize="x-small",
                    color="C3",
                    va="center",
                )
    ax.set_yticks(rows, [str(i) for i in fit.index], fontsize="x-small")
    for label, bad in zip(ax.get_yticklabels(), flagged, strict=True):
        if bad:
            label.set_color("C3")
    ax.set_ylim(len(fit) - 0.5, -0.5)
    ax.set_xlabel("mean square")
    ax.set_title(f"Item fit: {int(flagged.sum())} of {len(fit)} items with p < {alpha:g}")
    legend_below(ax)
    return ax


__all__ = ["item_fit_overview", "item_locations", "wright_map"]
