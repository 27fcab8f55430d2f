"""``zapcat bank``: show and validate item bank files."""

from __future__ import annotations

import json
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.cli._common import console, err_console, fail
from item_banks.bank import ItemBank
from item_banks.errors import BankValidationError, ZapcatError
from item_banks.io import bank_to_csv, bank_to_json, read_bank

app = typer.Typer(
    help="Show and validate item bank files (zapcat-bank/1 JSON or CSV).", no_args_is_help=True
)

BankPath = Annotated[
    Path,
    typer.Argument(
        help="Item bank file: zapcat-bank/1 JSON (.json) or CSV table (.csv).", show_default=False
    ),
]


class ShowFormat(StrEnum):
    """Output formats of ``zapcat bank show``."""

    table = "table"
    csv = "csv"
    json = "json"


_SHOW_COLUMNS = (
    ("item_id", False),
    ("model", False),
    ("parameters (SE)", False),
    ("content", True),
    ("status", False),
    ("enemies / tags", True),
)
"""Columns of ``zapcat bank show``: title and whether long cells fold onto more lines."""


def _load(path: Path) -> ItemBank:
    try:
        return read_bank(path)
    except ZapcatError as error:
        raise fail(error) from None


def _summary_lines(bank: ItemBank) -> list[str]:
    models = Counter(
        f"{it.model} (K={it.n_categories})" if it.n_categories > 2 else it.model for it in bank
    )
    areas = Counter(a for it in bank for a in it.content_areas)
    status = Counter(it.status for it in bank)
    lines = [
        f"[bold]{bank.name}[/] version {bank.version}: {len(bank)} items",
        "models: " + ", ".join(f"{m} {n}" for m, n in sorted(models.items())),
        "status: " + ", ".join(f"{s} {n}" for s, n in sorted(status.items())),
    ]
    if areas:
        lines.append("content areas: " + ", ".join(f"{a} {n}" for a, n in sorted(areas.items())))
    if bank.description:
        lines.append(bank.description)
    return lines


@app.command()
def show(
    bank_path: BankPath,
    format: Annotated[
        ShowFormat,
        typer.Option(
            "--format",
            "-f",
            help="table: summary and parameter table; csv: the CSV "
            "table; json: the zapcat-bank/1 document.",
        ),
    ] = ShowFormat.table,
    limit: Annotated[
        int | None,
        typer.Option(help="Show at most this many items in the table (all when omitted).", min=1),
    ] = None,
) -> None:
    """Show an item bank: a summary and its items' parameters, or the file as CSV or JSON."""
    bank = _load(bank_path)
    if format is ShowFormat.json:
        typer.echo(bank_to_json(bank))
        return
    if format is ShowFormat.csv:
        typer.echo(bank_to_csv(bank), nl=False)
        return
    from rich.table import Table
    from rich.text import Text

    for line in _summary_lines(bank):
        console.print(line, highlight=False)
    shown = bank.items if limit is None else bank.items[:limit]
    rows = []
    for it in shown:
        params = " ".join(
            f"{n}={v:.3f}" + (f" ({it.se[n]:.3f})" if n in it.se else "")
            for n, v in it.params.items()
        )
        model = it.model if it.n_categories == 2 else f"{it.model} K={it.n_categories}"
        extra = ", ".join([*it.enemy_groups, *it.tags])
        rows.append((it.item_id, model, params, ", ".join(it.content_areas), it.status, extra))
    table = Table(header_style="bold", pad_edge=False)
    # the one-line columns get their width from the plain text here: rich would measure
    # every cell (half the time of showing a bank of 250 items)
    for c, (title, fold) in enumerate(_SHOW_COLUMNS):
        width = None if fold else max(len(title), *(len(r[c]) for r in rows))
        table.add_column(title, no_wrap=not fold, overflow="fold", width=width)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)
    if limit is not None and limit < len(bank):
        console.print(f"... {len(bank) - limit} more items (use --limit or --format csv)")


@app.command()
def validate(bank_path: BankPath) -> None:
    """Check a bank file and list every problem; exit code 1 when there are any."""
    try:
        bank = read_bank(bank_path)
    except BankValidationError as error:
        err_console.print(error.message, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    except ZapcatError as error:
        raise fail(error) from None
    console.print(f"{bank_path}: valid ({len(bank)} items)", highlight=False)
    details = {"name": bank.name, "version": bank.version, "items": len(bank)}
    err_console.print(json.dumps(details), highlight=False)
