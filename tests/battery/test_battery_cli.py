"""zapcat battery show / simulate, zapcat calibrate --skills, zapcat report of a battery."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from api.cli import app
from engine.battery import load_battery

runner = CliRunner()
ENV = {"COLUMNS": "200"}
SPISA = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "spisa.csv"


def test_show_lists_sections_and_correlations(demo_path):
    res = runner.invoke(app, ["battery", "show", str(demo_path)], env=ENV)
    assert res.exit_code == 0, res.output
    assert "project-management" in res.output and "0.450" in res.output
    assert "budget 45 items" in res.output


def test_simulate_writes_a_report_that_zapcat_report_renders(demo_path, tmp_path):
    out = tmp_path / "rep.json"
    res = runner.invoke(app, ["battery", "simulate", str(demo_path), "--n", "300",
                              "--out", str(out)], env=ENV)  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["format"] == "zapcat-battery-report/1" and data["n"] == 300
    assert [s["skill_id"] for s in data["skills"]] == ["coding", "project-management", "design"]
    assert data["collateral"]["mean_items_with"] < data["collateral"]["mean_items_without"]
    assert 0 <= data["false_labels"]["per_skill_strength"] <= 0.05
    html = tmp_path / "rep.html"
    res = runner.invoke(app, ["report", str(out), "--out", str(html)], env=ENV)
    assert res.exit_code == 0, res.output
    assert "Collateral prior" in html.read_text()


def test_calibrate_skills_writes_banks_and_a_battery_that_runs(tmp_path):
    # eco5 has a negative slope on these data (calibrate says so): left out here
    frame = pd.read_csv(SPISA).drop(columns="eco5")
    spisa = tmp_path / "spisa.csv"
    frame.to_csv(spisa, index=False)
    skills = tmp_path / "skills.csv"
    header = list(frame.columns[1:])
    skills.write_text("item_id,skill\n" + "".join(f"{i},{i[:3]}\n" for i in header))
    battery = tmp_path / "out" / "spisa.json"
    res = runner.invoke(app, ["calibrate", str(spisa), "--skills", str(skills),
                              "--out-battery", str(battery), "--name", "spisa"], env=ENV)
    assert res.exit_code == 0, res.output
    plan = load_battery(battery)
    assert plan.skill_ids == ("pol", "his", "eco", "cul", "sci")
    corr = plan.battery.correlations
    off = corr[~np.eye(5, dtype=bool)]
    assert (off > 0.2).all() and (off < 0.99).all()  # knowledge domains correlate
    assert "nearest positive definite" in plan.battery.description  # pol-his ~0.98
    assert (plan.battery.correlation_se[~np.eye(5, dtype=bool)] > 0).all()
    # replay the same learners through it
    out = tmp_path / "replay.json"
    res = runner.invoke(app, ["battery", "simulate", str(battery), "--replay", str(spisa),
                              "--out", str(out), "--n", "200"], env=ENV)  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["replay"] and data["n"] == 1075 and data["compared_with"] == "reference"
    assert all(s["correlation"] > 0.7 for s in data["skills"])


def test_skills_file_problems_are_named(tmp_path):
    skills = tmp_path / "skills.csv"
    skills.write_text("item_id,skill\npol1,pol\npol1,his\n")
    res = runner.invoke(app, ["calibrate", str(SPISA), "--skills", str(skills),
                              "--out-battery", str(tmp_path / "b.json")], env=ENV)  # fmt: skip
    assert res.exit_code == 1
    assert "row 3: item 'pol1' is given two skills" in res.output


def test_readme_battery_example_runs():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    part = readme[readme.index("## Skill batteries"):readme.index("## CAT engine")]
    code = part.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(code, "README.md (Skill batteries)", "exec"), scope)
    assert scope["profile"]["stop_reason"] in ("completed", "budget")
    assert [s["skill_id"] for s in scope["report"]["skills"]] == ["coding",
                                                                  "project-management", "design"]
