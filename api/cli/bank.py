"""``zapcat bank``: show and validate item bank files."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli import maintain as _maintain
from api.cli._common import console, err_console, fail
from item_banks.errors import MAX_LISTED, BankValidationError, ZapcatError

if TYPE_CHECKING:
    from item_banks.bank import Item, ItemBank

# the bank model and its file formats (numpy) are imported by the commands when they run:
# `zapcat bank --help` does not load them

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
    from item_banks.io import read_bank

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


def show_rows(items: Sequence[Item]) -> list[tuple[str, ...]]:
    """The cells of ``zapcat bank show``'s table, one row per item (see ``_SHOW_COLUMNS``)."""
    rows = []
    for it in items:
        params = " ".join(
            f"{n}={v:.3f}" + (f" ({it.se[n]:.3f})" if n in it.se else "")
            for n, v in it.params.items()
        )
        model = it.model if it.n_categories == 2 else f"{it.model} K={it.n_categories}"
        extra = ", ".join([*it.enemy_groups, *it.tags])
        rows.append((it.item_id, model, params, ", ".join(it.content_areas), it.status, extra))
    return rows


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
    from item_banks.io import bank_to_csv, bank_to_json

    bank = _load(bank_path)
    if format is ShowFormat.json:
        typer.echo(bank_to_json(bank))
        return
    if format is ShowFormat.csv:
        typer.echo(bank_to_csv(bank), nl=False)
        return
    from api.cli._table import PlainTable

    for line in _summary_lines(bank):
        console.print(line, highlight=False)
    rows = show_rows(bank.items if limit is None else bank.items[:limit])
    # the one-line columns are as wide as their plain text; rich lays out only the header
    # and the rows that set the widths (laying out every cell was a quarter of the command)
    table = PlainTable(_SHOW_COLUMNS, rows, header_style="bold")
    console.print(table)
    for line in flag_lines(bank):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if limit is not None and limit < len(bank):
        console.print(f"... {len(bank) - limit} more items (use --limit or --format csv)")


@app.command()
def validate(
    bank_path: BankPath,
    all_problems: Annotated[
        bool,
        typer.Option("--all", help="List every problem (by default the first 20 and a count)."),
    ] = False,
) -> None:
    """Check a bank file and list every problem; exit code 1 when there are any."""
    from item_banks.io import read_bank

    try:
        bank = read_bank(bank_path)
    except BankValidationError as error:
        message = error.message
        if all_problems:
            head = message.splitlines()[0]
            message = "\n".join([head, *(f"  - {p}" for p in error.problems)])
        elif len(error.problems) > MAX_LISTED:
            message += " (--all lists every one)"
        err_console.print(message, highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    except ZapcatError as error:
        raise fail(error) from None
    console.print(f"{bank_path}: valid ({len(bank)} items)", highlight=False)
    for line in flag_lines(bank):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    details = {"name": bank.name, "version": bank.version, "items": len(bank)}
    err_console.print(json.dumps(details), highlight=False)


def flag_lines(bank: ItemBank) -> list[str]:
    """Lines naming the bank's flagged items and whether the engine will give them."""
    flagged = [it for it in bank if it.flags]
    if not flagged:
        return []
    held = [it.item_id for it in flagged if not it.flags_accepted]
    lines = [f"{len(flagged)} flagged item(s) (diagnostics of their calibration):"]
    for it in flagged:
        state = "accepted" if it.flags_accepted else "not administered"
        lines.append(f"  - {it.item_id} ({state}): {'; '.join(it.flags)}")
    if held:
        lines.append(
            f"the engine does not administer {', '.join(held)} until accepted: "
            "zapcat bank accept BANK --item ID (or --all) writes the acceptance into the bank"
        )
    return lines


@app.command()
def accept(
    bank_path: BankPath,
    item: Annotated[
        list[str] | None,
        typer.Option("--item", "-i", help="Flagged item to accept (repeatable, or ID,ID)."),
    ] = None,
    all_items: Annotated[bool, typer.Option("--all", help="Accept every flagged item.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Bank to write (default: in place).")
    ] = None,
) -> None:
    """Accept flagged items as they are, so that the engine may administer them."""
    from item_banks.bank import ItemBank
    from item_banks.io import write_bank

    bank = _load(bank_path)
    wanted = {i.strip() for text in item or [] for i in text.split(",") if i.strip()}
    flagged = {it.item_id for it in bank if it.flags}
    if not wanted and not all_items:
        raise fail(ZapcatError("name the items to accept with --item ID, or give --all"))
    unknown = sorted(wanted - set(bank.item_ids))
    clean = sorted((wanted & set(bank.item_ids)) - flagged)
    if unknown or clean:
        parts = []
        if unknown:
            parts.append(f"not in the bank: {', '.join(unknown)}")
        if clean:
            parts.append(f"not flagged: {', '.join(clean)}")
        flagged_text = ", ".join(sorted(flagged)) or "none"
        raise fail(ZapcatError(f"cannot accept {'; '.join(parts)} (flagged items: {flagged_text})"))
    chosen = flagged if all_items else wanted
    items = [replace(it, flags_accepted=True) if it.item_id in chosen else it for it in bank]
    new = ItemBank(
        items,
        name=bank.name,
        version=bank.version,
        description=bank.description,
        provenance=bank.provenance,
    )
    target = out or bank_path
    write_bank(new, target)
    console.print(
        f"accepted {len(chosen)} flagged item(s) ({', '.join(sorted(chosen)) or 'none'}); "
        f"wrote {target}",
        highlight=False,
    )


# the maintenance commands of a bank file live with link, drift and dif
app.command("transform")(_maintain.transform)
app.command("promote")(_maintain.promote_command)
