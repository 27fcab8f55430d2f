"""The service's bounds on an assessment's engine configuration, checked against its bank.

The engine (:meth:`engine.config.CATConfig.from_dict`) checks what a configuration means;
the service adds what it can afford: every number finite, every count bounded by what it
counts (``max_items`` by the bank's size, for example), and the shape of the list and
mapping settings, so that a session start never meets a setting it cannot serve. Every
problem is reported at once, code ``invalid_config``, merged with the engine's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from engine.config import CATConfig
from item_banks.bank import ItemBank
from item_banks.errors import InvalidConfigError

ABILITY_BOUND = 100.0
"""Largest absolute value of a point on the ability scale (logits) in a configuration."""

COUNT_BOUND = 1_000_000
"""Largest count limit of a content area (the engine's own "no limit" default)."""

_PER_ITEM_COUNTS = ("max_items", "min_items", "randomesque", "start_randomesque", "n_strata")
_POSITIONS = ("pretest_count", "pretest_first", "pretest_last")
_SCALE = {"prior_sd": (0.0, ABILITY_BOUND), "start_spread": (0.0, ABILITY_BOUND),
          "stop_se": (0.0, ABILITY_BOUND), "sprt_delta": (0.0, ABILITY_BOUND),
          "prior_mean": (-ABILITY_BOUND, ABILITY_BOUND),
          "start_theta": (-ABILITY_BOUND, ABILITY_BOUND)}  # fmt: skip
_PAIRS = {"exposure_params": "{item_id: k} or a list of [item_id, k]",
          "content_proportions": "{area: proportion} or a list of [area, proportion]"}  # fmt: skip


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _non_finite(value: Any, where: str, out: list[str], depth: int = 0) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        out.append(f"{where} must be a finite number, got {value!r}")
    elif depth < 4 and isinstance(value, Mapping):
        for key, inner in value.items():
            _non_finite(inner, f"{where}[{key!r}]", out, depth + 1)
    elif depth < 4 and isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            _non_finite(inner, f"{where}[{i}]", out, depth + 1)


def _range(key: str, value: Any, low: float, high: float, out: list[str], why: str = "") -> None:
    if _number(value) and math.isfinite(value) and not low <= value <= high:
        out.append(f"{key} must be in {low:g}..{high:g}{why}, got {value!r}")


def _shape(key: str, value: Any, out: list[str]) -> bool:
    """Whether a list/mapping setting has its shape (a problem is added when not)."""
    if key == "content":
        if isinstance(value, Mapping):
            return True
        ok = isinstance(value, list) and all(
            isinstance(v, list) and len(v) == 3 and isinstance(v[0], str) for v in value
        )
        if not ok:
            out.append(
                'content must be {area: {"min": m, "max": M}} or a list of '
                f"[area, min, max], got {value!r}"[:300]
            )
        return ok
    if key in _PAIRS:
        if isinstance(value, Mapping):
            return True
        ok = isinstance(value, list) and all(isinstance(v, list) and len(v) == 2 for v in value)
        if not ok:
            out.append(f"{key} must be {_PAIRS[key]}, got {value!r}"[:300])
        return ok
    return True


def _content_counts(value: Any, out: list[str]) -> None:
    entries = (
        [(a, s.get("min"), s.get("max")) for a, s in value.items() if isinstance(s, Mapping)]
        if isinstance(value, Mapping)
        else [tuple(v) for v in value]
    )
    for area, low, high in entries:
        for label, count in (("min", low), ("max", high)):
            _range(f"content[{area!r}].{label}", count, 0, COUNT_BOUND, out)


def service_problems(config: Mapping[str, Any], bank: ItemBank) -> tuple[list[str], set[str]]:
    """Problems of a raw configuration under the service's bounds.

    Returns
    -------
    problems : list of str
    malformed : set of str
        Keys whose shape is wrong (the engine's messages about them are dropped).
    """
    out: list[str] = []
    malformed: set[str] = set()
    n = len(bank)
    size = f" (bank {bank.name!r} has {n} items)"
    for key, value in config.items():
        _non_finite(value, key, out)
        if not _shape(key, value, out):
            malformed.add(key)
        elif key == "content":
            _content_counts(value, out)
    for key in _PER_ITEM_COUNTS:
        if key in config:
            _range(key, config[key], 1, n, out, size)
    for key in _POSITIONS:
        if key in config:
            _range(key, config[key], 0, n, out, size)
    for key, (low, high) in _SCALE.items():
        if key in config:
            _range(key, config[key], low, high, out)
    for key in ("theta_range", "cut_scores"):
        values = config.get(key)
        if isinstance(values, list):
            for i, v in enumerate(values):
                _range(f"{key}[{i}]", v, -ABILITY_BOUND, ABILITY_BOUND, out)
    return out, malformed


def checked_config(config: Mapping[str, Any], bank: ItemBank) -> CATConfig:
    """The engine configuration of ``config``, within the service's bounds for ``bank``.

    Raises
    ------
    InvalidConfigError
        Every problem at once, the service's and the engine's.
    """
    if not isinstance(config, Mapping):
        raise InvalidConfigError([f"configuration must be a mapping, got {type(config).__name__}"])
    problems, malformed = service_problems(config, bank)
    try:
        built = CATConfig.from_dict({k: v for k, v in config.items() if k not in malformed}, bank)
    except InvalidConfigError as error:
        problems += [p for p in error.problems if p not in problems]
        raise InvalidConfigError(problems) from None
    if problems:
        raise InvalidConfigError(problems)
    return built
