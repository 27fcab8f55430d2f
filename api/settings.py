"""Settings of the delivery service, read once from the environment.

=========================  ==========================================================
variable                   meaning
=========================  ==========================================================
``ZAPCAT_DATABASE_URL``    SQLAlchemy URL; default ``sqlite:///zapcat.db`` (a file in
                           the working directory). ``postgresql+psycopg://...`` for
                           several workers or machines.
``ZAPCAT_DB_POOL_SIZE``    connections per worker process (PostgreSQL), default 10.
``ZAPCAT_SQLITE_TIMEOUT``  seconds a SQLite writer waits for the lock, default 30.
``ZAPCAT_THREADS``         threads per worker running requests, default 4.
``ZAPCAT_MAX_BODY_BYTES``  largest request body accepted, default 67108864 (64 MiB, a
                           bank of about 300,000 items); larger ones are 413.
``ZAPCAT_IMS_CAT_VERSION`` version segment of the 1EdTech CAT API, ``/ims/cat/<v>``,
                           default ``v1p0``.
``ZAPCAT_SECRET_KEY``      HMAC key of 1EdTech CAT session states and access tokens;
                           default a random key stored in the database on first use.
                           Badges need it set (at least 32 characters): it encrypts
                           the tenants' signing keys (HKDF -> AES-256-GCM).
``ZAPCAT_PUBLIC_URL``      base URL of the service as the world reaches it, put in
                           badges (status lists, evidence); default the request's.
``ZAPCAT_BADGE_VALID_DAYS`` days a badge is valid (``validUntil``), default 1095;
                           0 issues badges without an end date.
``ZAPCAT_TOKEN_TTL``       seconds an OAuth 2 access token is valid, default 900.
``ZAPCAT_SESSION_IDLE``    seconds after which an unfinished session with no activity
                           is closed (``expired``), default 86400; 0 never.
``ZAPCAT_CLEANUP_EVERY``   seconds between two clean-ups of idle sessions, default
                           300; 0 turns the schedule off.
``ZAPCAT_IDEMPOTENCY_TTL`` seconds an ``Idempotency-Key``'s reply is kept (pruned by
                           the same clean-up), default 86400; 0 keeps them forever.
``ZAPCAT_EXPORT_SECRET``   key of the examinee pseudonyms in response exports (stable
                           across exports when set; a random key per export otherwise).
=========================  ==========================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///zapcat.db"


@dataclass(frozen=True)
class Settings:
    """Service settings (one immutable value, passed to :func:`api.app.create_app`).

    Parameters
    ----------
    database_url : str
        SQLAlchemy database URL. ``postgresql://`` is read as ``postgresql+psycopg://``.
    pool_size : int
        Connection pool size per worker process (ignored for SQLite), >= 1.
    sqlite_timeout : float
        Seconds a SQLite writer waits for the database lock, > 0.
    threads : int
        Threads per worker process that run requests (database and engine work), >= 1.
    max_body_bytes : int
        Largest request body accepted (bytes); a larger one is ``413 payload_too_large``.
    ims_cat_version : str
        Version segment of the 1EdTech CAT API routes (``/ims/cat/{version}/...``).
    secret_key : str or None
        HMAC key of session states and access tokens (None: one stored in the database).
    token_ttl : float
        Lifetime of OAuth 2 access tokens in seconds, > 0.
    session_idle : float
        Seconds of inactivity after which an unfinished session is closed (0: never).
    cleanup_every : float
        Seconds between clean-ups of idle sessions (0: no schedule).
    idempotency_ttl : float
        Seconds the reply of an ``Idempotency-Key`` is kept before the clean-up prunes
        it (0: never pruned).
    export_secret : str, optional
        Key of the examinee pseudonyms of response exports.
    public_url : str, optional
        Base URL put in badges (status list URLs, evidence); None: the request's.
    badge_valid_days : int
        Days from issue to a badge's ``validUntil``, >= 0 (0: no end date).
    """

    database_url: str = DEFAULT_DATABASE_URL
    pool_size: int = 10
    sqlite_timeout: float = 30.0
    threads: int = 4
    max_body_bytes: int = 64 * 2**20
    ims_cat_version: str = "v1p0"
    secret_key: str | None = None
    token_ttl: float = 900.0
    session_idle: float = 86400.0
    cleanup_every: float = 300.0
    idempotency_ttl: float = 86400.0
    export_secret: str | None = None
    public_url: str | None = None
    badge_valid_days: int = 1095

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default ``os.environ``)."""
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("ZAPCAT_DATABASE_URL", DEFAULT_DATABASE_URL),
            pool_size=int(env.get("ZAPCAT_DB_POOL_SIZE", "10")),
            sqlite_timeout=float(env.get("ZAPCAT_SQLITE_TIMEOUT", "30")),
            threads=int(env.get("ZAPCAT_THREADS", "4")),
            max_body_bytes=int(env.get("ZAPCAT_MAX_BODY_BYTES", str(64 * 2**20))),
            ims_cat_version=env.get("ZAPCAT_IMS_CAT_VERSION", "v1p0"),
            secret_key=env.get("ZAPCAT_SECRET_KEY") or None,
            token_ttl=float(env.get("ZAPCAT_TOKEN_TTL", "900")),
            session_idle=float(env.get("ZAPCAT_SESSION_IDLE", "86400")),
            cleanup_every=float(env.get("ZAPCAT_CLEANUP_EVERY", "300")),
            idempotency_ttl=float(env.get("ZAPCAT_IDEMPOTENCY_TTL", "86400")),
            export_secret=env.get("ZAPCAT_EXPORT_SECRET") or None,
            public_url=env.get("ZAPCAT_PUBLIC_URL") or None,
            badge_valid_days=int(env.get("ZAPCAT_BADGE_VALID_DAYS", "1095")),
        )

    @property
    def url(self) -> str:
        """The database URL with the psycopg 3 driver made explicit for PostgreSQL."""
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
