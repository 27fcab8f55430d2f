"""Verify a badge for ``POST /v1/badges/verify``: offline, with this service's keys and lists.

Nothing is fetched. Keys: ``did:key`` from the identifier; the ``did:web`` and
``urn:zapcat:...`` verification methods of this service's tenants from the database; RSA keys
the caller supplies (``jwks``) for other VC-JWT issuers. Status lists: the ones this service
published, read from the database (they are authoritative and newest, so they win over a copy
in the request), else the ones in the request (``status_lists``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from api.db import Database
from api.errors import InvalidRequestError
from api.services.badge_issuers import get_issuer, resolve_method
from api.services.badge_keys import ED25519, did_web
from api.services.badge_status import published_status_list
from guidance.badges.errors import BadgeError
from guidance.badges.jwt import trusted_keys, unverified_payload, verify_jwt
from guidance.badges.multikey import did_key, public_from_did_key
from guidance.badges.verify import verify_credential

_URN = "urn:zapcat:"


def _problem(field: str, message: str) -> InvalidRequestError:
    problem = {"location": f"body.{field}", "message": message, "type": "value_error"}
    return InvalidRequestError(f"invalid request: body.{field}: {message}",
                               details={"problems": [problem]})  # fmt: skip


def _list_urls(status_lists: list[Any]) -> dict[str, Any]:
    supplied: dict[str, Any] = {}
    for pos, document in enumerate(status_lists):
        field = f"status_lists[{pos}]"
        if isinstance(document, str):
            try:
                url = unverified_payload(document).get("id")
            except BadgeError as exc:
                raise _problem(field, exc.message) from None
        elif isinstance(document, dict):
            url = document.get("id")
        else:
            raise _problem(field, "a status list credential is a JSON object or a compact JWT")
        if not isinstance(url, str):
            raise _problem(field, "the status list credential has no 'id' (its URL)")
        supplied[url] = document
    return supplied


def _tenant_issuers(db: Database, tenant: str) -> set[str]:
    """Every issuer id the tenant's keys stand for: its did:keys, and its did:web."""
    issuer = get_issuer(db, tenant=tenant)
    ids = {did_key(k["public_key"]) for k in issuer["keys"] if k["algorithm"] == ED25519}
    if issuer.get("domain"):
        ids.add(did_web(issuer["domain"], tenant))
    return ids


def verify_document(
    db: Database,
    *,
    document: dict[str, Any] | str,
    status_lists: list[Any],
    jwks: list[dict[str, Any]],
    require_status: bool,
    at: datetime | None,
) -> dict[str, Any]:
    """The verification result of a credential (dict) or a VC-JWT (str).

    Raises
    ------
    InvalidRequestError
        A status list or a key of the request that cannot be read (``details.problems``).
    """
    supplied = _list_urls(status_lists)
    try:
        caller_keys = trusted_keys(jwks)
    except BadgeError as exc:
        raise _problem("jwks", exc.message) from None

    def status_resolver(url: str) -> dict[str, Any] | str | None:
        own = published_status_list(db, url)
        return own if own is not None else supplied.get(url)

    def resolve(method: str) -> Ed25519PublicKey:
        if method.startswith("did:key:"):
            return public_from_did_key(method)
        key = resolve_method(db, method)
        if not isinstance(key, Ed25519PublicKey):
            raise BadgeError(
                "unresolvable_key",
                f"verification method {method!r} is not an Ed25519 key of this service's "
                "issuers (only did:key and this service's did:web keys are resolved offline)",
            )
        return key

    def jwt_keys(header: dict[str, Any], iss: str) -> RSAPublicKey:
        kid = header.get("kid")
        key = resolve_method(db, kid) if isinstance(kid, str) else None
        if isinstance(key, RSAPublicKey):
            if kid.startswith(_URN) and ":keys:" in kid:
                tenant = kid[len(_URN) :].rsplit(":keys:", 1)[0]
                owners = _tenant_issuers(db, tenant)
            else:
                owners = {kid.partition("#")[0]}
            if iss not in owners:
                raise BadgeError(
                    "issuer_key_mismatch",
                    f"kid {kid!r} is a key of this service, but not of the issuer {iss!r}",
                )
            return key
        return caller_keys(header, iss)

    options = {"now": at, "resolve": resolve, "status_resolver": status_resolver,
               "require_status": require_status}  # fmt: skip
    if isinstance(document, str):
        return verify_jwt(document, keys=jwt_keys, **options)
    return verify_credential(document, **options)
