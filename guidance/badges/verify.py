"""Offline verification of a signed credential: the proof, the validity dates and the status.

Nothing is ever fetched. Keys come from ``resolve`` (``did:key`` by default: the key is in the
identifier); status list credentials come from ``status_resolver``, a function the caller supplies
(the service reads the lists it published from its database, the command line reads files). A
credential whose list is not supplied is reported with status ``not_checked`` and a
``status_unavailable`` warning (an error with ``require_status=True``), never as checked.

The result is a plain dict: ``verified`` (no error), ``checks`` (``proof``, ``validity``,
``status``: each ``ok``, ``failed``, ``not_checked``; ``status`` is ``not_applicable`` for a
credential without ``credentialStatus``), ``errors`` and ``warnings`` (``{"code", "message"}`` with
stable codes, listed in :data:`ERROR_CODES`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from guidance.badges.checks import Resolver, StatusResolver, check_proof, check_validity
from guidance.badges.errors import BadgeError
from guidance.badges.multikey import public_from_did_key
from guidance.badges.status_check import check_status

__all__ = ["ERROR_CODES", "Resolver", "StatusResolver", "verify_credential"]

ERROR_CODES = {
    "invalid_badge": "not a credential (malformed JSON-LD, missing or malformed field)",
    "unknown_context": "a JSON-LD context that is not bundled",
    "invalid_proof": "proof missing or malformed",
    "unresolvable_key": "the verification method's key cannot be resolved offline",
    "issuer_key_mismatch": "the proof's key does not belong to the credential's issuer",
    "bad_signature": "the signature does not match (changed after signing, or another key)",
    "invalid_jwt": "not a compact JWS, or a header/claim the OB 3.0 JWT format forbids",
    "claim_mismatch": "a JWT claim (iss, sub, jti, nbf, exp) disagrees with the credential",
    "not_yet_valid": "validFrom is in the future",
    "expired": "validUntil has passed",
    "revoked": "the credential's revocation bit is set in its status list",
    "suspended": "the credential's suspension bit is set in its status list",
    "status_unavailable": "no status list was supplied for statusListCredential",
    "invalid_status": "credentialStatus entry malformed",
    "unsupported_status": "a status type or purpose this verifier does not read",
    "status_list_invalid": "the status list credential does not verify or is malformed",
    "status_list_issuer_mismatch": "the status list has another issuer than the credential",
    "status_list_not_yet_valid": "the status list's validFrom is in the future",
    "status_list_expired": "the status list's validUntil has passed",
    "status_purpose_mismatch": "the list's statusPurpose differs from the entry's",
    "invalid_status_list": "encodedList malformed",
    "status_list_too_short": "the list has fewer than 131,072 entries (spec minimum)",
    "status_index_out_of_range": "statusListIndex is outside the list",
    "refresh_available": "(warning) the issuer signals a refreshed credential",
}
"""Stable codes of ``errors`` and ``warnings`` in a verification result."""


def new_result() -> dict[str, Any]:
    """An empty verification result (every check failed until shown otherwise)."""
    checks = {"proof": "failed", "validity": "failed", "status": "not_checked"}
    return {"verified": False, "errors": [], "warnings": [], "checks": checks}


def finish(
    result: dict[str, Any],
    credential: dict[str, Any],
    *,
    now: datetime,
    status_resolver: StatusResolver | None,
    verify_list: Callable[[Any], dict[str, Any]],
    require_status: bool,
) -> dict[str, Any]:
    """Check validity and status of an authenticated ``credential`` into ``result``."""
    errors = result["errors"]
    try:
        check_validity(credential, now)
        result["checks"]["validity"] = "ok"
    except BadgeError as exc:
        errors.append({"code": exc.code, "message": exc.message})
    state, status_errors, warnings = check_status(
        credential, now=now, status_resolver=status_resolver, verify_list=verify_list,
        require_status=require_status,
    )  # fmt: skip
    result["checks"]["status"] = state
    errors.extend(status_errors)
    result["warnings"].extend(warnings)
    result["verified"] = not errors
    return result


def verify_credential(
    credential: dict[str, Any],
    *,
    now: datetime | None = None,
    resolve: Resolver = public_from_did_key,
    status_resolver: StatusResolver | None = None,
    require_status: bool = False,
) -> dict[str, Any]:
    """Verify ``credential`` offline and say what was checked.

    Parameters
    ----------
    credential : dict
        A signed credential (JSON-LD, bundled contexts, ``eddsa-rdfc-2022`` proof).
    now : datetime, optional
        The time the validity dates (of the credential and of its status lists) are checked
        against (default: now, UTC).
    resolve : callable
        Verification method id -> Ed25519 public key; by default ``did:key`` only. Also used
        for the proofs of the status list credentials.
    status_resolver : callable, optional
        ``statusListCredential`` URL -> signed status list credential or ``None``
        (see :data:`StatusResolver`). Without it the status is ``not_checked``.
    require_status : bool
        Make a missing status list an error (``status_unavailable``) instead of a warning.

    Returns
    -------
    dict
        ``{"verified": bool, "errors": [...], "warnings": [...], "checks": {...}}``.

    Examples
    --------
    >>> verify_credential({"issuer": "did:key:z"})["checks"]["proof"]
    'failed'
    """
    now = now or datetime.now(UTC)
    result = new_result()
    if not isinstance(credential, dict):
        result["errors"].append(
            {"code": "invalid_badge", "message": "a credential is a JSON object"}
        )
        return result
    try:
        check_proof(credential, resolve)
        result["checks"]["proof"] = "ok"
    except BadgeError as exc:
        result["errors"].append({"code": exc.code, "message": exc.message})

    def verify_list(document: Any) -> dict[str, Any]:
        if not isinstance(document, dict):
            raise BadgeError(
                "invalid_badge",
                "a status list for a Data Integrity credential is a JSON object with a proof",
            )
        check_proof(document, resolve)
        return document

    return finish(
        result, credential, now=now, status_resolver=status_resolver, verify_list=verify_list,
        require_status=require_status,
    )  # fmt: skip
