"""The tenants' Bitstring Status Lists: index allocation, revocation, the signed list.

A list holds 131,072 one-bit statuses (``revocation``), the minimum of W3C Bitstring Status
List v1.0. Badges get a *random* free index (the spec's advice: an index says nothing of
the order or number of badges); a list takes at most half its length, so that finding a
free index takes about two tries at worst, then a new list is opened. Each list belongs to
one signing key and one issuer id (those of its badges), so that a list's issuer is always
its badges' issuer, also after a key rotation or a newly configured did:web domain; it is
re-signed by its own key whenever a bit changes. The signed
``BitstringStatusListCredential`` is stored and served as is at its stable URL,
``<public url>/v1/status-lists/<list id>``, without a key.

The bitstring encoding (GZIP + multibase base64url) is :mod:`guidance.badges.status_list`.
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db import Database
from api.models import BadgeIssuer, BadgeKey, IssuedBadge, StatusList, utcnow
from api.services.badge_keys import load_private, method_for, profile
from guidance.badges.credential import xsd
from guidance.badges.proof import CRYPTOSUITE, PROOF_TYPE, sign
from guidance.badges.status_list import BitstringStatusList, status_list_credential

LIST_LENGTH = 131_072
"""Entries of each status list (16 KB)."""
FILL = LIST_LENGTH // 2
"""Badges per list at most (random free indices stay cheap to find)."""
PATH = "/v1/status-lists/"


def list_url(public_url: str, list_id: str) -> str:
    """The stable URL of a status list credential."""
    return f"{public_url.rstrip('/')}{PATH}{list_id}"


def proof_options(method: str) -> dict[str, Any]:
    """eddsa-rdfc-2022 proof options for ``method``, created now."""
    return {"type": PROOF_TYPE, "cryptosuite": CRYPTOSUITE, "created": xsd(utcnow()),
            "verificationMethod": method, "proofPurpose": "assertionMethod"}  # fmt: skip


def _sign_list(row: StatusList, bits: BitstringStatusList, issuer: BadgeIssuer,
               key: BadgeKey, private: Any) -> None:
    document = status_list_credential(profile(issuer, row.issuer_id), row.url, bits, utcnow())
    signed = sign(document, proof_options(method_for(row.issuer_id, key)), private)
    row.encoded = document["credentialSubject"]["encodedList"]
    row.document = json.dumps(signed, separators=(",", ":"))
    row.updated_at = utcnow()


def open_list(session: Session, *, issuer: BadgeIssuer, key: BadgeKey, private: Any,
              issuer_did: str, public_url: str) -> StatusList:
    """A status list of (tenant, key, issuer id) with room, locked; a new one if none."""
    row = session.scalars(select(StatusList).where(
        StatusList.tenant == issuer.tenant, StatusList.key_id == key.key_id,
        StatusList.issuer_id == issuer_did, StatusList.n_used < FILL)
        .order_by(StatusList.updated_at).with_for_update()).first()  # fmt: skip
    if row is not None:
        return row
    list_id = str(uuid.uuid4())
    row = StatusList(id=list_id, tenant=issuer.tenant, key_id=key.key_id,
                     issuer_id=issuer_did, url=list_url(public_url, list_id),
                     length=LIST_LENGTH, n_used=0)  # fmt: skip
    _sign_list(row, BitstringStatusList(LIST_LENGTH), issuer, key, private)
    session.add(row)
    session.flush()
    return row


def allocate(session: Session, row: StatusList) -> int:
    """A random index of ``row`` that no badge uses yet (the list row is locked)."""
    while True:
        index = secrets.randbelow(row.length)
        taken = session.scalar(select(IssuedBadge.id).where(
            IssuedBadge.status_list_id == row.id, IssuedBadge.status_index == index))
        if taken is None:
            row.n_used += 1
            return index


def set_status(session: Session, *, secret: str, row: StatusList, index: int,
               value: bool) -> None:
    """Set bit ``index`` of the (locked) list and re-sign it with the list's own key."""
    from api.services.badge_keys import key_row

    bits = BitstringStatusList.decode(row.encoded)
    if bits.get(index) == value:
        return
    bits.set(index, value)
    issuer = session.get(BadgeIssuer, row.tenant)
    key = key_row(session, row.tenant, row.key_id)
    _sign_list(row, bits, issuer, key, load_private(secret, key))


def lock_list(session: Session, tenant: str, list_id: str) -> StatusList:
    """The tenant's status list ``list_id``, locked for update."""
    return session.scalars(select(StatusList).where(
        StatusList.id == list_id, StatusList.tenant == tenant).with_for_update()).one()


def _published(session: Session, where: Any) -> dict[str, Any] | None:
    document = session.scalar(select(StatusList.document).where(where))
    return None if document is None else json.loads(document)


def published_status_list(db: Database | Session, url: str) -> dict[str, Any] | None:
    """The signed ``BitstringStatusListCredential`` published at ``url``, or ``None``.

    Parameters
    ----------
    db : Database or sqlalchemy.orm.Session
        The service database (a read transaction is opened) or an open session.
    url : str
        The ``statusListCredential`` of a badge, compared exactly with the stored URLs.
    """
    if not isinstance(url, str):
        return None
    if isinstance(db, Session):
        return _published(db, StatusList.url == url)
    with db.read() as session:
        return _published(session, StatusList.url == url)


def status_list_by_id(db: Database, list_id: str) -> dict[str, Any] | None:
    """The signed status list credential with id ``list_id`` (the public route)."""
    with db.read() as session:
        return _published(session, StatusList.id == list_id)


__all__ = ["FILL", "LIST_LENGTH", "allocate", "list_url", "lock_list", "open_list",
           "proof_options", "published_status_list", "set_status", "status_list_by_id"]
