"""Closing sessions that nobody finishes.

Platforms never say that a test was abandoned (the 1EdTech CAT client never calls DELETE),
so the service closes, on a schedule, every unfinished session with no activity for
``ZAPCAT_SESSION_IDLE`` seconds: its status becomes ``finished`` with stop reason
``"expired"``, the presented item is withdrawn from its stored engine state (``seq``
becomes that of the last answer, as for any finished session) and no further response
is accepted. The recorded responses are kept (the response log is
append-only and is what calibration reads), and so are the estimate and its history, so
that the closed session still reports the ability reached.

The same schedule prunes the stored replies of idempotent creates
(:mod:`api.services.idempotency`) older than ``ZAPCAT_IDEMPOTENCY_TTL`` seconds (default
24 h): a client retries within minutes, and a key older than that is simply new again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import bindparam, delete, select, update

from api.db import Database
from api.models import IdempotentRequest, TestSession, utcnow
from api.services.sessions import FINISHED, IN_PROGRESS

log = logging.getLogger("zapcat.api.cleanup")

EXPIRED = "expired"
"""Stop reason of a session closed for inactivity."""

_SESSIONS = TestSession.__table__


def close_idle_sessions(db: Database, *, idle_seconds: float, limit: int = 500) -> int:
    """Close unfinished sessions idle for more than ``idle_seconds``.

    Parameters
    ----------
    db : Database
    idle_seconds : float
        Seconds since the last response (or the start), > 0.
    limit : int, default 500
        Most sessions closed in one call (the schedule comes back for the rest).

    Returns
    -------
    int
        Number of sessions closed.
    """
    if not idle_seconds > 0:
        raise ValueError(f"idle_seconds must be > 0, got {idle_seconds!r}")
    now = utcnow()
    cutoff = now - timedelta(seconds=float(idle_seconds))
    with db.read() as session:
        ids = session.scalars(
            select(TestSession.id)
            .where(TestSession.status == IN_PROGRESS, TestSession.updated_at < cutoff)
            .order_by(TestSession.updated_at)
            .limit(limit)
        ).all()
    closed = 0
    for session_id in ids:
        with db.write() as session:  # one row at a time: never holds many locks
            conn = session.connection()
            row = conn.execute(
                select(
                    _SESSIONS.c.state, _SESSIONS.c.seq, _SESSIONS.c.status, _SESSIONS.c.updated_at
                )
                .where(_SESSIONS.c.id == bindparam("b_id"))
                .with_for_update(),
                {"b_id": session_id},
            ).one()
            updated = (
                row.updated_at
                if row.updated_at.tzinfo
                else row.updated_at.replace(tzinfo=now.tzinfo)
            )
            if row.status != IN_PROGRESS or updated >= cutoff:  # answered meanwhile
                continue
            state: dict[str, Any] = {
                **row.state,
                "pending_item": None,
                "finished": True,
                "stop_reason": EXPIRED,
            }
            conn.execute(
                update(_SESSIONS)
                .where(_SESSIONS.c.id == bindparam("b_id"))
                .values(
                    state=state, seq=row.seq - 1, status=FINISHED, finished_at=now, updated_at=now
                ),
                {"b_id": session_id},
            )
            closed += 1
    if closed:
        log.info("closed %d sessions idle for more than %g s", closed, idle_seconds)
    return closed


def prune_idempotency_keys(db: Database, *, older_than: float, limit: int = 1000) -> int:
    """Delete the stored replies of idempotent creates older than ``older_than`` seconds.

    A retry with a pruned key is a new request (it creates again), so ``older_than``
    must exceed the longest time a client keeps retrying.

    Parameters
    ----------
    db : Database
    older_than : float
        Age in seconds, > 0.
    limit : int, default 1000
        Most keys deleted in one transaction (the schedule comes back for the rest).

    Returns
    -------
    int
        Number of keys deleted.
    """
    if not older_than > 0:
        raise ValueError(f"older_than must be > 0, got {older_than!r}")
    cutoff = utcnow() - timedelta(seconds=float(older_than))
    with db.write() as session:
        ids = session.scalars(
            select(IdempotentRequest.id)
            .where(IdempotentRequest.created_at < cutoff)
            .order_by(IdempotentRequest.id)
            .limit(limit)
        ).all()
        if ids:
            session.execute(delete(IdempotentRequest).where(IdempotentRequest.id.in_(ids)))
    if ids:
        log.info("pruned %d idempotency keys older than %g s", len(ids), older_than)
    return len(ids)


def run_cleanup(db: Database, *, idle_seconds: float, idempotency_ttl: float) -> None:
    """One clean-up: idle sessions, then old idempotency keys.

    Each part is skipped when its setting (``idle_seconds``, ``idempotency_ttl``) is 0.
    """
    if idle_seconds > 0:
        close_idle_sessions(db, idle_seconds=idle_seconds)
    if idempotency_ttl > 0:
        while prune_idempotency_keys(db, older_than=idempotency_ttl) > 0:
            pass


@asynccontextmanager
async def cleanup_schedule(
    db: Database, *, every: float, idle_seconds: float, idempotency_ttl: float = 0.0
) -> AsyncIterator[None]:
    """Run :func:`run_cleanup` every ``every`` seconds while the context is open.

    ``every <= 0``, or both ``idle_seconds`` and ``idempotency_ttl`` 0, runs nothing.
    Each worker runs its own schedule; two clean-ups at once are harmless (each session
    is re-checked under its lock, and deleting a deleted key deletes nothing).
    """
    if every <= 0 or (idle_seconds <= 0 and idempotency_ttl <= 0):
        yield
        return

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await anyio.to_thread.run_sync(
                    lambda: run_cleanup(
                        db, idle_seconds=idle_seconds, idempotency_ttl=idempotency_ttl
                    )
                )
            except Exception:  # a database outage must not end the schedule
                log.exception("clean-up failed; retrying in %g s", every)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
