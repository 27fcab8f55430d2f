"""The tenants' badge signing keys: generated per tenant, encrypted at rest, rotated.

Each tenant has an Ed25519 key (Data Integrity proofs, ``eddsa-rdfc-2022``) and an RSA 2048
key (RS256 VC-JWT), created on first use. The private keys are stored encrypted with
AES-256-GCM under a key derived from ``ZAPCAT_SECRET_KEY`` by HKDF-SHA256:

- HKDF, not scrypt: the secret is a random server key (at least 32 characters), not a
  password, so a slow password hash adds no strength; HKDF gives a separate key for this
  use (``info``), so the same secret can also key the 1EdTech CAT tokens.
- AES-GCM, not Fernet: its associated data binds each ciphertext to its tenant, key id and
  algorithm, so a ciphertext copied into another tenant's row does not decrypt (Fernet has
  no associated data).

The secret must come from the environment: a key stored next to the ciphertexts in the
same database would protect nothing. Without it, badge work fails with
``badge_secret_missing``; with another secret than the keys were encrypted with, with
``badge_secret_mismatch``.

Rotation adds a new key of each algorithm and retires the old ones: new badges are signed
with the newest key; retired keys stay (encrypted) so that what they signed still verifies
and their status lists can still be updated. The issuer is ``did:key:<the signing key>``
by default, and ``did:web:<domain>:tenants:<tenant>`` when the tenant configures a domain
(its DID document, with every key, is served at ``https://<domain>/tenants/<tenant>/did.json``).
"""

from __future__ import annotations

import base64
import re
import secrets
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db import Database
from api.errors import BadgeSecretError, InvalidRequestError, NotFoundError
from api.models import BadgeIssuer, BadgeKey, iso, utcnow
from guidance.badges.multikey import did_key, did_key_method, public_multibase

ED25519 = "Ed25519"
RSA = "RSA"
ALGORITHMS = (ED25519, RSA)
MIN_SECRET = 32
"""Fewest characters of ``ZAPCAT_SECRET_KEY`` accepted for the badge keys."""
_INFO = b"zapcat badge signing keys v1"
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*"
                     r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(%3a[0-9]{1,5})?$")  # fmt: skip


@lru_cache(maxsize=8)
def _aead(secret: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"zapcat", info=_INFO).derive(
        secret.encode("utf-8"))
    return AESGCM(key)


def check_secret(secret: str | None) -> str:
    """The server secret, or :class:`BadgeSecretError` saying how to set one."""
    if not secret:
        raise BadgeSecretError(
            "badge_secret_missing",
            "badges need a server secret to encrypt the tenants' signing keys: set "
            "ZAPCAT_SECRET_KEY (at least 32 characters; for example the output of "
            "`python -c \"import secrets; print(secrets.token_urlsafe(32))\"`) and restart")
    if len(secret) < MIN_SECRET:
        raise BadgeSecretError(
            "badge_secret_missing",
            f"ZAPCAT_SECRET_KEY has {len(secret)} characters; badges need at least "
            f"{MIN_SECRET} (a random key, for example secrets.token_urlsafe(32))")
    return secret


def _aad(tenant: str, key_id: str, algorithm: str) -> bytes:
    return f"zapcat-badge-key/1|{tenant}|{key_id}|{algorithm}".encode()


def encrypt_private(secret: str, tenant: str, key_id: str, algorithm: str, raw: bytes) -> str:
    """``base64(nonce || AES-GCM(raw))``, bound to tenant, key id and algorithm."""
    nonce = secrets.token_bytes(12)
    sealed = _aead(check_secret(secret)).encrypt(nonce, raw, _aad(tenant, key_id, algorithm))
    return base64.b64encode(nonce + sealed).decode("ascii")


def decrypt_private(secret: str, row: BadgeKey) -> bytes:
    """The private key bytes of ``row`` (``badge_secret_mismatch`` when they do not open)."""
    data = base64.b64decode(row.encrypted_private_key)
    try:
        return _aead(check_secret(secret)).decrypt(
            data[:12], data[12:], _aad(row.tenant, row.key_id, row.algorithm))
    except InvalidTag:
        raise BadgeSecretError(
            "badge_secret_mismatch",
            f"the signing key {row.key_id} of tenant {row.tenant!r} does not decrypt with "
            "this ZAPCAT_SECRET_KEY: start the service with the secret the keys were "
            "created under") from None


def _new_key(secret: str, tenant: str, algorithm: str) -> BadgeKey:
    key_id = secrets.token_hex(8)
    if algorithm == ED25519:
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
        public = public_multibase(private.public_key())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        raw = private.private_bytes(serialization.Encoding.DER,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        public = private.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    return BadgeKey(tenant=tenant, key_id=key_id, algorithm=algorithm, public_key=public,
                    encrypted_private_key=encrypt_private(secret, tenant, key_id, algorithm,
                                                          raw), created_at=utcnow())


def load_private(secret: str, row: BadgeKey) -> Any:
    """The private key object of ``row`` (Ed25519PrivateKey or RSAPrivateKey)."""
    raw = decrypt_private(secret, row)
    if row.algorithm == ED25519:
        return Ed25519PrivateKey.from_private_bytes(raw)
    return serialization.load_der_private_key(raw, password=None)


# ------------------------------------------------------------------ issuer and keys
def lock_issuer(session: Session, tenant: str) -> BadgeIssuer:
    """The tenant's issuer row, created (name = tenant) if missing and locked for update.

    The row lock serialises key creation and rotation of one tenant on PostgreSQL; on
    SQLite the write transaction already does.
    """
    row = session.scalars(select(BadgeIssuer).where(BadgeIssuer.tenant == tenant)
                          .with_for_update()).first()
    if row is None:
        try:
            with session.begin_nested():
                session.add(BadgeIssuer(tenant=tenant, name=tenant, description="",
                                        updated_at=utcnow()))
        except IntegrityError:  # a concurrent first use created it
            pass
        row = session.scalars(select(BadgeIssuer).where(BadgeIssuer.tenant == tenant)
                              .with_for_update()).one()
    return row


def _current(session: Session, tenant: str, algorithm: str) -> BadgeKey | None:
    return session.scalars(select(BadgeKey).where(
        BadgeKey.tenant == tenant, BadgeKey.algorithm == algorithm,
        BadgeKey.retired_at.is_(None)).order_by(BadgeKey.id.desc())).first()


def signing_key(session: Session, secret: str | None, tenant: str, algorithm: str = ED25519
                ) -> tuple[BadgeKey, Any]:
    """The tenant's newest key of ``algorithm`` (created on first use) and its private key.

    Call inside a write transaction; the issuer row is locked.
    """
    secret = check_secret(secret)
    lock_issuer(session, tenant)
    row = _current(session, tenant, algorithm)
    if row is None:
        row = _new_key(secret, tenant, algorithm)
        session.add(row)
        session.flush()
    return row, load_private(secret, row)


def key_row(session: Session, tenant: str, key_id: str) -> BadgeKey:
    """A key of the tenant by id (retired or not); :class:`NotFoundError` otherwise."""
    row = session.scalars(select(BadgeKey).where(BadgeKey.tenant == tenant,
                                                 BadgeKey.key_id == key_id)).first()
    if row is None:
        raise NotFoundError("badge key", key_id)
    return row


def rotate_keys(db: Database, *, secret: str | None, tenant: str,
                algorithms: tuple[str, ...] = ALGORITHMS) -> list[dict[str, Any]]:
    """Retire the tenant's current keys of ``algorithms`` and create new ones.

    Returns
    -------
    list of dict
        Every key of the tenant after the rotation (:func:`key_view`), newest first.
    """
    secret = check_secret(secret)
    for algorithm in algorithms:
        if algorithm not in ALGORITHMS:
            raise InvalidRequestError(f"unknown key algorithm {algorithm!r}; use one of "
                                      f"{', '.join(ALGORITHMS)}", details={"algorithm": algorithm})
    with db.write() as session:
        issuer = lock_issuer(session, tenant)
        now = utcnow()
        for algorithm in algorithms:
            old = _current(session, tenant, algorithm)
            if old is not None:
                old.retired_at = now
            session.add(_new_key(secret, tenant, algorithm))
        session.flush()
        rows = session.scalars(select(BadgeKey).where(BadgeKey.tenant == tenant)
                               .order_by(BadgeKey.id.desc())).all()
        return [key_view(issuer, r) for r in rows]


def list_keys(db: Database, *, tenant: str) -> list[dict[str, Any]]:
    """The tenant's keys (public parts only), newest first."""
    with db.read() as session:
        issuer = session.get(BadgeIssuer, tenant) or BadgeIssuer(tenant=tenant, name=tenant)
        rows = session.scalars(select(BadgeKey).where(BadgeKey.tenant == tenant)
                               .order_by(BadgeKey.id.desc())).all()
        return [key_view(issuer, r) for r in rows]


def key_view(issuer: BadgeIssuer, row: BadgeKey) -> dict[str, Any]:
    """Public view of a key: id, algorithm, verification method, public key, dates."""
    return {"key_id": row.key_id, "algorithm": row.algorithm,
            "verification_method": verification_method(issuer, row),
            "public_key": row.public_key, "created_at": iso(row.created_at),
            "retired_at": iso(row.retired_at)}  # fmt: skip


# ------------------------------------------------------------------ identifiers
def did_web(domain: str, tenant: str) -> str:
    """``did:web:<domain>:tenants:<tenant>`` (resolves to ``https://<domain>/tenants/<tenant>/did.json``)."""
    return f"did:web:{domain}:tenants:{tenant}"


def check_domain(domain: str) -> str:
    """A did:web host name: lower case, optional port written ``%3A<port>`` (``:`` accepted)."""
    value = domain.strip().lower().replace(":", "%3a") if isinstance(domain, str) else ""
    if not _DOMAIN.match(value):
        raise InvalidRequestError(
            f"domain must be a host name such as badges.example.org (optionally with a port, "
            f"badges.example.org:8443), without scheme or path; got {domain!r}",
            details={"field": "domain", "value": str(domain)})
    return value.replace("%3a", "%3A")


def issuer_id(issuer: BadgeIssuer, ed25519: BadgeKey) -> str:
    """The issuer's DID: did:web with a domain, else the did:key of the Ed25519 key."""
    if issuer.domain:
        return did_web(issuer.domain, issuer.tenant)
    return did_key(ed25519.public_key)


def method_for(issuer_did: str, row: BadgeKey) -> str:
    """The verification method id of key ``row`` for the issuer ``issuer_did``.

    ``<did:web>#key-<key id>``; for a did:key issuer the did:key of an Ed25519 key; an RSA
    key without did:web gets ``urn:zapcat:<tenant>:keys:<key id>`` (its VC-JWT ``kid``).
    """
    if issuer_did.startswith("did:web:"):
        return f"{issuer_did}#key-{row.key_id}"
    if row.algorithm == ED25519:
        return did_key_method(row.public_key)
    return f"urn:zapcat:{row.tenant}:keys:{row.key_id}"


def verification_method(issuer: BadgeIssuer, row: BadgeKey) -> str:
    """The verification method id of a key under the tenant's current issuer."""
    return method_for(did_web(issuer.domain, issuer.tenant) if issuer.domain else "did:key",
                      row)


def profile(issuer: BadgeIssuer, issuer_did: str) -> dict[str, Any]:
    """The issuer ``Profile`` put in badges: id, type, name, and url/description when set."""
    out: dict[str, Any] = {"id": issuer_did, "type": ["Profile"], "name": issuer.name}
    if issuer.url:
        out["url"] = issuer.url
    if issuer.description:
        out["description"] = issuer.description
    return out
