"""The status check of a credential: the Validate Algorithm of Bitstring Status List v1.0 (3.2).

For each ``BitstringStatusListEntry`` of ``credentialStatus``: get the status list credential
from the caller's resolver (never from the network: a list that is not supplied leaves the status
``not_checked``), verify its proof with the caller's ``verify_list``, require the same issuer as
the credential, its ``id`` equal to ``statusListCredential``, its validity period to contain
``now``, its ``statusPurpose`` to include the entry's, expand ``encodedList`` (at least 131,072
entries) and read bit ``statusListIndex``. A set bit is ``revoked`` / ``suspended`` (errors) or
``refresh_available`` (a warning: the credential stays valid).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from guidance.badges.checks import StatusResolver, check_validity, issuer_id
from guidance.badges.errors import BadgeError
from guidance.badges.status_list import PURPOSES, BitstringStatusList

ENTRY = "BitstringStatusListEntry"
LIST = "BitstringStatusListCredential"
_INDEX = re.compile(r"0|[1-9][0-9]*")
_ON_SET = {"revocation": "revoked", "suspension": "suspended", "refresh": "refresh_available"}


def _types(node: dict[str, Any]) -> list[Any]:
    value = node.get("type")
    return value if isinstance(value, list) else [value]


def _entries(credential: dict[str, Any]) -> list[Any]:
    status = credential.get("credentialStatus")
    if status is None:
        return []
    return status if isinstance(status, list) else [status]


def _entry_fields(entry: Any, where: str) -> tuple[str, int, str]:
    """(url, index, purpose) of a one-bit BitstringStatusListEntry, validated."""
    if entry.get("statusSize", 1) != 1:
        raise BadgeError(
            "unsupported_status",
            f"{where}.statusSize {entry['statusSize']!r}: only one-bit statuses are read",
        )
    purpose = entry.get("statusPurpose")
    if purpose not in PURPOSES:
        raise BadgeError(
            "unsupported_status",
            f"{where}.statusPurpose {purpose!r} is not read (read: {', '.join(PURPOSES)})",
        )
    index = entry.get("statusListIndex")
    if not isinstance(index, str) or not _INDEX.fullmatch(index):
        raise BadgeError(
            "invalid_status",
            f"{where}.statusListIndex must be a base-10 integer string, got {index!r}",
        )
    url = entry.get("statusListCredential")
    if not isinstance(url, str) or not url:
        raise BadgeError("invalid_status", f"{where}.statusListCredential must be a URL")
    return url, int(index), purpose


def _read_bit(
    listed: dict[str, Any], *, url: str, index: int, purpose: str, issuer: str, now: datetime
) -> bool:
    """The bit of a verified status list credential, after every check of the list itself."""
    if LIST not in _types(listed):
        raise BadgeError("status_list_invalid", f"{url}: type must include {LIST}")
    if "id" in listed and listed["id"] != url:
        raise BadgeError("status_list_invalid", f"the list's id {listed['id']!r} is not {url!r}")
    if issuer_id(listed) != issuer:
        raise BadgeError(
            "status_list_issuer_mismatch",
            f"{url} is issued by {issuer_id(listed)!r}, the credential by {issuer!r}",
        )
    check_validity(listed, now, prefix="status_list_")
    subject = listed.get("credentialSubject")
    if not isinstance(subject, dict) or "BitstringStatusList" not in _types(subject):
        raise BadgeError(
            "status_list_invalid", f"{url}: credentialSubject must be a BitstringStatusList"
        )
    purposes = subject.get("statusPurpose")
    purposes = purposes if isinstance(purposes, list) else [purposes]
    if purpose not in purposes:
        raise BadgeError(
            "status_purpose_mismatch",
            f"{url} is a list for {purposes}, the entry's statusPurpose is {purpose!r}",
        )
    return BitstringStatusList.decode(subject.get("encodedList")).get(index)


def check_status(
    credential: dict[str, Any],
    *,
    now: datetime,
    status_resolver: StatusResolver | None,
    verify_list: Callable[[Any], dict[str, Any]],
    require_status: bool = False,
) -> tuple[str, list[dict[str, str]], list[dict[str, str]]]:
    """Check every status entry of ``credential``.

    Parameters
    ----------
    credential : dict
        The credential (already authenticated by the caller).
    now : datetime
        Time the status lists' validity periods are checked against.
    status_resolver : callable or None
        URL -> status list credential or ``None``.
    verify_list : callable
        Verifies the proof of what the resolver returned and gives the list credential (dict).
    require_status : bool
        A list that is not supplied is an error instead of a warning.

    Returns
    -------
    state : str
        ``ok`` (every entry read, none set), ``failed``, ``not_checked`` (some entry could not be
        read) or ``not_applicable`` (no ``credentialStatus``).
    errors, warnings : list of dict
        ``{"code", "message"}``.
    """
    entries = _entries(credential)
    if not entries:
        return "not_applicable", [], []
    errors: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    unread = False
    for pos, entry in enumerate(entries):
        where = "credentialStatus" + (
            f"[{pos}]" if isinstance(credential["credentialStatus"], list) else ""
        )
        try:
            if not isinstance(entry, dict):
                raise BadgeError("invalid_status", f"{where} must be an object")
            if ENTRY not in _types(entry):
                raise BadgeError(
                    "unsupported_status", f"{where}: type {entry.get('type')!r} is not read"
                )
            url, index, purpose = _entry_fields(entry, where)
            document = status_resolver(url) if status_resolver is not None else None
            if document is None:
                raise BadgeError(
                    "status_unavailable",
                    f"no status list was supplied for {url} (nothing is fetched: pass the "
                    "status list credential to check the status)",
                )
            try:
                listed = verify_list(document)
            except BadgeError as exc:
                raise BadgeError(
                    "status_list_invalid", f"status list {url}: {exc.code}: {exc.message}"
                ) from exc
            issuer = issuer_id(credential)
            if _read_bit(listed, url=url, index=index, purpose=purpose, issuer=issuer, now=now):
                code = _ON_SET[purpose]
                problem = {"code": code, "message": f"bit {index} of {url} is set ({purpose})"}
                (warnings if code == "refresh_available" else errors).append(problem)
        except BadgeError as exc:
            problem = {"code": exc.code, "message": exc.message}
            soft = exc.code == "unsupported_status" or (
                exc.code == "status_unavailable" and not require_status
            )
            unread = unread or soft
            (warnings if soft else errors).append(problem)
    if errors:
        return "failed", errors, warnings
    return ("not_checked" if unread else "ok"), errors, warnings
