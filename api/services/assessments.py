"""Assessments: a pinned bank version plus a validated engine configuration."""

from __future__ import annotations

import uuid
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from api.db import Database
from api.errors import InvalidRequestError, NotFoundError
from api.limits import is_server_id
from api.models import Assessment, BankVersion, iso, utcnow
from api.services.bank_documents import building_large_objects
from api.services.bank_tables import CHILD_TABLES_ITEMS, build_in_child
from api.services.banks import ImmutableCache, find_bank_version, load_bank, stored_arrays
from api.services.config_limits import checked_config
from api.services.idempotency import IdempotencyKey, create_once, replay
from engine import session as cat
from engine._tables import bank_tables
from engine.config import CATConfig
from item_banks.bank import ItemBank
from item_banks.errors import ZapcatError


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
    idempotency: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Create an assessment on a published bank version of the tenant.

    The configuration is validated against the bank by ``CATConfig.from_dict`` and the
    service's bounds (:mod:`api.services.config_limits`; every problem is reported at
    once, code ``invalid_config``) and stored in its complete form (``to_dict``: defaults
    filled in), so later engine default changes do not change a published assessment.
    All of that happens before the write transaction, which only inserts one row
    (exposure counts get their rows when an item is first presented).

    Parameters
    ----------
    idempotency : IdempotencyKey, optional
        A retry with the same key and body gets the first reply.

    Returns
    -------
    dict
        The assessment view (``assessment_id, name, bank, bank_version, config, ...``).
    """
    stored_reply = replay(db, tenant, idempotency)
    if stored_reply is not None:
        return stored_reply
    version_row = find_bank_version(db, tenant=tenant, name=bank, version=bank_version)
    item_bank = load_bank(db, version_row)
    engine_config = checked_config(config, item_bank)
    full_config = engine_config.to_dict()
    created: list[str] = []

    def create(session: Session) -> dict[str, Any]:
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
        created[:] = [row.id]
        return _view(row, version_row)

    reply = create_once(db, tenant, idempotency, create)
    if created:  # the first session start needs no parsing and no engine tables
        large = len(item_bank) >= CHILD_TABLES_ITEMS
        warm(item_bank, engine_config, arrays=stored_arrays(db, version_row) if large else None)
        _LOADED.put((db.uid, created[0]), (tenant, item_bank, engine_config))
    return reply


def warm(bank: ItemBank, config: CATConfig, *, arrays: bytes | None = None) -> None:
    """Build the engine's cached tables of (bank, config) now, outside any transaction.

    The first :func:`engine.session.start` on a bank computes its information tables
    (about 0.1 ms per item); doing it here keeps that work away from the write lock that
    a session start holds. Given the bank's stored arrays, and while none of its tables
    exist yet, the tables are computed in the child process and mapped here
    (:mod:`api.services.bank_tables`).
    """
    try:
        if arrays is not None and not bank_tables(bank).export():
            try:
                build_in_child(bank, config, arrays)
            except (OSError, BrokenProcessPool):  # no child or no shared memory: built here
                pass
        with building_large_objects():
            cat.start(bank, config, seed=0)
    except ZapcatError:  # the real start will report it
        pass


def _find(session: Session, tenant: str, assessment_id: str) -> tuple[Assessment, BankVersion]:
    if not is_server_id(assessment_id):
        raise NotFoundError("assessment", assessment_id)
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


def is_loaded(db: Database, tenant: str, assessment_id: str) -> bool:
    """Whether :func:`load_assessment` would answer from the cache (no parsing)."""
    hit = _LOADED.peek((db.uid, assessment_id))
    return hit is not None and hit[0] == tenant


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
    if not is_server_id(assessment_id):
        raise NotFoundError("assessment", assessment_id)
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
        version_row = session.get_one(
            BankVersion, row.bank_version_id, options=[defer(BankVersion.document)]
        )
        bank = load_bank(db, version_row)
        config = CATConfig.from_dict(row.config, bank)
        large = len(bank) >= CHILD_TABLES_ITEMS  # first start after a restart: tables too
        warm(bank, config, arrays=stored_arrays(db, version_row) if large else None)
        return row.tenant, bank, config

    _, bank, config = _LOADED.get(key, build)
    return bank, config
