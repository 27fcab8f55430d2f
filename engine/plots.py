"""Plots of adaptive tests: simulation results and the trace of one test.

Each function draws on the matplotlib ``Axes`` it is given (or on a new figure) and
returns that ``Axes``. They take plain arrays (true and estimated abilities, test
lengths, exposure rates, the steps of one test), so they serve simulation reports, the
notebooks and sessions recorded by the service alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike, NDArray

from engine.state import CATState
from item_banks.errors import PlotInputError
from item_banks.plots import THETA_LABEL, legend_below, new_axes


def _vector(values: ArrayLike, name: str, *, allow_empty: bool = False) -> NDArray[np.float64]:
    out = np.asarray(values, dtype=float)
    if out.ndim != 1:
        raise PlotInputError(f"{name} must be 1-D, got shape {out.shape}")
    if out.size == 0 and not allow_empty:
        raise PlotInputError(f"{name} is empty")
    bad = np.nonzero(~np.isfinite(out))[0]
    if bad.size:
        raise PlotInputError(f"{name} has a non-finite value {float(out[bad[0]])!r} at {bad[0]}")
    return out


def conditional_bias_rmse(
    theta_true: ArrayLike,
    theta_hat: ArrayLike,
    *,
    bins: int | ArrayLike = 10,
    ax: Axes | None = None,
) -> Axes:
    """Conditional bias and RMSE of ability estimates by true ability.

    Simulees are grouped by true ability into bins; for each non-empty bin the plot shows
    ``bias = mean(theta_hat - theta_true)`` and ``RMSE = sqrt(mean((theta_hat -
    theta_true)^2))`` at the mean true ability of the bin.

    Parameters
    ----------
    theta_true, theta_hat : array_like, shape (n_simulees,)
        True and estimated abilities (finite).
    bins : int or array_like, default 10
        Number of equal-width bins over the range of ``theta_true``, or increasing bin
        edges (values outside the edges are left out).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Lines labelled ``"bias"`` and ``"RMSE"`` (in that order), plus a zero line.

    Raises
    ------
    PlotInputError
        On arrays of different lengths, empty or non-finite input, or bad bin edges.

    Examples
    --------
    >>> import numpy as np
    >>> true = np.random.default_rng(0).normal(size=1000)
    >>> ax = conditional_bias_rmse(true, true + 0.1, bins=5)
    >>> np.round(ax.get_lines()[0].get_ydata(), 6)
    array([0.1, 0.1, 0.1, 0.1, 0.1])
    """
    true = _vector(theta_true, "theta_true")
    hat = _vector(theta_hat, "theta_hat")
    if true.size != hat.size:
        raise PlotInputError(
            f"theta_true has {true.size} values but theta_hat has {hat.size}; they must match"
        )
    if np.ndim(bins) == 0:
        n_bins = int(bins)  # type: ignore[arg-type]
        if n_bins < 1:
            raise PlotInputError(f"bins must be >= 1, got {bins!r}")
        lo, hi = float(true.min()), float(true.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, n_bins + 1)
    else:
        edges = _vector(bins, "bins")  # type: ignore[arg-type]
        if edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise PlotInputError(f"bin edges must be at least 2 increasing values, got {edges}")
    which = np.digitize(true, edges[1:-1])  # 0 .. n_bins-1; the last bin is closed
    inside = (true >= edges[0]) & (true <= edges[-1])
    centre, bias, rmse = [], [], []
    for b in range(edges.size - 1):
        mask = inside & (which == b)
        if mask.any():
            error = hat[mask] - true[mask]
            centre.append(true[mask].mean())
            bias.append(error.mean())
            rmse.append(np.sqrt(np.mean(error**2)))
    return _draw_conditional(new_axes(ax), centre, bias, rmse, true.size)


def _draw_conditional(ax: Axes, x: Sequence[float], bias, rmse, n: int) -> Axes:
    ax.plot(x, bias, marker="o", label="bias")
    ax.plot(x, rmse, marker="s", label="RMSE")
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.set_xlabel("true " + THETA_LABEL)
    ax.set_ylabel("θ̂ − θ (logits)")
    ax.set_title(f"Conditional bias and RMSE ({n} simulees)")
    ax.grid(alpha=0.3)
    legend_below(ax)
    return ax


def conditional_by_band(
    conditional: Sequence[Mapping[str, Any]], *, ax: Axes | None = None
) -> Axes:
    """Conditional bias and RMSE from the bands of a simulation report.

    Parameters
    ----------
    conditional : sequence of mapping
        The ``"conditional"`` entries of :func:`engine.simulation.report`: ``band`` ``[lo,
        hi]`` (``None`` for an open end), ``n``, and ``bias``, ``rmse`` for non-empty
        bands. A band is drawn at its midpoint; an open band half a neighbour's width
        beyond its finite edge. Empty bands are left out.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Lines ``"bias"`` and ``"RMSE"`` as in :func:`conditional_bias_rmse`.

    Examples
    --------
    >>> bands = [{"band": [None, 0.0], "n": 40, "bias": -0.1, "rmse": 0.4},
    ...          {"band": [0.0, 1.0], "n": 60, "bias": 0.05, "rmse": 0.3}]
    >>> conditional_by_band(bands).get_lines()[0].get_xdata().tolist()
    [-0.5, 0.5]
    """
    entries = [e for e in conditional if e.get("n", 0) > 0 and "bias" in e]
    if not entries:
        raise PlotInputError("no non-empty band in the conditional statistics")
    widths = [e["band"][1] - e["band"][0] for e in entries if None not in e["band"]] or [1.0]
    half = 0.5 * min(widths)
    x = []
    for e in entries:
        lo, hi = e["band"]
        if lo is None and hi is None:
            x.append(0.0)
        elif lo is None:
            x.append(hi - half)
        elif hi is None:
            x.append(lo + half)
        else:
            x.append(0.5 * (lo + hi))
    bias = [e["bias"] for e in entries]
    rmse = [e["rmse"] for e in entries]
    return _draw_conditional(new_axes(ax), x, bias, rmse, sum(e["n"] for e in entries))


def test_length_distribution(lengths: ArrayLike, *, ax: Axes | None = None) -> Axes:
    """Histogram of test lengths (number of items given), one bar per length.

    Parameters
    ----------
    lengths : array_like of int, shape (n_simulees,)
        Non-negative integers.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        The bars count simulees per length; a dashed vertical line marks the mean.

    Examples
    --------
    >>> test_length_distribution([12, 15, 15, 20]).get_title()
    'Test length (4 simulees)'
    """
    values = _vector(lengths, "lengths")
    if np.any(values < 0) or np.any(values != np.round(values)):
        bad = int(np.nonzero((values < 0) | (values != np.round(values)))[0][0])
        raise PlotInputError(
            f"lengths must be non-negative integers, got {float(values[bad])!r} at {bad}"
        )
    ints = values.astype(int)
    counts = np.bincount(ints)
    present = np.nonzero(counts)[0]
    ax = new_axes(ax)
    ax.bar(present, counts[present], width=0.8, color="C0")
    mean = float(values.mean())
    ax.axvline(mean, color="C3", linestyle="--", label=f"mean {mean:.1f} items")
    ax.set_xlabel("test length (items)")
    ax.set_ylabel("simulees")
    ax.set_title(f"Test length ({values.size} simulees)")
    ax.legend(fontsize="small")
    return ax


test_length_distribution.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def exposure_histogram(
    exposure_rates: ArrayLike | Mapping[str, float],
    *,
    n_items: int | None = None,
    max_rate: float | None = None,
    bins: int = 20,
    ax: Axes | None = None,
) -> Axes:
    """Histogram of item exposure rates (share of tests in which each item was given).

    Parameters
    ----------
    exposure_rates : array_like, shape (n_items,), or mapping of item id to rate
        Values in [0, 1], one per item of the bank (unused items count as 0); or the
        ``report["exposure"]["rates"]`` of a simulation report (used items only: give
        ``n_items``).
    n_items : int, optional
        Items in the bank; the items missing from ``exposure_rates`` count as never used.
    max_rate : float, optional
        Target maximum exposure rate of an exposure control, drawn as a vertical line.
    bins : int, default 20
        Number of equal-width bins on [0, 1].
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        The title gives the number of items never used and the largest rate.

    Examples
    --------
    >>> exposure_histogram([0.0, 0.0, 0.1, 0.35], max_rate=0.3).get_title()
    'Item exposure: 2 of 4 items never used, max 0.35'
    """
    if isinstance(exposure_rates, Mapping):
        exposure_rates = [float(v) for v in exposure_rates.values()]
    rates = _vector(exposure_rates, "exposure_rates")
    if n_items is not None:
        if n_items < rates.size:
            raise PlotInputError(
                f"n_items ({n_items}) is smaller than the number of rates ({rates.size})"
            )
        rates = np.concatenate([rates, np.zeros(n_items - rates.size)])
    if np.any((rates < 0) | (rates > 1)):
        bad = int(np.nonzero((rates < 0) | (rates > 1))[0][0])
        raise PlotInputError(
            f"exposure rates must be in [0, 1], got {float(rates[bad])!r} at {bad}"
        )
    if bins < 1:
        raise PlotInputError(f"bins must be >= 1, got {bins!r}")
    ax = new_axes(ax)
    ax.hist(rates, bins=np.linspace(0.0, 1.0, bins + 1), color="C0", edgecolor="white")
    if max_rate is not None:
        ax.axvline(max_rate, color="C3", linestyle="--", label=f"target max {max_rate:.2f}")
        ax.legend(fontsize="small")
    unused = int(np.sum(rates == 0))
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("exposure rate")
    ax.set_ylabel("items")
    ax.set_title(f"Item exposure: {unused} of {rates.size} items never used, max {rates.max():.2f}")
    return ax


def adaptive_test_trace(
    item_ids: Sequence[str],
    responses: ArrayLike,
    theta: ArrayLike,
    se: ArrayLike,
    *,
    true_theta: float | None = None,
    scored: ArrayLike | None = None,
    z: float = 1.96,
    ax: Axes | None = None,
) -> Axes:
    """The course of one adaptive test: the ability estimate and its interval by item.

    Step ``k`` (x = k) shows the estimate after the first ``k`` responses with the band
    ``theta ± z * se``; the marker of step ``k`` is filled when item ``k`` got a non-zero
    score and open when it got zero; the x tick labels are the item ids.

    Parameters
    ----------
    item_ids : sequence of str, length n
        Items in the order given.
    responses : array_like of int, shape (n,)
        Scored response to each item (0 .. K-1).
    theta, se : array_like, shape (n,)
        Estimate and its standard error after each response (``se`` finite, >= 0).
    true_theta : float, optional
        Known ability of a simulee, drawn as a dashed line.
    scored : array_like of bool, shape (n,), optional
        Whether each item counts; unscored (pretest) items are drawn as grey crosses
        labelled ``"pretest (unscored)"``. Default: all scored.
    z : float, default 1.96
        Width of the band in standard errors (1.96: 95% normal interval), > 0.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Line ``"estimate"`` (x = 1..n), the band as a filled polygon collection.

    Examples
    --------
    >>> ax = adaptive_test_trace(["q3", "q8"], [1, 0], [0.6, 0.1], [0.8, 0.6])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['q3', 'q8']
    """
    ids = [str(i) for i in item_ids]
    resp = _vector(responses, "responses")
    est = _vector(theta, "theta")
    err = _vector(se, "se")
    sizes = {"item_ids": len(ids), "responses": resp.size, "theta": est.size, "se": err.size}
    if len(set(sizes.values())) != 1:
        raise PlotInputError(f"one value per item needed, got lengths {sizes}")
    if np.any(err < 0):
        raise PlotInputError(f"se must be >= 0, got {float(err[np.argmax(err < 0)])!r}")
    if not (np.isfinite(z) and z > 0):
        raise PlotInputError(f"z must be a positive number, got {z!r}")
    counts = np.ones(est.size, dtype=bool) if scored is None else np.asarray(scored, dtype=bool)
    if counts.shape != est.shape:
        raise PlotInputError(f"scored needs {est.size} values, got shape {counts.shape}")
    steps = np.arange(1, est.size + 1)
    ax = new_axes(ax, figsize=(max(6.4, 0.3 * est.size + 2.0), 4.0))
    ax.fill_between(
        steps, est - z * err, est + z * err, color="C0", alpha=0.2, label=f"θ̂ ± {z:g} SE"
    )
    ax.plot(steps, est, color="C0", label="estimate")
    positive = counts & (resp > 0)
    zero = counts & (resp == 0)
    ax.scatter(steps[positive], est[positive], color="C0", zorder=3, label="scored > 0")
    ax.scatter(
        steps[zero], est[zero], facecolors="white", edgecolors="C0", zorder=3, label="scored 0"
    )
    if not counts.all():
        ax.scatter(
            steps[~counts],
            est[~counts],
            marker="x",
            color="0.5",
            zorder=3,
            label="pretest (unscored)",
        )
    if true_theta is not None:
        ax.axhline(true_theta, color="C3", linestyle="--", label=f"true θ = {true_theta:.2f}")
    ax.set_xticks(steps, ids, rotation=90, fontsize="x-small")
    ax.set_xlim(0.5, est.size + 0.5)
    ax.set_xlabel("item given")
    ax.set_ylabel(THETA_LABEL)
    ax.set_title(
        f"Adaptive test: final θ̂ = {est[-1]:.2f} (SE {err[-1]:.2f}) after {est.size} items"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return ax


def state_trace(
    state: CATState, *, true_theta: float | None = None, ax: Axes | None = None
) -> Axes:
    """:func:`adaptive_test_trace` of a test's :class:`~engine.state.CATState`.

    Uses the state's items, responses, ``theta_history``, ``se_history`` and ``scored``
    flags, so it draws a finished test, a test in progress or one stored by the service.

    Raises
    ------
    PlotInputError
        When no response has been recorded yet.

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> from engine.config import CATConfig
    >>> from engine.session import respond, start
    >>> bank, config = read_bank(DEMO_BANK_PATH), CATConfig(max_items=5)
    >>> state = start(bank, config, seed=3)
    >>> while not state.finished:
    ...     state = respond(bank, config, state, state.pending_item, 1)
    >>> len(state_trace(state).get_xticklabels())
    5
    """
    if not state.administered:
        raise PlotInputError("the test has no responses yet: nothing to trace")
    return adaptive_test_trace(
        state.administered,
        state.responses,
        state.theta_history,
        state.se_history,
        true_theta=true_theta,
        scored=state.scored,
        ax=ax,
    )


def result_trace(
    result: Mapping[str, Any], *, true_theta: float | None = None, ax: Axes | None = None
) -> Axes:
    """:func:`adaptive_test_trace` of a test's result (:func:`engine.session.result`).

    This is the ``result`` the delivery service returns for a session to admin keys
    (delivery keys get no estimate history), so a platform's back office can draw a test
    it delivered. Its ``items`` list gives each item's id, response, ``scored`` flag and
    the ``theta`` and ``se`` after it.

    Raises
    ------
    PlotInputError
        When the result has no items.

    Examples
    --------
    >>> result = {"items": [{"item_id": "q1", "response": 1, "scored": True, "theta": 0.5,
    ...                      "se": 0.9}]}
    >>> result_trace(result).get_title()
    'Adaptive test: final θ̂ = 0.50 (SE 0.90) after 1 items'
    """
    items = list(result.get("items") or [])
    if not items:
        raise PlotInputError("the result lists no items: nothing to trace")
    return adaptive_test_trace(
        [entry["item_id"] for entry in items],
        [entry["response"] for entry in items],
        [entry["theta"] for entry in items],
        [entry["se"] for entry in items],
        true_theta=true_theta,
        scored=[entry.get("scored", True) for entry in items],
        ax=ax,
    )


__all__ = [
    "adaptive_test_trace",
    "conditional_bias_rmse",
    "conditional_by_band",
    "exposure_histogram",
    "result_trace",
    "state_trace",
    "test_length_distribution",
]
