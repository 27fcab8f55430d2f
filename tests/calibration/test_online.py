"""Online calibration of pretest items (MEM, OEM) on simulated CAT data with known truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from calibration import Calibrator, ResponseData
from calibration.online import OnlineCalibrator
from calibration.simulate import simulate_responses
from engine.config import CATConfig
from engine.simulation import simulate
from item_banks.bank import Item, ItemBank
from item_banks.errors import CalibrationError


def cat_bank(seed: int, n_op: int = 150, n_pre: int = 40) -> tuple[ItemBank, ItemBank]:
    """(bank as published: pretest items at provisional values, bank with true values)."""
    rng = np.random.default_rng(seed)
    op = [
        Item(f"op{j:03d}", "2pl", {"a": float(rng.uniform(0.8, 2.2)), "b": float(rng.normal())})
        for j in range(n_op)
    ]
    true = [
        Item(
            f"pt{j:02d}",
            "2pl",
            {"a": float(rng.uniform(0.8, 2.0)), "b": float(rng.normal(0.3, 0.8))},
            status="pretest",
        )
        for j in range(n_pre)
    ]
    provisional = [Item(t.item_id, "2pl", {"a": 1.0, "b": 0.0}, status="pretest") for t in true]
    return ItemBank(op + provisional, name="live"), ItemBank(op + true, name="truth")


def cat_export(truth: ItemBank, n: int, seed: int, mean: float, sd: float) -> pd.DataFrame:
    """Long responses of ``n`` simulated CAT examinees with 4 pretest items each."""
    config = CATConfig(max_items=12, stop_se=None, pretest_count=4, pretest_first=2)
    theta = np.random.default_rng(seed).normal(mean, sd, n)
    sim = simulate(truth, config, n=n, true_theta=theta, seed=seed)
    person, col = np.nonzero(sim.items >= 0)
    ids = np.array(truth.item_ids)[sim.items[person, col]]
    return pd.DataFrame(
        {
            "session_id": [f"s{p}" for p in person],
            "item": ids,
            "response": sim.responses[person, col],
        }
    )


def errors(result, truth: ItemBank) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    items = result.items
    est = np.r_[items["a"], items["b"]]
    se = np.r_[items["a_se"], items["b_se"]]
    true = np.r_[
        [truth[i].params["a"] for i in items.index], [truth[i].params["b"] for i in items.index]
    ]
    return est, se, true


@pytest.mark.slow
def test_mem_covers_the_truth_and_beats_oem():
    hits, n_est, rmse = 0, 0, {"mem": [], "oem": []}
    for rep in range(3):
        bank, truth = cat_bank(10 + rep)
        data = cat_export(truth, 5000, 20 + rep, mean=0.4, sd=0.9)
        for method in ("mem", "oem"):
            result = OnlineCalibrator(bank, method=method).fit(data).result_
            est, se, true = errors(result, truth)
            rmse[method].append(np.sqrt(np.mean((est - true) ** 2)))
            assert result.latent_mean == pytest.approx(0.4, abs=0.06)
            assert result.latent_sd == pytest.approx(0.9, abs=0.06)
            assert (result.items["n_responses"] > 300).all()
            if method == "mem":
                assert result.converged
                hits += int(np.sum(np.abs(est - true) <= 1.96 * se))
                n_est += est.size
    coverage = hits / n_est  # 240 estimates
    assert 0.90 <= coverage <= 0.99, coverage
    assert np.mean(rmse["mem"]) < 0.9 * np.mean(rmse["oem"]), rmse


def test_candidates_document_and_flags():
    bank, truth = cat_bank(3, n_op=80, n_pre=10)
    data = cat_export(truth, 800, 4, mean=0.0, sd=1.0)
    reversed_ = data["item"] == "pt09"  # a reverse-keyed pretest item
    data.loc[reversed_, "response"] = 1 - data.loc[reversed_, "response"]
    result = OnlineCalibrator(bank, min_responses=400).fit(data).result_
    assert result.items.loc["pt09", "a"] < 0
    assert "negative_slope" in result.items.loc["pt09", "flags"]
    assert not result.items.loc["pt09", "accepted"]
    doc = result.to_dict()
    assert doc["format"] == "zapcat-candidates/1" and doc["method"] == "mem"
    assert {r["item_id"] for r in doc["items"]} == {f"pt{j:02d}" for j in range(10)}
    for row in doc["items"]:
        assert row["n_responses"] == int((data["item"] == row["item_id"]).sum())
        assert ("few_responses" in row["flags"]) == (row["n_responses"] < 400)
        assert row["accepted"] == (not row["flags"])
        assert set(row["se"]) == {"a", "b"}


def test_latent_estimation_recovers_a_shifted_population():
    rng = np.random.default_rng(5)
    bank = ItemBank(
        [
            Item(f"i{j}", "2pl", {"a": float(rng.uniform(0.8, 2)), "b": float(rng.normal())})
            for j in range(30)
        ],
        name="x",
    )
    x = simulate_responses(bank, rng.normal(-0.6, 1.3, 4000), rng)
    fit = Calibrator("2pl", fixed=bank.subset(bank.item_ids[:20]), latent="estimate").fit(
        ResponseData.from_matrix(x, item_ids=bank.item_ids)
    )
    assert fit.latent_mean_ == pytest.approx(-0.6, abs=0.06)
    assert fit.latent_sd_ == pytest.approx(1.3, abs=0.06)
    assert np.all(np.diff(fit.loglik_history_) >= -1e-8)
    assert "estimated" in fit.result_.provenance()["quadrature"]["latent"]


def test_errors_name_the_problem():
    bank, truth = cat_bank(1, n_op=30, n_pre=3)
    with pytest.raises(CalibrationError, match="needs anchor items"):
        Calibrator(latent="estimate").fit(ResponseData.from_matrix(np.eye(5, dtype=int)))
    with pytest.raises(CalibrationError, match="method must be one of"):
        OnlineCalibrator(bank, method="xem").fit(pd.DataFrame())
    data = cat_export(truth, 200, 1, 0.0, 1.0)
    only_pretest = data[data["item"].str.startswith("pt")]
    with pytest.raises(CalibrationError, match="no operational item"):
        OnlineCalibrator(bank).fit(only_pretest)
    no_pretest = data[data["item"].str.startswith("op")]
    with pytest.raises(CalibrationError, match="no pretest item"):
        OnlineCalibrator(bank).fit(no_pretest)


def test_cli_promote_from_candidates(tmp_path):
    import json

    from typer.testing import CliRunner

    from api.cli import app
    from item_banks.io import read_bank, write_bank

    bank, truth = cat_bank(3, n_op=80, n_pre=10)
    data = cat_export(truth, 800, 4, mean=0.0, sd=1.0)
    doc = OnlineCalibrator(bank, min_responses=300).fit(data).result_.to_dict()
    write_bank(bank, tmp_path / "bank.json")
    (tmp_path / "cand.json").write_text(json.dumps(doc))
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "bank",
            "promote",
            str(tmp_path / "bank.json"),
            "--candidates",
            str(tmp_path / "cand.json"),
            "--retire",
            "op000,op001",
            "--out",
            str(tmp_path / "v2.json"),
        ],
    )
    assert out.exit_code == 0, out.output
    new = read_bank(tmp_path / "v2.json")
    accepted = [r["item_id"] for r in doc["items"] if r["accepted"]]
    assert accepted and new.version == "2"
    assert {i for i in new.item_ids if new[i].status == "operational" and i.startswith("pt")} == (
        set(accepted)
    )
    assert new["op000"].status == new["op001"].status == "retired"
    assert new.provenance["accepted"] == accepted
    assert new.provenance["candidates"]["method"] == "mem"
    out = runner.invoke(
        app,
        [
            "bank",
            "promote",
            str(tmp_path / "bank.json"),
            "--candidates",
            str(tmp_path / "cand.json"),
            "--accept",
            "op005",
            "--out",
            str(tmp_path / "v3.json"),
        ],
    )
    assert out.exit_code == 1 and "not candidates" in out.output
    doc["bank"]["name"] = "other"
    (tmp_path / "other.json").write_text(json.dumps(doc))
    out = runner.invoke(
        app,
        [
            "bank",
            "promote",
            str(tmp_path / "bank.json"),
            "--candidates",
            str(tmp_path / "other.json"),
            "--out",
            str(tmp_path / "v4.json"),
        ],
    )
    assert out.exit_code == 1 and "estimated against bank 'other'" in out.output


def test_promote_keeps_the_items_own_fields():
    from calibration.promotion import promote

    seeded = Item("pt0", "grm", {"a": 1.0, "b1": -1.0, "b2": 1.0}, 3, status="pretest",
                  tags=("t",), codes=(1.0, 2.0, 3.0), flags=("low_slope",), flags_accepted=True,
                  feedback={1: "partly"})
    old = Item("op0", "2pl", {"a": 1.2, "b": 0.3}, 2, content_areas=("x",), codes=(0.0, 1.0),
               flags=("misfit",), flags_accepted=True)
    bank = ItemBank([old, seeded], name="live", version="1")
    doc = {"format": "zapcat-candidates/1", "bank": {"name": "live", "version": "1"},
           "items": [{"item_id": "pt0", "model": "grm", "n_categories": 3, "accepted": True,
                      "params": {"a": 1.4, "b1": -0.8, "b2": 0.9},
                      "se": {"a": 0.1, "b1": 0.1, "b2": 0.1}}]}  # fmt: skip
    new = promote(bank, doc, retire=["op0"])
    pt = new["pt0"]
    assert (pt.status, pt.params["a"], pt.se["a"]) == ("operational", 1.4, 0.1)
    assert (pt.tags, pt.codes, pt.flags, pt.flags_accepted) == (("t",), (1.0, 2.0, 3.0), (), False)
    assert dict(pt.feedback) == {1: "partly"}
    retired = new["op0"]
    assert retired.status == "retired"
    assert dataclasses.replace(retired, status="operational") == old
