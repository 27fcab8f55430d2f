"""Signed values of the service: 1EdTech CAT session states and OAuth 2 access tokens.

Both are ``<base64url(JSON payload)>.<base64url(HMAC-SHA256)>`` under the service secret:
readable by nobody who needs them (they are opaque to the platform) and refused when
altered by one bit, so the service never trusts a value it did not issue. The secret is
``ZAPCAT_SECRET_KEY`` when set, otherwise 32 random bytes stored in the database the first
time they are needed (so that every worker and every restart agrees on them).

Access tokens come from the OAuth 2 client-credentials grant (RFC 6749 section 4.4):
the client id is an API key's id (the 12 hex digits after ``zc_``), the client secret the
rest of the key; the token carries that key's tenant and scope and expires after
``ZAPCAT_TOKEN_TTL`` seconds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.db import Database
from api.errors import AuthenticationError
from api.models import ServiceSecret, utcnow
from api.services.keys import KeyVerifier, Principal
from item_banks.errors import ZapcatError

TOKEN_PREFIX = "zct."
"""Access tokens start with this (API keys with ``zc_``)."""

_SECRET_NAME = "hmac"
_SECRETS: dict[str, bytes] = {}
_LOCK = threading.Lock()


class InvalidSignedValueError(ZapcatError):
    """A signed value (session state) was altered, forged or issued for something else."""

    code = "invalid_session_state"


def service_secret(db: Database) -> bytes:
    """The HMAC key: ``settings.secret_key``, or the one stored in the database.

    The stored one is created on first use; two workers creating it at once agree on the
    one that was committed first.
    """
    configured = db.settings.secret_key
    if configured:
        return hashlib.sha256(configured.encode()).digest()
    hit = _SECRETS.get(db.uid)
    if hit is not None:
        return hit
    with _LOCK:
        query = select(ServiceSecret.value).where(ServiceSecret.name == _SECRET_NAME)
        with db.read() as session:
            value = session.scalar(query)
        if value is None:
            try:
                with db.write() as session:
                    session.add(
                        ServiceSecret(
                            name=_SECRET_NAME, value=secrets.token_hex(32), created_at=utcnow()
                        )
                    )
            except IntegrityError:  # another worker stored it first
                pass
            with db.read() as session:
                value = session.scalar(query)
        _SECRETS[db.uid] = key = bytes.fromhex(value)
        return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: str) -> bytes:
    return hmac.new(key, f"{purpose}\n{body}".encode(), hashlib.sha256).digest()


def sign(db: Database, purpose: str, payload: dict[str, Any]) -> str:
    """``payload`` as a signed string, valid only for ``purpose``.

    Parameters
    ----------
    db : Database
        Names the secret.
    purpose : str
        ``"session-state"`` or ``"access-token"``: a value signed for one is refused as
        the other.
    payload : dict
        JSON-ready values.
    """
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(_mac(service_secret(db), purpose, body))}"


def unsign(db: Database, purpose: str, value: object) -> dict[str, Any] | None:
    """The payload of a value made by :func:`sign`, or ``None`` if it is not authentic."""
    if not isinstance(value, str) or value.count(".") != 1 or len(value) > 4096:
        return None
    body, mac = value.split(".")
    try:
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(given, _mac(service_secret(db), purpose, body)):
        return None
    try:
        payload = json.loads(_unb64(body))
    except (binascii.Error, ValueError):  # pragma: no cover - signed by us, so valid
        return None
    return payload if isinstance(payload, dict) else None


def issue_token(db: Database, keys: KeyVerifier, client_id: str, client_secret: str) -> dict:
    """Exchange API-key credentials for a short-lived bearer token (client credentials).

    Parameters
    ----------
    db : Database
    keys : KeyVerifier
    client_id : str
        The key's id: 12 hex digits (``zc_<client_id>_<client_secret>`` is the key);
        ``zc_<id>`` is accepted too.
    client_secret : str
        The key's secret part (or the whole key).

    Returns
    -------
    dict
        The RFC 6749 token response ``{access_token, token_type, expires_in, scope}``.

    Raises
    ------
    AuthenticationError
        Unknown or revoked key, or a wrong secret.
    """
    client_id = client_id.strip().removeprefix("zc_")  # "zc_<id>" is accepted too
    client_secret = client_secret.strip().removeprefix(f"zc_{client_id}_")  # so is the key
    principal = keys.verify(f"Bearer zc_{client_id}_{client_secret}")
    ttl = float(db.settings.token_ttl)
    payload = {
        "tenant": principal.tenant,
        "scope": principal.scope,
        "key_id": principal.key_id,
        "exp": round(time.time() + ttl, 3),
    }
    return {
        "access_token": TOKEN_PREFIX + sign(db, "access-token", payload),
        "token_type": "Bearer",
        "expires_in": int(ttl),
        "scope": principal.scope,
    }


def verify_bearer(db: Database, keys: KeyVerifier, authorization: str | None) -> Principal:
    """The principal of an API key or of an access token from :func:`issue_token`.

    Raises
    ------
    AuthenticationError
        Missing header, bad or expired token, unknown or revoked key.
    """
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        principal = keys.cached(authorization)
        return principal if principal is not None else keys.verify(authorization)
    payload = unsign(db, "access-token", token[len(TOKEN_PREFIX) :])
    if payload is None:
        raise AuthenticationError("invalid access token: it was not issued by this service")
    if float(payload.get("exp", 0)) <= time.time():
        raise AuthenticationError(
            "the access token has expired; request a new one from the token endpoint",
            details={"expired_at": payload.get("exp")},
        )
    return Principal(str(payload["tenant"]), str(payload["scope"]), str(payload["key_id"]))
