"""A command group that imports a command's module only when the command is used.

``zapcat --help`` lists every command with a one-line summary; building each command
(importing its module, and typer reading every parameter of every function) would cost
that listing, and every command, tens of milliseconds. :class:`LazyGroup` knows each
command by name, where it lives (``"module:attribute"``, a typer app or a command
function) and its summary; it builds a command the first time it is looked up, exactly as
``app.add_typer(sub, name=...)`` or ``app.command(name)(function)`` would have, and shows
the summaries in its own help without building anything.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup


class LazyCommand:
    """Where a command lives and its one-line summary.

    Parameters
    ----------
    target : str
        ``"module:attribute"``: a :class:`typer.Typer` (a command group) or a command
        function.
    summary : str
        First paragraph of the command's help, shown by the group's help; a test checks
        that it equals the command's own.
    """

    __slots__ = ("summary", "target")

    def __init__(self, target: str, summary: str) -> None:
        self.target = target
        self.summary = summary

    def load(self) -> Any:
        """Import the module and return the typer app or the function."""
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


class _Commands(MutableMapping[str, Any]):
    """The group's commands by name: each one built on first access."""

    def __init__(self, group: LazyGroup) -> None:
        self._group = group
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in self._group.lazy:
                raise KeyError(name)
            self._built[name] = self._group.build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._group.lazy
        yield from (name for name in self._built if name not in self._group.lazy)

    def __len__(self) -> int:
        return len(set(self._group.lazy) | set(self._built))

    def is_built(self, name: str) -> bool:
        """Whether the command ``name`` has been built (or added)."""
        return name in self._built


class LazyGroup(TyperGroup):
    """A typer group whose commands are named in :attr:`lazy` and built when looked up.

    Use a subclass from :func:`lazy_group` as the ``cls`` of the top-level
    :class:`typer.Typer`; the commands are not registered on that app.
    """

    lazy: ClassVar[Mapping[str, LazyCommand]] = {}
    """The commands, in the order the help lists them."""

    summaries_in_help: ClassVar[bool] = True
    """Whether the group's help shows :attr:`LazyCommand.summary` instead of building each
    command (False in a test that compares the two)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        commands = _Commands(self)
        for name, command in self.commands.items():
            commands[name] = command
        self.commands = commands
        self._listing = False

    def build(self, name: str) -> Any:
        """The click command of ``name``, as ``add_typer`` or ``command`` would build it."""
        target = self.lazy[name].load()
        holder = typer.Typer(
            rich_markup_mode=self.rich_markup_mode, suggest_commands=self.suggest_commands
        )
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=name)
        else:
            holder.command(name)(target)
        return typer.main.get_group(holder).commands[name]

    def list_commands(self, ctx: Any) -> list[str]:
        """Names of the commands, without building them."""
        return list(self.commands)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name`` (built now); only its summary while help is printed."""
        commands = self.commands
        if (
            self._listing
            and self.summaries_in_help
            and cmd_name in self.lazy
            and isinstance(commands, _Commands)
            and not commands.is_built(cmd_name)
        ):
            return TyperCommand(name=cmd_name, help=self.lazy[cmd_name].summary)
        return commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The group's help, listing each command by its summary."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def lazy_group(commands: Mapping[str, LazyCommand]) -> type[LazyGroup]:
    """A :class:`LazyGroup` class with these commands (the ``cls`` of a ``typer.Typer``)."""
    return type("ZapcatGroup", (LazyGroup,), {"lazy": dict(commands)})
