"""``zapcat report REPORT.json`` for a CAT simulation: the HTML shows the report's numbers.

Truth: the simulation's own per-simulee arrays (lengths, estimates, exposure counts),
recomputed here and compared with what the HTML shows.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from engine.config import CATConfig
from engine.simulation import report, simulate
from engine.simulation_report import simulation_report
from item_banks.errors import ReportInputError


@pytest.fixture(scope="module")
def simulation(demo_bank):
    config = CATConfig.from_dict({"max_items": 15, "stop_se": 0.4, "cut_scores": [0.5]})
    result = simulate(demo_bank, config, n=300, seed=4)
    return result, report(result, demo_bank, config)


def test_simulation_report_from_the_cli(simulation, demo_bank, tmp_path, report_tools):
    parse, png = report_tools
    result, data = simulation
    path = tmp_path / "sim.json"
    path.write_text(json.dumps(data))
    run = CliRunner().invoke(app, ["report", str(path)], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    doc = parse((tmp_path / "sim.html").read_text(encoding="utf-8"))
    assert doc.external == []
    assert list(doc.figures) == [
        "fig-conditional-bias-and-rmse",
        "fig-test-length-distribution",
        "fig-item-exposure-rates",
    ]
    for fig in doc.figures.values():
        assert np.ptp(png(fig["png"])[..., :3]) > 0.5
    assert {"Summary", "Precision by ability", "Test length", "Item exposure",
            "Classification", "Configuration"} <= set(doc.headings)  # fmt: skip

    true, est = result.true_theta, result.theta
    rows = doc.tables["table-conditional-statistics-by-band-of-true-theta"]["rows"]
    assert rows[0] == ["band", "n", "bias", "rmse", "mean_se", "mean_length"]
    edges = [-np.inf, -2, -1, 0, 1, 2, np.inf]
    for row, lo, hi in zip(rows[1:], edges[:-1], edges[1:], strict=True):
        mask = (true >= lo) & (true < hi)
        assert int(row[1]) == mask.sum()
        if mask.any():
            assert row[2] == f"{np.mean(est[mask] - true[mask]):.3f}"
            assert row[3] == f"{np.sqrt(np.mean((est[mask] - true[mask]) ** 2)):.3f}"

    reasons = doc.tables["table-stop-reasons"]["rows"][1:]
    assert sum(int(r[1]) for r in reasons) == 300
    top = doc.tables["table-most-exposed-items"]["rows"][1]
    counts = result.exposure_counts(len(demo_bank))
    assert top[0] == demo_bank.item_ids[int(np.argmax(counts))]
    assert top[1] == f"{counts.max() / 300:.3f}"
    confusion = doc.tables["table-confusion-matrix"]["rows"]
    true_hi, est_hi = true >= 0.5, est >= 0.5
    assert confusion[1][1:] == [str(np.sum(~true_hi & ~est_hi)), str(np.sum(~true_hi & est_hi))]


def test_length_distribution_in_the_report_matches_the_simulation(simulation):
    result, data = simulation
    dist = data["test_length"]["distribution"]
    lengths, counts = np.unique(result.n_scored, return_counts=True)
    assert dist == {str(k): int(c) for k, c in zip(lengths, counts, strict=True)}
    assert simulation_report(data).figure_ids[1] == "fig-test-length-distribution"


def test_not_a_simulation_report_is_named(simulation):
    _, data = simulation
    broken = {k: v for k, v in data.items() if k not in ("conditional", "exposure")}
    with pytest.raises(ReportInputError, match="missing conditional, exposure"):
        simulation_report(broken, source="x.json")
    with pytest.raises(ReportInputError, match="'zapcat-bank/1' is not a simulation report"):
        simulation_report({**data, "format": "zapcat-bank/1"})


def test_zapcat_simulate_then_zapcat_report(tmp_path, report_tools):
    from item_banks.examples import DEMO_BANK_PATH

    parse, _ = report_tools
    runner = CliRunner()
    sim = tmp_path / "REPORT.json"
    run = runner.invoke(
        app,
        ["simulate", str(DEMO_BANK_PATH), "--n", "200", "--max-items", "12", "--out", str(sim)],
        env={"COLUMNS": "200"},
    )
    assert run.exit_code == 0, run.output
    data = json.loads(sim.read_text())
    run = runner.invoke(app, ["report", str(sim), "--out", str(tmp_path / "r.html")])
    assert run.exit_code == 0, run.output
    doc = parse((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert len(doc.figures) == 3
    reasons = {r[0]: int(r[1]) for r in doc.tables["table-stop-reasons"]["rows"][1:]}
    assert reasons == data["stop_reasons"] and sum(reasons.values()) == 200
    assert f"{data['rmse']:.3f}" in (tmp_path / "r.html").read_text(encoding="utf-8")
