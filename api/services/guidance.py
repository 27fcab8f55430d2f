"""Catalogue versions, recommendations and the learner's report of a battery session.

Catalogues are published like banks: the service numbers the versions of each catalogue
name of a tenant 1, 2, ... and a published version never changes. Recommendations and
reports are computed on request from the finished session's profile (pure functions of
:mod:`guidance`); nothing is stored.
"""

from __future__ import annotations

import io
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.db import Database
from api.errors import (
    InvalidRequestError,
    MalformedJSONError,
    NotFoundError,
    PermissionDeniedError,
)
from api.models import CatalogueVersion, TestSession, iso, utcnow
from api.services.banks import ImmutableCache
from api.services.runners import BatteryRun, load_runner
from engine.battery import result
from engine.config import pool_status
from guidance.catalogue import Catalogue, CatalogueValidationError, catalogue_from_dict
from guidance.catalogue_csv import catalogue_from_csv
from guidance.gaps import information_from_banks, levels_from_sections, recommend
from guidance.report import build_report


def _summary(row: CatalogueVersion) -> dict[str, Any]:
    return {"name": row.name, "version": row.version, "n_credentials": row.n_credentials,
            "n_roles": row.n_roles, "description": row.description,
            "published_at": iso(row.created_at)}  # fmt: skip


def publish_catalogue(db: Database, *, tenant: str, document: Any) -> dict[str, Any]:
    """Validate a ``zapcat-catalogue/1`` document and publish it as the next version."""
    cat = catalogue_from_dict(document, source="request body")
    for _attempt in range(5):
        try:
            with db.write() as session:
                latest = session.scalar(select(func.max(CatalogueVersion.version)).where(
                    CatalogueVersion.tenant == tenant, CatalogueVersion.name == cat.name))
                version = (latest or 0) + 1
                doc = {**cat.to_dict(), "version": str(version)}
                row = CatalogueVersion(
                    tenant=tenant, name=cat.name, version=version,
                    n_credentials=len(cat.credentials), n_roles=len(cat.roles),
                    description=cat.description, document=json.dumps(doc),
                    created_at=utcnow())  # fmt: skip
                session.add(row)
                session.flush()
                return _summary(row)
        except IntegrityError:  # a concurrent publish took this number: the next one
            continue
    raise RuntimeError("could not assign a catalogue version after 5 attempts")  # pragma: no cover


def publish_catalogue_body(db: Database, tenant: str, raw: bytes, csv: bool) -> dict[str, Any]:
    """Publish a request body: ``zapcat-catalogue/1`` JSON, or its CSV table when ``csv``.

    Raises
    ------
    MalformedJSONError
        A JSON body that does not parse.
    CatalogueValidationError
        Every problem of the catalogue (CSV ones by row, column and value).
    """
    if csv:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CatalogueValidationError([f"the CSV body is not UTF-8 text: {exc.reason}"],
                                           source="request body") from None  # fmt: skip
        catalogue = catalogue_from_csv(io.StringIO(text))
        return publish_catalogue(db, tenant=tenant, document=catalogue.to_dict())
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedJSONError(exc) from None
    return publish_catalogue(db, tenant=tenant, document=document)


def list_catalogues(db: Database, *, tenant: str) -> list[dict[str, Any]]:
    """Every published catalogue version of a tenant, by name then version."""
    with db.read() as session:
        rows = session.scalars(select(CatalogueVersion).where(
            CatalogueVersion.tenant == tenant).order_by(
                CatalogueVersion.name, CatalogueVersion.version)).all()
    return [_summary(r) for r in rows]


def _row(db: Database, tenant: str, name: str, version: int) -> CatalogueVersion:
    with db.read() as session:
        row = session.scalars(select(CatalogueVersion).where(
            CatalogueVersion.tenant == tenant, CatalogueVersion.name == name,
            CatalogueVersion.version == version)).first()
    if row is None:
        raise NotFoundError("catalogue version", f"{name}/{version}")
    return row


def get_catalogue_version(db: Database, *, tenant: str, name: str, version: int
                          ) -> dict[str, Any]:
    """A catalogue version: its summary and document."""
    row = _row(db, tenant, name, version)
    return {**_summary(row), "document": json.loads(row.document)}


_CATALOGUES = ImmutableCache(32)


def load_catalogue(db: Database, *, tenant: str, name: str, version: int) -> Catalogue:
    """The parsed catalogue of a stored version (cached; versions never change)."""
    row = _row(db, tenant, name, version)
    return _CATALOGUES.get((db.uid, row.id), lambda: catalogue_from_dict(
        json.loads(row.document), source=f"{name}/{version}"))


def _finished_battery(db: Database, tenant: str, session_id: str, scope: str
                      ) -> tuple[BatteryRun, Any, bool]:
    with db.read() as session:
        row = session.scalars(select(TestSession).where(
            TestSession.id == session_id, TestSession.tenant == tenant)).first()
        if row is None:
            raise NotFoundError("session", session_id)
        runner = load_runner(db, session, tenant=tenant, assessment_id=row.assessment_id)
    if not isinstance(runner, BatteryRun):
        raise InvalidRequestError(
            "reports and recommendations are given for battery sessions only; this session "
            "runs a single-skill assessment", details={"session_id": session_id})
    if scope != "admin" and not runner.show_results:
        raise PermissionDeniedError(
            "this assessment does not show results to learners; ask an administrator",
            details={"session_id": session_id})
    state = runner.read_state(row.state)
    if not state.finished:
        raise InvalidRequestError("the session is not finished yet: answer its items first",
                                  details={"session_id": session_id, "status": row.status})
    return runner, state, bool(row.practice)


def _recommend(db: Database, tenant: str, runner: BatteryRun, state: Any, catalogue: str,
               version: int, role: str) -> dict[str, Any]:
    plan = runner.plan
    cat = load_catalogue(db, tenant=tenant, name=catalogue, version=version)
    used = {plan.skill_ids[k]: list(t.administered) for k, t in enumerate(state.tests)
            if t is not None}
    info = information_from_banks(dict(zip(plan.skill_ids, plan.banks, strict=True)), used,
                                  status=pool_status(plan.configs[0].mode))
    return recommend(result(plan, state), levels_from_sections(plan.sections), cat, role,
                     information=info)


def session_recommendations(db: Database, *, tenant: str, session_id: str, scope: str,
                            catalogue: str, version: int, role: str) -> dict[str, Any]:
    """Gap analysis and ranked credentials of a finished battery session for ``role``."""
    runner, state, practice = _finished_battery(db, tenant, session_id, scope)
    out = _recommend(db, tenant, runner, state, catalogue, version, role)
    return {"session_id": session_id, "practice": practice, **out}


def session_report(db: Database, *, tenant: str, session_id: str, scope: str,
                   catalogue: str | None = None, version: int | None = None,
                   role: str | None = None) -> dict[str, Any]:
    """The learner's report (``zapcat-report/1``), with next steps when a role is given."""
    runner, state, practice = _finished_battery(db, tenant, session_id, scope)
    recs = None
    if role is not None or catalogue is not None:
        if not (role and catalogue and version):
            raise InvalidRequestError("give catalogue, version and role together for next "
                                      "steps", details={"catalogue": catalogue,
                                                        "version": version, "role": role})
        recs = _recommend(db, tenant, runner, state, catalogue, version, role)
    plan = runner.plan
    title = f"Your skills profile: {plan.battery.name}"
    return build_report(result(plan, state), plan.sections, title=title,
                        recommendations=recs, practice=practice)


__all__ = ["get_catalogue_version", "list_catalogues", "load_catalogue", "publish_catalogue",
           "publish_catalogue_body",
           "session_recommendations", "session_report"]
