"""A tenant's badge issuer: its profile, its did:web DID document, its keys for others.

``did:web`` maps ``did:web:<domain>:tenants:<tenant>`` to
``https://<domain>/tenants/<tenant>/did.json`` (the method's rule: colons become slashes,
``/did.json`` appended). Point the domain at this service (or proxy that path to it) and
the DID document below is what a verifier fetches; it lists every key of the tenant,
retired ones included, so that badges signed before a rotation still verify.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from sqlalchemy import select

from api.db import Database
from api.errors import InvalidRequestError, NotFoundError
from api.models import BadgeIssuer, BadgeKey, iso, utcnow
from api.services.badge_keys import (
    ED25519,
    RSA,
    check_domain,
    did_web,
    issuer_id,
    key_view,
    lock_issuer,
    profile,
    signing_key,
    verification_method,
)
from guidance.badges.multikey import load_public

DID_CONTEXT = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1",
               "https://w3id.org/security/jwk/v1"]  # fmt: skip


def _view(row: BadgeIssuer, keys: list[BadgeKey]) -> dict[str, Any]:
    current = next((k for k in keys if k.algorithm == ED25519 and k.retired_at is None), None)
    did = issuer_id(row, current) if current is not None or row.domain else None
    return {"tenant": row.tenant, "name": row.name, "url": row.url,
            "description": row.description, "domain": row.domain, "issuer_id": did,
            "did_document": (f"https://{row.domain.replace('%3A', ':')}/tenants/{row.tenant}"
                             "/did.json") if row.domain else None,
            "keys": [key_view(row, k) for k in keys], "updated_at": iso(row.updated_at)}


def get_issuer(db: Database, *, tenant: str) -> dict[str, Any]:
    """The tenant's issuer profile and public keys (defaults before any badge)."""
    with db.read() as session:
        row = session.get(BadgeIssuer, tenant) or BadgeIssuer(
            tenant=tenant, name=tenant, description="", updated_at=None)
        keys = session.scalars(select(BadgeKey).where(BadgeKey.tenant == tenant)
                               .order_by(BadgeKey.id.desc())).all()
        return _view(row, list(keys))


def set_issuer(db: Database, *, tenant: str, name: str, url: str | None = None,
               description: str = "", domain: str | None = None) -> dict[str, Any]:
    """Set the tenant's issuer profile; ``domain`` switches the issuer to did:web.

    Badges issued before keep their issuer (and their status lists); new ones use this.
    """
    if url is not None and not url.startswith(("https://", "http://")):
        raise InvalidRequestError(f"url must be an http(s) URL, got {url!r}",
                                  details={"field": "url", "value": url})
    checked = check_domain(domain) if domain else None
    with db.write() as session:
        row = lock_issuer(session, tenant)
        row.name, row.url, row.description, row.domain = name, url, description, checked
        row.updated_at = utcnow()
        session.flush()
        keys = session.scalars(select(BadgeKey).where(BadgeKey.tenant == tenant)
                               .order_by(BadgeKey.id.desc())).all()
        return _view(row, list(keys))


def _jwk(pem: str) -> dict[str, str]:
    public = serialization.load_pem_public_key(pem.encode("ascii"))
    numbers = public.public_numbers()

    def b64(n: int) -> str:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    return {"kty": "RSA", "n": b64(numbers.n), "e": b64(numbers.e), "alg": "RS256"}


def did_document(db: Database, *, tenant: str) -> dict[str, Any]:
    """The did:web DID document of a tenant with a domain (every key, retired ones too).

    Raises
    ------
    NotFoundError
        The tenant has no domain (its issuer is a did:key: nothing to serve).
    """
    with db.read() as session:
        row = session.get(BadgeIssuer, tenant)
        if row is None or not row.domain:
            raise NotFoundError("did:web document", tenant)
        keys = session.scalars(select(BadgeKey).where(BadgeKey.tenant == tenant)
                               .order_by(BadgeKey.id)).all()
    did = did_web(row.domain, tenant)
    methods = []
    for key in keys:
        method: dict[str, Any] = {"id": verification_method(row, key), "controller": did}
        if key.algorithm == ED25519:
            method |= {"type": "Multikey", "publicKeyMultibase": key.public_key}
        else:
            method |= {"type": "JsonWebKey", "publicKeyJwk": _jwk(key.public_key)}
        methods.append(method)
    ids = [m["id"] for m in methods]
    return {"@context": DID_CONTEXT, "id": did, "verificationMethod": methods,
            "assertionMethod": ids, "authentication": []}  # fmt: skip


@dataclass(frozen=True)
class JwtKey:
    """A tenant's RS256 signing key for VC-JWT: ``kid`` (JOSE header), issuer, private key."""

    kid: str
    issuer: str
    key_id: str
    private_key: RSAPrivateKey


def tenant_jwt_key(db: Database, *, tenant: str, secret: str | None) -> JwtKey:
    """The tenant's newest RSA 2048 key (created on first use) for RS256 VC-JWT.

    ``kid`` is the key's verification method (``did:web:...#key-<id>`` with a domain,
    ``urn:zapcat:<tenant>:keys:<id>`` otherwise); ``issuer`` the tenant's issuer DID.
    """
    with db.write() as session:
        rsa_row, private = signing_key(session, secret, tenant, RSA)
        ed_row, _ = signing_key(session, secret, tenant, ED25519)
        issuer = lock_issuer(session, tenant)
        return JwtKey(verification_method(issuer, rsa_row), issuer_id(issuer, ed_row),
                      rsa_row.key_id, private)


def resolve_method(db: Database, method: str) -> Ed25519PublicKey | RSAPublicKey | None:
    """The public key of a verification method of one of this service's tenants, or None.

    Resolves ``did:web:...#key-<id>`` and ``urn:zapcat:<tenant>:keys:<id>`` from the
    database (offline; a did:key needs no resolver).
    """
    if not isinstance(method, str) or ("#key-" not in method and ":keys:" not in method):
        return None
    key_id = method.rsplit("#key-", 1)[-1] if "#key-" in method else method.rsplit(":", 1)[-1]
    with db.read() as session:
        for key in session.scalars(select(BadgeKey).where(BadgeKey.key_id == key_id)).all():
            issuer = session.get(BadgeIssuer, key.tenant)
            if issuer is not None and verification_method(issuer, key) == method:
                if key.algorithm == ED25519:
                    return load_public(key.public_key)
                return serialization.load_pem_public_key(key.public_key.encode("ascii"))
    return None


def issuer_profile(session: Any, tenant: str, ed25519: BadgeKey) -> tuple[BadgeIssuer, str,
                                                                          dict[str, Any]]:
    """(issuer row, issuer DID, profile) of a tenant, for the key that signs."""
    row = lock_issuer(session, tenant)
    did = issuer_id(row, ed25519)
    return row, did, profile(row, did)


__all__ = ["JwtKey", "did_document", "get_issuer", "issuer_profile", "resolve_method",
           "set_issuer", "tenant_jwt_key"]
