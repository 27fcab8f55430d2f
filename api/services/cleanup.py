"""Closing sessions that nobody finishes.

Platforms never say that a test was abandoned (the 1EdTech CAT client never calls DELETE),
so the service closes, on a schedule, every unfinished session with no activity for
``ZAPCAT_SESSION_IDLE`` seconds: its status becomes ``finished`` with stop reason
``"expired"``, the presented item is withdrawn from its stored engine state (``seq``
becomes that of the last answer, as for any finished session) and no further response
is accepted. The recorded responses are kept (the response log is
append-only and is what calibration reads), and so are the estimate and its history, so
that the closed session still reports the ability reached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import bindparam, select, update

from api.db import Database
from api.models import TestSession, utcnow
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


@asynccontextmanager
async def cleanup_schedule(
    db: Database, *, every: float, idle_seconds: float
) -> AsyncIterator[None]:
    """Run :func:`close_idle_sessions` every ``every`` seconds while the context is open.

    ``every <= 0`` or ``idle_seconds <= 0`` runs nothing. Each worker runs its own
    schedule; two clean-ups at once are harmless (each row is re-checked under its lock).
    """
    if every <= 0 or idle_seconds <= 0:
        yield
        return

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await anyio.to_thread.run_sync(
                    lambda: close_idle_sessions(db, idle_seconds=idle_seconds)
                )
            except Exception:  # a database outage must not end the schedule
                log.exception("session clean-up failed; retrying in %g s", every)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
