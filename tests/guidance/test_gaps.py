from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.battery import load_battery
from guidance.catalogue import catalogue_from_dict, read_catalogue
from guidance.gaps import (
    GuidanceError,
    gap_analysis,
    information_from_banks,
    items_to_settle,
    p_met,
    recommend,
)
from item_banks.examples.battery_demo import DEMO_BATTERY_PATH, DEMO_CATALOGUE_PATH

SKILLS = ("coding", "project-management", "design")
LEVELS = {s: [("Foundation", None), ("Practitioner", -0.3), ("Expert", 1.2)] for s in SKILLS}
CAT = read_catalogue(DEMO_CATALOGUE_PATH)
ROLES = tuple(r.role_id for r in CAT.roles)


def profile(theta, se):
    return {"skills": [{"skill_id": s, "theta": float(t), "se": float(e)}
                       for s, t, e in zip(SKILLS, theta, se, strict=True)]}


def test_p_met_is_the_normal_tail():
    for theta, se, cut in [(0.0, 0.3, -0.3), (-1.0, 0.5, -0.3), (1.5, 0.2, 1.2)]:
        closed = 0.5 * math.erfc((cut - theta) / (se * math.sqrt(2)))
        assert p_met(theta, se, cut) == pytest.approx(closed, abs=1e-12)
    assert p_met(-5.0, 0.1, -math.inf) == 1.0


def test_statuses_and_extend_section_settles_it():
    plan = load_battery(DEMO_BATTERY_PATH)
    banks = dict(zip(plan.skill_ids, plan.banks, strict=True))
    info = information_from_banks(banks)
    req = CAT.role("junior-developer").requires
    # coding well above Practitioner, project-management on the edge, design far below
    prof = profile([0.9, -0.2, -1.8], [0.3, 0.35, 0.3])
    rows = {g["skill_id"]: g for g in gap_analysis(prof, LEVELS, req, information=info)}
    assert rows["coding"]["status"] == "met"           # P = Phi(1.2/0.3) ~ 1
    assert rows["project-management"]["status"] == "met"  # Foundation: no cut
    assert rows["design"]["status"] == "gap"
    req = CAT.role("project-coordinator").requires
    prof = profile([0.9, -0.1, -1.8], [0.3, 0.35, 0.3])
    row = next(g for g in gap_analysis(prof, LEVELS, req, information=info)
               if g["skill_id"] == "project-management")
    assert row["status"] == "uncertain"
    n = row["extend_section"]["items"]
    # independent check: add the n best items' information and the skill is settled,
    # with one fewer it is not
    best = np.sort(banks["project-management"].information([-0.1])[0])[::-1]
    z = abs(-0.1 - (-0.3))

    def settled(k):
        se_new = 1 / math.sqrt(1 / 0.35**2 + best[:k].sum())
        return 0.5 * math.erfc(-z / se_new / math.sqrt(2)) >= 0.9
    assert settled(n) and not settled(n - 1)


def test_items_to_settle_edge_cases():
    assert items_to_settle(0.0, 0.3, 0.0, np.ones(10)) is None   # on the cut
    assert items_to_settle(0.0, 0.3, 0.2, np.full(3, 0.01)) is None  # bank runs out
    assert items_to_settle(0.0, 0.1, 0.5, np.ones(3)) == 0


def test_demo_recommendations_for_a_weak_coder():
    prof = profile([-1.2, 0.6, 0.1], [0.3, 0.3, 0.3])
    out = recommend(prof, LEVELS, CAT, "junior-developer")
    ids = [r["credential_id"] for r in out["recommendations"]]
    # design: P = Phi(0.4 / 0.3) = 0.909 -> met; project management needs Foundation (no
    # cut) -> met; coding P = Phi(-0.9 / 0.3) = 0.0013 -> gap: only coding credentials,
    # ties broken by fewer hours. The 12-hour debugging lab (Practitioner -> Expert) closes
    # the gap too but needs coding Practitioner first: replaced by its prerequisite course.
    assert out["summary"] == {"met": 2, "gap": 1, "uncertain": 0}
    assert ids == ["prog-fundamentals", "javascript-web", "python-practitioner",
                   "tech-project-lead"]
    first = out["recommendations"][0]
    assert first["for_credential"] == ["debugging-lab", "design-patterns",
                                       "prog-fundamentals", "web-product-studio"]
    assert first["score"] == pytest.approx(5 * (1 - 0.0013), abs=1e-4)
    assert all(r["closes"][0]["skill_id"] == "coding" for r in out["recommendations"])
    assert "prepares the prerequisites" in out["recommendations"][0]["why"]
    assert out["recommendations"][1]["why"] == (
        "Closes the gap in coding (100% likely below the required level).")


def test_prerequisite_replaced_by_the_prerequisite():
    # UX designer needs design Expert; the Expert courses need design Practitioner first
    prof = profile([0.5, 0.5, -1.5], [0.3, 0.3, 0.3])
    out = recommend(prof, LEVELS, CAT, "ux-designer")
    for rec in out["recommendations"]:
        assert all(p["met"] for p in rec["prerequisites"])
    ux = next(r for r in out["recommendations"] if "ux-prototyping" in r["for_credential"])
    assert ux["credential_id"] != "ux-prototyping"
    assert "prepares the prerequisites" in ux["why"]
    assert CAT.credential(ux["credential_id"]).develops[0].skill_id == "design"


def test_unknown_skill_and_bad_profile():
    with pytest.raises(GuidanceError, match="not in the profile"):
        recommend({"skills": [{"skill_id": "coding", "theta": 0, "se": 0.3}]}, LEVELS, CAT,
                  "junior-developer")
    with pytest.raises(GuidanceError, match="not a profile"):
        recommend({"skills": [{"theta": 0}]}, LEVELS, CAT, "junior-developer")


# ---- properties (hypothesis) over simulated profiles and random catalogues ----------

thetas = st.lists(st.floats(-3, 3, allow_nan=False), min_size=3, max_size=3)
ses = st.lists(st.floats(0.1, 1.0, allow_nan=False), min_size=3, max_size=3)
LEVEL_NAMES = ["Foundation", "Practitioner", "Expert"]


@st.composite
def catalogues(draw, prerequisites: bool = True):
    creds = []
    for i in range(draw(st.integers(1, 8))):
        dev = []
        for s in draw(st.sets(st.sampled_from(SKILLS), min_size=1, max_size=2)):
            lo = draw(st.integers(0, 2))
            dev.append({"skill_id": s, "from_level": LEVEL_NAMES[lo],
                        "to_level": LEVEL_NAMES[draw(st.integers(lo, 2))]})
        pre = []
        if prerequisites:
            for s in draw(st.sets(st.sampled_from(SKILLS), max_size=1)):
                pre.append({"skill_id": s, "level": draw(st.sampled_from(LEVEL_NAMES))})
        creds.append({"credential_id": f"c{i}", "title": f"C {i}", "provider": "p",
                      "hours": draw(st.integers(1, 40)), "develops": dev,
                      "prerequisites": pre})
    reqs = [{"skill_id": s, "level": draw(st.sampled_from(LEVEL_NAMES[1:])),
             "importance": draw(st.integers(1, 5))} for s in SKILLS]
    return catalogue_from_dict({"format": "zapcat-catalogue/1", "name": "h",
                                "credentials": creds,
                                "roles": [{"role_id": "r", "title": "R", "requires": reqs}]})


def _ids(out):
    return [r["credential_id"] for r in out["recommendations"]]


def _targets(out):
    return {c for r in out["recommendations"] for c in r["for_credential"]} | {
        r["credential_id"] for r in out["not_ready"]}


HYP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYP
@given(catalogues(prerequisites=False), thetas, ses, st.integers(0, 2),
       st.floats(0.0, 3.0))
def test_raising_theta_never_adds_a_recommendation(cat, theta, se, j, up):
    before = recommend(profile(theta, se), LEVELS, cat, "r")
    raised = list(theta)
    raised[j] += up
    after = recommend(profile(raised, se), LEVELS, cat, "r")
    assert set(_ids(after)) <= set(_ids(before))


@HYP
@given(catalogues(), thetas, ses, st.integers(0, 2), st.floats(0.0, 3.0))
def test_raising_theta_never_adds_a_target_with_prerequisites(cat, theta, se, j, up):
    before = recommend(profile(theta, se), LEVELS, cat, "r")
    raised = list(theta)
    raised[j] += up
    after = recommend(profile(raised, se), LEVELS, cat, "r")
    assert _targets(after) <= _targets(before)
    assert len(after["recommendations"]) + len(after["not_ready"]) <= len(_targets(before))


@HYP
@given(catalogues(), thetas, ses, st.integers(0, 2), st.floats(1.0, 4.0))
def test_widening_se_turns_gap_into_uncertain_never_met(cat, theta, se, j, factor):
    before = {g["skill_id"]: g["status"]
              for g in recommend(profile(theta, se), LEVELS, cat, "r")["gaps"]}
    wide = list(se)
    wide[j] *= factor
    after = {g["skill_id"]: g["status"]
             for g in recommend(profile(theta, wide), LEVELS, cat, "r")["gaps"]}
    if before[SKILLS[j]] == "gap":
        assert after[SKILLS[j]] in ("gap", "uncertain")


@HYP
@given(catalogues(), thetas, ses)
def test_order_deterministic_and_no_unmet_prerequisite(cat, theta, se):
    out = recommend(profile(theta, se), LEVELS, cat, "r")
    again = recommend(profile(theta, se), LEVELS, cat, "r")
    assert json.dumps(out) == json.dumps(again)
    reversed_cat = catalogue_from_dict({**cat.to_dict(),
                                        "credentials": cat.to_dict()["credentials"][::-1]})
    assert _ids(recommend(profile(theta, se), LEVELS, reversed_cat, "r")) == _ids(out)
    scores = [r["score"] for r in out["recommendations"]]
    assert scores == sorted(scores, reverse=True)
    for rec in out["recommendations"]:
        cred = cat.credential(rec["credential_id"])
        for p in cred.prerequisites:
            cut = dict(LEVELS[p.skill_id])[p.level]
            i = SKILLS.index(p.skill_id)
            assert cut is None or p_met(theta[i], se[i], cut) >= 0.5
