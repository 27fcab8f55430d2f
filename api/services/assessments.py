"""Assessments: a pinned bank version plus a validated engine configuration."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from api.db import Database
from api.errors import InvalidRequestError, NotFoundError
from api.models import Assessment, BankVersion, ExposureCount, iso, utcnow
from api.services.banks import ImmutableCache, find_bank_version, load_bank
from engine.config import CATConfig
from item_banks.bank import ItemBank


def _view(row: Assessment, bank: BankVersion) -> dict[str, Any]:
    battery = isinstance(row.config, dict) and row.config.get("kind") == "battery"
    # rows of earlier versions hold the flat zapcat-cat-config/1 form: shown in today's nested one
    return {
        "assessment_id": row.id,
        "kind": "battery" if battery else "test",
        "name": row.name,
        "bank": bank.name,
        "bank_version": bank.version,
        "config": row.config if battery else CATConfig.from_dict(row.config).to_dict(),
        "n_sessions": row.n_sessions,
        "created_at": iso(row.created_at),
    }


def create_assessment(
    db: Database,
    *,
    tenant: str,
    bank: str,
    bank_version: int,
    config: dict[str, Any],
    name: str = "",
) -> dict[str, Any]:
    """Create an assessment on a published bank version of the tenant.

    The configuration is validated against the bank by ``CATConfig.from_dict`` (every
    problem is reported at once, code ``invalid_config``) and stored in its complete
    form (``to_dict``: defaults filled in), so later engine default changes do not change
    a published assessment.

    Returns
    -------
    dict
        The assessment view (``assessment_id, name, bank, bank_version, config, ...``).
    """
    version_row = find_bank_version(db, tenant=tenant, name=bank, version=bank_version)
    item_bank = load_bank(db, version_row)
    full_config = CATConfig.from_dict(config, item_bank).to_dict()
    with db.write() as session:
        row = Assessment(
            id=str(uuid.uuid4()),
            tenant=tenant,
            name=name,
            bank_version_id=version_row.id,
            config=full_config,
            n_sessions=0,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        session.add_all(
            ExposureCount(assessment_id=row.id, item_id=item_id, count=0)
            for item_id in item_bank.item_ids
        )
        return _view(row, version_row)


def _find(session: Session, tenant: str, assessment_id: str) -> tuple[Assessment, BankVersion]:
    found = session.execute(
        select(Assessment, BankVersion)
        .join(BankVersion, Assessment.bank_version_id == BankVersion.id)
        .where(Assessment.id == assessment_id, Assessment.tenant == tenant)
        .options(defer(BankVersion.document))
    ).first()
    if found is None:
        raise NotFoundError("assessment", assessment_id)
    return found[0], found[1]


def get_assessment(db: Database, *, tenant: str, assessment_id: str) -> dict[str, Any]:
    """An assessment of the tenant (:class:`NotFoundError` for others' and unknown ids)."""
    with db.read() as session:
        row, version_row = _find(session, tenant, assessment_id)
    return _view(row, version_row)


_LOADED = ImmutableCache(64)


def load_assessment(
    db: Database, session: Session, *, tenant: str, assessment_id: str
) -> tuple[ItemBank, CATConfig]:
    """The parsed bank and configuration of an assessment of ``tenant``.

    Both are immutable, so they are cached per process; a cache hit costs no query.

    Parameters
    ----------
    db : Database
        Names the cache.
    session : sqlalchemy.orm.Session
        The open transaction to read the rows in on a cache miss.

    Raises
    ------
    NotFoundError
        Unknown assessment, or one of another tenant.
    InvalidRequestError
        A battery assessment (one test per skill: see :mod:`api.services.runners`).
    """
    key = (db.uid, assessment_id)
    hit = _LOADED.peek(key)
    if hit is not None and hit[0] == tenant:
        return hit[1], hit[2]
    row = session.scalars(
        select(Assessment).where(Assessment.id == assessment_id, Assessment.tenant == tenant)
    ).first()
    if row is None:
        raise NotFoundError("assessment", assessment_id)
    if isinstance(row.config, dict) and row.config.get("kind") == "battery":
        raise InvalidRequestError(
            f"assessment {assessment_id!r} is a skill battery; run it through /v1/sessions "
            "(this route serves single-skill tests)",
            details={"assessment_id": assessment_id, "kind": "battery"},
        )

    def build() -> tuple[str, ItemBank, CATConfig]:
        version_row = session.get_one(BankVersion, row.bank_version_id)
        bank = load_bank(db, version_row)
        return row.tenant, bank, CATConfig.from_dict(row.config, bank)

    _, bank, config = _LOADED.get(key, build)
    return bank, config
