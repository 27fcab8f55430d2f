"""Practice mode in the engine: which items each mode gives, in live sessions and batches."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine import session
from engine.battery import BatteryPlan, load_battery
from engine.config import CATConfig
from engine.simulation import simulate
from item_banks.bank import Item, ItemBank
from item_banks.battery import BatteryValidationError
from item_banks.errors import InvalidConfigError
from item_banks.examples import DEMO_BATTERY_PATH


def bank() -> ItemBank:
    rng = np.random.default_rng(0)
    status = ["operational"] * 25 + ["practice"] * 12 + ["pretest"] * 4 + ["retired"] * 3
    return ItemBank([Item(f"i{j:02d}", "2pl", {"a": float(rng.uniform(0.7, 2.0)),
                                               "b": float(rng.normal())}, status=s)
                     for j, s in enumerate(status)], name="pool")  # fmt: skip


@pytest.mark.parametrize("batch", [True, False])
def test_each_mode_gives_only_its_own_items(batch):
    b = bank()
    practice = CATConfig.from_dict({"mode": "practice", "max_items": 8, "stop_se": None}, b)
    secure = CATConfig.from_dict({"max_items": 8, "stop_se": None, "pretest_count": 2}, b)
    for config, allowed in ((practice, {"practice"}), (secure, {"operational", "pretest"})):
        res = simulate(b, config, n=60, seed=4, batch=batch)
        given = {b.items[i].status for i in res.items.ravel() if i >= 0}
        assert given == allowed


def test_a_practice_session_exhausts_the_practice_items_not_the_bank():
    b = bank()
    config = CATConfig.from_dict({"mode": "practice", "max_items": 30, "stop_se": None}, b)
    state = session.start(b, config, seed=1)
    while not state.finished:
        state = session.respond(b, config, state, state.pending_item, 1)
    assert sorted(state.administered) == sorted(it.item_id for it in b if it.status == "practice")
    assert state.stop_reason == "bank_exhausted"


def test_content_minimums_count_the_mode_s_items():
    items = [Item(f"o{j}", "2pl", {"a": 1.0, "b": 0.0}, content_areas=("loops",))
             for j in range(5)]
    items += [Item(f"p{j}", "2pl", {"a": 1.0, "b": 0.0}, content_areas=("loops",),
                   status="practice") for j in range(2)]  # fmt: skip
    b = ItemBank(items, name="areas")
    with pytest.raises(InvalidConfigError, match=r"content\['loops'\] needs 3 items, bank has 2"):
        CATConfig.from_dict({"mode": "practice", "content": {"loops": {"min": 3, "max": 5}}}, b)
    CATConfig.from_dict({"content": {"loops": {"min": 3, "max": 5}}}, b)


def test_a_battery_cannot_mix_modes():
    plan = load_battery(DEMO_BATTERY_PATH)
    battery = plan.battery
    practice_banks = {}
    for sec, b in zip(battery.sections, plan.banks, strict=True):
        practice_banks[sec.skill_id] = ItemBank(
            [Item(it.item_id, it.model, it.params, status="practice") for it in b], name=b.name)
    sections = [dataclasses.replace(s, cat={**s.cat, "mode": "practice"})
                for s in battery.sections]  # fmt: skip
    whole = dataclasses.replace(battery, sections=tuple(sections))
    assert BatteryPlan(whole, practice_banks).practice
    assert not plan.practice
    sections[0] = battery.sections[0]
    mixed = dataclasses.replace(battery, sections=tuple(sections))
    banks = {**practice_banks, sections[0].skill_id: plan.banks[0]}
    with pytest.raises(BatteryValidationError, match="mix practice and secure"):
        BatteryPlan(mixed, banks)
