"""The ``zapcat`` command line.

Each command (or command group) lives in its own module, named in :data:`COMMANDS` and
imported only when it is used (:mod:`api.cli._lazy`); the commands are thin wrappers over
``item_banks``, ``calibration`` and ``engine``. Domain errors are printed as one clear
message with exit code 1 (never a traceback).
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli._coerce import install as _install_plain_coercion
from api.cli._common import run_app
from api.cli._lazy import LazyCommand, lazy_group

_install_plain_coercion()

COMMANDS = {
    "link": LazyCommand(
        "api.cli.maintain:link_command",
        "Link FROM's scale to TO's (theta_TO = A theta_FROM + B) through the common items.",
    ),
    "drift": LazyCommand(
        "api.cli.maintain:drift",
        "Wald tests of parameter drift per common item, Benjamini-Hochberg flags.",
    ),
    "dif": LazyCommand(
        "api.cli.maintain:dif",
        "DIF between two groups of examinees: Mantel-Haenszel (ETS A/B/C) or IRT LR.",
    ),
    "calibrate": LazyCommand(
        "api.cli.calibrate:calibrate",
        "Calibrate item parameters (marginal maximum likelihood) and write an item bank.",
    ),
    "serve": LazyCommand(
        "api.cli.serve:serve",
        "Start the HTTP delivery service (migrating the database schema first).",
    ),
    "recommend": LazyCommand(
        "api.cli.recommend:recommend_command",
        "Gap analysis against ROLE and the credentials that close the gaps, ranked.",
    ),
    "report": LazyCommand(
        "api.cli.report:report",
        "Write a self-contained HTML report (figures embedded as PNG) of a bank or simulation.",
    ),
    "simulate": LazyCommand(
        "api.cli.simulate:simulate_command",
        "Simulate adaptive tests on BANK and write a JSON report.",
    ),
    "badge": LazyCommand(
        "api.cli.badge:app",
        "Open Badges 3.0 credentials: verify offline; issue, revoke, rotate keys.",
    ),
    "bank": LazyCommand(
        "api.cli.bank:app", "Show and validate item bank files (zapcat-bank/1 JSON or CSV)."
    ),
    "battery": LazyCommand(
        "api.cli.battery:app", "Skill batteries: several skills in one adaptive session."
    ),
    "keys": LazyCommand(
        "api.cli.keys:app", "Create, list and revoke API keys (stored hashed; shown once)."
    ),
    "sessions": LazyCommand(
        "api.cli.sessions:app", "Maintain test sessions of the delivery service."
    ),
    "responses": LazyCommand(
        "api.cli.responses:app", "Export the responses recorded by the service."
    ),
}
"""The commands of ``zapcat``, in the order of its help: where each one lives and its
one-line summary (the first paragraph of its help; a test checks they are equal). A
command's module is imported only when that command runs or shows its help."""

app = typer.Typer(
    cls=lazy_group(COMMANDS),
    name="zapcat",
    help="Zapcat: calibrate item banks, simulate adaptive tests and serve them over HTTP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"zapcat {version('zapcat')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Zapcat: calibrate item banks, simulate adaptive tests and serve them over HTTP."""


def main() -> None:
    """Entry point of the ``zapcat`` console script."""
    run_app(app)


__all__ = ["COMMANDS", "app", "main"]
