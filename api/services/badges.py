"""Open Badges 3.0 credentials of finished sessions: issue, read, revoke.

A badge is issued for each skill of a finished session whose profile shows the required
level met (:func:`guidance.badges.credential.level_met`): a battery's sections, or a single
test with cut scores (its levels ``Level 1 .. Level K+1``, its score theta on the
configuration's ``theta_range``). Practice sessions, unfinished sessions and levels not met
are refused (``practice_session``, ``session_not_finished``, ``level_not_met``). Asking
again for the same session and skill returns the badge already issued.

Who may ask follows the report rules (:mod:`api.services.guidance`): admin keys always;
delivery keys when the assessment shows results to learners. The learner is named by a
salted SHA-256 of their email (when given) or of the session's ``examinee_ref``; the plain
email is put in only when asked (``include_email``). Nothing of the items is put in.

The badge is signed with the tenant's newest Ed25519 key (eddsa-rdfc-2022) and given a
random index in a status list of that key (:mod:`api.services.badge_status`); revoking
sets the bit and re-signs the list.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from scipy.stats import norm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.db import Database
from api.errors import BadgeIssueError, InvalidRequestError, NotFoundError, PermissionDeniedError
from api.limits import is_server_id
from api.models import Assessment, IssuedBadge, TestSession, iso, utcnow
from api.services.badge_issuers import issuer_profile, resolve_method, tenant_jwt_key
from api.services.badge_keys import check_secret, method_for, signing_key
from api.services.badge_status import (
    allocate,
    lock_list,
    open_list,
    proof_options,
    published_status_list,
    set_status,
)
from api.services.runners import BatteryRun, SingleTest, load_runner
from engine.battery import result as battery_result
from engine.battery_profile import INTERVAL_LEVEL, level_of, status_of
from guidance.badges.credential import (
    achievement_id,
    build_credential,
    identity_object,
    level_met,
    required_level,
    xsd,
)
from guidance.badges.errors import BadgeError
from guidance.badges.proof import sign
from guidance.badges.status_list import status_list_entry
from item_banks.battery import Level, Scale, Section

MAX_VALID_DAYS = 36_500


def single_section(runner: SingleTest, name: str) -> Section:
    """The skill of a single test: levels from its cut scores, theta on its theta range."""
    cuts = list(runner.config.cut_scores)
    if not cuts:
        raise BadgeIssueError("no_levels", "this single-skill assessment has no cut scores, "
                              "so no level to certify: give its configuration cut_scores")
    lo, hi = runner.config.ability.theta_range
    levels = (Level("Level 1"), *(Level(f"Level {k + 2}", float(c)) for k, c in
                                  enumerate(cuts)))  # fmt: skip
    return Section(skill_id=runner.bank.name, name=name or runner.bank.name, bank={}, cat={},
                   description=runner.bank.description,
                   esco_uri=runner.bank.provenance.get("esco_uri"),
                   scale=Scale(0.0, 1.0, 2, (float(lo), float(hi))), levels=levels)


def single_profile(section: Section, theta: float, se: float, n_items: int) -> dict[str, Any]:
    """The profile entry of a single test (the battery profile's rules, one skill)."""
    half = float(norm.ppf(0.5 + INTERVAL_LEVEL / 2))
    lo, hi = theta - half * se, theta + half * se
    level = level_of(section, theta)
    return {"skill_id": section.skill_id, "theta": theta, "se": se,
            "score": section.scale.score(theta), "level": section.levels[level].name,
            "status": status_of(section, theta, lo, hi), "n_items": n_items}  # fmt: skip


def _finished(db: Database, tenant: str, session_id: str, scope: str
              ) -> tuple[TestSession, str, list[tuple[Section, dict[str, Any]]]]:
    """The session row, assessment name and (section, profile entry) of each skill."""
    if not is_server_id(session_id):
        raise NotFoundError("session", session_id)
    with db.read() as session:
        row = session.scalars(select(TestSession).where(
            TestSession.id == session_id, TestSession.tenant == tenant)).first()
        if row is None:
            raise NotFoundError("session", session_id)
        name = session.scalar(select(Assessment.name).where(Assessment.id == row.assessment_id))
        runner = load_runner(db, session, tenant=tenant, assessment_id=row.assessment_id)
    if scope != "admin" and not runner.show_results:
        raise PermissionDeniedError("this assessment does not show results to learners; ask "
                                    "an administrator for the badge",
                                    details={"session_id": session_id})
    # a practice session, or any session of a practice-mode assessment (issue 14)
    if row.practice or getattr(runner, "practice", False):
        raise BadgeIssueError("practice_session", "this is a practice session: practice "
                              "results are never certified", details={"session_id": session_id})
    state = runner.read_state(row.state)
    if not state.finished:
        raise BadgeIssueError("session_not_finished", "the session is not finished yet: "
                              "answer its items first", details={"session_id": session_id,
                                                                 "status": row.status})
    if isinstance(runner, BatteryRun):
        skills = battery_result(runner.plan, state)["skills"]
        pairs = [(sec, sk) for sec, sk in zip(runner.plan.sections, skills, strict=True)
                 if sk["n_items"] > 0 and len(sec.levels) > 1]  # fmt: skip
    else:
        sec = single_section(runner, name or "")
        pairs = [(sec, single_profile(sec, float(state.theta), float(state.se),
                                      int(state.n_scored)))]  # fmt: skip
    return row, name or "", pairs


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _view(row: IssuedBadge, list_url: str | None = None) -> dict[str, Any]:
    credential = json.loads(row.document)
    return {"badge_id": row.id, "session_id": row.session_id, "skill_id": row.skill_id,
            "level": row.level, "key_id": row.key_id,
            "status_list": list_url or credential["credentialStatus"]["statusListCredential"],
            "status_index": row.status_index, "issued_at": iso(row.created_at),
            "valid_until": iso(row.valid_until), "revoked": row.revoked_at is not None,
            "revoked_at": iso(row.revoked_at), "credential": credential}  # fmt: skip


def issue_badges(db: Database, *, secret: str | None, tenant: str, session_id: str,
                 scope: str, public_url: str, valid_days: int, skill_id: str | None = None,
                 email: str | None = None, include_email: bool = False) -> list[dict[str, Any]]:
    """Issue (or return the already issued) badges of a finished session.

    Parameters
    ----------
    db : Database
    secret : str or None
        ``ZAPCAT_SECRET_KEY`` (decrypts the tenant's signing key).
    tenant, session_id, scope : str
        Whose session, and the caller's key scope (``admin`` or ``deliver``).
    public_url : str
        Base URL of the service in badge URLs (status list, evidence).
    valid_days : int
        Days to ``validUntil``, 0 .. 36500 (0: no end date).
    skill_id : str, optional
        Only this skill (``level_not_met`` when its level is not met).
    email : str, optional
        The learner's email: identified by it (hashed) instead of ``examinee_ref``.
    include_email : bool
        Put ``email`` in the clear (only when the learner asks for it).

    Returns
    -------
    list of dict
        One view per badge (``badge_id, skill_id, level, credential, new, ...``).
    """
    check_secret(secret)
    if not 0 <= valid_days <= MAX_VALID_DAYS:
        raise InvalidRequestError(f"valid_days must be 0 .. {MAX_VALID_DAYS}, got {valid_days}",
                                  details={"field": "valid_days", "value": valid_days})
    if include_email and not email:
        raise InvalidRequestError("include_email needs the email", details={"field": "email"})
    row, name, pairs = _finished(db, tenant, session_id, scope)
    if skill_id is not None:
        known = [sec.skill_id for sec, _ in pairs]
        pairs = [(sec, sk) for sec, sk in pairs if sec.skill_id == skill_id]
        if not pairs:
            raise InvalidRequestError(f"skill {skill_id!r} has no levels or was not assessed "
                                      f"in this session; skills: {', '.join(known)}",
                                      details={"skill_id": skill_id, "skills": known})
    met = [(sec, sk) for sec, sk in pairs if level_met(sec, sk)]
    if not met:
        found = "; ".join(f"{s.skill_id}: level {k['level']!r}, status {k['status']!r} "
                          f"(required {required_level(s)})" for s, k in pairs)
        raise BadgeIssueError(
            "level_not_met", f"the profile shows no required level met ({found})",
            details={"session_id": session_id,
                     "skills": [{"skill_id": s.skill_id, "level": k["level"],
                                 "status": k["status"], "required": required_level(s)}
                                for s, k in pairs]})  # fmt: skip
    identity = (email, "emailAddress") if email else (row.examinee_ref, "identifier")
    for _attempt in range(3):
        try:
            return _issue(db, secret, tenant, row, name, met, identity, include_email,
                          public_url, valid_days)
        except IntegrityError:  # a concurrent request issued one of them: read it back
            continue
    raise RuntimeError("could not issue the badges after 3 attempts")  # pragma: no cover


def _issue(db: Database, secret: str, tenant: str, row: TestSession, name: str,
           met: list[tuple[Section, dict[str, Any]]], identity: tuple[str, str],
           include_email: bool, public_url: str, valid_days: int) -> list[dict[str, Any]]:
    out = []
    with db.write() as session:
        key, private = signing_key(session, secret, tenant)
        issuer, did, profile = issuer_profile(session, tenant, key)
        for sec, skill in met:
            existing = session.scalars(select(IssuedBadge).where(
                IssuedBadge.session_id == row.id, IssuedBadge.skill_id == sec.skill_id)).first()
            if existing is not None:
                out.append({**_view(existing), "new": False})
                continue
            status_list = open_list(session, issuer=issuer, key=key, private=private,
                                    issuer_did=did, public_url=public_url)
            index = allocate(session, status_list)
            badge_id = str(uuid.uuid4())
            salt = "" if include_email else secrets.token_hex(16)
            now = utcnow().replace(microsecond=0)
            until = now + timedelta(days=valid_days) if valid_days else None
            evidence = {"id": f"{public_url.rstrip('/')}/v1/sessions/{row.id}",
                        "type": ["Evidence"], "name": "Adaptive assessment session",
                        "genre": "Assessment",
                        "narrative": f"{skill['n_items']} items of {sec.name} given adaptively "
                        f"and scored with item response theory; finished "
                        f"{xsd(_aware(row.finished_at or row.updated_at))}. The items and the "
                        "responses are not part of this credential."}  # fmt: skip
            try:
                document = build_credential(
                    credential_id=f"urn:uuid:{badge_id}", issuer=profile, section=sec,
                    skill=skill, achievement_ref=achievement_id(tenant, row.assessment_id,
                                                                sec.skill_id),
                    assessment_name=name or sec.name,
                    identity=identity_object(*identity, salt=salt or None),
                    evidence=[evidence], valid_from=now, valid_until=until,
                    status=status_list_entry(status_list.url, index))
                signed = sign(document, proof_options(method_for(did, key)), private)
            except BadgeError as exc:
                raise BadgeIssueError(exc.code, exc.message,
                                      details={"skill_id": sec.skill_id}) from None
            badge = IssuedBadge(id=badge_id, tenant=tenant, session_id=row.id,
                                skill_id=sec.skill_id, level=str(skill["level"]),
                                key_id=key.key_id, status_list_id=status_list.id,
                                status_index=index, salt=salt,
                                document=json.dumps(signed, separators=(",", ":")),
                                valid_until=until, created_at=now)  # fmt: skip
            session.add(badge)
            session.flush()
            out.append({**_view(badge, status_list.url), "new": True})
    return out


def _badge(session: Any, tenant: str, badge_id: str) -> IssuedBadge:
    if not is_server_id(badge_id):
        raise NotFoundError("badge", badge_id)
    row = session.scalars(select(IssuedBadge).where(
        IssuedBadge.id == badge_id, IssuedBadge.tenant == tenant)).first()
    if row is None:
        raise NotFoundError("badge", badge_id)
    return row


def get_badge(db: Database, *, tenant: str, badge_id: str, scope: str) -> dict[str, Any]:
    """A badge of the tenant (delivery keys: when its assessment shows results)."""
    with db.read() as session:
        row = _badge(session, tenant, badge_id)
        if scope != "admin":
            assessment = session.scalar(select(TestSession.assessment_id).where(
                TestSession.id == row.session_id))
            runner = load_runner(db, session, tenant=tenant, assessment_id=assessment)
            if not runner.show_results:
                raise PermissionDeniedError("this assessment does not show results to "
                                            "learners; ask an administrator",
                                            details={"badge_id": badge_id})
        return _view(row)


def badge_jwt(db: Database, *, secret: str | None, tenant: str, badge_id: str, scope: str
              ) -> dict[str, Any]:
    """The badge as a VC-JWT (RS256, the tenant's newest RSA key; OB 3.0 JWT format).

    The payload is the issued credential without its Data Integrity proof, plus the JWT
    claims; ``kid`` names the RSA key (did:web ``#key-<id>``, else ``urn:zapcat:...``).
    RS256 is deterministic: the same badge and key give the same token.
    """
    from guidance.badges.jwt import sign_jwt

    view = get_badge(db, tenant=tenant, badge_id=badge_id, scope=scope)
    credential = {k: v for k, v in view["credential"].items() if k != "proof"}
    key = tenant_jwt_key(db, tenant=tenant, secret=secret)
    try:
        token = sign_jwt(credential, key.private_key, kid=key.kid)
    except BadgeError as exc:  # pragma: no cover - the credential was built here
        raise BadgeIssueError(exc.code, exc.message, details={"badge_id": badge_id}) from None
    return {"badge_id": badge_id, "kid": key.kid, "jwt": token}


def revoke_badge(db: Database, *, secret: str | None, tenant: str, badge_id: str
                 ) -> dict[str, Any]:
    """Revoke a badge: set its status bit and re-sign its status list (idempotent)."""
    secret = check_secret(secret)
    with db.write() as session:
        row = _badge(session, tenant, badge_id)
        status_list = lock_list(session, tenant, row.status_list_id)
        set_status(session, secret=secret, row=status_list, index=row.status_index, value=True)
        row.revoked_at = row.revoked_at or utcnow()
        session.flush()
        return _view(row, status_list.url)


__all__ = ["MAX_VALID_DAYS", "badge_jwt", "get_badge", "issue_badges", "published_status_list",
           "resolve_method", "revoke_badge", "single_profile", "single_section",
           "tenant_jwt_key"]
