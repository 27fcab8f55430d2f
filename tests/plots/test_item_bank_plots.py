"""Plots of item_banks: what they draw is compared with closed-form IRT formulas.

Independent truths: the 2PL/3PL/GRM probability formulas written out here (not the
package's models), their closed-form information functions, and for the GRM a numerical
derivative of the hand-written probabilities.
"""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.figure import Figure

from item_banks import Item, ItemBank
from item_banks import plots as ibp
from item_banks.errors import PlotInputError, UnknownItemError

THREE_PL, TWO_PL, GRM = "py-synt-001", "py-synt-002", "py-synt-013"


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _closed_form_prob(item, theta):
    """Category probabilities, shape (T, K), from the textbook formulas."""
    p = item.params
    if item.model == "2pl":
        p1 = _logistic(p["a"] * (theta - p["b"]))
        return np.column_stack([1 - p1, p1])
    if item.model == "3pl":
        p1 = p["c"] + (1 - p["c"]) * _logistic(p["a"] * (theta - p["b"]))
        return np.column_stack([1 - p1, p1])
    assert item.model == "grm"
    k = item.n_categories
    star = np.column_stack(
        [np.ones_like(theta)]
        + [_logistic(p["a"] * (theta - p[f"b{j}"])) for j in range(1, k)]
        + [np.zeros_like(theta)]
    )
    return star[:, :-1] - star[:, 1:]


def _closed_form_info(item, theta):
    p = item.params
    if item.model == "2pl":
        p1 = _logistic(p["a"] * (theta - p["b"]))
        return p["a"] ** 2 * p1 * (1 - p1)
    if item.model == "3pl":
        p1 = p["c"] + (1 - p["c"]) * _logistic(p["a"] * (theta - p["b"]))
        return p["a"] ** 2 * (p1 - p["c"]) ** 2 * (1 - p1) / ((1 - p["c"]) ** 2 * p1)
    h = 1e-5
    dp = (_closed_form_prob(item, theta + h) - _closed_form_prob(item, theta - h)) / (2 * h)
    return np.sum(dp**2 / _closed_form_prob(item, theta), axis=1)


def _png_ok(fig, path):
    fig.savefig(path, dpi=60)
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    # something was drawn: the picture is not one flat colour
    assert np.ptp(image[..., :3]) > 0.5


def test_item_curves_draw_the_model_probabilities(demo_bank, tmp_path):
    theta = np.linspace(-3, 3, 61)
    ax = ibp.item_curves(demo_bank, [THREE_PL, TWO_PL, GRM], theta=theta)
    lines = ax.get_lines()
    labels = [line.get_label() for line in lines]
    assert labels == [THREE_PL, TWO_PL] + [f"{GRM}: {k}" for k in range(4)]
    for item_id, first in ((THREE_PL, 0), (TWO_PL, 1)):
        truth = _closed_form_prob(demo_bank[item_id], theta)[:, 1]
        np.testing.assert_allclose(lines[first].get_xdata(), theta)
        np.testing.assert_allclose(lines[first].get_ydata(), truth, rtol=1e-10)
    grm = _closed_form_prob(demo_bank[GRM], theta)
    for k in range(4):
        np.testing.assert_allclose(lines[2 + k].get_ydata(), grm[:, k], rtol=1e-9, atol=1e-12)
    assert ax.get_xlim() == (-3.0, 3.0)
    assert ax.get_ylim() == (0.0, 1.0)
    assert "θ" in ax.get_xlabel() and "P(X = k" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels
    _png_ok(ax.figure, tmp_path / "curves.png")


def test_item_curves_lower_asymptote_is_visible(demo_bank):
    item = demo_bank[THREE_PL]
    ax = ibp.item_curves(demo_bank, THREE_PL, theta=np.linspace(-10, 10, 41))
    y = ax.get_lines()[0].get_ydata()
    assert y[0] == pytest.approx(item.params["c"], abs=1e-4)
    assert y[-1] == pytest.approx(1.0, abs=1e-4)
    assert np.all(np.diff(y) > 0)


def test_item_information_draws_closed_form_information(demo_bank, tmp_path):
    theta = ibp.theta_grid(None)
    assert theta.shape == (161,) and theta[0] == -4.0 and theta[-1] == 4.0
    fig = Figure()
    ax = fig.add_subplot()
    out = ibp.item_information(demo_bank, [THREE_PL, TWO_PL, GRM], ax=ax)
    assert out is ax
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [THREE_PL, TWO_PL, GRM]
    for line, item_id in zip(lines, [THREE_PL, TWO_PL, GRM], strict=True):
        truth = _closed_form_info(demo_bank[item_id], theta)
        np.testing.assert_allclose(line.get_ydata(), truth, rtol=1e-6, atol=1e-9)
    # the 2PL peaks at b with a^2/4
    item = demo_bank[TWO_PL]
    y = lines[1].get_ydata()
    assert theta[np.argmax(y)] == pytest.approx(item.params["b"], abs=0.05)
    assert y.max() == pytest.approx(item.params["a"] ** 2 / 4, rel=1e-3)
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylabel() == "item information I(θ)"
    _png_ok(fig, tmp_path / "info.png")


def test_test_information_and_conditional_se_of_a_form(demo_bank, tmp_path):
    form = [it.item_id for it in demo_bank.items[:30]]
    theta = np.linspace(-4, 4, 81)
    ax = ibp.test_information(demo_bank, form, theta=theta, se_limit=2.0)
    truth = sum(_closed_form_info(demo_bank[i], theta) for i in form)
    (info_line,) = ax.get_lines()
    np.testing.assert_allclose(info_line.get_ydata(), truth, rtol=1e-6)
    assert info_line.get_label() == "information: 30 items"
    right = ax.right_ax
    assert right in ax.figure.axes and right.get_ylabel() == "conditional SE"
    (se_line,) = right.get_lines()
    np.testing.assert_allclose(se_line.get_ydata(), 1 / np.sqrt(truth), rtol=1e-6)
    assert right.get_ylim() == (0.0, 2.0)
    assert se_line.get_linestyle() == "--"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["information: 30 items", "SE(θ) = 1/√I(θ)"]
    _png_ok(ax.figure, tmp_path / "tif.png")


def test_test_information_of_whole_bank_without_se(demo_bank):
    ax = ibp.test_information(demo_bank, show_se=False)
    assert not hasattr(ax, "right_ax") and len(ax.figure.axes) == 1
    (line,) = ax.get_lines()
    theta = line.get_xdata()
    truth = sum(_closed_form_info(it, theta) for it in demo_bank)
    np.testing.assert_allclose(line.get_ydata(), truth, rtol=1e-6)
    assert line.get_label() == "information: skills-demo"


def test_single_item_bank_and_zero_information_se_is_infinite():
    bank = ItemBank([Item("only", "2pl", {"a": 1.0, "b": 0.0})], name="one")
    ax = ibp.test_information(bank, theta=[-800.0, 0.0])
    se = ax.right_ax.get_lines()[0].get_ydata()
    assert np.isinf(se[0]) and se[1] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("theta", "message"),
    [
        ([0.0], "at least 2 points"),
        ([[0.0, 1.0]], "1-D"),
        ([0.0, np.nan], "non-finite value nan at 1"),
        ([0.0, 1.0, 1.0], "strictly increasing, got 1.0 then 1.0 at 1"),
    ],
)
def test_bad_theta_grid_is_named(demo_bank, theta, message):
    with pytest.raises(PlotInputError, match=message) as info:
        ibp.item_curves(demo_bank, [TWO_PL], theta=theta)
    assert info.value.code == "invalid_plot_input"


def test_bad_items_are_named(demo_bank):
    with pytest.raises(PlotInputError, match="empty"):
        ibp.item_information(demo_bank, [])
    with pytest.raises(UnknownItemError, match="'nope'"):
        ibp.item_curves(demo_bank, [TWO_PL, "nope"])
    with pytest.raises(PlotInputError, match="se_limit must be a positive number, got 0"):
        ibp.test_information(demo_bank, se_limit=0)


def test_se_axis_limit_defaults_to_the_largest_se(demo_bank):
    theta = np.linspace(-2, 2, 21)
    ax = ibp.test_information(demo_bank, theta=theta)
    se = ax.right_ax.get_lines()[0].get_ydata()
    assert ax.right_ax.get_ylim() == pytest.approx((0.0, 1.05 * se.max()))
    two = ibp.test_information(demo_bank, [TWO_PL], theta=np.linspace(-8, 8, 9))
    assert two.right_ax.get_ylim() == (0.0, 1.5)


def test_bank_composition_counts_items_by_area_and_model(tmp_path):
    items = [
        Item("i1", "2pl", {"a": 1.0, "b": 0.0}, content_areas=("algebra",)),
        Item("i2", "2pl", {"a": 1.0, "b": 1.0}, content_areas=("algebra", "geometry")),
        Item("i3", "3pl", {"a": 1.0, "b": 0.0, "c": 0.2}, content_areas=("geometry",)),
        Item("i4", "grm", {"a": 1.0, "b1": -1.0, "b2": 1.0}),
    ]
    bank = ItemBank(items, name="mini")
    ax = ibp.bank_composition(bank)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["(none)", "algebra", "geometry"]
    widths = {c.get_label(): [p.get_width() for p in c.patches] for c in ax.containers}
    assert widths == {"2pl": [0, 2, 1], "3pl": [0, 0, 1], "grm K=3": [1, 0, 0]}
    lefts = {c.get_label(): [p.get_x() for p in c.patches] for c in ax.containers}
    assert lefts["grm K=3"] == [0, 2, 2]  # stacked after 2pl and 3pl
    assert ax.get_title() == "mini: items by content area and model"
    _png_ok(ax.figure, tmp_path / "composition.png")
