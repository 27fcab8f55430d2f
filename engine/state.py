"""The state of one adaptive test: an immutable, serialisable value.

Everything a rule needs is in the state or derives from it deterministically: the items
given with their responses, which ones were scored, the items refused by exposure control,
the pretest positions, the drawn start ability and the test's ``seed``. Every random draw
of a test is a counter-based function of ``(seed, step, purpose, attempt)``, so the seed
*is* the random state: a test resumes after a restart, and replaying the responses of a
past test reproduces it exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from item_banks.errors import InvalidStateError

STATE_FORMAT = "zapcat-cat-state/1"


@dataclass(frozen=True)
class CATState:
    """One test in progress (or finished).

    Attributes
    ----------
    administered : tuple of str
        Item ids in the order given (scored and pretest items).
    responses : tuple of int
        Category of each administered item.
    theta, se : float
        Current ability estimate (from scored items only) and its standard error.
    pending_item : str or None
        Item waiting for a response (``None`` once finished).
    finished : bool
    stop_reason : str or None
        ``"se"``, ``"classified"``, ``"all_rules"``, ``"max_items"`` or
        ``"bank_exhausted"`` once finished.
    seed : int
        Seed of every random draw of this test (``0 <= seed < 2**53``).
    scored : tuple of bool
        Whether each administered item counts (pretest items do not).
    rejected : tuple of str
        Items refused by Sympson-Hetter exposure control for this examinee.
    pretest_positions : tuple of int
        1-based positions at which pretest items are seeded.
    start_theta : float
        Ability at which the first item was chosen.
    theta_history, se_history : tuple of float
        Estimate after each administered item.
    prior_mean, prior_sd : float or None
        The test's own normal prior (a returning examinee's last result, or the
        conditional prior of a later skill of a battery); ``None``: the configuration's
        prior. States written before these fields existed read as ``None``.
    """

    administered: tuple[str, ...] = ()
    responses: tuple[int, ...] = ()
    theta: float = 0.0
    se: float = 1.0
    pending_item: str | None = None
    finished: bool = False
    stop_reason: str | None = None
    seed: int = 0
    scored: tuple[bool, ...] = ()
    rejected: tuple[str, ...] = ()
    pretest_positions: tuple[int, ...] = ()
    start_theta: float = 0.0
    theta_history: tuple[float, ...] = ()
    se_history: tuple[float, ...] = ()
    prior_mean: float | None = None
    prior_sd: float | None = None

    @property
    def prior(self) -> tuple[float, float] | None:
        """``(prior_mean, prior_sd)`` of the test's own prior, or ``None``."""
        if self.prior_mean is None or self.prior_sd is None:
            return None
        return (self.prior_mean, self.prior_sd)
    @property
    def n_items(self) -> int:
        """Number of administered items (scored and pretest)."""
        return len(self.administered)

    @property
    def n_scored(self) -> int:
        """Number of scored items."""
        return sum(self.scored)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``CATState.from_dict(state.to_dict()) == state``)."""
        out: dict[str, Any] = {"format": STATE_FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CATState:
        """Read a state written by :meth:`to_dict`.

        Raises
        ------
        InvalidStateError
            Naming every missing or ill-typed field.
        """
        if not isinstance(data, Mapping):
            raise InvalidStateError(f"a CAT state must be a mapping, got {type(data).__name__}")
        if data.get("format", STATE_FORMAT) != STATE_FORMAT:
            raise InvalidStateError(f"unknown state format {data.get('format')!r}")
        problems: list[str] = []
        kwargs: dict[str, Any] = {}
        names = {f.name for f in fields(cls)}
        for key in data:
            if key not in names and key != "format":
                problems.append(f"unknown field {key!r}")
        for name in names:
            if name not in data:
                if name in _OPTIONAL:
                    continue
                problems.append(f"missing field {name!r}")
                continue
            value = data[name]
            try:
                kwargs[name] = _read(name, value)
            except (TypeError, ValueError) as error:
                problems.append(f"field {name!r}: {error}")
        if not problems and (kwargs.get("prior_mean") is None) != (kwargs.get("prior_sd") is None):
            problems.append("fields 'prior_mean' and 'prior_sd' go together (both or neither)")
        if not problems:
            n = len(kwargs["administered"])
            for name in ("responses", "scored", "theta_history", "se_history"):
                if len(kwargs[name]) != n:
                    problems.append(f"field {name!r} has {len(kwargs[name])} entries, "
                                    f"administered has {n}")  # fmt: skip
        if problems:
            raise InvalidStateError("invalid CAT state: " + "; ".join(problems),
                                    details={"problems": problems})  # fmt: skip
        return cls(**kwargs)


_OPTIONAL = ("prior_mean", "prior_sd")


def _read(name: str, value: Any) -> Any:
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_num(v: Any) -> bool:
        return (is_int(v) or isinstance(v, float)) and math.isfinite(v)

    if name in ("administered", "rejected"):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise TypeError("expected a list of item ids (strings)")
        return tuple(value)
    if name in ("responses", "pretest_positions"):
        if not isinstance(value, list | tuple) or not all(is_int(v) for v in value):
            raise TypeError("expected a list of integers")
        return tuple(value)
    if name == "scored":
        if not isinstance(value, list | tuple) or not all(isinstance(v, bool) for v in value):
            raise TypeError("expected a list of booleans")
        return tuple(value)
    if name in ("theta_history", "se_history"):
        if not isinstance(value, list | tuple) or not all(is_num(v) for v in value):
            raise TypeError("expected a list of finite numbers")
        return tuple(float(v) for v in value)
    if name in ("theta", "se", "start_theta"):
        if not is_num(value):
            raise TypeError(f"expected a finite number, got {value!r}")
        return float(value)
    if name in _OPTIONAL:
        if value is None:
            return None
        if not is_num(value) or (name == "prior_sd" and value <= 0):
            need = "a number > 0" if name == "prior_sd" else "a finite number"
            raise TypeError(f"expected {need} or null, got {value!r}")
        return float(value)
    if name in ("pending_item", "stop_reason"):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"expected a string or null, got {value!r}")
        return value
    if name == "finished":
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if name == "seed":
        if not is_int(value) or not 0 <= value < 2**53:
            raise TypeError(f"expected an integer in 0..2**53-1, got {value!r}")
        return value
    raise TypeError(f"unknown field {name!r}")  # pragma: no cover


__all__ = ["CATState"]
