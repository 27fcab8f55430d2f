"""The Open Badges 3.0 ``OpenBadgeCredential`` of a skill level a learner met (unsigned).

Pure functions of a battery section (skill, reporting scale, ordered levels, ESCO URI), the
learner's profile entry for that skill and the issuer's choices; nothing here knows about
HTTP, the database or keys. The credential (VC Data Model 2.0 + OB 3.0.3 contexts, both
bundled) reads::

    {"type": ["VerifiableCredential", "OpenBadgeCredential"], "issuer": {Profile},
     "validFrom", "validUntil", "credentialStatus": {BitstringStatusListEntry},
     "credentialSubject": {"type": ["AchievementSubject"],
        "identifier": [IdentityObject: salted SHA-256 of the learner's identifier],
        "achievement": {achievementType "Assessment", criteria, ESCO alignment,
                        resultDescription: [ScaledScore (valueMin, valueMax),
                                            PerformanceLevel (ordered levels, required)]},
        "result": [the score, the level reached]},
     "evidence": [the session (no item content)]}

A level is *met* when the profile's ``status`` of the skill is ``met``: the 95% interval of
the learner's ability lies above the cut of the required level (the section's
``target_level``, or its top level when it names none; see
:func:`engine.battery_profile.status_of`).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from guidance.badges.contexts import OB_V3, VC_V2
from guidance.badges.errors import BadgeError
from item_banks.battery import Section

CONTEXT = [VC_V2, OB_V3]
TYPE = ["VerifiableCredential", "OpenBadgeCredential"]
IDENTITY_TYPES = ("emailAddress", "identifier")
_ACHIEVEMENT_NS = uuid.UUID("6c1c5b52-7f0e-4a57-9a77-2f0f3c7c1a21")


def xsd(moment: datetime) -> str:
    """``moment`` as an XML Schema dateTime in UTC, whole seconds (``...T12:00:00Z``)."""
    if moment.tzinfo is None:
        raise BadgeError("invalid_badge", f"{moment!r} has no time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def identity_hash(identifier: str, salt: str) -> str:
    """OB 3.0 ``identityHash``: ``"sha256$" + hex(SHA-256(identifier + salt))``.

    Examples
    --------
    >>> identity_hash("learner@example.org", "a1b2")[:15]
    'sha256$9fd0924d'
    """
    return "sha256$" + hashlib.sha256((identifier + salt).encode("utf-8")).hexdigest()


def identity_object(identifier: str, identity_type: str, *, salt: str | None) -> dict[str, Any]:
    """The learner's ``IdentityObject``: hashed with ``salt``, or plain when ``salt`` is None.

    Parameters
    ----------
    identifier : str
        An email address (``identity_type="emailAddress"``) or the platform's reference of
        the learner (``"identifier"``); emails are lower-cased before hashing.
    identity_type : {"emailAddress", "identifier"}
    salt : str or None
        Random salt (hex); ``None`` puts the identifier in the clear (only when asked).
    """
    if identity_type not in IDENTITY_TYPES:
        raise BadgeError("invalid_badge", f"identityType must be one of {IDENTITY_TYPES}, "
                         f"got {identity_type!r}")
    if not isinstance(identifier, str) or not identifier.strip():
        raise BadgeError("invalid_badge", "the learner's identifier is empty")
    value = identifier.strip().lower() if identity_type == "emailAddress" else identifier
    out: dict[str, Any] = {"type": "IdentityObject", "identityType": identity_type}
    if salt is None:
        return {**out, "hashed": False, "identityHash": value}
    return {**out, "hashed": True, "identityHash": identity_hash(value, salt), "salt": salt}


def required_level(section: Section) -> str:
    """Name of the level a badge of ``section`` certifies: ``target_level``, else the top one."""
    if len(section.levels) < 2:
        raise BadgeError("invalid_badge", f"skill {section.skill_id!r} has no level with a "
                         "cut score: there is no level to certify")
    return section.target_level or section.levels[-1].name


def achievement_id(tenant: str, assessment_id: str, skill_id: str) -> str:
    """A stable ``urn:uuid`` of the achievement (one per tenant, assessment and skill)."""
    return f"urn:uuid:{uuid.uuid5(_ACHIEVEMENT_NS, f'{tenant}/{assessment_id}/{skill_id}')}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "level"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def achievement(section: Section, ach_id: str, *, assessment_name: str) -> dict[str, Any]:
    """The ``Achievement`` of ``section``: criteria, ESCO alignment, two result descriptions.

    Raises
    ------
    BadgeError
        ``invalid_badge`` when the section has no levels with cuts or its scale no range.
    """
    required = required_level(section)
    if section.scale.range is None:
        raise BadgeError("invalid_badge", f"skill {section.skill_id!r}: its reporting scale "
                         "has no range (scale.range), which the ScaledScore needs")
    lo, hi = section.scale.range
    levels = [{"id": f"{ach_id}#level-{_slug(lv.name)}", "type": ["RubricCriterionLevel"],
               "name": lv.name, "description": lv.descriptor or lv.name,
               "level": str(k + 1)} for k, lv in enumerate(section.levels)]  # fmt: skip
    cut = next(lv.theta_cut for lv in section.levels if lv.name == required)
    out: dict[str, Any] = {
        "id": ach_id,
        "type": ["Achievement"],
        "achievementType": "Assessment",
        "name": f"{section.name}: {required}",
        "description": section.description or f"{section.name}, level {required} or above.",
        "criteria": {"narrative": (
            f"Reached level {required} or above in {section.name} in the adaptive assessment "
            f"{assessment_name!r}: the 95% interval of the learner's ability (IRT theta) lies "
            f"above the cut of {required} (theta {_number(cut)}). Levels, in order: "
            + ", ".join(lv.name for lv in section.levels) + ".")},
        "resultDescription": [
            {"id": f"{ach_id}#score", "type": ["ResultDescription"],
             "name": f"{section.name} score", "resultType": "ScaledScore",
             "valueMin": _number(lo), "valueMax": _number(hi)},
            {"id": f"{ach_id}#level", "type": ["ResultDescription"],
             "name": f"{section.name} level", "resultType": "PerformanceLevel",
             "allowedValue": [lv.name for lv in section.levels],
             "requiredLevel": f"{ach_id}#level-{_slug(required)}",
             "rubricCriterionLevel": levels},
        ],
    }  # fmt: skip
    if section.esco_uri:
        out["alignment"] = [{"type": ["Alignment"], "targetName": section.name,
                             "targetUrl": section.esco_uri, "targetFramework": "ESCO",
                             "targetType": "ceasn:Competency"}]  # fmt: skip
    return out


def level_met(section: Section, skill: Mapping[str, Any]) -> bool:
    """Whether the profile entry ``skill`` meets the section's required level."""
    return skill.get("status") == "met" and skill.get("level") is not None


def build_credential(
    *,
    credential_id: str,
    issuer: Mapping[str, Any],
    section: Section,
    skill: Mapping[str, Any],
    achievement_ref: str,
    assessment_name: str,
    identity: Mapping[str, Any],
    evidence: Sequence[Mapping[str, Any]],
    valid_from: datetime,
    valid_until: datetime | None,
    status: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The unsigned ``OpenBadgeCredential`` of ``skill`` (see the module docstring).

    Parameters
    ----------
    credential_id : str
        ``urn:uuid:...`` of the badge.
    issuer : mapping
        The issuer ``Profile`` (``id`` a DID, ``type``, ``name``, ...).
    section : Section
        The skill: name, description, ESCO URI, scale with range, ordered levels.
    skill : mapping
        The profile entry of the skill (``score``, ``level``, ``status``,
        :func:`engine.battery_profile.profile`).
    achievement_ref : str
        The achievement's id (:func:`achievement_id`).
    assessment_name : str
        Named in the criteria.
    identity : mapping
        The learner's ``IdentityObject`` (:func:`identity_object`).
    evidence : sequence of mapping
        ``Evidence`` objects (the session; never item content).
    valid_from, valid_until : datetime
        Timezone-aware; ``valid_until`` None for no end.
    status : mapping or None
        The ``BitstringStatusListEntry``.

    Raises
    ------
    BadgeError
        ``level_not_met`` when the profile does not show the required level met.
    """
    if not level_met(section, skill):
        raise BadgeError("level_not_met", f"skill {section.skill_id!r}: the profile does not "
                         f"show level {required_level(section)} met (status "
                         f"{skill.get('status')!r}, level {skill.get('level')!r})")
    ach = achievement(section, achievement_ref, assessment_name=assessment_name)
    reached = f"{achievement_ref}#level-{_slug(str(skill['level']))}"
    credential: dict[str, Any] = {
        "@context": list(CONTEXT),
        "id": credential_id,
        "type": list(TYPE),
        "name": ach["name"],
        "issuer": dict(issuer),
        "validFrom": xsd(valid_from),
    }
    if valid_until is not None:
        if valid_until <= valid_from:
            raise BadgeError("invalid_badge", "validUntil must be later than validFrom")
        credential["validUntil"] = xsd(valid_until)
    credential["credentialSubject"] = {
        "type": ["AchievementSubject"],
        "identifier": [dict(identity)],
        "achievement": ach,
        "result": [
            {"type": ["Result"], "resultDescription": f"{achievement_ref}#score",
             "value": _number(skill["score"])},
            {"type": ["Result"], "resultDescription": f"{achievement_ref}#level",
             "achievedLevel": reached, "value": str(skill["level"]), "status": "Completed"},
        ],
    }  # fmt: skip
    credential["evidence"] = [dict(e) for e in evidence]
    if status is not None:
        credential["credentialStatus"] = dict(status)
    return credential


__all__ = ["CONTEXT", "IDENTITY_TYPES", "TYPE", "achievement", "achievement_id",
           "build_credential", "identity_hash", "identity_object", "level_met",
           "required_level", "xsd"]  # fmt: skip
