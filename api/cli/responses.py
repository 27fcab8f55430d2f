"""``zapcat responses``: export the responses the service recorded."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.cli._common import console, err_console, fail
from api.cli.keys import DatabaseUrl, open_database
from item_banks.errors import ZapcatError

app = typer.Typer(help="Export the responses recorded by the service.", no_args_is_help=True)


class ExportFormat(StrEnum):
    """File formats of an export."""

    csv = "csv"
    parquet = "parquet"


@app.command()
def export(
    bank: Annotated[str, typer.Option(help="Name of the published bank.")],
    version: Annotated[int, typer.Option(help="Bank version (1, 2, ...).", min=1)],
    tenant: Annotated[str, typer.Option(help="Tenant owning the bank.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (.csv or .parquet).")],
    format: Annotated[
        ExportFormat | None,
        typer.Option(help="File format (default: from the suffix of --out, else csv)."),
    ] = None,
    assessment: Annotated[
        str | None, typer.Option(help="Only the sessions of this assessment id.")
    ] = None,
    examinee_refs: Annotated[
        bool,
        typer.Option(
            help="Write the platform's examinee references; by default they are "
            "pseudonymised (HMAC-SHA256 with $ZAPCAT_EXPORT_SECRET, stable across exports "
            "when it is set)."
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Write every recorded response of a bank version, long format, streamed.

    Columns: person, session_id, item, response, seq, time, scored (false for pretest
    items), finished. Memory stays constant however many responses there are.
    """
    from api.services import exports

    started = time.perf_counter()
    try:
        db = open_database(database_url)
        fmt = exports.format_of(out, format.value if format else None)
        batches = exports.response_batches(
            db,
            tenant=tenant,
            bank=bank,
            version=version,
            assessment_id=assessment,
            examinee_refs=examinee_refs,
            secret=exports.export_secret(db.settings.export_secret),
        )
        n = exports.write_export(batches, out, fmt)
    except ZapcatError as error:
        raise fail(error) from None
    console.print(f"wrote {n} responses to {out}", highlight=False)
    err_console.print(f"{time.perf_counter() - started:.1f} s", highlight=False)
