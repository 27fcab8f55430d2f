"""Plots of calibration results: Wright map (and item fit overview)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration import plots as cp
from item_banks import Item, ItemBank
from item_banks.errors import PlotInputError

ITEMS = [
    Item("hard", "2pl", {"a": 1.0, "b": 1.5}),
    Item("easy", "3pl", {"a": 1.2, "b": -1.0, "c": 0.2}),
    Item("poly", "grm", {"a": 1.0, "b1": -0.5, "b2": 0.4, "b3": 2.0}),
    Item("scale", "rsm", {"b": 0.3, "t1": -1.0, "t2": 1.0}),
]
BANK = ItemBank(ITEMS, name="wm")


def test_item_locations_by_model():
    np.testing.assert_allclose(cp.item_locations(ITEMS[0]), [1.5])
    np.testing.assert_allclose(cp.item_locations(ITEMS[1]), [-1.0])
    np.testing.assert_allclose(cp.item_locations(ITEMS[2]), [-0.5, 0.4, 2.0])
    np.testing.assert_allclose(cp.item_locations(ITEMS[3]), [-0.7, 1.3])
    # a GRM threshold is where P(X >= k) = 1/2, a GPCM step where P(k-1) = P(k)
    gpcm = Item("g", "gpcm", {"a": 1.7, "b1": -0.6, "b2": 0.9})
    prob = ItemBank([gpcm], name="g").prob(cp.item_locations(gpcm))[:, 0, :]
    assert prob[0, 0] == pytest.approx(prob[0, 1]) and prob[1, 1] == pytest.approx(prob[1, 2])


def test_wright_map_draws_persons_and_items(tmp_path):
    rng = np.random.default_rng(5)
    theta = rng.normal(0.2, 1.0, size=800)
    ax = cp.wright_map(BANK, theta, bins=16)
    counts, edges = np.histogram(theta, bins=16)
    bars = ax.patches
    assert len(bars) == 16
    widths = np.array([-b.get_width() for b in bars])
    np.testing.assert_allclose(widths, counts / counts.max())
    np.testing.assert_allclose([b.get_y() for b in bars], edges[:-1])
    points = {c.get_label(): c.get_offsets() for c in ax.collections}
    assert set(points) == {"items: 2pl", "items: 3pl", "items: grm K=4", "items: rsm K=3"}
    np.testing.assert_allclose(points["items: grm K=4"][:, 1], [-0.5, 0.4, 2.0])
    np.testing.assert_allclose(points["items: rsm K=3"][:, 1], [-0.7, 1.3])
    # columns in order of mean location: easy (-1.0), scale (0.3), poly (0.633), hard (1.5)
    xs = {label: pts[0, 0] for label, pts in points.items()}
    assert xs["items: 3pl"] < xs["items: rsm K=3"] < xs["items: grm K=4"] < xs["items: 2pl"]
    assert [t.get_text() for t in ax.texts] == ["easy", "scale", "poly", "hard"]
    low, high = ax.get_ylim()
    assert low <= min(theta.min(), -1.0) and high >= max(theta.max(), 2.0)
    assert ax.get_title() == "Wright map: 800 persons, 4 items"
    ax.figure.savefig(tmp_path / "wright.png")


def test_wright_map_subset_and_bad_input():
    ax = cp.wright_map(BANK, [0.0, 1.0], item_ids=["hard"], label_items=False)
    assert len(ax.collections) == 1 and len(ax.texts) == 0
    with pytest.raises(PlotInputError, match="non-finite value inf at 1"):
        cp.wright_map(BANK, [0.0, np.inf])
    with pytest.raises(PlotInputError, match="non-empty 1-D"):
        cp.wright_map(BANK, [])


def _fit_table():
    return pd.DataFrame(
        {
            "infit": [1.02, 0.65, 1.41, 0.98],
            "outfit": [1.10, 0.60, 1.80, 0.95],
            "sx2_p": [0.40, 0.03, 0.001, np.nan],
        },
        index=pd.Index(["i1", "i2", "i3", "i4"], name="item_id"),
    )


def test_item_fit_overview_draws_mean_squares_and_flags(tmp_path):
    ax = cp.item_fit_overview(_fit_table(), alpha=0.05)
    points = {c.get_label(): c.get_offsets() for c in ax.collections if c.get_label()}
    np.testing.assert_allclose(points["infit"], [[1.02, 0], [0.65, 1], [1.41, 2], [0.98, 3]])
    np.testing.assert_allclose(points["outfit"][:, 0], [1.10, 0.60, 1.80, 0.95])
    np.testing.assert_allclose(points["sx2_p < 0.05"], [[0.65, 1], [1.41, 2]])
    assert [t.get_text() for t in ax.texts] == ["p=0.030", "p=0.001"]
    ticks = ax.get_yticklabels()
    assert [t.get_text() for t in ticks] == ["i1", "i2", "i3", "i4"]
    assert [t.get_color() for t in ticks][1:3] == ["C3", "C3"]
    assert ax.get_title() == "Item fit: 2 of 4 items with p < 0.05"
    band = ax.patches[0]
    assert band.get_x() == pytest.approx(0.7) and band.get_width() == pytest.approx(0.6)
    ax.figure.savefig(tmp_path / "fit.png")


def test_item_fit_overview_column_choice_and_errors():
    ax = cp.item_fit_overview(_fit_table(), outfit=None, p_value="missing", alpha=0.01)
    labels = [c.get_label() for c in ax.collections]
    assert "outfit" not in labels and not any("<" in label for label in labels)
    assert ax.get_title() == "Item fit: 0 of 4 items with p < 0.01"
    with pytest.raises(PlotInputError, match="no mean-square column 'x' or 'y'"):
        cp.item_fit_overview(_fit_table(), infit="x", outfit="y")
    with pytest.raises(PlotInputError, match="non-empty DataFrame"):
        cp.item_fit_overview(pd.DataFrame())
    with pytest.raises(PlotInputError, match=r"alpha must be in \(0, 1\), got 5"):
        cp.item_fit_overview(_fit_table(), alpha=5)


def test_wright_map_puts_runaway_locations_at_the_edge():
    flat = [
        Item("flat", "2pl", {"a": 1e-5, "b": -1000.0}),
        Item("odd", "2pl", {"a": 0.04, "b": 6.5}),
        Item("fine", "2pl", {"a": 1.0, "b": 0.5}),
    ]
    ax = cp.wright_map(ItemBank(flat, name="f"), [-1.0, 0.0, 1.0], limits=(-4, 4))
    points = {c.get_label(): c for c in ax.collections}
    np.testing.assert_allclose(points["items: 2pl"].get_offsets()[:, 1], [0.5])
    off = [c for c in ax.collections if c.get_label() in ("off scale", "_nolegend_")]
    ys = sorted(float(y) for c in off for y in c.get_offsets()[:, 1])
    assert ys == [-4.0, 4.0]
    assert ax.get_ylim() == (-4.25, 4.25)
    assert ax.get_title() == "Wright map: 3 persons, 3 items (2 locations off scale)"
    with pytest.raises(PlotInputError, match="limits must be increasing"):
        cp.wright_map(ItemBank(flat, name="f"), [0.0], limits=(1, 1))
