"""The profile: difference SEs against a direct covariance, labels, levels, status, flat rate."""

from __future__ import annotations

import numpy as np
import pytest

from engine.battery_profile import difference_se, labels, profile, status_of
from engine.battery_sim import simulate_battery
from item_banks.battery import Level, Scale, Section
from tests.battery.conftest import demo_dict, plan_from

LEVELS = (Level("Foundation"), Level("Practitioner", -0.3), Level("Expert", 1.2))


def _section(skill: str, target: str | None = None) -> Section:
    return Section(skill, skill, {"path": "x.json"}, {}, levels=LEVELS, target_level=target,
                   scale=Scale(100, 15, 0, (40, 160)))  # fmt: skip


def test_difference_se_is_the_sd_of_the_contrast():
    se = np.array([0.3, 0.4, 0.25, 0.5])
    cov = np.diag(se**2)
    k = se.size
    for j in range(k):
        c = -np.full(k, 1 / k)
        c[j] += 1  # theta_j minus the mean, which holds theta_j itself
        assert difference_se(se)[j] == pytest.approx(np.sqrt(c @ cov @ c), abs=1e-14)


def test_labels_at_the_boundary():
    se = np.array([0.3, 0.3, 0.3])
    bound = 1.645 * difference_se(se)[0]  # = 1.645 * 0.3 * sqrt(2/3)
    assert bound == pytest.approx(1.645 * 0.3 * np.sqrt(2 / 3))
    t = np.array([bound * 1.001, -bound * 1.001, 0.0])  # mean 0: d = t
    assert labels(t, se, 1.645).tolist() == [1, -1, 0]
    assert labels(t * 0.99, se, 1.645).tolist() == [0, 0, 0]


def test_profile_json_shape_and_values():
    secs = [_section("coding"), _section("pm"), _section("design", "Expert")]
    out = profile(secs, [1.4, -1.0, 0.2], [0.1, 0.3, 0.3], [12, 9, 10], z=1.645,
                  stop_reason="completed")  # fmt: skip
    assert list(out) == ["skills", "strengths", "areas_for_improvement", "profile_is_even",
                         "n_items", "stop_reason"]  # fmt: skip
    coding, pm, design = out["skills"]
    assert list(coding) == ["skill_id", "theta", "se", "interval", "score", "score_interval",
                            "level", "status", "n_items"]  # fmt: skip
    assert coding["interval"] == pytest.approx([1.4 - 1.959964 * 0.1, 1.4 + 1.959964 * 0.1])
    assert coding["score"] == 121.0 and coding["score_interval"] == [118.0, 124.0]
    assert coding["level"] == "Expert" and coding["status"] == "met"  # top level, clear
    assert pm["level"] == "Foundation" and pm["status"] == "not_met"  # -1 +- 0.59 < -0.3
    assert design["level"] == "Practitioner" and design["status"] == "not_met"  # target Expert
    assert out["strengths"] == ["coding"] and out["areas_for_improvement"] == ["pm"]
    assert out["profile_is_even"] is False and out["n_items"] == 31


def test_status_near_when_the_interval_holds_the_cut():
    sec = _section("s")
    assert status_of(sec, -0.5, -0.9, -0.1) == "near"  # next level up: -0.3
    assert status_of(sec, 0.5, 0.1, 0.9) == "not_met"  # next level up: 1.2
    assert status_of(sec, 1.3, 1.0, 1.6) == "near"  # top level, interval holds its cut


def test_false_labels_on_flat_profiles_are_rare():
    # every learner equally able in all three skills: a label is always false
    plan = plan_from(demo_dict())
    common = np.random.default_rng(8).normal(size=3000)
    sim = simulate_battery(plan, true_theta=np.repeat(common[:, None], 3, axis=1), seed=9)
    strengths = (sim.labels > 0).mean(axis=0)
    areas = (sim.labels < 0).mean(axis=0)
    assert (strengths <= 0.05).all() and (areas <= 0.05).all()
    assert (sim.labels != 0).mean() <= 0.10
