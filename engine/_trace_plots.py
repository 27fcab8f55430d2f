"""Plots of one adaptive test: the estimate and its band, item by item.

Re-exported by :mod:`engine.plots`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike, NDArray

from engine.state import CATState
from item_banks.errors import PlotInputError
from item_banks.plots import THETA_LABEL, new_axes


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
