"""What a session runs: one adaptive test, or a battery of them (one per skill).

:func:`load_runner` gives the session services (:mod:`api.services.sessions`) one object
for either kind of assessment, so both go through the same code path: the same
transaction, row lock, seq checks, response log, idempotent replies and exposure counts.
A battery assessment stores ``{"kind": "battery", "battery": <zapcat-battery/1>}`` as its
configuration, each section pinning a published bank version by name and version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db import Database
from api.errors import InvalidRequestError, NotFoundError
from api.limits import is_server_id
from api.models import Assessment, BankVersion
from api.services.assessments import load_assessment
from api.services.banks import ImmutableCache, load_bank
from engine import battery as batteries
from engine import session as cat
from engine.battery_state import BatteryState
from engine.config import CATConfig
from engine.state import CATState
from guidance.feedback import progress, reply_feedback
from item_banks.bank import ItemBank
from item_banks.battery import battery_from_dict

RESULT_WHEN_HIDDEN = ("n_items", "n_administered", "finished", "stop_reason")
"""Result fields a delivery key sees when the assessment sets ``show_results: false``."""


def is_battery(config: dict[str, Any]) -> bool:
    """Whether a stored assessment configuration is a battery."""
    return isinstance(config, dict) and config.get("kind") == "battery"


@dataclass(frozen=True)
class SingleTest:
    """One adaptive test on one bank."""

    bank: ItemBank
    config: CATConfig

    @property
    def uses_exposure(self) -> bool:
        return self.config.max_exposure_rate is not None

    @property
    def show_results(self) -> bool:
        return self.config.show_results

    @property
    def practice(self) -> bool:
        """A practice test (``mode: "practice"``): its sessions are practice sessions."""
        return self.config.mode == "practice"

    @property
    def gives_feedback(self) -> bool:
        return self.config.feedback != "none"

    def feedback(self, before: CATState, after: CATState, item_id: str, response: int
                 ) -> dict[str, Any] | None:
        """The reply's feedback on the answer (``None`` when the test gives none)."""
        config = self.config
        if config.feedback == "none":
            return None
        block = progress(skill_id=self.bank.name, n_answered=after.n_items, theta=after.theta,
                         se=after.se, cuts=config.cut_scores,
                         theta_range=config.ability.theta_range)  # fmt: skip
        return reply_feedback(config.feedback, block, self.bank[item_id], response)

    def with_overrides(self, overrides: dict[str, Any] | None) -> SingleTest:
        """The test with a session's configuration overrides (1EdTech ``priorData``)."""
        if not overrides:
            return self
        from api.services.sessions import session_config

        return SingleTest(self.bank, session_config(self.config, overrides))

    def start(self, seed: int, exposure: dict | None) -> CATState:
        return cat.start(self.bank, self.config, seed=seed, exposure=exposure)

    def respond(self, state: Any, item_id: str, response: int, exposure: dict | None) -> Any:
        return cat.respond(self.bank, self.config, state, item_id, response, exposure=exposure)

    def read_state(self, data: dict[str, Any]) -> CATState:
        return CATState.from_dict(data)

    def present(self, state: CATState) -> dict[str, Any] | None:
        if state.pending_item is None:
            return None
        return {"item_id": state.pending_item,
                "n_categories": self.bank[state.pending_item].n_categories}  # fmt: skip

    def result(self, state: CATState, scope: str) -> dict[str, Any]:
        out = cat.result(self.bank, self.config, state)
        if scope == "admin":
            return out
        if not self.config.show_results:
            return {key: out[key] for key in RESULT_WHEN_HIDDEN if key in out}
        items = [{"item_id": it["item_id"], "response": it["response"]} for it in out["items"]]
        return {**out, "items": items}


@dataclass(frozen=True)
class BatteryRun:
    """A battery: one adaptive test per skill, ending in a profile."""

    plan: batteries.BatteryPlan

    @property
    def uses_exposure(self) -> bool:
        return any(c.max_exposure_rate is not None for c in self.plan.configs)

    @property
    def show_results(self) -> bool:
        return all(c.show_results for c in self.plan.configs)

    @property
    def practice(self) -> bool:
        """Every section a practice test (a battery cannot mix modes)."""
        return self.plan.practice

    @property
    def gives_feedback(self) -> bool:
        return any(c.feedback != "none" for c in self.plan.configs)

    def feedback(self, before: BatteryState, after: BatteryState, item_id: str, response: int
                 ) -> dict[str, Any] | None:
        """Feedback on the answer, about the section of the item answered only."""
        k = before.current
        config = self.plan.configs[k]
        if config.feedback == "none":
            return None
        sec, test = self.plan.sections[k], after.tests[k]
        names = [lv.name for lv in sec.levels] if sec.levels else None
        block = progress(skill_id=sec.skill_id, n_answered=test.n_items, theta=test.theta,
                         se=test.se, cuts=sec.cuts, level_names=names, scale=sec.scale,
                         theta_range=config.ability.theta_range)  # fmt: skip
        return reply_feedback(config.feedback, block, self.plan.banks[k][item_id], response)

    def with_overrides(self, overrides: dict[str, Any] | None) -> BatteryRun:
        """A battery takes no per-session overrides (its priors come from its sections)."""
        if overrides:
            raise InvalidRequestError(
                "a battery assessment takes no per-session configuration overrides",
                details={"overrides": sorted(overrides)},
            )
        return self

    def start(self, seed: int, exposure: dict | None) -> BatteryState:
        return batteries.start(self.plan, seed=seed, exposure=exposure)

    def respond(self, state: Any, item_id: str, response: int, exposure: dict | None) -> Any:
        return batteries.respond(self.plan, state, item_id, response, exposure=exposure)

    def read_state(self, data: dict[str, Any]) -> BatteryState:
        return BatteryState.from_dict(data)

    def present(self, state: BatteryState) -> dict[str, Any] | None:
        item = state.pending_item
        if item is None:
            return None
        bank = self.plan.banks[state.current]
        return {"item_id": item, "n_categories": bank[item].n_categories,
                "section": batteries.section_info(self.plan, state)}  # fmt: skip

    def result(self, state: BatteryState, scope: str) -> dict[str, Any]:
        out = batteries.result(self.plan, state)
        out["finished"] = state.finished
        if scope != "admin" and not self.show_results:
            return {key: out[key] for key in RESULT_WHEN_HIDDEN if key in out}
        return out


Runner = SingleTest | BatteryRun

_LOADED = ImmutableCache(64)


def battery_plan(
    db: Database, session: Session, tenant: str, stored: dict
) -> batteries.BatteryPlan:
    """The plan of a stored battery, its sections' banks read from their pinned versions."""
    battery = battery_from_dict(stored["battery"])
    banks = {}
    for sec in battery.sections:
        row = session.scalars(select(BankVersion).where(
            BankVersion.tenant == tenant, BankVersion.name == sec.bank["name"],
            BankVersion.version == int(sec.bank["version"]))).first()  # fmt: skip
        if row is None:
            raise NotFoundError("bank version", f"{sec.bank['name']}/{sec.bank['version']}")
        banks[sec.skill_id] = load_bank(db, row)
    return batteries.BatteryPlan(battery, banks)


def runner_is_loaded(db: Database, tenant: str, assessment_id: str) -> bool:
    """Whether :func:`load_runner` would answer from the cache (no bank parsed)."""
    hit = _LOADED.peek((db.uid, assessment_id))
    return hit is not None and hit[0] == tenant


def load_runner(db: Database, session: Session, *, tenant: str, assessment_id: str) -> Runner:
    """The (cached, immutable) runner of an assessment of ``tenant``.

    Raises
    ------
    NotFoundError
        Unknown assessment, or one of another tenant.
    """
    if not is_server_id(assessment_id):
        raise NotFoundError("assessment", assessment_id)
    key = (db.uid, assessment_id)
    hit = _LOADED.peek(key)
    if hit is not None and hit[0] == tenant:
        return hit[1]
    row = session.scalars(
        select(Assessment).where(Assessment.id == assessment_id, Assessment.tenant == tenant)
    ).first()
    if row is None:
        raise NotFoundError("assessment", assessment_id)

    def build() -> tuple[str, Runner]:
        if is_battery(row.config):
            return row.tenant, BatteryRun(battery_plan(db, session, row.tenant, row.config))
        # the single-test loader's own cache (a large bank parsed once, off the write lock)
        bank, config = load_assessment(db, session, tenant=tenant, assessment_id=assessment_id)
        return row.tenant, SingleTest(bank, config)

    return _LOADED.get(key, build)[1]


__all__ = ["RESULT_WHEN_HIDDEN", "BatteryRun", "Runner", "SingleTest", "battery_plan",
           "is_battery", "load_runner", "runner_is_loaded"]  # fmt: skip
