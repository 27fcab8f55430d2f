from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.battery import BatteryPlan, load_battery
from item_banks.battery import battery_from_dict
from item_banks.examples import DEMO_BATTERY_PATH


def demo_dict() -> dict:
    return json.loads(DEMO_BATTERY_PATH.read_text())


def plan_from(data: dict, *, collateral: bool = True) -> BatteryPlan:
    """A plan of an edited demo battery (banks from the demo directory)."""
    base = load_battery(DEMO_BATTERY_PATH)
    banks = dict(zip(base.skill_ids, base.banks, strict=True))
    return BatteryPlan(battery_from_dict(data), banks, collateral=collateral)


@pytest.fixture(scope="session")
def demo_plan() -> BatteryPlan:
    return load_battery(DEMO_BATTERY_PATH)


@pytest.fixture()
def demo_path() -> Path:
    return DEMO_BATTERY_PATH
