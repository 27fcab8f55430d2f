"""Results object, item fit (S-X2, infit/outfit, RMSD) and person scores."""

from __future__ import annotations

import numpy as np
import pytest
from calib_helpers import make_bank, simulate, true_params

from calibration import ResponseData, calibrate, read_responses
from calibration.fit import _score_distributions
from calibration.simulate import simulate_responses
from item_banks.bank import Item, ItemBank
from item_banks.io import bank_from_json, bank_to_json


def test_bank_round_trip_with_ses_and_provenance(lsat7_path):
    result = calibrate(read_responses(lsat7_path), "2pl")
    bank = result.to_item_bank("lsat7", version="2")
    again = bank_from_json(bank_to_json(bank))
    assert again == bank
    item = bank["item3"]
    assert item.params["a"] == pytest.approx(result.params.loc["item3", "a"])
    assert item.se["b"] == pytest.approx(result.params.loc["item3", "b_se"])
    prov = bank.provenance
    assert prov["data_sha256"] == read_responses(lsat7_path).sha256
    assert prov["loglik"] == pytest.approx(-2658.805, abs=1e-3)
    assert prov["quadrature"]["n_points"] == 61
    assert prov["software"].startswith("zapcat ")
    assert prov["models"] == {"2pl": 5}


def test_summary_text_and_html(lsat7_path):
    result = calibrate(read_responses(lsat7_path), "2pl")
    text = str(result.summary())
    assert "log-likelihood    -2658.805" in text and "item5" in text
    html = result.summary()._repr_html_()
    assert html.startswith("<h4>Zapcat calibration</h4>") and "<table" in html


def test_lord_wingersky_against_enumeration():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(3), size=(4, 7)).transpose(0, 2, 1)  # (items, K, Q)
    dist = _score_distributions(p)
    brute = np.zeros_like(dist)
    for pattern in np.ndindex(*(3,) * 4):
        prob = np.prod([p[j, k] for j, k in enumerate(pattern)], axis=0)
        brute[sum(pattern)] += prob
    np.testing.assert_allclose(dist, brute, atol=1e-14)


def _misfit_data(rng, n=4000):
    """20 fitting 2PL items plus one whose curve is not monotone (peaks at theta = 0)."""
    bank = make_bank("2pl", true_params("2pl", 20, 2, rng), 2)
    theta = rng.normal(size=n)
    x = simulate_responses(bank, theta, rng)
    odd = (rng.random(n) < 0.05 + 0.9 * np.exp(-1.5 * theta**2)).astype(int)
    return np.column_stack([x, odd]), [*bank.item_ids, "odd"]


def test_item_fit_flags_the_misfitting_item():
    rng = np.random.default_rng(3)
    x, ids = _misfit_data(rng)
    result = calibrate(ResponseData.from_matrix(x, item_ids=ids), "2pl")
    fit = result.item_fit()
    assert list(fit.columns) == [
        "sx2",
        "sx2_df",
        "sx2_p",
        "infit",
        "infit_z",
        "infit_p",
        "outfit",
        "outfit_z",
        "outfit_p",
        "rmsd",
    ]
    good = fit.drop(index="odd")
    assert fit.loc["odd", "sx2_p"] < 1e-6
    assert (good["sx2_p"] > 1e-3).all()
    assert fit.loc["odd", "rmsd"] > 0.1
    assert (good["rmsd"] < 0.03).all()
    assert (good["sx2_df"] > 5).all()


def test_sx2_pvalues_are_uniform_on_fitting_data():
    """Under the model, S-X2 p-values are roughly uniform (Orlando & Thissen's point)."""
    rng = np.random.default_rng(5)
    pvals = []
    for _ in range(6):
        bank = make_bank("2pl", true_params("2pl", 10, 2, rng), 2)
        result = calibrate(simulate(bank, 2000, rng), "2pl", se_method="none")
        pvals += list(result.item_fit(("sx2",))["sx2_p"])
    pvals = np.asarray(pvals)
    assert 0.3 < pvals.mean() < 0.7
    assert np.mean(pvals < 0.05) < 0.15


def test_rasch_infit_outfit_near_one():
    rng = np.random.default_rng(7)
    bank = make_bank("rasch", true_params("rasch", 30, 2, rng), 2)
    result = calibrate(simulate(bank, 3000, rng), "rasch")
    fit = result.item_fit(("infit",))
    assert np.all(np.abs(fit["infit"] - 1) < 0.08)
    assert np.all(np.abs(fit["outfit"] - 1) < 0.15)
    assert fit["infit_p"].between(0, 1).all()


def test_rmsd_on_incomplete_data_and_sx2_refuses():
    rng = np.random.default_rng(9)
    x, ids = _misfit_data(rng, n=6000)
    x[rng.random(x.shape) < 0.4] = -1
    result = calibrate(ResponseData.from_matrix(x, item_ids=ids), "2pl")
    fit = result.item_fit()
    assert fit["sx2"].isna().all()
    assert "S-X2 needs complete data" in fit.attrs["notes"][0]
    assert fit.loc["odd", "rmsd"] > 0.1 and (fit.drop(index="odd")["rmsd"] < 0.03).all()


def test_scores_use_engine_rules_for_extreme_patterns():
    from engine.ability import get_estimator

    bank = ItemBank(
        [Item(f"q{i}", "2pl", {"a": 1.2, "b": b}) for i, b in enumerate(np.linspace(-1.5, 1.5, 8))],
        name="b",
    )
    rng = np.random.default_rng(0)
    x = simulate_responses(bank, rng.normal(size=1500), rng)
    x[0] = 1
    x[1] = 0
    result = calibrate(ResponseData.from_matrix(x, item_ids=bank.item_ids), "2pl")
    for method in ("eap", "map", "ml", "wle"):
        scores = result.scores(method)
        assert np.all(np.isfinite(scores[["theta", "se"]].to_numpy()))
        theta, se_engine = get_estimator(method).estimate_many(result.to_item_bank(), x)
        np.testing.assert_allclose(scores["theta"], theta)
        np.testing.assert_allclose(scores["se"], se_engine)
        assert scores.loc["1", "theta"] > scores.loc["3", "theta"] > scores.loc["2", "theta"]
