"""Gap analysis and recommendations on profiles from real replayed data (SPISA)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.cli.battery import replay_matrices
from calibration.data import read_responses
from engine.battery import load_battery
from engine.battery_sim import simulate_battery
from guidance.catalogue import catalogue_from_dict
from guidance.gaps import information_from_banks, levels_from_sections, p_met, recommend

SPISA = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "spisa.csv"
LEVELS = [{"name": "Basic", "descriptor": ""},
          {"name": "Informed", "theta_cut": -0.5, "descriptor": ""},
          {"name": "Expert", "theta_cut": 0.8, "descriptor": ""}]


@pytest.fixture(scope="module")
def spisa(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spisa")
    frame = pd.read_csv(SPISA).drop(columns="eco5")
    data_path = tmp / "spisa.csv"
    frame.to_csv(data_path, index=False)
    header = [c for c in frame.columns if c != "person"]
    (tmp / "skills.csv").write_text("item_id,skill\n" + "".join(f"{i},{i[:3]}\n"
                                                                for i in header))
    battery = tmp / "out" / "spisa.json"
    res = CliRunner().invoke(app, ["calibrate", str(data_path), "--skills",
                                   str(tmp / "skills.csv"), "--out-battery", str(battery),
                                   "--name", "spisa"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    doc = json.loads(battery.read_text())
    for sec in doc["sections"]:
        sec["levels"] = LEVELS
        sec["cat"] = {**sec.get("cat", {}), "stop_se": 0.45, "max_items": 9}
    battery.write_text(json.dumps(doc))
    plan = load_battery(battery)
    sim = simulate_battery(plan, replay=replay_matrices(plan, read_responses(data_path)))
    return plan, sim


def catalogue(skills):
    creds = []
    for s in skills:
        creds.append({"credential_id": f"{s}-intro", "title": f"{s} intro", "provider": "p",
                      "hours": 10, "develops": [{"skill_id": s, "from_level": "Basic",
                                                 "to_level": "Informed"}]})
        creds.append({"credential_id": f"{s}-adv", "title": f"{s} advanced", "provider": "p",
                      "hours": 20, "develops": [{"skill_id": s, "from_level": "Informed",
                                                 "to_level": "Expert"}],
                      "prerequisites": [{"skill_id": s, "level": "Informed"}]})
    reqs = [{"skill_id": s, "level": "Expert" if i % 2 else "Informed", "importance": 1 + i}
            for i, s in enumerate(skills)]
    return catalogue_from_dict({"format": "zapcat-catalogue/1", "name": "spisa-cat",
                                "credentials": creds,
                                "roles": [{"role_id": "r", "title": "R", "requires": reqs}]})


def test_real_profiles_properties(spisa):
    plan, sim = spisa
    levels = levels_from_sections(plan.sections)
    cat = catalogue(list(plan.skill_ids))
    info = information_from_banks(dict(zip(plan.skill_ids, plan.banks, strict=True)))
    rng = np.random.default_rng(0)
    statuses = set()
    for n in rng.choice(sim.theta.shape[0], 60, replace=False):
        theta, se = sim.theta[n], sim.se[n]
        prof = {"skills": [{"skill_id": s, "theta": float(t), "se": float(e)}
                           for s, t, e in zip(plan.skill_ids, theta, se, strict=True)]}
        out = recommend(prof, levels, cat, "r", information=info)
        statuses |= {g["status"] for g in out["gaps"]}
        for rec in out["recommendations"]:       # never an unmet prerequisite
            for p in cat.credential(rec["credential_id"]).prerequisites:
                k = plan.skill_ids.index(p.skill_id)
                assert p_met(theta[k], se[k], dict(levels[p.skill_id])[p.level]) >= 0.5
        j = int(rng.integers(len(theta)))
        up = dict(prof, skills=[dict(s, theta=s["theta"] + (0.5 if i == j else 0))
                                for i, s in enumerate(prof["skills"])])
        after = recommend(up, levels, cat, "r", information=info)
        targets = {c for r in out["recommendations"] for c in r["for_credential"]}
        assert {c for r in after["recommendations"] for c in r["for_credential"]} <= targets
        wide = dict(prof, skills=[dict(s, se=s["se"] * 2) for s in prof["skills"]])
        for g0, g1 in zip(out["gaps"], recommend(wide, levels, cat, "r")["gaps"], strict=True):
            if g0["status"] == "gap":
                assert g1["status"] != "met"
    assert statuses == {"met", "gap", "uncertain"}  # real learners give all three
