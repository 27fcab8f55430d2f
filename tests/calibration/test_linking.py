"""Linking: a known transformation of a real calibration recovered by all four methods."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from calib_helpers import DATA
from scipy import optimize, stats
from typer.testing import CliRunner

from api.cli import app
from calibration import calibrate
from calibration.linking import METHODS, Link, link, transform_bank
from item_banks.errors import CalibrationError
from item_banks.io import read_bank, write_bank

A0, B0 = 1.3, -0.4  # the known transformation applied to the second half


@pytest.fixture(scope="module")
def halves():
    """Two random halves of SPISA calibrated apart; the second moved by (A0, B0)."""
    frame = pd.read_csv(DATA / "spisa.csv").drop(columns=["eco5", "sci3"])  # a <= 0 in a half
    half = np.random.default_rng(0).permutation(len(frame)) < len(frame) // 2
    first = calibrate(frame[half], "2pl").to_item_bank("first")
    second = calibrate(frame[~half], "2pl").to_item_bank("second")
    moved = transform_bank(second, Link(A0, B0, 0.0, 0.0, "given", ()), name="moved")
    return first, second, moved


@pytest.mark.parametrize("method", METHODS)
def test_known_transformation_recovered_within_two_se(halves, method):
    first, _, moved = halves
    result = link(moved, first, method)  # theta_first = A theta_moved + B
    true_a, true_b = 1 / A0, -B0 / A0  # inverse of theta_moved = A0 theta + B0
    assert np.isfinite(result.A_se) and 0 < result.A_se < 0.5
    assert abs(result.A - true_a) < 2 * result.A_se, (result.A, result.A_se)
    assert abs(result.B - true_b) < 2 * result.B_se, (result.B, result.B_se)
    assert len(result.common_items) == 43
    assert set(result.items.columns) >= {"loo_A", "loo_B", "b_linked"}


def _probs(a, b, theta):
    return 1 / (1 + np.exp(-a[None, :] * (theta[:, None] - b[None, :])))


@pytest.mark.parametrize("method", ["haebara", "stocking-lord"])
def test_characteristic_curve_methods_agree_with_direct_minimisation(halves, method):
    first, _, moved = halves
    ids = list(first.item_ids)
    a_t = np.array([first[i].params["a"] for i in ids])
    b_t = np.array([first[i].params["b"] for i in ids])
    a_f = np.array([moved[i].params["a"] for i in ids])
    b_f = np.array([moved[i].params["b"] for i in ids])
    theta = np.linspace(-4, 4, 41)
    w = stats.norm.pdf(theta) / stats.norm.pdf(theta).sum()
    target = _probs(a_t, b_t, theta)

    def criterion(x):
        linked = _probs(a_f / x[0], x[0] * b_f + x[1], theta)
        if method == "haebara":
            return float(w @ ((target - linked) ** 2).sum(axis=1))
        return float(w @ (target.sum(axis=1) - linked.sum(axis=1)) ** 2)

    direct = optimize.minimize(
        criterion,
        [1.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 5000},
    )
    result = link(moved, first, method)
    assert result.A == pytest.approx(direct.x[0], abs=1e-5)
    assert result.B == pytest.approx(direct.x[1], abs=1e-5)


def test_mean_mean_and_mean_sigma_closed_forms(halves):
    first, _, moved = halves
    a_t = np.array([it.params["a"] for it in first])
    b_t = np.array([it.params["b"] for it in first])
    a_f = np.array([moved[i].params["a"] for i in first.item_ids])
    b_f = np.array([moved[i].params["b"] for i in first.item_ids])
    mm = link(moved, first, "mean-mean")
    assert mm.A == pytest.approx(a_f.mean() / a_t.mean(), rel=1e-12)
    assert mm.B == pytest.approx(b_t.mean() - mm.A * b_f.mean(), rel=1e-12)
    ms = link(moved, first, "mean-sigma")
    assert ms.A == pytest.approx(b_t.std() / b_f.std(), rel=1e-12)


def test_transform_round_trip_and_rasch_guard(halves):
    _, second, moved = halves
    back = transform_bank(moved, Link(1 / A0, -B0 / A0, 0, 0, "given", ()))
    for it in second:
        for name, value in it.params.items():
            assert back[it.item_id].params[name] == pytest.approx(value, abs=1e-12)
        assert back[it.item_id].se["a"] == pytest.approx(it.se["a"], rel=1e-12)
    assert moved["pol1"].params["b"] == pytest.approx(A0 * second["pol1"].params["b"] + B0)
    with pytest.raises(CalibrationError, match="method must be one of"):
        link(moved, second, "equipercentile")


def test_cli_link_and_bank_transform(tmp_path, halves):
    first, _, moved = halves
    write_bank(first, tmp_path / "to.json")
    write_bank(moved, tmp_path / "from.json")
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "link",
            str(tmp_path / "from.json"),
            str(tmp_path / "to.json"),
            "--method",
            "stocking-lord",
            "--out",
            str(tmp_path / "link.json"),
        ],
    )
    assert out.exit_code == 0, out.output
    doc = json.loads((tmp_path / "link.json").read_text())
    assert {"A", "B", "A_se", "B_se", "method", "common_items"} <= set(doc)
    assert doc["method"] == "stocking-lord" and len(doc["common_items"]) == 43
    out = runner.invoke(
        app,
        [
            "bank",
            "transform",
            str(tmp_path / "from.json"),
            "--link",
            str(tmp_path / "link.json"),
            "--out",
            str(tmp_path / "b2.json"),
        ],
    )
    assert out.exit_code == 0, out.output
    b2 = read_bank(tmp_path / "b2.json")
    assert b2["pol1"].params["b"] == pytest.approx(doc["A"] * moved["pol1"].params["b"] + doc["B"])
    assert b2.provenance["linked"]["method"] == "stocking-lord"
    (tmp_path / "bad.json").write_text(json.dumps({"A": -1, "B": 0}))
    out = runner.invoke(
        app,
        [
            "bank",
            "transform",
            str(tmp_path / "from.json"),
            "--link",
            str(tmp_path / "bad.json"),
            "--out",
            str(tmp_path / "b3.json"),
        ],
    )
    assert out.exit_code == 1 and "A must be positive" in out.output


def test_transform_keeps_every_item_field_but_the_scale():
    from item_banks.bank import Item, ItemBank

    items = [
        Item("g1", "grm", {"a": 1.1, "b1": -0.5, "b2": 0.7}, 3, se={"a": 0.1, "b1": 0.2, "b2": 0.3},
             content_areas=("x",), enemy_groups=("e",), status="pretest", tags=("t",),
             codes=(1.0, 2.0, 5.0), flags=("low_slope",), flags_accepted=True,
             feedback={0: "none", 2: "all"}),
        Item("d1", "2pl", {"a": 0.9, "b": 0.1}, 2, codes=(0.0, 1.0)),
    ]  # fmt: skip
    bank = ItemBank(items, name="kept")
    moved = transform_bank(bank, Link(A0, B0, 0.0, 0.0, "given", ()))
    for before, after in zip(bank, moved, strict=True):
        assert after.params != before.params
        same = ("item_id", "model", "n_categories", "content_areas", "enemy_groups", "status",
                "tags", "codes", "flags", "flags_accepted", "feedback")  # fmt: skip
        assert [getattr(after, f) for f in same] == [getattr(before, f) for f in same]
    assert moved["g1"].params["b2"] == pytest.approx(A0 * 0.7 + B0)
    assert moved["g1"].se["a"] == pytest.approx(0.1 / A0)
