"""Commands built on first use (``api.cli._lazy``) are the commands typer builds at once.

The reference is an app that registers every command the usual way (``add_typer`` and
``command``, as ``api/cli/__init__.py`` did before the lazy group): every help page, the
top-level listing, the suggestion for a mistyped command and a command's run must be the
same.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api.cli import COMMANDS, app
from api.cli._lazy import LazyGroup
from item_banks.examples import DEMO_BANK_PATH

runner = CliRunner()


def eager_app() -> typer.Typer:
    """The ``zapcat`` app with every command registered at once."""
    eager = typer.Typer(
        name="zapcat",
        help=app.info.help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    eager.callback()(app.registered_callback.callback)
    for name, spec in COMMANDS.items():
        target = spec.load()
        if isinstance(target, typer.Typer):
            eager.add_typer(target, name=name)
        else:
            eager.command(name)(target)
    return eager


def every_command_path() -> list[list[str]]:
    """Every command and subcommand, as the words that name it."""
    paths: list[list[str]] = [[]]
    group: Any = typer.main.get_command(eager_app())
    for name, command in group.commands.items():
        paths.append([name])
        for sub in getattr(command, "commands", {}):
            paths.append([name, sub])
    return paths


def test_the_reference_has_every_command_in_the_order_of_the_listing() -> None:
    group: Any = typer.main.get_command(eager_app())
    assert list(group.commands) == list(COMMANDS)  # groups after commands, as typer lists
    assert len(every_command_path()) > 30


@pytest.mark.parametrize("columns", ["80", "200"])
def test_every_help_page_is_the_eagerly_built_apps(columns: str) -> None:
    eager = eager_app()
    for path in every_command_path():
        env = {"COLUMNS": columns}
        lazy = runner.invoke(app, [*path, "--help"], env=env)
        reference = runner.invoke(eager, [*path, "--help"], env=env)
        assert lazy.exit_code == reference.exit_code == 0, path
        assert lazy.output == reference.output, path


def test_summaries_are_the_commands_own() -> None:
    """The listing from the summaries equals the listing that builds every command."""
    group: Any = typer.main.get_command(app)
    for name, spec in COMMANDS.items():
        command = group.commands[name]  # built here
        assert spec.summary == command.help.split("\n\n")[0].strip(), name
    for columns in ("60", "120"):
        listing = runner.invoke(app, ["--help"], env={"COLUMNS": columns})
        reference = runner.invoke(eager_app(), ["--help"], env={"COLUMNS": columns})
        assert listing.output == reference.output
        bare = runner.invoke(app, [], env={"COLUMNS": columns})  # no_args_is_help
        bare_reference = runner.invoke(eager_app(), [], env={"COLUMNS": columns})
        assert (bare.exit_code, bare.output) == (bare_reference.exit_code, bare_reference.output)
        assert listing.output.rstrip() == bare.output.rstrip()


def test_listing_with_built_commands_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    summaries = runner.invoke(app, ["--help"], env={"COLUMNS": "100"}).output
    monkeypatch.setattr(LazyGroup, "summaries_in_help", False)
    built = runner.invoke(app, ["--help"], env={"COLUMNS": "100"}).output
    assert built == summaries and "Show and validate item bank files" in built


def test_mistyped_commands_and_errors_are_reported_the_same() -> None:
    eager = eager_app()
    for args in (["bnak"], ["simulte", "x"], ["bank", "shwo"], ["bank", "show"], ["--nope"]):
        lazy = runner.invoke(app, args, env={"COLUMNS": "100"})
        reference = runner.invoke(eager, args, env={"COLUMNS": "100"})
        assert (lazy.exit_code, lazy.output) == (reference.exit_code, reference.output), args
    assert "Did you mean 'bank'?" in runner.invoke(app, ["bnak"]).output


def test_a_command_runs_the_same() -> None:
    args = ["bank", "show", str(DEMO_BANK_PATH), "--limit", "4"]
    lazy = runner.invoke(app, args, env={"COLUMNS": "120"})
    reference = runner.invoke(eager_app(), args, env={"COLUMNS": "120"})
    assert lazy.exit_code == 0 and lazy.output == reference.output
    assert "246 more items" in lazy.output
