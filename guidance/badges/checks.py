"""Checks shared by both proof formats: dates, the issuer id, the Data Integrity proof and key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from guidance.badges.errors import BadgeError
from guidance.badges.proof import verify_proof

Resolver = Callable[[str], Ed25519PublicKey]
"""Verification method id -> Ed25519 public key (raises ``BadgeError`` when unknown)."""
StatusResolver = Callable[[str], dict[str, Any] | str | None]
"""``statusListCredential`` URL -> the signed status list credential (a dict, or a compact JWT
string for VC-JWT), or ``None`` when no list is available for that URL. Never a network fetch."""


def parse_time(value: Any, field: str) -> datetime:
    """An XML Schema dateTime with a time zone (``...Z`` or ``...+hh:mm``) as an aware datetime."""
    if not isinstance(value, str):
        raise BadgeError("invalid_badge", f"{field} must be an XML Schema dateTime string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadgeError("invalid_badge", f"{field}: {value!r} is not a dateTime") from exc
    if parsed.tzinfo is None:
        raise BadgeError("invalid_badge", f"{field}: {value!r} has no time zone (add 'Z')")
    return parsed


def issuer_id(credential: dict[str, Any]) -> str:
    """``issuer`` (a string) or ``issuer.id`` of a credential."""
    issuer = credential.get("issuer")
    value = issuer.get("id") if isinstance(issuer, dict) else issuer
    if not isinstance(value, str) or not value:
        raise BadgeError("invalid_badge", "issuer must be an id or a profile with an 'id'")
    return value


def check_proof(credential: dict[str, Any], resolve: Resolver) -> None:
    """Check the ``eddsa-rdfc-2022`` proof, and that its key is the issuer's.

    The verification method must be under the issuer's id (``<issuer id>#<key>``, as with
    ``did:key`` and ``did:web``): otherwise any key could sign a credential naming any issuer.
    """
    proof = credential.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, dict) else None
    if not isinstance(method, str):
        raise BadgeError("invalid_proof", "proof.verificationMethod is missing")
    issuer = issuer_id(credential)
    if method.partition("#")[0] != issuer:
        raise BadgeError(
            "issuer_key_mismatch",
            f"proof.verificationMethod {method!r} is not a key of the issuer {issuer!r} "
            f"(expected {issuer}#...)",
        )
    verify_proof(credential, resolve(method))


def check_validity(credential: dict[str, Any], now: datetime, prefix: str = "") -> None:
    """Require ``validFrom <= now <= validUntil``: codes ``not_yet_valid``, ``expired``.

    ``prefix`` is put before the codes (``status_list_`` for a status list credential).
    """
    valid_from = parse_time(credential.get("validFrom"), "validFrom")
    what = "the status list is" if prefix else "valid"
    if now < valid_from:
        raise BadgeError(f"{prefix}not_yet_valid", f"{what} valid from {credential['validFrom']}")
    if "validUntil" in credential:
        valid_until = parse_time(credential["validUntil"], "validUntil")
        if now > valid_until:
            raise BadgeError(f"{prefix}expired", f"{what} expired at {credential['validUntil']}")
