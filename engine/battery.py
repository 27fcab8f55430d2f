"""A skill battery: one adaptive test per skill in one session, ending in a profile.

:func:`start`, :func:`respond` and :func:`result` are pure functions of a
:class:`BatteryPlan` (the battery definition with its banks and validated CAT
configurations) and an immutable, JSON-serialisable :class:`BatteryState`. Each section is
an ordinary CAT (:mod:`engine.session`, the same kernels as batch simulation) with its own
stopping rule and minimum; sections run one after the other, in file order or (``order:
"adaptive"``) next the skill whose prior SD is furthest above its SE target. The total
budget caps the items of each section when it opens, keeping the minimum of every section
not yet opened in reserve. Where the battery has a correlation matrix and a section may
borrow, the section starts from its collateral prior (:mod:`engine.battery_prior`) and then
takes at least its collateral ``min_items``.

Examples
--------
>>> from engine.battery import load_battery, start, respond, result
>>> from item_banks.examples import DEMO_BATTERY_PATH
>>> plan = load_battery(DEMO_BATTERY_PATH)
>>> state = start(plan, seed=3)
>>> while not state.finished:
...     state = respond(plan, state, state.pending_item, 1)
>>> sorted(result(plan, state))[:3]
['areas_for_improvement', 'n_items', 'profile_is_even']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine import session
from engine._random import derive_seeds
from engine.battery_prior import conditional_prior, own_likelihood
from engine.battery_profile import profile
from engine.battery_state import BatteryState
from engine.config import CATConfig
from engine.state import CATState
from item_banks.bank import ItemBank
from item_banks.battery import Battery, BatteryValidationError, read_battery
from item_banks.errors import (
    InvalidConfigError,
    InvalidStateError,
    TestFinishedError,
    ZapcatError,
)
from item_banks.io import read_bank


class BatteryPlan:
    """A battery with its banks and CAT configurations, validated together.

    Parameters
    ----------
    battery : Battery
    banks : mapping of skill_id to ItemBank
        One bank per section.
    collateral : bool, optional
        ``False`` switches the collateral prior off everywhere (to measure its effect).

    Raises
    ------
    BatteryValidationError
        Naming every problem (a missing bank, a CAT configuration that does not fit its
        bank, a budget below the sum of the sections' minimums, sections that mix practice
        and secure modes).

    Attributes
    ----------
    practice : bool
        Every section is a practice test (``mode: "practice"``).
    """

    def __init__(
        self, battery: Battery, banks: Mapping[str, ItemBank], *, collateral: bool = True
    ) -> None:
        problems: list[str] = []
        self.battery = battery
        self.sections = battery.sections
        self.k = len(self.sections)
        self.banks: list[ItemBank] = []
        self.configs: list[CATConfig] = []
        for i, sec in enumerate(self.sections):
            bank = banks.get(sec.skill_id)
            if bank is None:
                problems.append(f"sections[{i}] ({sec.skill_id}): no bank given")
                continue
            try:
                config = CATConfig.from_dict(dict(sec.cat), bank)
            except InvalidConfigError as error:
                problems += [f"sections[{i}].cat ({sec.skill_id}): {p}"
                             for p in error.details.get("problems", [str(error)])]  # fmt: skip
                continue
            self.banks.append(bank)
            self.configs.append(config)
        self.corr = battery.correlations if collateral else None
        modes = {c.mode for c in self.configs}
        if not problems and len(modes) > 1:
            practice = [s.skill_id for s, c in zip(self.sections, self.configs, strict=True)
                        if c.mode == "practice"]  # fmt: skip
            secure = [s.skill_id for s in self.sections if s.skill_id not in practice]
            problems.append(f"sections mix practice and secure tests (mode: 'practice' in "
                            f"{practice}, 'secure' in {secure}): a battery is a practice "
                            f"battery as a whole or not at all; give every section's cat the "
                            f"same mode")  # fmt: skip
        self.practice = modes == {"practice"}
        if not problems:
            self.borrows = [s.borrow and self.corr is not None for s in self.sections]
            self.min_items = [max(c.min_items, s.collateral_min_items if b else 0)
                              for c, s, b in zip(self.configs, self.sections, self.borrows,
                                                 strict=True)]  # fmt: skip
            self.own_max = [c.max_items + c.constraints.pretest_count for c in self.configs]
            self.budget = battery.budget if battery.budget is not None else sum(self.own_max)
            need = sum(m + c.constraints.pretest_count
                       for m, c in zip(self.min_items, self.configs, strict=True))  # fmt: skip
            if self.budget < need:
                problems.append(f"budget: {self.budget} items cannot hold every section's "
                                f"minimum ({need} items in all); raise the budget or lower "
                                f"min_items")  # fmt: skip
        if problems:
            raise BatteryValidationError(problems, source=battery.source)
        self.skill_ids = battery.skill_ids
        self.targets = [c.stop_se if c.stop_se is not None else 0.0 for c in self.configs]
        self._limited: dict[tuple[int, int, int], CATConfig] = {}

    def config_for(self, k: int, min_items: int, max_items: int) -> CATConfig:
        """Section ``k``'s configuration with the given length bounds (cached)."""
        base = self.configs[k]
        if (min_items, max_items) == (base.min_items, base.max_items):
            return base
        key = (k, min_items, max_items)
        if key not in self._limited:
            self._limited[key] = base.replace(min_items=min_items, max_items=max_items)
        return self._limited[key]

    def prior_sd(self, k: int) -> float:
        return float(self.configs[k].ability.prior_sd)


def load_battery(path: str | Path, *, collateral: bool = True) -> BatteryPlan:
    """Read a battery file and the bank files its sections name (relative to it)."""
    path = Path(path)
    battery = read_battery(path)
    banks: dict[str, ItemBank] = {}
    problems: list[str] = []
    for i, sec in enumerate(battery.sections):
        if "path" not in sec.bank:
            problems.append(f"sections[{i}].bank: a battery file run from disk needs bank "
                            f"paths, got {dict(sec.bank)!r}")  # fmt: skip
            continue
        try:
            banks[sec.skill_id] = read_bank(path.parent / sec.bank["path"])
        except ZapcatError as error:
            problems.append(f"sections[{i}].bank ({sec.bank['path']}): {error.message}")
    if problems:
        raise BatteryValidationError(problems, source=str(path))
    return BatteryPlan(battery, banks, collateral=collateral)


# ------------------------------------------------------------------------ the sequence
def section_seeds(seed: int, k: int) -> list[int]:
    """Seed of each section's CAT (by file position) from the battery's seed."""
    return [int(s) for s in derive_seeds(seed, k)]


def collateral_prior(plan: BatteryPlan, k: int, tests: list[CATState | None]) -> tuple | None:
    """Prior ``(mean, sd)`` of section ``k`` given the finished sections, or ``None``."""
    if not plan.borrows[k]:
        return None
    done = [j for j, t in enumerate(tests) if t is not None and t.finished and t.n_scored]
    if not done:
        return None
    y, lam = _likelihoods(plan, tests, done)
    mean, sd = conditional_prior(plan.corr, k, done, y[None, :], lam[None, :])
    return float(mean[0]), float(sd[0])


def _likelihoods(plan: BatteryPlan, tests: list, done: list[int]) -> tuple:
    theta = np.array([tests[j].theta for j in done])
    se = np.array([tests[j].se for j in done])
    m0 = np.array([tests[j].prior[0] if tests[j].prior else plan.configs[j].ability.prior_mean
                   for j in done])  # fmt: skip
    s0 = np.array([tests[j].prior[1] if tests[j].prior else plan.prior_sd(j) for j in done])
    return own_likelihood(theta, se, m0, s0)


def next_section(plan: BatteryPlan, tests: list[CATState | None]) -> int | None:
    """The section to open next (``None`` when all have been opened)."""
    left = [k for k in range(plan.k) if tests[k] is None]
    if not left:
        return None
    if plan.battery.order == "fixed":
        return left[0]
    gaps = []
    for k in left:
        prior = collateral_prior(plan, k, tests)
        sd = prior[1] if prior is not None else plan.prior_sd(k)
        gaps.append(sd - plan.targets[k])
    return left[int(np.argmax(gaps))]


def limits(plan: BatteryPlan, k: int, used: int, opened: set[int], borrowed: bool) -> tuple:
    """``(min_items, max_items)`` of section ``k`` opened after ``used`` items."""
    reserve = sum(plan.min_items[j] + plan.configs[j].constraints.pretest_count
                  for j in range(plan.k) if j not in opened and j != k)  # fmt: skip
    config = plan.configs[k]
    room = plan.budget - used - reserve - config.constraints.pretest_count
    max_items = max(1, min(config.max_items, room))
    own_min = plan.min_items[k] if borrowed else config.min_items
    return min(own_min, max_items), max_items


def _open(plan: BatteryPlan, tests: list, seeds: list[int], bounds: list, opened: list[int],
          exposure: Mapping[str, int] | None) -> int | None:  # fmt: skip
    """Open sections until one has a pending item; returns its index (or ``None``)."""
    while True:
        k = next_section(plan, tests)
        if k is None:
            return None
        prior = collateral_prior(plan, k, tests)
        used = sum(t.n_items for t in tests if t is not None)
        lo, hi = limits(plan, k, used, set(opened), prior is not None)
        bounds[k] = (lo, hi)
        config = plan.config_for(k, lo, hi)
        tests[k] = session.start(plan.banks[k], config, seed=seeds[k], exposure=exposure,
                                 prior=prior)  # fmt: skip
        opened.append(k)
        if not tests[k].finished:
            return k


def start(
    plan: BatteryPlan, *, seed: int, exposure: Mapping[str, int] | None = None
) -> BatteryState:
    """Open a battery session and choose its first item.

    Parameters
    ----------
    plan : BatteryPlan
    seed : int
        ``0 <= seed < 2**53``; each section's CAT seed derives from it.
    exposure : mapping of str to int, optional
        Exposure counts by item id (and ``"__tests__"``), as ``exposure`` of
        :func:`engine.session.start`; every section reads its own items' counts.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**53:
        raise InvalidStateError(f"seed must be an integer in 0..2**53-1, got {seed!r}")
    tests: list[CATState | None] = [None] * plan.k
    bounds: list[tuple[int, int] | None] = [None] * plan.k
    opened: list[int] = []
    current = _open(plan, tests, section_seeds(int(seed), plan.k), bounds, opened, exposure)
    return _state(plan, int(seed), tests, bounds, opened, current)


def _state(plan, seed, tests, bounds, opened, current) -> BatteryState:
    reason = None
    if current is None:
        reason = "completed"
        for k, t in enumerate(tests):
            if t is not None and t.stop_reason == "max_items" and bounds[k] is not None \
                    and bounds[k][1] < plan.configs[k].max_items:  # fmt: skip
                reason = "budget"
    return BatteryState(seed=seed, skill_ids=plan.skill_ids, tests=tuple(tests),
                        bounds=tuple(bounds), opened=tuple(opened), current=current,
                        stop_reason=reason)  # fmt: skip


def respond(
    plan: BatteryPlan,
    state: BatteryState,
    item_id: str,
    response: int,
    *,
    exposure: Mapping[str, int] | None = None,
) -> BatteryState:
    """Record the response to the pending item; continue the section or open the next.

    Raises
    ------
    TestFinishedError, ItemMismatchError, InvalidResponseError
        As :func:`engine.session.respond`.
    InvalidStateError
        When the state does not belong to this battery.
    """
    if state.finished:
        raise TestFinishedError(f"the battery has finished ({state.stop_reason}); no more "
                                f"responses are accepted",
                                details={"stop_reason": state.stop_reason})  # fmt: skip
    check_state(plan, state)
    k = state.current
    bounds = list(state.bounds)
    tests = list(state.tests)
    config = plan.config_for(k, *bounds[k])
    tests[k] = session.respond(plan.banks[k], config, tests[k], item_id, response,
                               exposure=exposure)  # fmt: skip
    opened = list(state.opened)
    current: int | None = k
    if tests[k].finished:
        current = _open(plan, tests, section_seeds(state.seed, plan.k), bounds, opened,
                        exposure)  # fmt: skip
    return _state(plan, state.seed, tests, bounds, opened, current)


def check_state(plan: BatteryPlan, state: BatteryState) -> None:
    """Raise :class:`InvalidStateError` when ``state`` cannot be a state of ``plan``."""
    if len(state.tests) != plan.k or state.skill_ids not in ((), plan.skill_ids):
        raise InvalidStateError(f"the state has {len(state.tests)} sections "
                                f"{list(state.skill_ids)}, the battery "
                                f"{plan.battery.name!r} has {plan.k} {list(plan.skill_ids)}")
    for k, t in enumerate(state.tests):
        if t is not None and state.bounds[k] is None:
            raise InvalidStateError(f"section {plan.skill_ids[k]!r} has a test but no bounds")


def section_info(plan: BatteryPlan, state: BatteryState) -> dict[str, Any] | None:
    """``{skill_id, index, of}`` of the pending item's section (index from 1)."""
    if state.current is None:
        return None
    return {"skill_id": plan.skill_ids[state.current],
            "index": state.opened.index(state.current) + 1, "of": plan.k}  # fmt: skip


def result(plan: BatteryPlan, state: BatteryState) -> dict[str, Any]:
    """The profile of the battery (see :func:`engine.battery_profile.profile`).

    A section not opened yet reports its configuration's prior and 0 items.
    """
    theta, se, n = [], [], []
    for k, t in enumerate(state.tests):
        if t is None:
            theta.append(plan.configs[k].ability.prior_mean)
            se.append(plan.prior_sd(k))
            n.append(0)
        else:
            theta.append(t.theta)
            se.append(t.se)
            n.append(t.n_scored)
    return profile(plan.sections, theta, se, n, z=plan.battery.z,
                   stop_reason=state.stop_reason)  # fmt: skip


__all__ = ["BatteryPlan", "BatteryState", "collateral_prior", "limits", "load_battery",
           "next_section", "respond", "result", "section_info", "section_seeds",
           "start"]  # fmt: skip
