"""``zapcat report``: a self-contained HTML report of an item bank or a simulation report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli._common import console, fail
from item_banks.errors import ReportInputError, ZapcatError

if TYPE_CHECKING:
    from item_banks.report import HtmlReport

# the report builders (matplotlib, the engine) are imported when the command runs
Builder = Callable[[dict[str, Any], str], "HtmlReport"]

BANK_FORMAT = "zapcat-bank/1"
"""``format`` of the bank files (``item_banks.io.FORMAT``; kept equal by the test below,
so that ``zapcat report --help`` need not import the bank model)."""

SIMULATION_FORMAT = "zapcat-simulation-report/1"
"""``format`` of the simulation reports (``engine.simulation.REPORT_FORMAT``; a test keeps
the two equal, so that ``zapcat --help`` need not import the engine)."""

BATTERY_FORMAT = "zapcat-battery-report/1"
"""``format`` of the battery simulation reports (``engine.battery_summary.REPORT_FORMAT``;
kept equal by the same test)."""


def _bank(data: dict[str, Any], source: str) -> HtmlReport:
    from item_banks.io import bank_from_dict
    from item_banks.report import bank_report

    return bank_report(bank_from_dict(data, source=source))


def _simulation(data: dict[str, Any], source: str) -> HtmlReport:
    from engine.simulation_report import simulation_report

    return simulation_report(data, source=source)


def _battery(data: dict[str, Any], source: str) -> HtmlReport:
    from engine.battery_report import battery_report

    return battery_report(data, source=source)


BUILDERS: dict[str, Builder] = {BANK_FORMAT: _bank, SIMULATION_FORMAT: _simulation,
                                BATTERY_FORMAT: _battery}  # fmt: skip
"""Report builder for each ``format`` value of the JSON files ``zapcat report`` reads."""


def _build(path: Path) -> HtmlReport:
    if path.suffix.lower() == ".csv":
        from item_banks.io import read_bank
        from item_banks.report import bank_report

        return bank_report(read_bank(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ReportInputError(f"{path}: cannot read file ({error.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReportInputError(f"{path}: not a JSON file ({error})") from None
    fmt = data.get("format") if isinstance(data, dict) else None
    if fmt not in BUILDERS:
        known = ", ".join(sorted(BUILDERS))
        raise ReportInputError(
            f"{path}: unknown report input format {fmt!r} (field 'format'); known: {known}",
            details={"path": str(path), "format": fmt, "known": sorted(BUILDERS)},
        )
    return BUILDERS[fmt](data, str(path))


def report(
    path: Annotated[
        Path,
        typer.Argument(
            help="An item bank (zapcat-bank/1 JSON or CSV) or a simulation report "
            "(JSON written by zapcat simulate).",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="HTML file to write (default: PATH with .html)."),
    ] = None,
) -> None:
    """Write a self-contained HTML report (figures embedded as PNG) of a bank or simulation."""
    target = out if out is not None else path.with_suffix(".html")
    try:
        document = _build(path)
    except ZapcatError as error:
        raise fail(error) from None
    document.write(target)
    console.print(
        f"{target}: {len(document.figure_ids)} figures, {len(document.table_ids)} tables",
        highlight=False,
    )
