"""``zapcat calibrate``: responses in, bank with SEs and provenance out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from calibration import calibrate, read_responses
from item_banks.io import read_bank

runner = CliRunner()


def test_calibrate_lsat7_writes_bank_scores_and_fit(tmp_path, lsat7_path):
    out, scores, fit = tmp_path / "bank.json", tmp_path / "scores.csv", tmp_path / "fit.csv"
    result = runner.invoke(
        app,
        [
            "calibrate",
            str(lsat7_path),
            "--model",
            "2pl",
            "--out",
            str(out),
            "--scores",
            str(scores),
            "--score-method",
            "wle",
            "--fit",
            str(fit),
            "--name",
            "lsat7",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "log-likelihood    -2658.805" in result.output
    bank = read_bank(out)
    assert bank.name == "lsat7" and len(bank) == 5
    assert bank["item1"].params["a"] == pytest.approx(0.988, abs=0.01)
    assert bank["item1"].se["a"] > 0
    prov = bank.provenance
    assert prov["data_sha256"] == read_responses(lsat7_path).sha256
    assert prov["quadrature"] == {"n_points": 61, "range": [-6.0, 6.0], "latent": "N(0, 1)"}
    assert prov["models"] == {"2pl": 5} and "date" in prov and prov["loglik"] < 0
    table = pd.read_csv(scores, dtype={"person_id": str})
    assert len(table) == 1000 and np.isfinite(table["theta"]).all()
    assert pd.read_csv(fit)["rmsd"].notna().all()


def test_calibrate_long_layout_item_models_priors_and_anchors(tmp_path, lsat7_path):
    wide = pd.read_csv(lsat7_path)
    long = wide.melt(id_vars="person", var_name="item", value_name="response")
    src = tmp_path / "long.csv"
    long.to_csv(src, index=False)
    models = tmp_path / "models.json"
    models.write_text(json.dumps({"item1": "3pl", "item2": "3pl"}))
    anchor = calibrate(read_responses(lsat7_path), "2pl").to_item_bank().subset(["item5"])
    anchors = tmp_path / "anchor.json"
    from item_banks.io import write_bank

    write_bank(anchor, anchors)
    out = tmp_path / "bank.json"
    result = runner.invoke(
        app,
        [
            "calibrate",
            str(src),
            "--layout",
            "long",
            "--item-models",
            str(models),
            "--prior",
            "c=beta(5,17)",
            "--prior",
            "a=lognormal(0,0.5)",
            "--anchors",
            str(anchors),
            "--quad",
            "41",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    bank = read_bank(out)
    assert bank["item1"].model == "3pl" and bank["item3"].model == "2pl"
    assert bank["item5"].params == anchor["item5"].params
    assert bank.provenance["priors"] == {"c": "beta(5, 17)", "a": "lognormal(0, 0.5)"}
    assert bank.provenance["anchored_items"] == ["item5"]
    assert bank.provenance["quadrature"]["n_points"] == 41


def test_calibrate_errors_are_one_clear_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("person,q1,q2\np1,1,0\np2,x,1\n")
    result = runner.invoke(app, ["calibrate", str(bad), "--out", str(tmp_path / "b.json")])
    assert result.exit_code == 1
    assert "invalid_responses" in result.output
    assert "row 2, column 'q1' (item 'q1'): non-numeric value 'x'" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["calibrate", str(bad), "--prior", "a:normal(0,1)"])
    assert result.exit_code == 1


def test_help_lists_options():
    result = runner.invoke(app, ["calibrate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in (
        "--model",
        "--out",
        "--layout",
        "--id-column",
        "--item-models",
        "--prior",
        "--quad",
        "--scores",
        "--anchors",
        "--se",
    ):
        assert option in result.output
