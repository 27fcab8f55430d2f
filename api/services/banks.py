"""Item bank versions: publish, list, read.

A bank is published as its ``zapcat-bank/1`` document; the service numbers the versions
of each bank name of a tenant 1, 2, ... and stores the document with that version. A
published version never changes. Parsed banks are cached per process (they are
immutable, so the cache needs no invalidation).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.db import Database
from api.errors import NotFoundError
from api.models import BankVersion, iso, utcnow
from item_banks.bank import ItemBank
from item_banks.io import bank_from_dict, bank_from_json, bank_to_json

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


def _summary(row: BankVersion) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "n_items": row.n_items,
        "description": row.description,
        "published_at": iso(row.created_at),
    }


def publish_bank(db: Database, *, tenant: str, document: Any) -> dict[str, Any]:
    """Validate a ``zapcat-bank/1`` document and publish it as the next version of its name.

    Parameters
    ----------
    db : Database
    tenant : str
    document : object
        The parsed JSON document (its ``version`` field is replaced by the version number
        the service assigns).

    Returns
    -------
    dict
        ``{name, version, n_items, description, published_at}``.

    Raises
    ------
    BankValidationError
        Listing every problem of the document.
    """
    bank = bank_from_dict(document, source="request body")
    for _attempt in range(5):
        try:
            with db.write() as session:
                latest = session.scalar(
                    select(func.max(BankVersion.version)).where(
                        BankVersion.tenant == tenant, BankVersion.name == bank.name
                    )
                )
                version = (latest or 0) + 1
                stored = ItemBank(
                    bank.items,
                    name=bank.name,
                    version=str(version),
                    description=bank.description,
                    provenance=bank.provenance,
                )
                row = BankVersion(
                    tenant=tenant,
                    name=bank.name,
                    version=version,
                    n_items=len(stored),
                    description=stored.description,
                    document=bank_to_json(stored, indent=None),
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
                return _summary(row)
        except IntegrityError:  # a concurrent publish took this version number: next one
            continue
    raise RuntimeError("could not assign a bank version after 5 attempts")  # pragma: no cover


def list_banks(db: Database, *, tenant: str) -> list[dict[str, Any]]:
    """Every published bank version of a tenant, by name then version."""
    with db.read() as session:
        rows = session.scalars(
            select(BankVersion)
            .where(BankVersion.tenant == tenant)
            .order_by(BankVersion.name, BankVersion.version)
        ).all()
    return [_summary(row) for row in rows]


def find_bank_version(db: Database, *, tenant: str, name: str, version: int) -> BankVersion:
    """The row of a bank version of a tenant; :class:`NotFoundError` if there is none."""
    with db.read() as session:
        row = session.scalars(
            select(BankVersion).where(
                BankVersion.tenant == tenant,
                BankVersion.name == name,
                BankVersion.version == version,
            )
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
    """The parsed :class:`ItemBank` of a stored version (cached per database and row)."""
    return _BANKS.get((db.uid, row.id), lambda: bank_from_json(row.document, source=row.name))
