"""Registries of the engine's strategies and the parameters they declare.

Every role of a test (ability estimation, item selection, exposure control, constraints,
stopping) is a small class registered by name in a :class:`Registry`, the way item
models are registered in :mod:`item_banks.models`. A strategy declares its parameters as
:class:`Param` values; the configuration reads and checks them through the registry, so a
new strategy is one module and its registration, with no change to
:mod:`engine.config`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def as_number(value: Any) -> float:
    """A finite float from a JSON number (refuses booleans, strings, NaN and infinities)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r} (NaN and Infinity are refused)")
    return float(value)


def as_integer(value: Any) -> int:
    """An int from a JSON integer (``3.0`` is accepted; booleans and fractions are not)."""
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    ):
        raise TypeError(f"expected an integer, got {value!r}")
    return int(value)


def as_bool(value: Any) -> bool:
    """A JSON boolean."""
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


_READERS: dict[str, Callable[[Any], Any]] = {
    "number": as_number,
    "integer": as_integer,
    "bool": as_bool,
}


@dataclass(frozen=True)
class Param:
    """One parameter of a strategy.

    Attributes
    ----------
    default : int, float or bool
    kind : {"number", "integer", "bool"}
    check : callable or None
        ``check(value)`` returns ``None`` when admissible, else what is required (for
        example ``"must be > 0"``).
    doc : str
    """

    default: Any
    kind: str = "number"
    check: Callable[[Any], str | None] | None = None
    doc: str = ""


def positive(value: float) -> str | None:
    """Check: ``value > 0``."""
    return None if value > 0 else "must be > 0"


def at_least_one(value: int) -> str | None:
    """Check: ``value >= 1``."""
    return None if value >= 1 else "must be >= 1"


def open_unit(value: float) -> str | None:
    """Check: ``0 < value < 1``."""
    return None if 0 < value < 1 else "must be in (0, 1)"


def read_params(
    where: str,
    spec: Mapping[str, Param],
    data: Mapping[str, Any],
    problems: list[str],
    aliases: Mapping[str, str] | None = None,
) -> tuple[tuple[str, Any], ...]:
    """Read and check the parameters of a strategy; defaults fill the missing ones.

    Parameters
    ----------
    where : str
        Prefix of problem messages (for example ``"stopping.se_plateau"``).
    spec : mapping of str to Param
    data : mapping
        Given values (JSON).
    problems : list of str
        Every problem found is appended (unknown names, wrong types, inadmissible values).
    aliases : mapping, optional
        Other names of parameters (the flat keys of earlier configurations), for messages.

    Returns
    -------
    tuple of (name, value)
        Sorted by name, hashable (the form stored in the frozen configuration).
    """
    out: dict[str, Any] = {}
    if not isinstance(data, Mapping):
        problems.append(f"{where}: expected a mapping of parameters, got {data!r}")
        data = {}
    for key in data:
        if key not in spec:
            known = ", ".join(spec) or "none"
            problems.append(f"{where}: unknown parameter {key!r} (known: {known})")
    for name, param in spec.items():
        value = data.get(name, param.default)
        lab = where if name == where else f"{where}.{name}"
        if aliases and name in aliases:
            lab = f"{aliases[name]} ({lab})"
        try:
            value = _READERS[param.kind](value)
        except (TypeError, ValueError) as error:
            problems.append(f"{lab}: {error}")
            continue
        message = param.check(value) if param.check is not None else None
        if message:
            problems.append(f"{lab} {message}, got {value!r}")
        out[name] = value
    return tuple(sorted(out.items()))


class Registry(Generic[T]):
    """Strategies of one role, by name.

    Examples
    --------
    >>> reg = Registry("selector")
    >>> @reg.register
    ... class Best:
    ...     name = "best"
    >>> reg.get("best").__name__, reg.names()
    ('Best', ('best',))
    """

    def __init__(self, role: str) -> None:
        self.role = role
        self._classes: dict[str, type[T]] = {}

    def register(self, cls: type[T]) -> type[T]:
        """Class decorator: register ``cls`` under its ``name``."""
        name = cls.name.lower()  # type: ignore[attr-defined]
        if name in self._classes:
            raise ValueError(f"{self.role} {name!r} is already registered")
        self._classes[name] = cls
        return cls

    def get(self, name: str) -> type[T]:
        """The class registered as ``name`` (``KeyError`` naming the known ones)."""
        try:
            return self._classes[name]
        except KeyError:
            known = ", ".join(self._classes)
            raise KeyError(f"unknown {self.role} {name!r}; known: {known}") from None

    def names(self) -> tuple[str, ...]:
        """Registered names in registration order."""
        return tuple(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes


class Role:
    """Base of the strategies that keep arrays per row (examinee) of a run.

    The engine calls the hooks a strategy overrides: ``init_rows`` when rows are made,
    ``add_scored`` after each scored response (incremental, for batch and live steps),
    ``sum_scored`` when a row is rebuilt from a test's history (the sum over the history
    in administration order, equal bit for bit to the incremental updates), and
    ``add_given`` after every administered item (scored or not).
    """

    def init_rows(self, rows: Any) -> None:
        """Create this strategy's arrays on new rows."""

    def add_scored(self, rows: Any, idx: Any, items: Any, resp: Any) -> None:
        """Account for one scored response per row of ``idx``."""

    def sum_scored(self, rows: Any, items: Any, resp: Any) -> None:
        """Row 0 rebuilt from its scored history (``items``, ``resp`` in order)."""

    def add_given(self, rows: Any, idx: Any, items: Any) -> None:
        """Account for one administered item per row of ``idx``."""


def overrides(obj: object, hook: str) -> bool:
    """Whether ``obj`` overrides the :class:`Role` hook ``hook`` (skip no-op calls)."""
    return getattr(type(obj), hook, None) is not getattr(Role, hook)
