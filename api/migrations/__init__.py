"""Alembic migrations of the service database, shipped inside the package.

Use :func:`upgrade` (or ``zapcat db upgrade``) rather than the ``alembic`` command; it
finds this folder from the installed package.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

SCRIPT_LOCATION = "api:migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at these migrations (and ``url`` if given)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Upgrade the database reached by ``connection`` to ``revision`` (default the newest).

    Parameters
    ----------
    connection : sqlalchemy.engine.Connection
        An open connection; the migration runs in its transaction, committed on return.
    revision : str, default "head"
    """
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, ``None`` when it has never been migrated."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision of these migrations (what :func:`upgrade` reaches)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head
