"""Parameter values of the command line converted without pydantic where that is exact.

Typer 0.29 converts every parameter value through a pydantic ``TypeAdapter``: importing
pydantic and building the adapters costs a command such as ``zapcat bank show`` about a
fifth of its start-up. For the plain cases (a path, a choice, a string, a whole number
in range) the conversion here gives the same value by typer's own helpers; anything else
(lists, tuples, files, dates, custom parsers, clamping, a value that does not convert)
goes to typer's adapter, so its results and error messages are typer's.

:func:`install` replaces ``typer.core.build_runtime_param``; on a typer without that
internal it does nothing (the commands then run as before, only slower to start).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, get_origin

_INT = re.compile(r"[+-]?[0-9]+")


def install() -> None:
    """Route plain parameter conversions around pydantic (idempotent)."""
    try:
        from typer import core
        from typer._coercion import RuntimeParam
        from typer._param_types import coerce_cli_choice, coerce_cli_path, routes_to_path
    except ImportError:  # another typer: its own conversion
        return
    original = getattr(core, "build_runtime_param", None)
    if original is None or getattr(original, "_zapcat_plain", False):
        return

    @dataclass(frozen=True)
    class PlainRuntimeParam(RuntimeParam):  # type: ignore[misc, valid-type]
        """Converts plain values itself; hands any other value to typer's adapter."""

        descriptor: Any = None
        kind: str = ""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            info, annotation = self.parameter_info, self.annotation
            if self.kind == "choice" and isinstance(value, (str, Enum)):
                choices = list(annotation)
                try:
                    return coerce_cli_choice(
                        value, choices=choices, case_sensitive=info.case_sensitive, ctx=ctx
                    )
                except ValueError:
                    pass  # typer's adapter words the error
            elif self.kind == "path" and isinstance(value, str) and value and "\0" not in value:
                path_type = info.path_type or annotation
                if not (isinstance(path_type, type) and issubclass(path_type, Path)):
                    return original(self.descriptor)._coerce_value(value, param=param, ctx=ctx)
                return coerce_cli_path(
                    path_type(value), info, path_type=path_type, param=param, ctx=ctx
                )
            elif self.kind == "str" and isinstance(value, str):
                return value
            elif self.kind == "bool" and isinstance(value, bool):
                return value
            elif self.kind == "int" and isinstance(value, str) and _INT.fullmatch(value):
                number = int(value)
                if (info.min is None or number >= info.min) and (
                    info.max is None or number <= info.max
                ):
                    return number
            return original(self.descriptor)._coerce_value(value, param=param, ctx=ctx)

    def build(descriptor: Any) -> Any:
        kind = _plain_kind(descriptor, routes_to_path)
        if kind is None:
            return original(descriptor)
        return PlainRuntimeParam(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            descriptor=descriptor,
            kind=kind,
        )

    build._zapcat_plain = True  # type: ignore[attr-defined]
    core.build_runtime_param = build


def _plain_kind(descriptor: Any, routes_to_path: Any) -> str | None:
    """``choice``, ``path``, ``str``, ``int`` or ``bool`` when the value is converted here."""
    info, annotation = descriptor.parameter_info, descriptor.annotation
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return None
    if getattr(info, "click_type", None) is not None or not isinstance(annotation, type):
        return None
    if get_origin(annotation) is not None:  # list[...], tuple[...]
        return None
    if issubclass(annotation, Enum):
        return "choice"
    if issubclass(annotation, Path) and routes_to_path(annotation, info):
        return "path"
    if annotation is str and not routes_to_path(annotation, info):
        return "str"
    if annotation is int and not getattr(info, "clamp", False):
        return "int"
    if annotation is bool:  # typer passes None for flags not given: nothing to convert
        return "bool"
    return None
