"""API keys: creation, hashing and authentication.

A key reads ``zc_<key_id>_<secret>``. The database keeps the public ``key_id`` and the
SHA-256 of the secret only (the secret has 256 random bits, so a fast hash is the right
one: there is nothing to brute-force), so a stolen database gives no usable key. The key
itself is shown once, when created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from api.db import Database
from api.errors import AuthenticationError, InvalidRequestError, PermissionDeniedError
from api.models import ApiKey, utcnow

SCOPES = ("admin", "deliver")
"""``admin``: banks, assessments, sessions and full results; ``deliver``: sessions only."""

_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_TOKEN = re.compile(r"^zc_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant and scope of a valid API key."""

    tenant: str
    scope: str
    key_id: str

    def require(self, scope: str) -> None:
        """Raise :class:`PermissionDeniedError` unless this key may act with ``scope``.

        ``admin`` keys may do everything; ``deliver`` keys only delivery.
        """
        if self.scope != "admin" and self.scope != scope:
            raise PermissionDeniedError(
                f"this API key has scope {self.scope!r}; the request needs scope {scope!r}",
                details={"scope": self.scope, "required": scope},
            )


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_tenant(tenant: str) -> str:
    """Validate a tenant name: 1-100 characters of letters, digits, ``_ . -``."""
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise InvalidRequestError(
            f"tenant must be 1-100 letters, digits, '_', '.' or '-' (starting with a letter "
            f"or digit), got {tenant!r}",
            details={"tenant": str(tenant)},
        )
    return tenant


def create_key(db: Database, *, tenant: str, scope: str, label: str = "") -> tuple[str, Principal]:
    """Create an API key and return it (the only time it is visible) with its principal.

    Parameters
    ----------
    db : Database
    tenant : str
        Tenant the key belongs to (see :func:`check_tenant`).
    scope : {"admin", "deliver"}
    label : str, optional
        Free text to recognise the key later.

    Returns
    -------
    token : str
        ``zc_<key_id>_<secret>``, to send as ``Authorization: Bearer <token>``.
    principal : Principal
    """
    check_tenant(tenant)
    if scope not in SCOPES:
        raise InvalidRequestError(
            f"scope must be one of {', '.join(SCOPES)}, got {scope!r}", details={"scope": scope}
        )
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with db.write() as session:
        session.add(
            ApiKey(
                key_id=key_id,
                secret_hash=_hash(secret),
                tenant=tenant,
                scope=scope,
                label=label,
                created_at=utcnow(),
            )
        )
    return f"zc_{key_id}_{secret}", Principal(tenant, scope, key_id)


class KeyVerifier:
    """Checks bearer tokens against the database, caching good ones for 30 seconds.

    Parameters
    ----------
    db : Database
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def cached(self, authorization: str | None) -> Principal | None:
        """The principal of a recently verified header value, or ``None`` (no I/O)."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        hit = self._cache.get(_hash(token.strip()))  # dict reads are atomic under the GIL
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def verify(self, authorization: str | None) -> Principal:
        """Return the principal of an ``Authorization: Bearer <token>`` header value.

        Raises
        ------
        AuthenticationError
            Header missing or not a bearer token, unknown key, wrong secret, revoked key.
        """
        if not authorization:
            raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("the Authorization header must read 'Bearer <key>'")
        digest = _hash(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        match = _TOKEN.match(token)
        if match is None:
            raise AuthenticationError("invalid API key")
        key_id, secret = match.groups()
        with self.db.read() as session:
            row = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).first()
        if (
            row is None
            or row.revoked_at is not None
            or not hmac.compare_digest(row.secret_hash, _hash(secret))
        ):
            raise AuthenticationError("invalid or revoked API key")
        principal = Principal(row.tenant, row.scope, row.key_id)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + _CACHE_SECONDS, principal)
        return principal
