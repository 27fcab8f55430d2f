"""Plots of items and item banks: response curves, item and test information.

Each function draws on the matplotlib ``Axes`` it is given (or on a new figure) and
returns that ``Axes`` so that users can restyle it. Nothing here computes maths of its
own: curves come from the bank's models (:meth:`ItemBank.prob`,
:meth:`ItemBank.information`).

The helpers :func:`new_axes`, :func:`theta_grid` and :func:`item_positions` are shared by
the plots of ``calibration`` and ``engine``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike, NDArray

from item_banks.bank import ItemBank
from item_banks.errors import PlotInputError

DEFAULT_THETA_RANGE = (-4.0, 4.0)
"""Ability range drawn when no grid is given."""

THETA_LABEL = "θ (ability, logits)"


def new_axes(ax: Axes | None, *, figsize: tuple[float, float] = (6.4, 4.0)) -> Axes:
    """Return ``ax``, or the axes of a new pyplot figure when ``ax`` is ``None``.

    Parameters
    ----------
    ax : matplotlib Axes or None
    figsize : (float, float)
        Size in inches of a new figure.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> new_axes(ax) is ax
    True
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def theta_grid(theta: ArrayLike | None = None, *, n_points: int = 161) -> NDArray[np.float64]:
    """Validate an ability grid, or make the default one.

    Parameters
    ----------
    theta : array_like, shape (n_theta,), optional
        Strictly increasing finite abilities, at least two. Default: ``n_points`` evenly
        spaced values on :data:`DEFAULT_THETA_RANGE`.
    n_points : int, default 161

    Returns
    -------
    ndarray, shape (n_theta,)

    Raises
    ------
    PlotInputError
        When the grid is not 1-D, has fewer than two points, is not finite or not increasing.

    Examples
    --------
    >>> theta_grid([-1, 0, 1])
    array([-1.,  0.,  1.])
    """
    if theta is None:
        return np.linspace(*DEFAULT_THETA_RANGE, n_points)
    grid = np.asarray(theta, dtype=float)
    if grid.ndim != 1 or grid.size < 2:
        raise PlotInputError(
            f"theta grid must be 1-D with at least 2 points, got shape {grid.shape}"
        )
    bad = np.nonzero(~np.isfinite(grid))[0]
    if bad.size:
        raise PlotInputError(
            f"theta grid has a non-finite value {float(grid[bad[0]])!r} at {int(bad[0])}"
        )
    steps = np.nonzero(np.diff(grid) <= 0)[0]
    if steps.size:
        i = int(steps[0])
        raise PlotInputError(
            f"theta grid must be strictly increasing, got {float(grid[i])!r} then "
            f"{float(grid[i + 1])!r} at {i}"
        )
    return grid


def item_positions(bank: ItemBank, item_ids: Sequence[str] | str | None) -> NDArray[np.intp]:
    """Positions of ``item_ids`` in ``bank`` (all items when ``None``).

    Raises
    ------
    PlotInputError
        When the list is empty.
    UnknownItemError
        When an id is not in the bank.

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> bank = read_bank(DEMO_BANK_PATH)
    >>> item_positions(bank, ["py-synt-002", "py-synt-001"])
    array([1, 0])
    """
    if item_ids is None:
        return np.arange(len(bank))
    if isinstance(item_ids, str):
        item_ids = [item_ids]
    if len(item_ids) == 0:
        raise PlotInputError("no items to plot: the list of item ids is empty")
    return bank.indices_of(item_ids)


def _theta_axes(
    ax: Axes, grid: NDArray[np.float64], ylabel: str, title: str, *, top: float | None = None
) -> None:
    """Common frame of curves over θ: x limits of the grid, y from 0, labels, light grid."""
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(bottom=0.0, top=top)
    ax.set_xlabel(THETA_LABEL)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)


def item_curves(
    bank: ItemBank,
    item_ids: Sequence[str] | str,
    *,
    theta: ArrayLike | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Item characteristic curves (dichotomous) and category response curves (polytomous).

    A dichotomous item draws one line, ``P(X = 1 | θ)``, labelled by its id; an item with
    ``K > 2`` categories draws ``K`` lines ``P(X = k | θ)`` labelled ``"<item_id>: k"``.

    Parameters
    ----------
    bank : ItemBank
    item_ids : str or sequence of str
        Items to draw (at least one).
    theta : array_like, shape (n_theta,), optional
        Ability grid (default 161 points on [-4, 4]).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> ax = item_curves(read_bank(DEMO_BANK_PATH), ["py-synt-001", "py-synt-002"])
    """
    grid = theta_grid(theta)
    pos = item_positions(bank, item_ids)
    ax = new_axes(ax)
    prob = bank.prob(grid, pos)
    for col, i in enumerate(pos):
        item = bank.items[i]
        if item.n_categories == 2:
            ax.plot(grid, prob[:, col, 1], label=item.item_id)
        else:
            for k in range(item.n_categories):
                ax.plot(grid, prob[:, col, k], label=f"{item.item_id}: {k}")
    _theta_axes(ax, grid, "P(X = k | θ)", "Item response curves", top=1.0)
    ax.legend(fontsize="small", loc="best")
    return ax


def item_information(
    bank: ItemBank,
    item_ids: Sequence[str] | str,
    *,
    theta: ArrayLike | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Fisher information of chosen items as functions of θ, one line per item.

    Parameters
    ----------
    bank : ItemBank
    item_ids : str or sequence of str
        Items to draw (at least one).
    theta : array_like, shape (n_theta,), optional
        Ability grid (default 161 points on [-4, 4]).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> bank = read_bank(DEMO_BANK_PATH)
    >>> ax = item_information(bank, ["py-synt-001", "py-synt-013"])
    >>> [line.get_label() for line in ax.get_lines()]
    ['py-synt-001', 'py-synt-013']
    """
    grid = theta_grid(theta)
    pos = item_positions(bank, item_ids)
    ax = new_axes(ax)
    info = bank.information(grid, pos)
    for col, i in enumerate(pos):
        ax.plot(grid, info[:, col], label=bank.items[i].item_id)
    _theta_axes(ax, grid, "item information I(θ)", "Item information")
    ax.legend(fontsize="small", loc="best")
    return ax


def test_information(
    bank: ItemBank,
    item_ids: Sequence[str] | None = None,
    *,
    theta: ArrayLike | None = None,
    ax: Axes | None = None,
    show_se: bool = True,
    se_limit: float | None = None,
    label: str | None = None,
) -> Axes:
    """Test information of a bank or a test form, with its conditional standard error.

    The information of a set of items is the sum of their item informations; the
    conditional standard error of a maximum-likelihood ability estimate is
    ``SE(θ) = 1 / sqrt(I(θ))``, drawn dashed on a second y axis (``ax.right_ax``).

    Parameters
    ----------
    bank : ItemBank
    item_ids : sequence of str, optional
        The items of a test form; the whole bank when omitted.
    theta : array_like, shape (n_theta,), optional
        Ability grid (default 161 points on [-4, 4]).
    ax : matplotlib Axes, optional
    show_se : bool, default True
        Draw the conditional SE on a twin axis.
    se_limit : float, optional
        Upper limit of the SE axis, > 0 (the SE grows without bound where information
        vanishes). Default: 5% above the largest SE on the grid, at most 1.5.
    label : str, optional
        Legend label of the information line (default: bank name or ``"n items"``).

    Returns
    -------
    matplotlib Axes
        The information axes; when ``show_se`` its twin is ``ax.right_ax``.

    Raises
    ------
    PlotInputError
        On an empty item list, a bad grid or ``se_limit <= 0``.

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> bank = read_bank(DEMO_BANK_PATH)
    >>> ax = test_information(bank)
    >>> ax.get_lines()[0].get_label(), ax.right_ax.get_ylabel()
    ('information: skills-demo', 'conditional SE')
    """
    grid = theta_grid(theta)
    pos = item_positions(bank, item_ids)
    if se_limit is not None and not (np.isfinite(se_limit) and se_limit > 0):
        raise PlotInputError(f"se_limit must be a positive number, got {se_limit!r}")
    ax = new_axes(ax)
    info = bank.information(grid, pos).sum(axis=1)
    if label is None:
        label = bank.name if item_ids is None else f"{pos.size} items"
    (line,) = ax.plot(grid, info, color="C0", label=f"information: {label}")
    _theta_axes(ax, grid, "test information I(θ)", "Test information and conditional SE")
    handles = [line]
    if show_se:
        with np.errstate(divide="ignore"):
            se = 1.0 / np.sqrt(info)
        right = ax.twinx()
        (se_line,) = right.plot(grid, se, color="C3", linestyle="--", label="SE(θ) = 1/√I(θ)")
        if se_limit is None:
            finite = se[np.isfinite(se)]
            se_limit = min(1.05 * float(finite.max()), 1.5) if finite.size else 1.5
        right.set_ylim(0.0, se_limit)
        right.set_ylabel("conditional SE")
        ax.right_ax = right  # type: ignore[attr-defined]
        handles.append(se_line)
    legend_below(ax, handles)
    return ax


def legend_below(ax: Axes, handles: list | None = None) -> None:
    """Put the legend of ``ax`` under the axes, where it covers no curve or bar.

    Parameters
    ----------
    ax : matplotlib Axes
    handles : list of artists, optional
        Default: every labelled artist of ``ax``.
    """
    if handles is None:
        handles = [h for h in ax.get_legend_handles_labels()[0]]
    ax.legend(
        handles=handles,
        fontsize="small",
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=min(3, max(1, len(handles))),
        frameon=False,
    )


test_information.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def model_label(model: str, n_categories: int) -> str:
    """Label of a model and its number of categories: ``"2pl"``, ``"grm K=4"``.

    Examples
    --------
    >>> model_label("3pl", 2), model_label("grm", 4)
    ('3pl', 'grm K=4')
    """
    return model if n_categories == 2 else f"{model} K={n_categories}"


def bank_composition(bank: ItemBank, *, ax: Axes | None = None) -> Axes:
    """Number of items per content area, stacked by model, as horizontal bars.

    An item in several content areas is counted in each; items without one are counted
    under ``"(none)"``. Pretest and retired items are counted like operational ones.

    Parameters
    ----------
    bank : ItemBank
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        One bar container per model (``ax.containers``), labelled by model; the y tick
        labels are the content areas in sorted order.

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> bank = read_bank(DEMO_BANK_PATH)
    >>> ax = bank_composition(bank)
    >>> [c.get_label() for c in ax.containers]
    ['2pl', '3pl', 'grm K=4']
    """
    counts: dict[str, dict[str, int]] = {}
    for item in bank:
        label = model_label(item.model, item.n_categories)
        for area in item.content_areas or ("(none)",):
            per_area = counts.setdefault(label, {})
            per_area[area] = per_area.get(area, 0) + 1
    areas = sorted({area for per_area in counts.values() for area in per_area})
    ax = new_axes(ax)
    left = np.zeros(len(areas))
    for label in sorted(counts):
        widths = np.array([counts[label].get(area, 0) for area in areas], dtype=float)
        ax.barh(areas, widths, left=left, label=label)
        left += widths
    ax.invert_yaxis()
    ax.set_xlabel("number of items")
    ax.set_ylabel("content area")
    ax.set_title(f"{bank.name}: items by content area and model")
    ax.legend(fontsize="small", loc="lower right")
    return ax


__all__ = [
    "DEFAULT_THETA_RANGE",
    "bank_composition",
    "item_curves",
    "item_information",
    "item_positions",
    "model_label",
    "new_axes",
    "test_information",
    "theta_grid",
]
