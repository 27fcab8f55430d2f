"""The flat configuration form (``zapcat-cat-config/1``) and the readers of every field.

Configurations stored by earlier versions (assessment rows, CLI config files, simulation
reports) are flat dicts: ``{"selector": "kl", "stop_se": 0.3, "max_items": 40, ...}``.
Each flat key is an alias of one field of a role configuration (:data:`ALIASES`), or of
a parameter of a registered strategy (``stop_se``, ``classification``, ``sprt_*``,
``ci_level``, ``n_strata``). Reading a flat dict is the migration: it yields the same
role configurations, hence the same tests, as the nested form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine._registry import as_bool, as_integer, as_number, read_params
from engine.selection import SELECTORS
from engine.stopping import STOP_RULES

FORMAT = "zapcat-cat-config/1"

SIMPLE: dict[str, str] = {
    "estimator": "ability.method",
    "prior_mean": "ability.prior_mean",
    "prior_sd": "ability.prior_sd",
    "n_points": "ability.n_points",
    "theta_range": "ability.theta_range",
    "start_theta": "start.theta",
    "start_spread": "start.spread",
    "start_randomesque": "start.randomesque",
    "selector": "selection.method",
    "randomesque": "selection.randomesque",
    "exposure": "exposure_control.method",
    "exposure_params": "exposure_control.params",
    "max_exposure_rate": "exposure_control.max_rate",
    "content": "constraints.content",
    "content_proportions": "constraints.content_proportions",
    "enemies": "constraints.enemies",
    "pretest_count": "constraints.pretest_count",
    "pretest_first": "constraints.pretest_first",
    "pretest_last": "constraints.pretest_last",
    "min_items": "stopping.min_items",
    "max_items": "stopping.max_items",
    "cut_scores": "stopping.cut_scores",
    "stop_combine": "stopping.combine",
}
"""Flat key -> ``section.field`` of a role configuration."""

RULE_PARAMS: dict[str, tuple[str, str]] = {
    "stop_se": ("se", "threshold"),
    "sprt_delta": ("sprt", "delta"),
    "sprt_alpha": ("sprt", "alpha"),
    "sprt_beta": ("sprt", "beta"),
    "ci_level": ("ci", "level"),
}
"""Flat key -> (stopping rule, parameter)."""

ALIASES: tuple[str, ...] = (*SIMPLE, *RULE_PARAMS, "classification", "n_strata")
_CLASSIFICATION = ("sprt", "ci")
_LEGACY_RULES = ("se", *_CLASSIFICATION)
_REVERSE = {path: key for key, path in SIMPLE.items()}


def label(path: str) -> str:
    """``"max_items (stopping.max_items)"``: a field named in both forms, for messages."""
    alias = _REVERSE.get(path)
    return f"{alias} ({path})" if alias else path


# --------------------------------------------------------------------------- readers
def _string(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected a string, got {v!r}")
    return v.lower()


def _optional(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else read(v)


def _pair(v: Any) -> tuple[float, float]:
    if not isinstance(v, list | tuple) or len(v) != 2:
        raise TypeError(f"expected [low, high], got {v!r}")
    return (as_number(v[0]), as_number(v[1]))


def _numbers(v: Any) -> tuple[float, ...]:
    if not isinstance(v, list | tuple):
        raise TypeError(f"expected a list of numbers, got {v!r}")
    return tuple(as_number(x) for x in v)


def _number_map(v: Any) -> tuple[tuple[str, float], ...]:
    items = v.items() if isinstance(v, Mapping) else v
    if not isinstance(items, list | tuple) and not isinstance(v, Mapping):
        raise TypeError(f"expected a mapping of names to numbers, got {v!r}")
    return tuple((str(k), as_number(x)) for k, x in items)


def _content(v: Any) -> tuple[tuple[str, int, int], ...]:
    if isinstance(v, Mapping):
        out = []
        for area, spec in v.items():
            if not isinstance(spec, Mapping) or set(spec) - {"min", "max"}:
                raise TypeError(f"area {area!r}: expected {{'min': m, 'max': M}}, got {spec!r}")
            out.append((str(area), as_integer(spec.get("min", 0)),
                        as_integer(spec.get("max", 10**6))))  # fmt: skip
        return tuple(out)
    if not isinstance(v, list | tuple):
        raise TypeError(f"expected {{area: {{'min': m, 'max': M}}}}, got {v!r}")
    return tuple((str(a), as_integer(lo), as_integer(hi)) for a, lo, hi in v)


def _mapping(v: Any) -> dict[str, Any]:
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, list | tuple):
        return dict(v)
    raise TypeError(f"expected a mapping, got {v!r}")


def _rules(v: Any) -> tuple[tuple[str, dict[str, Any]], ...]:
    """Stopping rules: a list of ``{"name": rule, **params}`` (or ``(name, params)``)."""
    if isinstance(v, Mapping):
        return tuple((str(k).lower(), _mapping(p)) for k, p in v.items())
    if not isinstance(v, list | tuple):
        raise TypeError(f"expected a list of rules [{{'name': ..., ...}}], got {v!r}")
    out = []
    for entry in v:
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            out.append((entry["name"].lower(), {k: x for k, x in entry.items() if k != "name"}))
        elif isinstance(entry, list | tuple) and len(entry) == 2 and isinstance(entry[0], str):
            out.append((entry[0].lower(), _mapping(entry[1])))
        else:
            raise TypeError(f"a rule must be {{'name': rule, ...parameters}}, got {entry!r}")
    return tuple(out)


READERS: dict[str, Callable[[Any], Any]] = {
    "ability.method": _string,
    "ability.prior_mean": as_number,
    "ability.prior_sd": as_number,
    "ability.n_points": as_integer,
    "ability.theta_range": _pair,
    "start.theta": as_number,
    "start.spread": as_number,
    "start.randomesque": as_integer,
    "selection.method": _string,
    "selection.randomesque": as_integer,
    "selection.params": _mapping,
    "exposure_control.method": _string,
    "exposure_control.params": _number_map,
    "exposure_control.max_rate": _optional(as_number),
    "constraints.content": _content,
    "constraints.content_proportions": _number_map,
    "constraints.enemies": as_bool,
    "constraints.pretest_count": as_integer,
    "constraints.pretest_first": as_integer,
    "constraints.pretest_last": as_integer,
    "stopping.min_items": as_integer,
    "stopping.max_items": as_integer,
    "stopping.rules": _rules,
    "stopping.combine": _string,
    "stopping.cut_scores": _numbers,
}


def read_section(name: str, data: Any, fields: dict[str, Any], problems: list[str]) -> None:
    """Read the nested section ``name`` into ``fields`` (converted values)."""
    if not isinstance(data, Mapping):
        problems.append(f"{name}: expected a mapping, got {data!r}")
        return
    for key, value in data.items():
        path = f"{name}.{key}"
        if path not in READERS:
            problems.append(f"unknown key {path!r}")
            continue
        try:
            fields[key] = READERS[path](value)
        except (TypeError, ValueError) as error:
            problems.append(f"{label(path)}: {error}")


def apply_flat(
    sections: dict[str, dict[str, Any]],
    top: dict[str, Any],
    flat: Mapping[str, Any],
    problems: list[str],
) -> None:
    """Apply flat keys over the sections (the migration of ``zapcat-cat-config/1``)."""
    for key, value in flat.items():
        if key == "show_results":
            try:
                top["show_results"] = as_bool(value)
            except TypeError as error:
                problems.append(f"show_results: {error}")
        elif key in SIMPLE:
            section, field = SIMPLE[key].split(".")
            try:
                sections[section][field] = READERS[SIMPLE[key]](value)
            except (TypeError, ValueError) as error:
                problems.append(f"{key}: {error}")
    _apply_rules(sections["stopping"], flat, problems)
    if "n_strata" in flat:
        spec = SELECTORS.get("a_stratified").params
        got = dict(read_params("n_strata", {"n_strata": spec["n_strata"]},
                               {"n_strata": flat["n_strata"]}, problems))  # fmt: skip
        method = sections["selection"].get("method", "mfi")
        if "n_strata" in got and method in SELECTORS and "n_strata" in SELECTORS.get(method).params:
            sections["selection"]["params"] = {**dict(sections["selection"].get("params", ())),
                                               "n_strata": got["n_strata"]}  # fmt: skip


def _apply_rules(stopping: dict[str, Any], flat: Mapping[str, Any], problems: list[str]) -> None:
    if not any(k in flat for k in (*RULE_PARAMS, "classification")):
        return
    rules = [(n, dict(p)) for n, p in stopping.get("rules", (("se", {"threshold": 0.3}),))]
    current = dict(rules)
    threshold = current.get("se", {}).get("threshold")
    if "stop_se" in flat:
        try:
            threshold = _optional(as_number)(flat["stop_se"])
        except (TypeError, ValueError) as error:
            problems.append(f"stop_se: {error}")
    kind = next((n for n, _ in rules if n in _CLASSIFICATION), None)
    if "classification" in flat:
        try:
            kind = _optional(_string)(flat["classification"]) or None
        except TypeError as error:
            problems.append(f"classification: {error}")
        if kind is not None and kind not in _CLASSIFICATION:
            problems.append(f"classification must be one of sprt, ci, got {kind!r}")
            kind = None
    params = {name: dict(current.get(name, {})) for name in _CLASSIFICATION}
    for key, (rule, param) in RULE_PARAMS.items():
        if key in flat and rule in params:
            spec = STOP_RULES.get(rule).params
            got = dict(read_params(key, {key: spec[param]}, {key: flat[key]}, problems))
            if key in got:
                params[rule][param] = got[key]
    new: list[tuple[str, dict[str, Any]]] = []
    if threshold is not None:
        new.append(("se", {"threshold": threshold}))
    if kind is not None:
        new.append((kind, params[kind]))
    new += [(n, p) for n, p in rules if n not in _LEGACY_RULES]
    stopping["rules"] = tuple(new)


# --------------------------------------------------------------------------- writers
def flat_value(config: Any, key: str) -> Any:
    """Value of the flat key ``key`` of a configuration."""
    if key in SIMPLE:
        section, field = SIMPLE[key].split(".")
        return getattr(getattr(config, section), field)
    stopping = config.stopping
    if key == "classification":
        return next((n for n, _ in stopping.rules if n in _CLASSIFICATION), None)
    if key == "n_strata":
        params = dict(config.selection.params)
        return params.get("n_strata", SELECTORS.get("a_stratified").params["n_strata"].default)
    rule, param = RULE_PARAMS[key]
    params = stopping.rule(rule)
    if params is None:
        return None if key == "stop_se" else STOP_RULES.get(rule).params[param].default
    return params[param]


def to_flat(config: Any) -> dict[str, Any]:
    """The flat dict of a configuration (every ``zapcat-cat-config/1`` key)."""
    out: dict[str, Any] = {key: flat_value(config, key) for key in ALIASES}
    out["show_results"] = config.show_results
    for key, default in (("mode", "secure"), ("feedback", "none")):
        if getattr(config, key) != default:  # keys since zapcat-cat-config/2: only when set
            out[key] = getattr(config, key)
    out["theta_range"] = list(out["theta_range"])
    out["cut_scores"] = list(out["cut_scores"])
    out["exposure_params"] = dict(out["exposure_params"])
    out["content"] = {a: {"min": lo, "max": hi} for a, lo, hi in out["content"]}
    out["content_proportions"] = dict(out["content_proportions"])
    extra = [{"name": n, **dict(p)} for n, p in config.stopping.rules if n not in _LEGACY_RULES]
    if extra:
        out["stopping"] = {"rules": [{"name": n, **dict(p)} for n, p in config.stopping.rules]}
    params = {k: v for k, v in config.selection.params if k != "n_strata"}
    if params:
        out["selection"] = {"params": dict(config.selection.params)}
    return out
