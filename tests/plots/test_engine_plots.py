"""Plots of adaptive tests, fed with inputs whose summaries are known exactly."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from engine import plots as ep
from item_banks.errors import PlotInputError


def test_conditional_bias_and_rmse_per_bin(tmp_path):
    true = np.repeat([-2.0, 0.0, 2.0], 100)
    error = np.tile([0.5, -0.1], 150) * np.repeat([1.0, 2.0, 3.0], 100)
    rng = np.random.default_rng(3)
    order = rng.permutation(true.size)  # order of simulees does not matter
    ax = ep.conditional_bias_rmse(true[order], (true + error)[order], bins=[-3, -1, 1, 3])
    bias, rmse = ax.get_lines()[:2]
    assert bias.get_label() == "bias" and rmse.get_label() == "RMSE"
    np.testing.assert_allclose(bias.get_xdata(), [-2, 0, 2])
    np.testing.assert_allclose(bias.get_ydata(), [0.2, 0.4, 0.6])
    np.testing.assert_allclose(rmse.get_ydata(), np.sqrt(0.13) * np.array([1, 2, 3]))
    assert "300 simulees" in ax.get_title() and ax.get_xlabel().startswith("true θ")
    ax.figure.savefig(tmp_path / "bias.png")
    assert (tmp_path / "bias.png").stat().st_size > 5000


def test_conditional_bins_from_a_count_match_a_direct_computation():
    rng = np.random.default_rng(11)
    true = rng.normal(size=2000)
    hat = true + rng.normal(0.1, 0.3, size=2000)
    ax = ep.conditional_bias_rmse(true, hat, bins=4)
    edges = np.linspace(true.min(), true.max(), 5)
    bias = ax.get_lines()[0].get_ydata()
    for b in range(4):
        upper = true <= edges[b + 1] if b == 3 else true < edges[b + 1]
        mask = (true >= edges[b]) & upper
        assert bias[b] == pytest.approx(np.mean(hat[mask] - true[mask]))
    assert len(bias) == 4


def test_test_length_distribution_bars_and_mean():
    ax = ep.test_length_distribution([10, 10, 12, 15, 10, 12])
    bars = ax.containers[0]
    assert [p.get_x() + p.get_width() / 2 for p in bars] == [10, 12, 15]
    assert [p.get_height() for p in bars] == [3, 2, 1]
    (mean,) = ax.get_lines()
    assert mean.get_xdata()[0] == pytest.approx(11.5)
    assert ax.get_legend().get_texts()[0].get_text() == "mean 11.5 items"


def test_exposure_histogram_counts_and_target():
    rates = np.r_[np.zeros(70), np.full(20, 0.12), np.full(10, 0.31)]
    ax = ep.exposure_histogram(rates, max_rate=0.25, bins=10)
    heights = [p.get_height() for p in ax.patches]
    assert heights == [70, 20, 0, 10, 0, 0, 0, 0, 0, 0]
    assert ax.get_title() == "Item exposure: 70 of 100 items never used, max 0.31"
    assert ax.get_lines()[0].get_xdata()[0] == 0.25
    assert ax.get_xlim() == (0.0, 1.0)


def test_adaptive_test_trace_draws_estimates_band_and_responses(tmp_path):
    ids = ["i7", "i2", "i9", "i4"]
    theta = np.array([0.5, 1.1, 0.8, 0.9])
    se = np.array([0.9, 0.7, 0.55, 0.5])
    ax = ep.adaptive_test_trace(ids, [1, 1, 0, 2], theta, se, true_theta=0.7, z=2.0)
    est = next(line for line in ax.get_lines() if line.get_label() == "estimate")
    np.testing.assert_allclose(est.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(est.get_ydata(), theta)
    band = ax.collections[0]
    vertices = band.get_paths()[0].vertices
    assert vertices[:, 1].max() == pytest.approx(1.1 + 2 * 0.7)  # largest theta + 2 se
    assert vertices[:, 1].min() == pytest.approx(0.5 - 2 * 0.9)
    filled, empty = ax.collections[1], ax.collections[2]
    np.testing.assert_allclose(filled.get_offsets()[:, 0], [1, 2, 4])
    np.testing.assert_allclose(empty.get_offsets()[:, 0], [3])
    assert tuple(empty.get_facecolor()[0]) == to_rgba("white")
    assert [t.get_text() for t in ax.get_xticklabels()] == ids
    true_line = next(line for line in ax.get_lines() if line.get_label().startswith("true"))
    assert true_line.get_ydata()[0] == 0.7
    assert ax.get_title() == "Adaptive test: final θ̂ = 0.90 (SE 0.50) after 4 items"
    ax.figure.savefig(tmp_path / "trace.png")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ep.conditional_bias_rmse([0, 1], [0]), "2 values but theta_hat has 1"),
        (lambda: ep.conditional_bias_rmse([0, np.nan], [0, 1]), "theta_true has a non-finite"),
        (lambda: ep.conditional_bias_rmse([0, 1], [0, 1], bins=[1, 0]), "bin edges"),
        (lambda: ep.test_length_distribution([3, 2.5]), "non-negative integers, got 2.5 at 1"),
        (lambda: ep.test_length_distribution([]), "lengths is empty"),
        (lambda: ep.exposure_histogram([0.1, 1.2]), r"\[0, 1\], got 1.2 at 1"),
        (lambda: ep.adaptive_test_trace(["a"], [1, 0], [0, 0], [1, 1]), "one value per item"),
        (lambda: ep.adaptive_test_trace(["a"], [1], [0], [-1]), "se must be >= 0"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(PlotInputError, match=message):
        call()


def test_state_trace_draws_a_real_session_with_a_pretest_item(demo_bank):
    from engine.config import CATConfig
    from engine.session import respond, start

    config = CATConfig.from_dict({"pretest_count": 1, "max_items": 12, "stop_se": None})
    rng = np.random.default_rng(2)
    state = start(demo_bank, config, seed=17)
    while not state.finished:
        item = state.pending_item
        prob = demo_bank.prob([0.8], [demo_bank.index_of(item)])[0, 0]
        state = respond(demo_bank, config, state, item, int(rng.choice(prob.size, p=prob)))
    ax = ep.state_trace(state, true_theta=0.8)
    est = next(line for line in ax.get_lines() if line.get_label() == "estimate")
    np.testing.assert_allclose(est.get_ydata(), state.theta_history)
    assert len(state.administered) == 13 and sum(state.scored) == 12
    pretest = next(c for c in ax.collections if c.get_label() == "pretest (unscored)")
    position = state.scored.index(False) + 1
    np.testing.assert_allclose(pretest.get_offsets()[:, 0], [position])
    assert [t.get_text() for t in ax.get_xticklabels()] == list(state.administered)
    with pytest.raises(PlotInputError, match="no responses yet"):
        ep.state_trace(start(demo_bank, config, seed=1))

    from engine.session import result

    same = ep.result_trace(result(demo_bank, config, state), true_theta=0.8)
    for mine, theirs in zip(ax.get_lines(), same.get_lines(), strict=True):
        np.testing.assert_allclose(mine.get_ydata(), theirs.get_ydata())
    assert [c.get_label() for c in same.collections] == [c.get_label() for c in ax.collections]
    with pytest.raises(PlotInputError, match="lists no items"):
        ep.result_trace({"items": []})


def test_conditional_by_band_places_open_bands_half_a_width_out():
    conditional = [
        {"band": [None, -1.0], "n": 10, "bias": -0.3, "rmse": 0.5},
        {"band": [-1.0, 0.0], "n": 0},
        {"band": [0.0, 1.0], "n": 40, "bias": 0.1, "rmse": 0.3},
        {"band": [1.0, None], "n": 10, "bias": 0.2, "rmse": 0.45},
    ]
    ax = ep.conditional_by_band(conditional)
    bias, rmse = ax.get_lines()[:2]
    np.testing.assert_allclose(bias.get_xdata(), [-1.5, 0.5, 1.5])
    np.testing.assert_allclose(bias.get_ydata(), [-0.3, 0.1, 0.2])
    np.testing.assert_allclose(rmse.get_ydata(), [0.5, 0.3, 0.45])
    assert "60 simulees" in ax.get_title()
    with pytest.raises(PlotInputError, match="no non-empty band"):
        ep.conditional_by_band([{"band": [0, 1], "n": 0}])
