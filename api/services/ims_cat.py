"""The 1EdTech (IMS) Computerized Adaptive Testing API, on the services of ``/v1``.

A *section* is an assessment of the tenant (named by the section configuration, or
created from the bank version and engine configuration it names) plus the map from the
platform's QTI item identifiers to bank item ids; it is stored, so its identifier stays
valid across restarts. A CAT *session* is an ordinary session of that assessment
(:mod:`api.services.sessions`: stored, locked, idempotent), started with the section's
rule for ``initialEstimatedAbility``. The ``sessionState`` handed to the platform is a
signed reference to the session (:mod:`api.services.tokens`); the database, not the
state, is the truth, so a retried or stale state is harmless and an altered one refused.

Results are cumulative: each call lists every item answered so far. A call applies the
score of the session's presented item when it is listed, then of the next one if that is
listed too, and so on; scores of items already recorded are never applied again (a
changed score of a recorded item is ignored: the first one counts). Items the engine did
not present are refused (``unselected_items: "refuse"``, the default) or kept aside until
the engine selects them (``"ignore"``). Once a session has finished (stopping rule, or
closed for inactivity) nothing more is applied and every call gets the final reply.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.db import Database
from api.errors import InvalidRequestError, NotFoundError, StaleSeqError
from api.models import ImsCatSection, utcnow
from api.services import sessions
from api.services.assessments import create_assessment, load_assessment
from api.services.banks import ImmutableCache, find_bank_version, load_bank
from api.services.ims_cat_format import (
    ItemScore,
    decode_b64,
    read_item_results,
    read_prior_data,
    read_section_configuration,
    result_outcomes,
)
from api.services.keys import Principal
from api.services.tokens import InvalidSignedValueError, sign, unsign
from item_banks.bank import ItemBank
from item_banks.errors import (
    InvalidResponseError,
    ItemMismatchError,
    TestFinishedError,
    UnknownItemError,
)

log = logging.getLogger("zapcat.api.ims_cat")

_STATE = "session-state"
_SECTIONS = ImmutableCache(256)


def _digest(configuration: dict[str, Any]) -> str:
    text = json.dumps(configuration, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _check_items(bank: ItemBank, items: dict[str, str]) -> None:
    """The item map must name bank items and keep every platform identifier unique."""
    problems = [f"items[{q!r}]: {b!r} is not an item of bank {bank.name!r}"
                for q, b in items.items() if b not in bank]  # fmt: skip
    mapped = set(items.values())
    problems += [
        f"items[{q!r}]: the QTI identifier is also the id of bank item {q!r}, which is not "
        f"mapped; map that item too"
        for q in items
        if q in bank and q not in mapped
    ]
    if problems:
        raise InvalidRequestError(
            f"invalid sectionConfiguration items: {'; '.join(problems)}",
            details={"problems": problems},
        )


def create_section(db: Database, *, principal: Principal, body: Any) -> dict[str, str]:
    """``POST sections``: store a section and return ``{"sectionIdentifier"}``.

    Posting an equal configuration again returns the same identifier (and creates no
    second assessment). A configuration naming a bank version creates the section's own
    assessment on it; the platform's delivery key may do that (a platform is configured
    with one credential, and a section is its delivery configuration: no parameters are
    revealed and no other assessment changes). ``qtiMetadata`` and ``qtiUsagedata`` are
    checked to be base64 and otherwise not used.

    Raises
    ------
    InvalidRequestError
        Malformed body or configuration (every problem named).
    NotFoundError
        Unknown bank version or assessment of the tenant.
    """
    if not isinstance(body, dict):
        body = {"sectionConfiguration": None}
    for field in ("qtiMetadata", "qtiUsagedata"):
        decode_b64(body.get(field), field)
    configuration = read_section_configuration(body.get("sectionConfiguration"))
    tenant = principal.tenant
    digest = _digest(configuration)
    existing = _find_by_digest(db, tenant, digest)
    if existing is not None:
        return {"sectionIdentifier": existing}
    principal.require("deliver")
    if "bank" in configuration:
        version_row = find_bank_version(
            db, tenant=tenant, name=configuration["bank"], version=configuration["bank_version"]
        )
        _check_items(load_bank(db, version_row), configuration["items"])  # before creating
        assessment_id = create_assessment(
            db,
            tenant=tenant,
            bank=configuration["bank"],
            bank_version=configuration["bank_version"],
            config=configuration["config"],
            name=f"1EdTech CAT section {digest[:12]}",
        )["assessment_id"]
    else:
        assessment_id = configuration["assessment_id"]
        with db.read() as session:
            bank, _ = load_assessment(db, session, tenant=tenant, assessment_id=assessment_id)
        _check_items(bank, configuration["items"])
    section_id = str(uuid.uuid4())
    try:
        with db.write() as session:
            session.add(
                ImsCatSection(
                    id=section_id,
                    tenant=tenant,
                    digest=digest,
                    assessment_id=assessment_id,
                    configuration={**configuration, "assessment_id": assessment_id},
                    created_at=utcnow(),
                )
            )
    except IntegrityError:  # the same configuration stored at the same moment
        existing = _find_by_digest(db, tenant, digest)
        if existing is None:  # pragma: no cover - another integrity problem
            raise
        return {"sectionIdentifier": existing}
    return {"sectionIdentifier": section_id}


def _find_by_digest(db: Database, tenant: str, digest: str) -> str | None:
    with db.read() as session:
        return session.scalar(
            select(ImsCatSection.id).where(
                ImsCatSection.tenant == tenant, ImsCatSection.digest == digest
            )
        )


class _Section:
    """A stored section, parsed: its assessment and item maps (immutable, cached)."""

    def __init__(self, row: ImsCatSection) -> None:
        self.id = row.id
        self.tenant = row.tenant
        self.assessment_id = row.assessment_id
        self.rules = row.configuration
        self.to_bank: dict[str, str] = dict(row.configuration.get("items", {}))
        self.to_qti = {b: q for q, b in self.to_bank.items()}

    def qti(self, item_id: str | None) -> list[str]:
        return [] if item_id is None else [self.to_qti.get(item_id, item_id)]

    def bank_id(self, identifier: str) -> str:
        return self.to_bank.get(identifier, identifier)


def _section(db: Database, tenant: str, section_id: str) -> _Section:
    key = (db.uid, section_id)
    hit = _SECTIONS.peek(key)
    if hit is not None and hit.tenant == tenant:
        return hit

    def build() -> _Section:
        with db.read() as session:
            row = session.get(ImsCatSection, section_id)
        if row is None or row.tenant != tenant:
            raise NotFoundError("section", section_id)
        return _Section(row)

    found = _SECTIONS.get(key, build)
    if found.tenant != tenant:
        raise NotFoundError("section", section_id)
    return found


def _state(db: Database, section: _Section, session_id: str, n_answered: int) -> str:
    return sign(db, _STATE, {"sec": section.id, "sid": session_id, "n": n_answered})


def _reply(
    db: Database, section: _Section, session_id: str, delivery: dict[str, Any], n_answered: int
) -> dict[str, Any]:
    pending = delivery["item"]["item_id"] if delivery.get("item") else None
    items = section.qti(pending)
    out: dict[str, Any] = {
        "sessionIdentifier": session_id,
        "nextItems": {"itemIdentifiers": items, "stageLength": len(items)},
        "sessionState": _state(db, section, session_id, n_answered),
    }
    if delivery["status"] == sessions.FINISHED and delivery.get("result") is not None:
        out["assessmentResult"] = {"testResult": result_outcomes(delivery["result"])}
    return out


def start_session(
    db: Database, *, principal: Principal, section_id: str, body: Any
) -> dict[str, Any]:
    """``POST sections/{s}/sessions``: start a session and return its first item.

    ``initialEstimatedAbility`` (clipped to the configuration's ``theta_range``) sets the
    ability at which the first item is chosen (``initial_ability: "start"``, the
    default), also the prior mean of the estimator (``"start_and_prior"``), or nothing
    (``"ignore"``).

    Returns
    -------
    dict
        ``{sessionIdentifier, nextItems: {itemIdentifiers, stageLength}, sessionState}``
        (+ ``assessmentResult`` when no item could be given at all).
    """
    principal.require("deliver")
    prior = read_prior_data(body)
    section = _section(db, principal.tenant, section_id)
    overrides: dict[str, Any] = {}
    rule = section.rules.get("initial_ability", "start")
    if prior.initial_ability is not None and rule != "ignore":
        with db.read() as session:
            _, config = load_assessment(
                db, session, tenant=principal.tenant, assessment_id=section.assessment_id
            )
        lo, hi = config.theta_range
        theta = min(max(prior.initial_ability, lo), hi)
        if theta != config.start_theta:
            overrides["start_theta"] = theta
        if rule == "start_and_prior" and theta != config.prior_mean:
            overrides["prior_mean"] = theta
    delivery = sessions.start_session(
        db,
        tenant=principal.tenant,
        assessment_id=section.assessment_id,
        examinee_ref=prior.examinee_ref or f"ims-cat:{section.id}",
        seed=prior.seed,
        scope=principal.scope,
        overrides=overrides or None,
    )
    return _reply(db, section, delivery["session_id"], delivery, 0)


def _category(bank: ItemBank, item_id: str, given: ItemScore) -> int:
    k = int(bank[item_id].n_categories)
    score = given.score
    if score != round(score) or not 0 <= score <= k - 1:
        raise InvalidResponseError(
            f"{given.location}: SCORE {score:g} of item {given.identifier!r} is not a "
            f"category of the item (an integer 0 .. {k - 1}); send the item's raw score",
            details={"item": given.identifier, "score": score, "n_categories": k,
                     "location": given.location},
        )  # fmt: skip
    return int(score)


def submit_results(
    db: Database, *, principal: Principal, section_id: str, session_id: str, body: Any
) -> dict[str, Any]:
    """``POST sections/{s}/sessions/{t}/results``: apply new scores, return next items.

    See the module docstring for the rules. Each score is applied through
    :func:`api.services.sessions.respond` (locked, idempotent by seq), so a retry, a
    stale ``sessionState`` or two concurrent calls never apply a response twice.

    Raises
    ------
    InvalidSignedValueError
        ``sessionState`` altered, forged, or issued for another session or section.
    UnknownItemError
        An identifier that is not an item of the section.
    InvalidResponseError
        A SCORE that is not a category of its item.
    ItemMismatchError
        Scores of items the engine did not present (rule ``"refuse"``).
    """
    principal.require("deliver")
    state, scores = read_item_results(body)
    section = _section(db, principal.tenant, section_id)
    payload = unsign(db, _STATE, state)
    if payload is None or payload.get("sid") != session_id or payload.get("sec") != section.id:
        raise InvalidSignedValueError(
            "sessionState was not issued by this engine for this session: send back, "
            "unchanged, the sessionState of the last reply to this session",
            details={"section": section_id, "session": session_id},
        )
    view = _view(db, principal, section, session_id)
    with db.read() as session:
        bank, _ = load_assessment(
            db, session, tenant=principal.tenant, assessment_id=section.assessment_id
        )
    wanted: dict[str, int] = {}
    for given in scores:
        item_id = section.bank_id(given.identifier)
        if item_id not in bank:
            raise UnknownItemError(given.identifier, f"{bank.name} (section {section.id})")
        wanted[item_id] = _category(bank, item_id, given)
    recorded = {r["item_id"]: r["response"] for r in view["responses"]}
    pending = view["item"]["item_id"] if view["item"] else None
    unselected = [i for i in wanted if i not in recorded and i != pending]
    over = view["status"] == sessions.FINISHED  # later scores are not applied, not refused
    if unselected and not over and section.rules.get("unselected_items", "refuse") == "refuse":
        names = [section.qti(i)[0] for i in unselected]
        raise ItemMismatchError(
            f"results for items the engine did not present in this session: {names}; "
            f"the presented item is {section.qti(pending) or 'none (section ended)'}. "
            "Deliver only the items in nextItems, or set unselected_items to 'ignore'",
            details={"items": names, "presented": section.qti(pending)},
        )
    changed = [i for i in wanted if i in recorded and recorded[i] != wanted[i]]
    if changed:
        log.info("session %s: changed scores of recorded items ignored: %s", session_id, changed)
    delivery = {"status": view["status"], "item": view["item"], "result": view["result"]}
    seq, n_answered = view["seq"], view["n_answered"]
    while pending is not None and pending in wanted and pending not in recorded:
        try:
            delivery = sessions.respond(
                db,
                tenant=principal.tenant,
                session_id=session_id,
                item_id=pending,
                seq=seq,
                response=wanted[pending],
                scope=principal.scope,
            )
        except (StaleSeqError, TestFinishedError):  # a concurrent call or the clean-up won
            # (it answered this item differently, or closed the session): read it again
            view = _view(db, principal, section, session_id)
            recorded = {r["item_id"]: r["response"] for r in view["responses"]}
            delivery = {"status": view["status"], "item": view["item"], "result": view["result"]}
            seq, n_answered = view["seq"], view["n_answered"]
            pending = view["item"]["item_id"] if view["item"] else None
            continue
        recorded[pending] = wanted[pending]
        n_answered += 1
        seq = delivery["seq"]
        pending = delivery["item"]["item_id"] if delivery["item"] else None
    return _reply(db, section, session_id, delivery, n_answered)


def _view(db: Database, principal: Principal, section: _Section, session_id: str) -> dict:
    view = sessions.get_session(
        db, tenant=principal.tenant, session_id=session_id, scope=principal.scope
    )
    if view["assessment_id"] != section.assessment_id:
        raise NotFoundError("session", session_id)
    return view


__all__ = ["create_section", "start_session", "submit_results"]
