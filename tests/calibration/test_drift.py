"""Drift flags on simulated data (power, FDR) and DIF against hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from calib_helpers import DATA

from calibration import ResponseData, calibrate, read_responses
from calibration.drift import lr_dif, mantel_haenszel, parameter_drift
from calibration.linking import link, transform_bank
from calibration.simulate import simulate_responses
from item_banks.bank import Item, ItemBank


@pytest.mark.slow
def test_drift_power_and_false_discovery_rate():
    """60 items, 8 drifted (b + 0.6): two calibrations, linked, tested; three replications."""
    rng = np.random.default_rng(11)
    found = false = 0
    n_drift, reps = 8, 3
    for _rep in range(reps):
        base = [
            Item(f"i{j:02d}", "2pl", {"a": float(rng.uniform(0.8, 2.0)), "b": float(rng.normal())})
            for j in range(60)
        ]
        later = [
            Item(
                it.item_id,
                "2pl",
                {"a": it.params["a"], "b": it.params["b"] + (0.6 if j < n_drift else 0.0)},
            )
            for j, it in enumerate(base)
        ]
        t1, t2 = ItemBank(base, name="t1"), ItemBank(later, name="t2")
        x1 = simulate_responses(t1, rng.normal(0, 1, 3000), rng)
        x2 = simulate_responses(t2, rng.normal(0.3, 1.1, 3000), rng)  # another population
        c1 = calibrate(ResponseData.from_matrix(x1, item_ids=t1.item_ids), "2pl").to_item_bank("c1")
        c2 = calibrate(ResponseData.from_matrix(x2, item_ids=t2.item_ids), "2pl").to_item_bank("c2")
        stable = [i for i in c1.item_ids if i >= f"i{n_drift:02d}"][:30]  # a drift-free anchor
        linked = transform_bank(c2, link(c2, c1, "stocking-lord", items=stable))
        table = parameter_drift(c1, linked, alpha=0.05)
        flagged = set(table.index[table["flagged"]])
        drifted = {f"i{j:02d}" for j in range(n_drift)}
        found += len(flagged & drifted)
        false += len(flagged - drifted)
        assert table.loc[sorted(drifted), "size"].min() > 0.05  # expected-score change
        assert (table["q"] >= table["p"]).all()
    power = found / (n_drift * reps)
    fdr = false / max(found + false, 1)
    print(f"drift power {power:.3f}, false discovery rate {fdr:.3f}")
    assert power >= 0.8
    assert fdr <= 0.15


def test_mantel_haenszel_matches_a_hand_computation_on_spisa():
    frame = pd.read_csv(DATA / "spisa.csv")
    persons = pd.read_csv(DATA / "spisa_persons.csv", dtype={"person": str})
    groups = persons.set_index("person")["gender"]
    table = mantel_haenszel(read_responses(frame), groups, "male", "female")
    score = frame.drop(columns="person").sum(axis=1).to_numpy()
    male = (persons["gender"] == "male").to_numpy()
    for item in ("pol6", "sci1"):
        x = frame[item].to_numpy()
        num = den = 0.0
        for k in np.unique(score):
            s = score == k
            n = s.sum()
            a = np.sum(s & male & (x == 1))  # reference right
            b = np.sum(s & male & (x == 0))
            c = np.sum(s & ~male & (x == 1))  # focal right
            d = np.sum(s & ~male & (x == 0))
            num += a * d / n
            den += b * c / n
        alpha = num / den
        assert table.loc[item, "alpha_mh"] == pytest.approx(alpha, rel=1e-12)
        assert table.loc[item, "mh_d_dif"] == pytest.approx(-2.35 * np.log(alpha), rel=1e-12)
    assert set(table["ets"]) <= {"A", "B", "C"}
    assert table.loc["pol6", "ets"] in ("B", "C")  # chi2 about 10: significant, |D| >= 1


def test_lr_dif_flags_the_items_with_dif():
    rng = np.random.default_rng(2)
    items = [
        Item(f"i{j}", "2pl", {"a": float(rng.uniform(0.8, 2)), "b": float(rng.normal())})
        for j in range(20)
    ]
    ref = ItemBank(items, name="r")
    foc = ItemBank(
        [
            Item(
                it.item_id,
                "2pl",
                {"a": it.params["a"], "b": it.params["b"] + (0.8 if j < 2 else 0)},
            )
            for j, it in enumerate(items)
        ],
        name="f",
    )
    x = np.r_[
        simulate_responses(ref, rng.normal(0, 1, 1500), rng),
        simulate_responses(foc, rng.normal(-0.5, 1, 1500), rng),
    ]
    data = ResponseData.from_matrix(x, item_ids=ref.item_ids)
    groups = pd.Series(["r"] * 1500 + ["f"] * 1500, index=data.person_ids)
    bank = calibrate(data, "2pl").to_item_bank("pooled")
    table = lr_dif(data, bank, groups, "r", "f", items=["i0", "i1", "i10", "i11"])
    assert (table.loc[["i0", "i1"], "p"] < 1e-6).all()
    assert (table.loc[["i10", "i11"], "p"] > 0.001).all()
    assert table.loc["i0", "b_focal"] - table.loc["i0", "b_reference"] > 0.4


def test_cli_dif_and_drift(tmp_path):
    from typer.testing import CliRunner

    from api.cli import app
    from item_banks.io import write_bank

    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "dif",
            str(DATA / "spisa.csv"),
            "--persons",
            str(DATA / "spisa_persons.csv"),
            "--group",
            "gender",
            "--reference",
            "male",
            "--focal",
            "female",
            "--out",
            str(tmp_path / "dif.csv"),
        ],
        env={"COLUMNS": "200"},
    )
    assert out.exit_code == 0, out.output
    table = pd.read_csv(tmp_path / "dif.csv", index_col="item_id")
    assert len(table) == 45 and set(table["ets"]) <= {"A", "B", "C"}
    out = runner.invoke(
        app,
        [
            "dif",
            str(DATA / "spisa.csv"),
            "--persons",
            str(DATA / "spisa_persons.csv"),
            "--group",
            "gender",
            "--reference",
            "male",
            "--focal",
            "nobody",
        ],
    )
    assert out.exit_code == 1 and "no person in group 'nobody'" in out.output
    rng = np.random.default_rng(1)
    bank = ItemBank(
        [Item(f"i{j}", "2pl", {"a": 1.0 + j / 10, "b": j / 5 - 1}) for j in range(10)], name="b"
    )
    x = simulate_responses(bank, rng.normal(size=2000), rng)
    fit = calibrate(ResponseData.from_matrix(x, item_ids=bank.item_ids), "2pl").to_item_bank("c")
    write_bank(fit, tmp_path / "c.json")
    out = runner.invoke(
        app,
        [
            "drift",
            str(tmp_path / "c.json"),
            str(tmp_path / "c.json"),
            "--out",
            str(tmp_path / "drift.csv"),
        ],
        env={"COLUMNS": "200"},
    )
    assert out.exit_code == 0, out.output
    drift = pd.read_csv(tmp_path / "drift.csv", index_col="item_id")
    assert (drift["chi2"] == 0).all() and not drift["flagged"].any()
