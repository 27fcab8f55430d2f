from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app
from engine.battery import load_battery
from guidance.catalogue import read_catalogue
from guidance.gaps import information_from_banks, levels_from_sections, recommend
from item_banks.examples.battery_demo import DEMO_BATTERY_PATH, DEMO_CATALOGUE_PATH

runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}
PROFILE = {"skills": [
    {"skill_id": "coding", "theta": -1.2, "se": 0.3},
    {"skill_id": "project-management", "theta": -0.05, "se": 0.35},
    {"skill_id": "design", "theta": 0.4, "se": 0.3}],
    "strengths": [], "areas_for_improvement": [], "profile_is_even": True,
    "n_items": 30, "stop_reason": "completed"}


def test_recommend_cli_equals_the_function(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"result": PROFILE}))  # a session view's result works too
    res = runner.invoke(app, ["recommend", str(path), "--catalogue", str(DEMO_CATALOGUE_PATH),
                              "--role", "project-coordinator", "--json"], env=ENV)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    plan = load_battery(DEMO_BATTERY_PATH)
    direct = recommend(PROFILE, levels_from_sections(plan.sections),
                       read_catalogue(DEMO_CATALOGUE_PATH), "project-coordinator",
                       information=information_from_banks(
                           dict(zip(plan.skill_ids, plan.banks, strict=True))))
    assert out == json.loads(json.dumps(direct))
    # project management: P(met) = Phi(0.25 / 0.35) = 0.76 -> uncertain -> extend
    pm = next(g for g in out["gaps"] if g["skill_id"] == "project-management")
    assert pm["status"] == "uncertain" and pm["extend_section"]["items"] >= 1
    res = runner.invoke(app, ["recommend", str(path), "--catalogue", str(DEMO_CATALOGUE_PATH),
                              "--role", "project-coordinator"], env=ENV)
    assert res.exit_code == 0 and "Extend this section" in res.output


def test_recommend_cli_errors_are_clear(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(PROFILE))
    res = runner.invoke(app, ["recommend", str(path), "--catalogue", str(DEMO_CATALOGUE_PATH),
                              "--role", "astronaut"], env=ENV)
    assert res.exit_code == 1 and "role 'astronaut' is not in catalogue" in res.output
    other = {"skills": [{"skill_id": "cooking", "theta": 0, "se": 0.3}]}
    path.write_text(json.dumps(other))
    res = runner.invoke(app, ["recommend", str(path), "--catalogue", str(DEMO_CATALOGUE_PATH),
                              "--role", "ux-designer"], env=ENV)
    assert res.exit_code == 1 and "--battery BATTERY.json" in res.output


def test_readme_guidance_example_runs_and_prints_what_it_says(capsys):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    part = readme[readme.index("## Guidance:"):readme.index("## CAT engine")]
    code = part.split("```python\n", 1)[1].split("```", 1)[0]
    expected = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    exec(compile(code, "README.md (Guidance)", "exec"), {})
    assert capsys.readouterr().out.splitlines() == expected
