"""Shared helpers of the command line: consoles and domain-error handling."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from item_banks.errors import ZapcatError

console = Console()
"""Standard output (results)."""

err_console = Console(stderr=True)
"""Standard error (problems and progress)."""


def fail(error: ZapcatError) -> typer.Exit:
    """Print a domain error on stderr and return the ``Exit(1)`` to raise."""
    err_console.print(
        f"[bold red]error[/] ({error.code}): {error.message}", highlight=False, soft_wrap=True
    )
    return typer.Exit(code=1)


def run_app(app: typer.Typer) -> None:
    """Run a Typer app, turning uncaught domain errors into exit code 1."""
    try:
        app(standalone_mode=True)
    except ZapcatError as error:  # pragma: no cover - commands catch their own
        err_console.print(f"error ({error.code}): {error.message}", highlight=False)
        sys.exit(1)
