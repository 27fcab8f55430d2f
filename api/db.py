"""Database access of the service: engine, transactions and locking.

Two kinds of transaction, both context managers yielding a SQLAlchemy ``Session``:

- :meth:`Database.read` for queries (SQLite: a deferred ``BEGIN``; PostgreSQL: ordinary).
- :meth:`Database.write` for changes that must not interleave with a concurrent writer.
  On SQLite it takes the database write lock at once (``BEGIN IMMEDIATE``), so a second
  writer in any process waits instead of reading stale rows, and within one process a
  lock queues writers instead of letting them spin on SQLite's busy handler. On
  PostgreSQL the service locks the rows it changes (``SELECT ... FOR UPDATE``); see
  :func:`api.services.sessions.respond`.

Either commits on normal exit and rolls back on an exception.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.migrations import current_revision, upgrade
from api.settings import Settings

_WRITE = "zapcat_write"


def _sqlite_setup(engine: Engine, timeout: float) -> None:
    """Let SQLAlchemy, not the sqlite3 module, emit BEGIN; WAL journal; foreign keys on."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """The service's database: one SQLAlchemy engine and its transactions.

    Parameters
    ----------
    settings : Settings
        ``database_url``, pool size and SQLite lock timeout.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uid = uuid.uuid4().hex  # tells caches of different databases apart
        url = settings.url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": settings.sqlite_timeout},
                hide_parameters=True,  # errors and logs never show examinees' values
            )
            _sqlite_setup(self.engine, settings.sqlite_timeout)
        else:
            self.engine = create_engine(
                url,
                pool_size=settings.pool_size,
                max_overflow=settings.pool_size,
                pool_pre_ping=True,
                hide_parameters=True,
            )
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(self._write_engine, expire_on_commit=False)
        self._local_write_lock = threading.Lock() if self.is_sqlite else None

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read transaction (rolled back at the end: nothing to commit)."""
        with self._reads() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on normal exit (see the module docstring)."""
        if self._local_write_lock is not None:
            with self._local_write_lock, self._writes.begin() as session:
                yield session
        else:
            with self._writes.begin() as session:
                yield session

    def ping(self) -> None:
        """Run ``SELECT 1``; raises the driver's error when the database is unreachable."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest Alembic revision."""
        with self._write_engine.begin() as conn:
            upgrade(conn)

    def revision(self) -> str | None:
        """The schema revision of the database (``None`` if never migrated)."""
        with self.engine.connect() as conn:
            return current_revision(conn)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
