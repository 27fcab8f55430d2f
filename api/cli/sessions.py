"""``zapcat sessions``: maintenance of the service's test sessions."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli._common import console
from api.cli.keys import DatabaseUrl, open_database

# the service layer (SQLAlchemy) is imported when the command runs

app = typer.Typer(help="Maintain test sessions of the delivery service.", no_args_is_help=True)


@app.command("close-idle")
def close_idle(
    idle: Annotated[
        float,
        typer.Option(
            help="Close unfinished sessions with no activity for this many seconds.", min=1.0
        ),
    ] = 86400.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Close idle unfinished sessions now (stop reason "expired"; responses are kept).

    The service does this by itself every ZAPCAT_CLEANUP_EVERY seconds; this command is
    for deployments that turn that schedule off and run it from cron instead.
    """
    from api.services.cleanup import close_idle_sessions

    db = open_database(database_url)
    total = 0
    try:
        while (closed := close_idle_sessions(db, idle_seconds=idle)) > 0:
            total += closed
    finally:
        db.dispose()
    console.print(f"closed {total} session(s) idle for more than {idle:g} s", highlight=False)
