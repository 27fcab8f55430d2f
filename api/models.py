"""Database tables of the delivery service (SQLAlchemy 2 declarative models).

The schema is created and upgraded by the Alembic migrations in ``api/migrations``;
these classes are the one description of it that the code uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 text of a stored time, always with its UTC offset (SQLite drops it)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention (for migrations)."""

    metadata = MetaData(naming_convention=NAMING)


Timestamp = DateTime(timezone=True)


class ApiKey(Base):
    """An API key: public ``key_id`` plus the SHA-256 of its secret (never the secret)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    scope: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class BankVersion(Base):
    """One published, immutable version of a named item bank of a tenant."""

    __tablename__ = "bank_versions"
    __table_args__ = (UniqueConstraint("tenant", "name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    n_items: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    # the zapcat-bank/1 JSON of versions published before migration 0007; later versions
    # have "" here: their arrays hold the whole document
    document: Mapped[str] = mapped_column(Text)
    # its zapcat-bank-arrays/1 binary (item_banks.columns), read only when loading the bank;
    # None for versions published before migration 0007
    arrays: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class CatalogueVersion(Base):
    """One published, immutable version of a named credential catalogue of a tenant."""

    __tablename__ = "catalogue_versions"
    __table_args__ = (UniqueConstraint("tenant", "name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    n_credentials: Mapped[int] = mapped_column(Integer)
    n_roles: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[str] = mapped_column(Text)  # the zapcat-catalogue/1 JSON, as published
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Assessment(Base):
    """A pinned bank version plus an engine configuration (JSON of ``CATConfig.to_dict``)."""

    __tablename__ = "assessments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    bank_version_id: Mapped[int] = mapped_column(ForeignKey("bank_versions.id"))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    n_sessions: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ExposureCount(Base):
    """How many sessions of an assessment were presented an item."""

    __tablename__ = "exposure_counts"

    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class TestSession(Base):
    """One examinee's test: the engine state (JSON of ``CATState.to_dict``) and its ``seq``.

    ``seq`` is the number of the item currently presented (1 for the first item); it grows
    by one with every accepted response.
    """

    __tablename__ = "sessions"
    __test__ = False  # not a pytest class

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"), index=True)
    examinee_ref: Mapped[str] = mapped_column(String(200))
    # practice tests are delivered as any other but never exported for calibration
    practice: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    seed: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    # per-session changes of the assessment's configuration (1EdTech CAT priorData)
    config_overrides: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class Response(Base):
    """One accepted response (append-only), with the reply that was sent for it."""

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"))
    seq: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(200))
    response: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)


class IdempotentRequest(Base):
    """The reply of a create sent with an ``Idempotency-Key`` (one per tenant and key).

    ``fingerprint`` is the SHA-256 of the method, path and canonical JSON body; a retry
    with the same key and fingerprint gets ``reply`` (with ``status``) again.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("tenant", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ImsCatSection(Base):
    """A 1EdTech CAT section: an assessment plus how the platform's items map onto it.

    ``digest`` is the SHA-256 of the canonical section configuration, so that posting the
    same configuration again returns the same section.
    """

    __tablename__ = "ims_cat_sections"
    __table_args__ = (UniqueConstraint("tenant", "digest"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64))
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"))
    configuration: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ServiceSecret(Base):
    """A random secret of the service (HMAC key of session states and access tokens)."""

    __tablename__ = "service_secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class BadgeIssuer(Base):
    """A tenant's issuer profile of its badges: name, url and the did:web domain, if any."""

    __tablename__ = "badge_issuers"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # host (and %3A-encoded port) of did:web:<domain>:tenants:<tenant>; None: did:key
    domain: Mapped[str | None] = mapped_column(String(255), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class BadgeKey(Base):
    """One signing key pair of a tenant: the private key encrypted (AES-GCM), never plain.

    ``algorithm`` is ``Ed25519`` (Data Integrity proofs) or ``RSA`` (RS256 VC-JWT). The
    newest key of each algorithm signs; ``retired_at`` marks keys rotated out, which stay
    to verify (and keep the status lists of) what they signed.
    """

    __tablename__ = "badge_keys"
    __table_args__ = (UniqueConstraint("tenant", "key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    key_id: Mapped[str] = mapped_column(String(32))
    algorithm: Mapped[str] = mapped_column(String(20))
    public_key: Mapped[str] = mapped_column(Text)  # publicKeyMultibase, or PEM for RSA
    encrypted_private_key: Mapped[str] = mapped_column(Text)  # base64(nonce || AES-GCM)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class StatusList(Base):
    """A tenant's Bitstring Status List: the bits and the signed credential publishing them.

    A list belongs to the key and the issuer id that signed its badges, so that the list's
    issuer is always the badges' issuer (also after a rotation or a new did:web domain).
    """

    __tablename__ = "status_lists"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    key_id: Mapped[str] = mapped_column(String(32))
    issuer_id: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(500), unique=True)
    length: Mapped[int] = mapped_column(Integer)
    n_used: Mapped[int] = mapped_column(Integer, default=0)
    encoded: Mapped[str] = mapped_column(Text)  # encodedList of the bits
    document: Mapped[str] = mapped_column(Text)  # the signed BitstringStatusListCredential
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class IssuedBadge(Base):
    """An issued Open Badges 3.0 credential: its session, skill, status bit and signing key.

    ``salt`` is the salt of the learner's identity hash (the plain identifier is never
    stored); one badge per session and skill.
    """

    __tablename__ = "badges"
    __table_args__ = (
        UniqueConstraint("session_id", "skill_id"),
        UniqueConstraint("status_list_id", "status_index"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"))
    skill_id: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(32))
    status_list_id: Mapped[str] = mapped_column(ForeignKey("status_lists.id"))
    status_index: Mapped[int] = mapped_column(Integer)
    salt: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)  # the signed credential, as issued
    valid_until: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
