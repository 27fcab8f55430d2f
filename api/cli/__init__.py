"""The ``zapcat`` command line.

Each command group lives in its own module and is attached to :data:`app` here; the
commands are thin wrappers over ``item_banks``, ``calibration`` and ``engine``. Domain
errors are printed as one clear message with exit code 1 (never a traceback).
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli import badge as _badge
from api.cli import badge_admin as _badge_admin
from api.cli import bank as _bank
from api.cli import battery as _battery
from api.cli import calibrate as _calibrate
from api.cli import keys as _keys
from api.cli import maintain as _maintain
from api.cli import recommend as _recommend
from api.cli import report as _report
from api.cli import responses as _responses
from api.cli import serve as _serve
from api.cli import sessions as _sessions
from api.cli import simulate as _simulate
from api.cli._coerce import install as _install_plain_coercion
from api.cli._common import run_app

_install_plain_coercion()

app = typer.Typer(
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


app.add_typer(_badge.app, name="badge")
_badge.app.command("issue")(_badge_admin.issue_command)
_badge.app.command("revoke")(_badge_admin.revoke_command)
_badge.app.command("rotate")(_badge_admin.rotate_command)
_badge.app.command("issuer")(_badge_admin.issuer_command)
app.add_typer(_bank.app, name="bank")
_bank.app.command("transform")(_maintain.transform)
_bank.app.command("promote")(_maintain.promote_command)
app.command("link")(_maintain.link_command)
app.command("drift")(_maintain.drift)
app.command("dif")(_maintain.dif)
app.add_typer(_battery.app, name="battery")
app.command(name="calibrate")(_calibrate.calibrate)
app.add_typer(_keys.app, name="keys")
app.command("serve")(_serve.serve)
app.add_typer(_sessions.app, name="sessions")
app.command(name="recommend")(_recommend.recommend_command)
app.command(name="report")(_report.report)
app.add_typer(_responses.app, name="responses")
app.command(name="simulate")(_simulate.simulate_command)


def main() -> None:
    """Entry point of the ``zapcat`` console script."""
    run_app(app)


__all__ = ["app", "main"]
