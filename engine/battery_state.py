"""The state of a battery session: an immutable, JSON-serialisable value.

It holds the battery's seed, one :class:`~engine.state.CATState` per section opened (in
file order, ``None`` for sections not opened yet), the length bounds each section was
opened with (the budget's share), the order in which sections were opened and the section
now running. Everything else (priors, the next section) derives from it, so a battery
resumes after a restart and replays exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.state import CATState
from item_banks.errors import InvalidStateError

STATE_FORMAT = "zapcat-battery-state/1"


@dataclass(frozen=True)
class BatteryState:
    """A battery session in progress (or finished).

    Attributes
    ----------
    seed : int
    skill_ids : tuple of str
        The battery's sections, in file order.
    tests : tuple of CATState or None
        Each section's test (``None``: not opened yet).
    bounds : tuple of (int, int) or None
        ``(min_items, max_items)`` each section was opened with.
    opened : tuple of int
        Sections in the order they were opened.
    current : int or None
        Section of the pending item (``None`` once finished).
    stop_reason : str or None
        ``"completed"`` (every section stopped by its own rules) or ``"budget"`` (the
        total budget cut a section short), once finished.
    """

    seed: int
    skill_ids: tuple[str, ...]
    tests: tuple[CATState | None, ...]
    bounds: tuple[tuple[int, int] | None, ...]
    opened: tuple[int, ...] = ()
    current: int | None = None
    stop_reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.current is None

    @property
    def pending_item(self) -> str | None:
        """Item waiting for a response (``None`` once finished)."""
        if self.current is None:
            return None
        test = self.tests[self.current]
        return None if test is None else test.pending_item

    @property
    def n_items(self) -> int:
        """Items administered over all sections."""
        return sum(t.n_items for t in self.tests if t is not None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``BatteryState.from_dict(s.to_dict()) == s``)."""
        return {
            "format": STATE_FORMAT,
            "seed": self.seed,
            "skill_ids": list(self.skill_ids),
            "tests": [None if t is None else t.to_dict() for t in self.tests],
            "bounds": [None if b is None else list(b) for b in self.bounds],
            "opened": list(self.opened),
            "current": self.current,
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatteryState:
        """Read a state written by :meth:`to_dict`.

        Raises
        ------
        InvalidStateError
            Naming every problem.
        """
        if not isinstance(data, Mapping) or data.get("format") != STATE_FORMAT:
            raise InvalidStateError(f"not a {STATE_FORMAT} state")
        problems: list[str] = []
        known = {"format", "seed", "skill_ids", "tests", "bounds", "opened", "current",
                 "stop_reason"}  # fmt: skip
        problems += [f"unknown field {k!r}" for k in data if k not in known]
        problems += [f"missing field {k!r}" for k in known if k not in data]
        if problems:
            raise InvalidStateError("invalid battery state: " + "; ".join(problems),
                                    details={"problems": problems})  # fmt: skip
        seed, ids, raw, bounds = data["seed"], data["skill_ids"], data["tests"], data["bounds"]
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**53:
            problems.append(f"field 'seed': expected an integer in 0..2**53-1, got {seed!r}")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            problems.append("field 'skill_ids': expected a list of strings")
            ids = []
        k = len(ids)
        for name, value in (("tests", raw), ("bounds", bounds)):
            if not isinstance(value, list) or len(value) != k:
                problems.append(f"field {name!r}: expected a list of {k} entries")
        tests: list[CATState | None] = []
        if not problems:
            for i, t in enumerate(raw):
                try:
                    tests.append(None if t is None else CATState.from_dict(t))
                except InvalidStateError as error:
                    problems.append(f"tests[{i}]: {error.message}")
            for i, b in enumerate(bounds):
                ok = b is None or (isinstance(b, list) and len(b) == 2
                                   and all(isinstance(v, int) and v >= 0 for v in b))
                if not ok:
                    problems.append(f"bounds[{i}]: expected [min_items, max_items] or null")
                if (b is None) != (raw[i] is None):
                    problems.append(f"bounds[{i}]: given exactly when tests[{i}] is")
        opened, current = data["opened"], data["current"]
        if not isinstance(opened, list) or sorted(opened) != [
            i for i, t in enumerate(raw if isinstance(raw, list) else []) if t is not None
        ]:
            problems.append("field 'opened': must list the opened sections once each")
        if current is not None and (not isinstance(current, int) or not 0 <= current < k
                                    or raw[current] is None):  # fmt: skip
            problems.append(f"field 'current': {current!r} is not an opened section")
        reason = data["stop_reason"]
        if reason not in (None, "completed", "budget") or (reason is None) == (current is None):
            problems.append(f"field 'stop_reason': {reason!r} does not fit current={current!r}")
        if problems:
            raise InvalidStateError("invalid battery state: " + "; ".join(problems),
                                    details={"problems": problems})  # fmt: skip
        return cls(seed=seed, skill_ids=tuple(ids), tests=tuple(tests),
                   bounds=tuple(None if b is None else (b[0], b[1]) for b in bounds),
                   opened=tuple(opened), current=current, stop_reason=reason)  # fmt: skip


__all__ = ["STATE_FORMAT", "BatteryState"]
