"""Item bank versions: publish, list, read.

A bank is published as its ``zapcat-bank/1`` document; the service numbers the versions
of each bank name of a tenant 1, 2, ... and stores the document with that version, as its
columnar arrays (:mod:`item_banks.columns`: the header and every item's record, from which
the document is read back; versions published before migration 0007 as JSON text). A
published version never changes. Parsed banks are cached per process (they are
immutable, so the cache needs no invalidation).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, defer

from api.db import Database
from api.errors import NotFoundError
from api.limits import (
    DESCRIPTION_MAX_LENGTH,
    ID_MAX_LENGTH,
    identifier_problem,
    short,
    text_problem,
)
from api.models import BankVersion, iso, utcnow
from api.services.bank_documents import (
    Prepared,
    building_large_objects,
    parse_stored,
    prepare_parsed,
)
from api.services.idempotency import IdempotencyKey, create_once
from item_banks.bank import ItemBank
from item_banks.columns import bank_from_arrays
from item_banks.errors import BankValidationError, Problem
from item_banks.io import bank_from_dict

T = TypeVar("T")


class ImmutableCache:
    """A small thread-safe LRU cache for values that never change once stored.

    Parameters
    ----------
    size : int
        Most entries kept.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: Hashable) -> Any | None:
        """The cached value for ``key``, or ``None``."""
        with self._lock:
            return self._data.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        """Store ``value`` for ``key`` (the oldest entry goes when the cache is full)."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The value for ``key``, built (outside the lock) on a miss."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = build()
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value


def _summary(row: BankVersion, *, brief: bool = False) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "n_items": row.n_items,
        "description": short(row.description) if brief else row.description,
        "published_at": iso(row.created_at),
    }


def _limit_problems(document: Any) -> list[Problem]:
    """The service's limits on a document's name, description and item ids."""
    if not isinstance(document, dict):
        return []
    out: list[Problem] = []
    name = document.get("name")
    if isinstance(name, str) and name.strip():
        problem = identifier_problem(name, "bank name")
        if problem:
            out.append(Problem(None, "name", problem))
    description = document.get("description", "")
    if description is not None:
        problem = text_problem(description, "description", DESCRIPTION_MAX_LENGTH)
        if problem:
            out.append(Problem(None, "description", problem))
    items = document.get("items")
    for i, record in enumerate(items if isinstance(items, list) else []):
        item_id = record.get("item_id") if isinstance(record, dict) else None
        if isinstance(item_id, str) and item_id:
            problem = identifier_problem(item_id, "item id")
            if problem:
                out.append(Problem(item_id[:ID_MAX_LENGTH], "item_id", problem, f"items[{i}]"))
    return out


def validate_document(document: Any) -> ItemBank:
    """The bank of a ``zapcat-bank/1`` document that also obeys the service's limits.

    Raises
    ------
    BankValidationError
        Every problem at once: the document's and the limits of :mod:`api.limits`.
    """
    limits = _limit_problems(document)
    try:
        bank = bank_from_dict(document, source="request body")
    except BankValidationError as error:
        raise BankValidationError([*limits, *error.problems], source="request body") from None
    if limits:
        raise BankValidationError(limits, source="request body")
    return bank


def publish_bank(
    db: Database, *, tenant: str, document: Any, idempotency: IdempotencyKey | None = None
) -> dict[str, Any]:
    """Validate a parsed ``zapcat-bank/1`` document and publish it (see :func:`publish`).

    Raises
    ------
    BankValidationError
        Listing every problem of the document.
    """
    prepared = prepare_parsed(document, "/v1/banks", validate_document)
    return publish(db, tenant=tenant, prepared=prepared, idempotency=idempotency)


def publish(
    db: Database, *, tenant: str, prepared: Prepared, idempotency: IdempotencyKey | None = None
) -> dict[str, Any]:
    """Publish a validated document as the next version of its name.

    The document was validated and serialised beforehand
    (:func:`api.services.bank_documents.prepare_document`); the write transaction only
    numbers the version and stores the row (on SQLite it holds the database write lock,
    so it must stay short however large the bank).

    Parameters
    ----------
    db : Database
    tenant : str
    prepared : Prepared
        The document's text pieces and summary (its ``version`` is the one assigned here).
    idempotency : IdempotencyKey, optional
        A retry with the same key and document gets the first reply.

    Returns
    -------
    dict
        ``{name, version, n_items, description, published_at}``.
    """

    def create(session: Session) -> dict[str, Any]:
        latest = session.scalar(
            select(func.max(BankVersion.version)).where(
                BankVersion.tenant == tenant, BankVersion.name == prepared.name
            )
        )
        version = (latest or 0) + 1
        row = BankVersion(
            tenant=tenant,
            name=prepared.name,
            version=version,
            n_items=prepared.n_items,
            description=prepared.description,
            document="",  # the arrays hold the whole document (migration 0007)
            arrays=prepared.arrays,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()  # a concurrent publish that took this version: IntegrityError
        return _summary(row)

    return create_once(db, tenant, idempotency, create)


def list_banks(db: Database, *, tenant: str) -> list[dict[str, Any]]:
    """Every published bank version of a tenant, by name then version (whole summaries)."""
    with db.read() as session:
        rows = session.scalars(
            select(BankVersion)
            .where(BankVersion.tenant == tenant)
            .options(defer(BankVersion.document))
            .order_by(BankVersion.name, BankVersion.version)
        ).all()
    return [_summary(row) for row in rows]


def bank_page(
    db: Database, *, tenant: str, limit: int = 100, after: tuple[str, int] | None = None
) -> tuple[list[dict[str, Any]], tuple[str, int] | None]:
    """A page of the published bank versions of a tenant, by name then version.

    Parameters
    ----------
    db : Database
    tenant : str
    limit : int, default 100
        Most entries returned.
    after : (name, version), optional
        Start after this entry (the cursor of the previous page).

    Returns
    -------
    entries : list of dict
        Summaries with the description cut to
        :data:`api.limits.LIST_DESCRIPTION_LENGTH` characters.
    next : (name, version) or None
        Where the next page starts, ``None`` on the last page.
    """
    query = select(BankVersion).where(BankVersion.tenant == tenant)
    if after is not None:
        name, version = after
        query = query.where(
            or_(
                BankVersion.name > name,
                and_(BankVersion.name == name, BankVersion.version > version),
            )
        )
    query = (
        query.options(defer(BankVersion.document))
        .order_by(BankVersion.name, BankVersion.version)
        .limit(limit + 1)
    )
    with db.read() as session:
        rows = session.scalars(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = (rows[-1].name, rows[-1].version) if more and rows else None
    return [_summary(row, brief=True) for row in rows], last


def find_bank_version(db: Database, *, tenant: str, name: str, version: int) -> BankVersion:
    """The row of a bank version of a tenant; :class:`NotFoundError` if there is none.

    The row comes without its document (see :func:`load_bank`). A name that breaks the
    identifier rule names no bank: it is not found, without asking the database.
    """
    row = None
    if identifier_problem(name, "bank name") is None:
        with db.read() as session:
            row = session.scalars(
                select(BankVersion)
                .where(
                    BankVersion.tenant == tenant,
                    BankVersion.name == name,
                    BankVersion.version == version,
                )
                .options(defer(BankVersion.document))
            ).first()
    if row is None:
        raise NotFoundError("bank version", f"{name}/{version}")
    return row


def get_bank_version(
    db: Database, *, tenant: str, name: str, version: int, with_items: bool
) -> dict[str, Any]:
    """A bank version: its summary, plus the whole document when ``with_items`` (admin)."""
    row = find_bank_version(db, tenant=tenant, name=name, version=version)
    out = _summary(row)
    if with_items:
        out["document"] = load_bank(db, row).to_dict()
    return out


_BANKS = ImmutableCache(64)


def load_bank(db: Database, row: BankVersion) -> ItemBank:
    """The :class:`ItemBank` of a stored version (cached per database and row).

    ``row`` may come without its document; on a cache miss its columnar arrays are read by
    id and the bank is built from them (:func:`item_banks.columns.bank_from_arrays`: no
    parsing, items decoded on demand); a version published before they were stored is
    parsed from its document.
    """

    def build() -> ItemBank:
        arrays = stored_arrays(db, row)
        if arrays is not None:  # no parsing, no object per item (item_banks.columns)
            return bank_from_arrays(arrays, version=str(row.version))
        with db.read() as session:  # published before migration 0007
            text = session.scalar(select(BankVersion.document).where(BankVersion.id == row.id))
        with building_large_objects():
            return parse_stored(text, source=row.name)

    return _BANKS.get((db.uid, row.id), build)


def stored_arrays(db: Database, row: BankVersion) -> bytes | None:
    """The ``zapcat-bank-arrays/1`` binary of a stored version (``None`` before 0007)."""
    with db.read() as session:
        return session.scalar(select(BankVersion.arrays).where(BankVersion.id == row.id))
