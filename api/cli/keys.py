"""``zapcat keys``: create, list and revoke API keys of the delivery service."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli._common import console, err_console, fail
from item_banks.errors import ZapcatError

if TYPE_CHECKING:
    from api.db import Database

# the service's database layer (SQLAlchemy, alembic) is imported when a command runs

app = typer.Typer(
    help="Create, list and revoke API keys (stored hashed; shown once).", no_args_is_help=True
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (default: $ZAPCAT_DATABASE_URL, else sqlite:///zapcat.db).",
        show_default=False,
    ),
]


class Scope(StrEnum):
    """Scopes of an API key."""

    admin = "admin"
    deliver = "deliver"


def open_database(database_url: str | None) -> Database:
    """The service database named by ``database_url`` or the environment, migrated."""
    from api.db import Database
    from api.settings import Settings

    settings = Settings.from_env()
    if database_url:
        settings = dataclasses.replace(settings, database_url=database_url)
    db = Database(settings)
    db.migrate()
    return db


@app.command()
def create(
    tenant: Annotated[str, typer.Option(help="Tenant the key belongs to.")],
    scope: Annotated[
        Scope, typer.Option(help="admin: banks, assessments, results; deliver: sessions only.")
    ],
    label: Annotated[str, typer.Option(help="Free text to recognise the key.")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and print it (the only time it is shown)."""
    from api.services.keys import create_key

    try:
        token, principal = create_key(
            open_database(database_url), tenant=tenant, scope=scope.value, label=label
        )
    except ZapcatError as error:
        raise fail(error) from None
    typer.echo(token)
    err_console.print(
        f"key {principal.key_id} for tenant {tenant!r}, scope {scope.value}: "
        "store it now, it cannot be shown again",
        highlight=False,
    )


@app.command("list")
def list_keys(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List keys (id, tenant, scope, label, dates); never the secrets."""
    from rich.table import Table
    from sqlalchemy import select

    from api.models import ApiKey

    db = open_database(database_url)
    query = select(ApiKey).order_by(ApiKey.tenant, ApiKey.created_at)
    if tenant:
        query = query.where(ApiKey.tenant == tenant)
    with db.read() as session:
        rows = session.scalars(query).all()
    table = Table(header_style="bold", pad_edge=False)
    for column in ("key_id", "tenant", "scope", "label", "created", "revoked"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(
            row.key_id,
            row.tenant,
            row.scope,
            row.label,
            row.created_at.isoformat(timespec="seconds"),
            row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else "",
        )
    console.print(table)


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (the 12 hex digits after 'zc_').")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key (services stop accepting it within 30 seconds)."""
    from sqlalchemy import select

    from api.errors import NotFoundError
    from api.models import ApiKey

    db = open_database(database_url)
    with db.write() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).first()
        if row is None:
            raise fail(NotFoundError("API key", key_id))
        row.revoked_at = row.revoked_at or datetime.now(UTC)
    console.print(f"key {key_id} revoked", highlight=False)
