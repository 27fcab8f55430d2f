"""Offline verification of a signed credential: the proof and the validity dates.

The status list (revocation) is not checked here yet; the result says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from guidance.badges.errors import BadgeError
from guidance.badges.multikey import public_from_did_key
from guidance.badges.proof import verify_proof

Resolver = Callable[[str], Ed25519PublicKey]


def _parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise BadgeError("invalid_badge", f"{field} must be an XML Schema dateTime string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadgeError("invalid_badge", f"{field}: {value!r} is not a dateTime") from exc
    if parsed.tzinfo is None:
        raise BadgeError("invalid_badge", f"{field}: {value!r} has no time zone (add 'Z')")
    return parsed


def verify_credential(
    credential: dict[str, Any],
    *,
    now: datetime | None = None,
    resolve: Resolver = public_from_did_key,
) -> dict[str, Any]:
    """Verify ``credential`` offline and say what was checked.

    Parameters
    ----------
    credential : dict
        A signed credential (JSON-LD, bundled contexts, ``eddsa-rdfc-2022`` proof).
    now : datetime, optional
        The time the validity dates are checked against (default: now, UTC).
    resolve : callable
        Verification method id -> Ed25519 public key; by default ``did:key`` only.

    Returns
    -------
    dict
        ``{"verified": bool, "errors": [{"code", "message"}], "checks": {...}}`` where each
        check is ``"ok"``, ``"failed"`` or ``"not_checked"``.
    """
    now = now or datetime.now(UTC)
    errors: list[dict[str, str]] = []
    checks = {"proof": "failed", "validity": "failed", "status": "not_checked"}
    if not isinstance(credential, dict):
        errors.append({"code": "invalid_badge", "message": "a credential is a JSON object"})
        return {"verified": False, "errors": errors, "checks": checks}
    try:
        proof = credential.get("proof")
        method = proof.get("verificationMethod") if isinstance(proof, dict) else None
        if not isinstance(method, str):
            raise BadgeError("invalid_proof", "proof.verificationMethod is missing")
        verify_proof(credential, resolve(method))
        checks["proof"] = "ok"
    except BadgeError as exc:
        errors.append({"code": exc.code, "message": exc.message})
    try:
        valid_from = _parse_time(credential.get("validFrom"), "validFrom")
        if now < valid_from:
            raise BadgeError("not_yet_valid", f"valid from {credential['validFrom']}")
        if "validUntil" in credential:
            valid_until = _parse_time(credential["validUntil"], "validUntil")
            if now > valid_until:
                raise BadgeError("expired", f"expired at {credential['validUntil']}")
        checks["validity"] = "ok"
    except BadgeError as exc:
        errors.append({"code": exc.code, "message": exc.message})
    return {"verified": not errors, "errors": errors, "checks": checks}
