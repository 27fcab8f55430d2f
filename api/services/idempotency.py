"""Idempotent creates: an ``Idempotency-Key`` makes a retried ``POST`` return the first reply.

A client that sends ``Idempotency-Key: <key>`` with ``POST /v1/sessions``, ``/v1/banks``
or ``/v1/assessments`` and then retries (because the reply was lost) gets the reply of
the first call, and nothing is created twice. The key's reply is stored **in the same
transaction** as what was created, so after a crash either both exist or neither. The
same key with a different request (method, path or body) is ``409 idempotency_conflict``.
Keys belong to a tenant; only successful replies are stored (a refused request created
nothing, and its retry is simply judged again).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db import Database
from api.models import IdempotentRequest, utcnow
from item_banks.errors import ZapcatError

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"
"""Keys are 1-200 printable ASCII characters without spaces (a UUID is a good choice)."""


class IdempotencyConflictError(ZapcatError):
    """The ``Idempotency-Key`` was used before with a different request."""

    code = "idempotency_conflict"


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's key and the fingerprint of the request it came with."""

    key: str
    fingerprint: str


def request_key(key: str | None, method: str, path: str, body: Any) -> IdempotencyKey | None:
    """The :class:`IdempotencyKey` of a request, ``None`` when it sent no key.

    Parameters
    ----------
    key : str or None
        The header's value (already checked against :data:`KEY_PATTERN`).
    method, path : str
    body : object
        The parsed JSON body; its canonical form (sorted keys) is hashed, so the same
        JSON written with other spacing or key order is the same request.
    """
    if key is None:
        return None
    return IdempotencyKey(key, fingerprint(method, path, body))


def fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 of a request: method, path and the canonical JSON of its body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _stored(session: Session, tenant: str, idem: IdempotencyKey) -> dict[str, Any] | None:
    row = session.scalars(
        select(IdempotentRequest).where(
            IdempotentRequest.tenant == tenant, IdempotentRequest.key == idem.key
        )
    ).first()
    if row is None:
        return None
    if row.fingerprint != idem.fingerprint:
        raise IdempotencyConflictError(
            f"the Idempotency-Key {idem.key!r} was already used with a different request; "
            "send a new key for a new request, or the identical request to get its reply",
            details={"idempotency_key": idem.key},
        )
    return row.reply


def replay(db: Database, tenant: str, idem: IdempotencyKey | None) -> dict[str, Any] | None:
    """The stored reply of an earlier identical request, read before any heavy work."""
    if idem is None:
        return None
    with db.read() as session:
        return _stored(session, tenant, idem)


def create_once(
    db: Database,
    tenant: str,
    idem: IdempotencyKey | None,
    create: Callable[[Session], dict[str, Any]],
    *,
    status: int = 201,
    attempts: int = 5,
) -> dict[str, Any]:
    """Run ``create`` in a write transaction, at most once per idempotency key.

    Parameters
    ----------
    db : Database
    tenant : str
    idem : IdempotencyKey or None
        Without a key, ``create`` simply runs (retried on an ``IntegrityError``, which
        ``create`` uses to signal a lost race such as a taken version number).
    create : callable
        ``create(session) -> reply``; runs inside the transaction.
    status : int, default 201
        HTTP status stored with the reply.
    attempts : int, default 5

    Returns
    -------
    dict
        The reply: the new one, or the one stored by the first request with this key.

    Raises
    ------
    IdempotencyConflictError
        The key was used with a different request.
    """
    for _attempt in range(attempts):
        try:
            with db.write() as session:
                if idem is not None:
                    stored = _stored(session, tenant, idem)
                    if stored is not None:
                        return stored
                reply = create(session)
                if idem is not None:
                    session.add(
                        IdempotentRequest(
                            tenant=tenant,
                            key=idem.key,
                            fingerprint=idem.fingerprint,
                            status=status,
                            reply=reply,
                            created_at=utcnow(),
                        )
                    )
                    session.flush()
                return reply
        except IntegrityError:  # a concurrent request won the race: look again
            continue
    raise RuntimeError(f"no create after {attempts} attempts")  # pragma: no cover
