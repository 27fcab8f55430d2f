"""Test sessions: start, respond (idempotent, ordered, locked), read.

The adaptive logic is the engine's (:mod:`engine.session`): this module stores its state,
serialises concurrent submissions and keeps the response log and exposure counts.

``seq`` numbers the items presented to a session: the first item has seq 1, and a
response must name the seq and item it answers. While a test is in progress the
session's ``seq`` is that of the presented item; once finished, that of the last answer.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.db import Database
from api.errors import FutureSeqError, InvalidRequestError, NotFoundError, StaleSeqError
from api.limits import is_server_id
from api.models import Assessment, ExposureCount, Response, TestSession, iso, utcnow
from api.services.idempotency import IdempotencyKey, create_once, replay
from api.services.runners import RESULT_WHEN_HIDDEN, Runner, load_runner, runner_is_loaded
from engine.config import CATConfig
from item_banks.errors import TestFinishedError

IN_PROGRESS = "in_progress"
FINISHED = "finished"


def _exposure(session: Session, assessment_id: str, runner: Runner) -> dict[str, int] | None:
    """Exposure counts for the engine: ``{item_id: n_tests_given, "__tests__": n_tests}``.

    Read only when a rule uses them (``max_exposure_rate``); ``None`` otherwise.
    """
    if not runner.uses_exposure:
        return None
    rows = session.execute(
        select(ExposureCount.item_id, ExposureCount.count).where(
            ExposureCount.assessment_id == assessment_id
        )
    ).all()
    counts = {item_id: count for item_id, count in rows}
    counts["__tests__"] = session.scalar(
        select(Assessment.n_sessions).where(Assessment.id == assessment_id)
    )
    return counts


_EXPOSURE = ExposureCount.__table__


def _upsert(dialect: str) -> Any:
    insert_ = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert_(_EXPOSURE).values(
        assessment_id=bindparam("b_assessment"), item_id=bindparam("b_item"), count=1
    )
    return stmt.on_conflict_do_update(
        index_elements=[_EXPOSURE.c.assessment_id, _EXPOSURE.c.item_id],
        set_={"count": _EXPOSURE.c.count + 1},
    )


_EXPOSE = {dialect: _upsert(dialect) for dialect in ("sqlite", "postgresql")}
"""Count one exposure: the item's row is created by its first exposure (one statement)."""


def _expose(conn: Connection, assessment_id: str, item_id: str) -> None:
    conn.execute(_EXPOSE[conn.dialect.name], {"b_assessment": assessment_id, "b_item": item_id})


SESSION_OVERRIDES = ("start_theta", "prior_mean")
"""Configuration fields a single session may change (1EdTech CAT ``priorData``)."""

_OVERRIDDEN: dict[tuple[CATConfig, tuple[tuple[str, Any], ...]], CATConfig] = {}


def session_config(config: CATConfig, overrides: dict[str, Any] | None) -> CATConfig:
    """The assessment's configuration with a session's ``overrides`` applied (cached).

    Only the fields of :data:`SESSION_OVERRIDES` may change; ``None`` or ``{}`` keeps
    ``config`` itself (so that such a session runs exactly like a ``/v1`` one).
    """
    if not overrides:
        return config
    key = (config, tuple(sorted(overrides.items())))
    hit = _OVERRIDDEN.get(key)
    if hit is None:
        unknown = sorted(set(overrides) - set(SESSION_OVERRIDES))
        if unknown:
            raise ValueError(f"a session cannot override {unknown}")  # a bug, not input
        if len(_OVERRIDDEN) > 1024:
            _OVERRIDDEN.clear()
        hit = _OVERRIDDEN[key] = dataclasses.replace(config, **overrides)
    return hit


def visible_result(config: CATConfig, result: dict[str, Any], scope: str) -> dict[str, Any]:
    """The part of a single test's engine result that a key of ``scope`` may see.

    Admin keys see everything. Delivery keys see the estimates, the classification and
    their own answers (``item_id``, ``response``) when the configuration's
    ``show_results`` is true, otherwise only :data:`RESULT_WHEN_HIDDEN` (no scores);
    never which items were unscored pretest items. (A battery's profile follows the same
    rule, see :mod:`api.services.runners`.)
    """
    if scope == "admin":
        return result
    if not config.show_results:
        return {key: result[key] for key in RESULT_WHEN_HIDDEN if key in result}
    items = [{"item_id": it["item_id"], "response": it["response"]} for it in result["items"]]
    return {**result, "items": items}


def _delivery(session_id: str, seq: int, runner: Runner, state: Any, scope: str,
              practice: bool = False) -> dict[str, Any]:
    if state.finished:
        result = runner.result(state, scope)
        if practice:  # the predicate of "no credential": a practice result says so
            result = {**result, "practice": True}
        return {
            "session_id": session_id,
            "status": FINISHED,
            "seq": seq,
            "item": None,
            "result": result,
        }
    return {
        "session_id": session_id,
        "status": IN_PROGRESS,
        "seq": seq,
        "item": runner.present(state),
        "result": None,
    }


def start_session(
    db: Database,
    *,
    tenant: str,
    assessment_id: str,
    examinee_ref: str,
    seed: int | None = None,
    practice: bool | None = None,
    scope: str = "deliver",
    idempotency: IdempotencyKey | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start a test: the engine picks the first item, which counts as exposed.

    Parameters
    ----------
    db : Database
    tenant : str
    assessment_id : str
        An assessment of ``tenant`` (others are :class:`NotFoundError`).
    examinee_ref : str
        The platform's reference of the examinee (stored, never interpreted).
    seed : int, optional
        Seed of the engine's random choices, ``0 <= seed < 2**53``; default random.
    practice : bool, optional
        Whether the caller expects a practice session. A session is a practice session
        exactly when its assessment is a practice test (``mode: "practice"``): its
        responses are never exported for calibration, its items are practice items only
        (so it never counts in a secure item's exposure) and its result says
        ``"practice": true`` (it earns no credential). A value that contradicts the
        assessment's mode is :class:`InvalidRequestError`; ``None`` follows it.
    scope : str
        Scope of the caller (decides what a result shows when nothing can be given).
    idempotency : IdempotencyKey, optional
        A retry with the same key and body gets the first reply and starts nothing.
    overrides : dict, optional
        Changes of this session's configuration (see :func:`session_config`), stored
        with the session and applied to every later step.

    Returns
    -------
    dict
        ``{session_id, status, seq, item: {item_id, n_categories} | None, result}``.
    """
    seed = secrets.randbits(53) if seed is None else int(seed)
    stored_reply = replay(db, tenant, idempotency)
    if stored_reply is not None:
        return stored_reply
    with db.read() as session:  # parsing a bank never holds the write lock
        runner = load_runner(db, session, tenant=tenant, assessment_id=assessment_id)
    runner = runner.with_overrides(overrides)
    if practice is not None and bool(practice) != runner.practice:
        raise InvalidRequestError(
            f"assessment {assessment_id!r} is a practice test: its sessions are practice "
            "sessions (send practice: true, or leave it out)" if runner.practice else
            f"assessment {assessment_id!r} is a secure test, and its items must not be "
            "rehearsed: practice sessions run on practice-mode assessments (config mode: "
            "'practice', items of status 'practice'); leave practice out or false",
            details={"assessment_id": assessment_id, "practice": practice,
                     "mode": "practice" if runner.practice else "secure"})  # fmt: skip
    practice = runner.practice

    def create(session: Session) -> dict[str, Any]:
        exposure = _exposure(session, assessment_id, runner)
        state = runner.start(seed, exposure)
        conn = session.connection()
        assessments = Assessment.__table__
        conn.execute(
            update(assessments)
            .where(assessments.c.id == assessment_id)
            .values(n_sessions=assessments.c.n_sessions + 1)
        )
        if state.pending_item is not None:
            _expose(conn, assessment_id, state.pending_item)
        now = utcnow()
        session_id = str(uuid.uuid4())
        seq = 0 if state.finished else 1
        conn.execute(
            insert(TestSession.__table__).values(
                id=session_id,
                tenant=tenant,
                assessment_id=assessment_id,
                examinee_ref=examinee_ref,
                practice=bool(practice),
                seed=seed,
                seq=seq,
                status=FINISHED if state.finished else IN_PROGRESS,
                state=state.to_dict(),
                config_overrides=overrides or None,
                created_at=now,
                updated_at=now,
                finished_at=now if state.finished else None,
            )
        )
        return _delivery(session_id, seq, runner, state, scope, practice)

    return create_once(db, tenant, idempotency, create)


_SESSIONS = TestSession.__table__
_RESPONSES = Response.__table__
# statements built once (their SQL is compiled once per dialect and cached)
_LOCK_SESSION = (
    select(
        _SESSIONS.c.id,
        _SESSIONS.c.assessment_id,
        _SESSIONS.c.seq,
        _SESSIONS.c.status,
        _SESSIONS.c.state,
        _SESSIONS.c.config_overrides,
        _SESSIONS.c.practice,
    )
    .where(_SESSIONS.c.id == bindparam("b_id"), _SESSIONS.c.tenant == bindparam("b_tenant"))
    .with_for_update()
)
_STORED_RESPONSE = select(_RESPONSES.c.item_id, _RESPONSES.c.response, _RESPONSES.c.reply).where(
    _RESPONSES.c.session_id == bindparam("b_id"), _RESPONSES.c.seq == bindparam("b_seq")
)
_UPDATE_SESSION = update(_SESSIONS).where(_SESSIONS.c.id == bindparam("b_id"))
_INSERT_RESPONSE = insert(_RESPONSES)


def _locked_session(conn: Connection, tenant: str, session_id: str) -> Row[Any]:
    """The session's row, locked until the transaction ends (FOR UPDATE on PostgreSQL)."""
    if not is_server_id(session_id):
        raise NotFoundError("session", session_id)
    row = conn.execute(_LOCK_SESSION, {"b_id": session_id, "b_tenant": tenant}).first()
    if row is None:
        raise NotFoundError("session", session_id)
    return row


def respond(
    db: Database,
    *,
    tenant: str,
    session_id: str,
    item_id: str,
    seq: int,
    response: int,
    scope: str = "deliver",
) -> dict[str, Any]:
    """Record the response to the presented item and return the next item or the result.

    When the assessment gives feedback (``feedback`` of its configuration), the reply
    also has ``feedback``: ``{progress}`` and, in practice tests with ``"item"``,
    ``{item}`` (see :mod:`guidance.feedback`); it is stored with the reply, so a retry
    gets the same.

    Idempotent and ordered: the same ``(seq, item_id, response)`` sent again returns the
    reply stored the first time and records nothing; a different submission for an
    answered seq is :class:`StaleSeqError`, a seq beyond the presented item
    :class:`FutureSeqError`, another item :class:`ItemMismatchError`, a response outside
    the item's categories :class:`InvalidResponseError`, any new response to a finished
    test :class:`TestFinishedError`. The session row is locked for the whole
    transaction (``SELECT ... FOR UPDATE`` on PostgreSQL, the database write lock on
    SQLite), so two concurrent submissions cannot both apply.

    Returns
    -------
    dict
        ``{session_id, status, seq, item, result}`` as :func:`start_session`.
    """
    for _attempt in range(3):
        try:
            return _respond(db, tenant, session_id, item_id, seq, response, scope)
        except _ColdAssessment as cold:  # parse the bank outside the write lock, then retry
            with db.read() as session:
                load_runner(db, session, tenant=tenant, assessment_id=cold.assessment_id)
    return _respond(db, tenant, session_id, item_id, seq, response, scope)  # pragma: no cover


class _ColdAssessment(Exception):
    def __init__(self, assessment_id: str) -> None:
        self.assessment_id = assessment_id


def _respond(
    db: Database, tenant: str, session_id: str, item_id: str, seq: int, response: int, scope: str
) -> dict[str, Any]:
    with db.write() as session:
        conn = session.connection()
        row = _locked_session(conn, tenant, session_id)
        if not runner_is_loaded(db, tenant, row.assessment_id):
            raise _ColdAssessment(row.assessment_id)
        answered = row.seq if row.status == FINISHED else row.seq - 1
        if seq <= answered:
            stored = conn.execute(_STORED_RESPONSE, {"b_id": row.id, "b_seq": seq}).one()
            if stored.item_id == item_id and stored.response == response:
                if scope == "admin" and stored.reply.get("status") == FINISHED:
                    # the stored reply is the delivery view: an admin gets the admin view
                    # of the same final state, as the first call did
                    runner = load_runner(
                        db, session, tenant=tenant, assessment_id=row.assessment_id
                    ).with_overrides(row.config_overrides)
                    state = runner.read_state(row.state)
                    view = _delivery(row.id, stored.reply["seq"], runner, state, scope,
                                     row.practice)  # fmt: skip
                    if "feedback" in stored.reply:
                        view["feedback"] = stored.reply["feedback"]
                    return view
                return stored.reply
            raise StaleSeqError(
                f"seq {seq} of session {row.id!r} was already answered (item "
                f"{stored.item_id!r}, response {stored.response}); the current seq is "
                f"{row.seq}" + (" and the test is finished" if row.status == FINISHED else ""),
                details={"seq": seq, "current_seq": row.seq, "status": row.status},
            )
        if row.status == FINISHED:
            raise TestFinishedError(
                f"session {row.id!r} is finished; it took {answered} responses",
                details={"session_id": row.id, "seq": seq, "current_seq": row.seq},
            )
        if seq > row.seq:
            raise FutureSeqError(
                f"seq {seq} is ahead of session {row.id!r}: the presented item has seq {row.seq}",
                details={"seq": seq, "current_seq": row.seq},
            )
        runner = load_runner(db, session, tenant=tenant, assessment_id=row.assessment_id)
        runner = runner.with_overrides(row.config_overrides)
        state = runner.read_state(row.state)
        exposure = _exposure(session, row.assessment_id, runner)
        new_state = runner.respond(state, item_id, response, exposure)
        now = utcnow()
        changes: dict[str, Any] = {"state": new_state.to_dict(), "updated_at": now}
        if new_state.finished:
            changes |= {"status": FINISHED, "finished_at": now}
            next_seq = seq
        else:
            next_seq = changes["seq"] = seq + 1
            _expose(conn, row.assessment_id, new_state.pending_item)
        conn.execute(_UPDATE_SESSION, {"b_id": row.id, **changes})
        reply = _delivery(row.id, next_seq, runner, new_state, "deliver", row.practice)
        if runner.gives_feedback:
            reply["feedback"] = runner.feedback(state, new_state, item_id, response)
        conn.execute(
            _INSERT_RESPONSE,
            {
                "session_id": row.id,
                "seq": seq,
                "item_id": item_id,
                "response": response,
                "received_at": now,
                "reply": reply,
            },
        )
        if scope == "admin":
            view = _delivery(row.id, next_seq, runner, new_state, scope, row.practice)
            if "feedback" in reply:
                view["feedback"] = reply["feedback"]
            return view
        return reply


def get_session(db: Database, *, tenant: str, session_id: str, scope: str) -> dict[str, Any]:
    """Status, responses so far, the presented item, and the result once finished.

    ``practice`` is true for a practice session (see :func:`start_session`): it never
    earns a credential.
    """
    if not is_server_id(session_id):
        raise NotFoundError("session", session_id)
    with db.read() as session:
        row = session.scalars(
            select(TestSession).where(TestSession.id == session_id, TestSession.tenant == tenant)
        ).first()
        if row is None:
            raise NotFoundError("session", session_id)
        responses = session.scalars(
            select(Response).where(Response.session_id == row.id).order_by(Response.seq)
        ).all()
        runner = load_runner(db, session, tenant=tenant, assessment_id=row.assessment_id)
    runner = runner.with_overrides(row.config_overrides)
    state = runner.read_state(row.state)
    delivery = _delivery(row.id, row.seq, runner, state, scope, row.practice)
    return {
        "session_id": row.id,
        "assessment_id": row.assessment_id,
        "examinee_ref": row.examinee_ref,
        "practice": bool(row.practice),
        "status": row.status,
        "seq": row.seq,
        "n_answered": len(responses),
        "item": delivery["item"],
        "responses": [
            {
                "seq": r.seq,
                "item_id": r.item_id,
                "response": r.response,
                "received_at": iso(r.received_at),
            }
            for r in responses
        ],
        "result": delivery["result"],
        "created_at": iso(row.created_at),
        "finished_at": iso(row.finished_at),
    }
