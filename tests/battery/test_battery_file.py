"""The zapcat-battery/1 file: round trip, and every problem named with its place."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from item_banks.battery import (
    BatteryValidationError,
    Scale,
    battery_from_dict,
    read_battery,
    write_battery,
)
from item_banks.examples import DEMO_BATTERY_PATH


def _demo() -> dict:
    return json.loads(DEMO_BATTERY_PATH.read_text())


def test_demo_round_trips(tmp_path):
    battery = read_battery(DEMO_BATTERY_PATH)
    assert battery.skill_ids == ("coding", "project-management", "design")
    again = read_battery(write_battery(battery, tmp_path / "b.json"))
    assert again == battery
    assert np.allclose(again.correlations, battery.correlations)


def test_every_problem_is_named_with_its_place():
    data = _demo()
    data["order"] = "random"
    data["budget"] = 0
    data["sections"][0]["levels"][2]["theta_cut"] = -1.0  # below the previous cut
    data["sections"][1]["bank"] = {"name": "pm"}  # no version
    data["sections"][2]["scale"]["slope"] = 0
    data["sections"][2]["colour"] = "red"
    data["sections"][1]["skill_id"] = "coding"
    with pytest.raises(BatteryValidationError) as info:
        battery_from_dict(data)
    problems = info.value.details["problems"]
    text = "\n".join(problems)
    assert "order: must be one of fixed, adaptive, got 'random'" in text
    assert "budget: must be an integer >= 1" in text
    assert "sections[0].levels[2].theta_cut: cuts must increase, got -1.0 after -0.3" in text
    assert "sections[1].bank:" in text
    assert "sections[2].scale.slope" in text
    assert "sections[2]: unknown field 'colour'" in text
    assert "skill_id 'coding' is used by more than one section" in text
    assert len(problems) == 7


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1, 0.5, 0.5], [0.4, 1, 0.5], [0.5, 0.5, 1]], "symmetric"),
        ([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]], "positive definite"),
        ([[2, 0.5, 0.5], [0.5, 1, 0.5], [0.5, 0.5, 1]], "diagonal"),
        ([[1, 0.5], [0.5, 1]], "3 x 3"),
    ],
)
def test_correlation_matrix_problems(matrix, message):
    data = _demo()
    data["correlations"]["matrix"] = matrix
    with pytest.raises(BatteryValidationError, match=message):
        battery_from_dict(data)


def test_correlations_are_reordered_to_section_order():
    data = _demo()
    data["correlations"] = {"skills": ["design", "coding", "project-management"],
                            "matrix": [[1, 0.55, 0.5], [0.55, 1, 0.45], [0.5, 0.45, 1]]}
    battery = battery_from_dict(data)
    assert battery.correlations[0, 1] == 0.45 and battery.correlations[0, 2] == 0.55


def test_scale_rounds_and_clips():
    scale = Scale(intercept=100, slope=15, decimals=0, range=(40, 160))
    assert scale.score(0.51) == 108.0
    assert scale.score(9.0) == 160.0 and scale.score(-9.0) == 40.0


def test_target_level_must_exist():
    data = copy.deepcopy(_demo())
    data["sections"][0]["target_level"] = "Wizard"
    with pytest.raises(BatteryValidationError, match=r"sections\[0\]\.target_level: 'Wizard'"):
        battery_from_dict(data)
