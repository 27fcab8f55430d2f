"""Simulation: batch mode agrees with the one-by-one session path; report numbers equal a
direct computation on small designs; Sympson-Hetter fitting; blueprint compliance."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from engine.config import CATConfig
from engine.exposure import fit_sympson_hetter
from engine.session import respond, start
from engine.simulation import overlap_rate, report, simulate
from item_banks import read_bank
from item_banks.examples import DEMO_BANK_PATH


@pytest.fixture(scope="module")
def demo():
    return read_bank(DEMO_BANK_PATH)


DESIGNS = {
    "mfi": {},
    "kl+sh": {"selector": "kl", "exposure": "sympson_hetter",
              "exposure_params": {"q001": 0.3, "q004": 0.5, "q009": 0.2}},
    "mepv": {"selector": "mepv", "randomesque": 3},
    "a_strat+pretest": {"selector": "a_stratified", "pretest_count": 2, "pretest_last": 6},
    "shadow": {"selector": "shadow", "content": {"alg": {"min": 3, "max": 5}}},
    "ml+content": {"estimator": "ml", "content": {"geo": {"min": 2, "max": 3}}},
    "wle+sprt": {"estimator": "wle", "stop_se": None, "cut_scores": [0.0],
                 "classification": "sprt"},
    "proportions": {"content_proportions": {"alg": 0.5, "geo": 0.3, "num": 0.2}},
}  # fmt: skip


@pytest.mark.parametrize("design", list(DESIGNS))
def test_batch_agrees_with_one_by_one(mixed_bank, design):
    config = CATConfig.from_dict({"max_items": 12, "stop_se": 0.4, **DESIGNS[design]})
    n = 12 if design == "shadow" else 30
    theta = np.linspace(-2.5, 2.5, n)
    fast = simulate(mixed_bank, config, true_theta=theta, seed=3)
    slow = simulate(mixed_bank, config, true_theta=theta, seed=3, batch=False)
    np.testing.assert_array_equal(fast.items, slow.items)
    np.testing.assert_array_equal(fast.responses, slow.responses)
    np.testing.assert_array_equal(fast.refusals, slow.refusals)
    assert fast.stop_reason == slow.stop_reason
    tol = 0 if config.estimator == "eap" else 1e-9
    np.testing.assert_allclose(fast.theta, slow.theta, rtol=0, atol=tol)
    np.testing.assert_allclose(fast.se, slow.se, rtol=tol, atol=tol)


def test_simulee_replays_through_session(mixed_bank):
    config = CATConfig(max_items=10)
    res = simulate(mixed_bank, config, n=5, seed=8)
    j = 3
    state = start(mixed_bank, config, seed=int(res.seeds[j]))
    for item, answer in zip(res.items[j], res.responses[j], strict=True):
        if item < 0:
            break
        assert state.pending_item == mixed_bank.item_ids[item]
        state = respond(mixed_bank, config, state, state.pending_item, int(answer))
    assert state.finished and state.theta == res.theta[j]


def test_report_numbers_match_direct_computation(mixed_bank):
    config = CATConfig(max_items=8, stop_se=0.45, cut_scores=(-0.5, 0.8))
    res = simulate(mixed_bank, config, n=60, seed=2)
    rep = report(res, mixed_bank, config, bands=(-np.inf, -1.0, 0.0, 1.0, np.inf))
    json.dumps(rep)
    lists = [[i for i in row if i >= 0] for row in res.items]
    lengths = np.array([sum(s) for s in res.scored])
    assert rep["test_length"]["mean"] == pytest.approx(lengths.mean())
    assert rep["test_length"]["sd"] == pytest.approx(lengths.std())
    err = res.theta - res.true_theta
    assert rep["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
    assert rep["bias"] == pytest.approx(err.mean())
    for entry, (lo, hi) in zip(rep["conditional"], [(-np.inf, -1), (-1, 0), (0, 1), (1, np.inf)],
                               strict=True):  # fmt: skip
        mask = (res.true_theta >= lo) & (res.true_theta < hi)
        assert entry["n"] == mask.sum()
        assert entry["bias"] == pytest.approx(err[mask].mean())
        assert entry["rmse"] == pytest.approx(np.sqrt(np.mean(err[mask] ** 2)))
    counts = {}
    for seq in lists:
        for i in seq:
            counts[mixed_bank.item_ids[i]] = counts.get(mixed_bank.item_ids[i], 0) + 1
    assert rep["exposure"]["rates"] == pytest.approx({k: v / 60 for k, v in counts.items()})
    assert rep["exposure"]["max"] == pytest.approx(max(counts.values()) / 60)
    assert rep["exposure"]["n_unused"] == len(mixed_bank) - len(counts)
    # overlap: mean shared items over all pairs / mean length (brute force)
    shared = [len(set(x) & set(y)) for x, y in itertools.combinations(lists, 2)]
    mean_len = np.mean([len(x) for x in lists])
    assert rep["overlap"] == pytest.approx(np.mean(shared) / mean_len)
    cuts = np.array([-0.5, 0.8])
    acc = np.mean(np.searchsorted(cuts, res.true_theta, "right")
                  == np.searchsorted(cuts, res.theta, "right"))  # fmt: skip
    assert rep["classification"]["accuracy"] == pytest.approx(acc)
    assert sum(map(sum, rep["classification"]["confusion"])) == 60
    assert sum(rep["stop_reasons"].values()) == 60


def test_overlap_identical_and_disjoint_tests():
    same = np.array([[0, 1, 2], [0, 1, 2], [0, 1, 2]])
    assert overlap_rate(same, 6) == pytest.approx(1.0)
    disjoint = np.array([[0, 1, -1], [2, 3, -1], [4, 5, -1]])
    assert overlap_rate(disjoint, 6) == 0.0


def test_blueprint_always_met(demo):
    config = CATConfig(
        stop_se=0.3, min_items=15, max_items=20, pretest_count=2,
        content=(("syntax", 3, 5), ("data-structures", 3, 5), ("functions", 2, 4),
                 ("object-oriented", 2, 4), ("testing", 2, 3), ("debugging", 2, 3)),
    )  # fmt: skip
    res = simulate(demo, config, n=300, seed=5)
    rep = report(res, demo, config)
    assert rep["blueprint"] == {"content": 1.0, "enemies": 1.0}
    assert (res.n_administered - res.n_scored <= 2).all()


@pytest.mark.slow
def test_sympson_hetter_fit_brings_max_exposure_down(bank500):
    config = CATConfig(max_items=20)
    free = simulate(bank500, config, n=800, seed=1)
    free_max = free.exposure_counts(500).max() / 800
    fit = fit_sympson_hetter(bank500, config, target=0.3, n_simulees=800, n_iterations=8, seed=3)
    assert fit.config.exposure == "sympson_hetter" and fit.config.exposure_params
    res = simulate(bank500, fit.config, n=800, seed=11)
    got = res.exposure_counts(500).max() / 800
    assert free_max > 0.6
    assert got <= 0.3 + 0.05  # target plus sampling noise of 800 simulees
    assert fit.max_exposure[-1] < fit.max_exposure[0]


def test_cli_simulate_writes_report(demo, tmp_path):
    runner = CliRunner()
    out = tmp_path / "report.json"
    res = runner.invoke(app, ["simulate", str(DEMO_BANK_PATH), "--n", "40", "--max-items", "10",
                              "--selector", "kl", "--seed", "3", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert rep["n_simulees"] == 40 and rep["config"]["selector"] == "kl"
    assert rep["test_length"]["max"] <= 10
    assert "RMSE" in res.output
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"stop_se": -1, "content": {"nope": {"min": 1, "max": 2}}}))
    res = runner.invoke(app, ["simulate", str(DEMO_BANK_PATH), "--config", str(config),
                              "--out", str(out)])  # fmt: skip
    assert res.exit_code == 1
    assert "stop_se" in res.output and "'nope'" in res.output
