"""Validation of ``zapcat-battery/1`` mappings (see :mod:`item_banks.battery`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from item_banks.battery import (
    DEFAULT_Z,
    FORMAT,
    ORDERS,
    Battery,
    BatteryValidationError,
    Level,
    Scale,
    Section,
)

_SKILL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _scale(data: Any, where: str, out: list[str]) -> Scale:
    if data is None:
        return Scale()
    if not isinstance(data, Mapping):
        out.append(f"{where}: must be an object {{intercept, slope, decimals, range}}")
        return Scale()
    for key in data:
        if key not in ("intercept", "slope", "decimals", "range"):
            out.append(f"{where}: unknown field {key!r}")
    kw: dict[str, Any] = {}
    for key, default in (("intercept", 0.0), ("slope", 1.0)):
        v = data.get(key, default)
        if not _num(v) or (key == "slope" and v == 0):
            out.append(f"{where}.{key}: must be a finite number{' != 0' * (key == 'slope')}"
                       f", got {v!r}")  # fmt: skip
        else:
            kw[key] = float(v)
    dec = data.get("decimals", 2)
    if not _int(dec) or not 0 <= dec <= 6:
        out.append(f"{where}.decimals: must be an integer 0..6, got {dec!r}")
    else:
        kw["decimals"] = dec
    rng = data.get("range")
    if rng is not None:
        if not (isinstance(rng, list | tuple) and len(rng) == 2 and all(map(_num, rng))
                and rng[0] < rng[1]):  # fmt: skip
            out.append(f"{where}.range: must be [low, high] with low < high, got {rng!r}")
        else:
            kw["range"] = (float(rng[0]), float(rng[1]))
    return Scale(**kw)


def _levels(data: Any, where: str, out: list[str]) -> tuple[Level, ...]:
    if data is None:
        return ()
    if not isinstance(data, list) or not data:
        out.append(f"{where}: must be a non-empty list of levels")
        return ()
    levels: list[Level] = []
    last = -math.inf
    for i, lv in enumerate(data):
        at = f"{where}[{i}]"
        if not isinstance(lv, Mapping):
            out.append(f"{at}: must be an object {{name, theta_cut, descriptor}}")
            continue
        for key in lv:
            if key not in ("name", "theta_cut", "descriptor"):
                out.append(f"{at}: unknown field {key!r}")
        name, cut, desc = lv.get("name"), lv.get("theta_cut"), lv.get("descriptor", "")
        if not isinstance(name, str) or not name.strip():
            out.append(f"{at}.name: must be a non-empty string, got {name!r}")
            name = f"level-{i}"
        if not isinstance(desc, str):
            out.append(f"{at}.descriptor: must be a string, got {desc!r}")
            desc = ""
        if i == 0 and cut is not None:
            out.append(f"{at}.theta_cut: the first level has no cut (it starts at -inf), "
                       f"got {cut!r}")  # fmt: skip
            cut = None
        elif i > 0:
            if not _num(cut):
                out.append(f"{at}.theta_cut: must be a finite number, got {cut!r}")
                cut = None
            elif cut <= last:
                out.append(f"{at}.theta_cut: cuts must increase, got {cut!r} after {last!r}")
            else:
                last = float(cut)
        levels.append(Level(name, None if cut is None else float(cut), desc))
    names = [lv.name for lv in levels]
    for name in sorted({n for n in names if names.count(n) > 1}):
        out.append(f"{where}: level name {name!r} is used twice")
    return tuple(levels)


_SECTION_KEYS = ("skill_id", "name", "description", "esco_uri", "bank", "cat", "collateral",
                 "scale", "levels", "target_level")  # fmt: skip


def _section(data: Any, where: str, out: list[str]) -> Section | None:
    if not isinstance(data, Mapping):
        out.append(f"{where}: must be an object")
        return None
    for key in data:
        if key not in _SECTION_KEYS:
            out.append(f"{where}: unknown field {key!r} (known: {', '.join(_SECTION_KEYS)})")
    skill = data.get("skill_id")
    if not isinstance(skill, str) or not _SKILL_ID.match(skill):
        out.append(f"{where}.skill_id: must be 1-64 letters, digits, '_', '-' or '.', "
                   f"got {skill!r}")  # fmt: skip
        skill = f"?{where}"
    name = data.get("name", skill)
    if not isinstance(name, str) or not name.strip():
        out.append(f"{where}.name: must be a non-empty string, got {name!r}")
    desc = data.get("description", "")
    if not isinstance(desc, str):
        out.append(f"{where}.description: must be a string, got {desc!r}")
    uri = data.get("esco_uri")
    if uri is not None and not (isinstance(uri, str) and uri.startswith(("http://", "https://"))):
        out.append(f"{where}.esco_uri: must be an http(s) URI, got {uri!r}")
    bank = data.get("bank")
    ok_bank = isinstance(bank, Mapping) and (
        (set(bank) == {"path"} and isinstance(bank["path"], str) and bank["path"])
        or (set(bank) == {"name", "version"} and isinstance(bank["name"], str)
            and bank["name"] and ((isinstance(bank["version"], str) and bank["version"])
                                  or (_int(bank["version"]) and bank["version"] >= 1)))
    )  # fmt: skip
    if not ok_bank:
        out.append(f"{where}.bank: must be {{\"path\": file}} or {{\"name\", \"version\"}} "
                   f"(a version string or number), got {bank!r}")  # fmt: skip
    cat = data.get("cat", {})
    if not isinstance(cat, Mapping):
        out.append(f"{where}.cat: must be a CAT configuration object, got {cat!r}")
        cat = {}
    coll = data.get("collateral", {}) or {}
    borrow, cmin = False, 0
    if not isinstance(coll, Mapping) or set(coll) - {"borrow", "min_items"}:
        out.append(f"{where}.collateral: must be {{\"borrow\": bool, \"min_items\": int}}, "
                   f"got {coll!r}")  # fmt: skip
    else:
        borrow, cmin = coll.get("borrow", False), coll.get("min_items", 0)
        if not isinstance(borrow, bool):
            out.append(f"{where}.collateral.borrow: must be true or false, got {borrow!r}")
            borrow = False
        if not _int(cmin) or cmin < 0:
            out.append(f"{where}.collateral.min_items: must be an integer >= 0, got {cmin!r}")
            cmin = 0
    levels = _levels(data.get("levels"), f"{where}.levels", out)
    target = data.get("target_level")
    if target is not None and target not in [lv.name for lv in levels[1:]]:
        out.append(f"{where}.target_level: {target!r} is not a level above the first "
                   f"({', '.join(lv.name for lv in levels[1:]) or 'none'})")  # fmt: skip
    return Section(
        skill_id=skill, name=name if isinstance(name, str) else str(skill),
        bank=dict(bank) if ok_bank else {}, cat=dict(cat),
        description=desc if isinstance(desc, str) else "",
        esco_uri=uri if isinstance(uri, str) else None, borrow=borrow,
        collateral_min_items=cmin, scale=_scale(data.get("scale"), f"{where}.scale", out),
        levels=levels, target_level=target if isinstance(target, str) else None,
    )  # fmt: skip


def _matrix(value: Any, k: int, where: str, out: list[str]) -> np.ndarray | None:
    if not (isinstance(value, list) and len(value) == k
            and all(isinstance(r, list) and len(r) == k and all(map(_num, r)) for r in value)):
        out.append(f"{where}: must be a {k} x {k} list of lists of numbers")
        return None
    return np.array(value, dtype=float)


def _correlations(data: Any, ids: list[str], out: list[str]) -> tuple:
    if data is None:
        return None, None
    if not isinstance(data, Mapping) or set(data) - {"skills", "matrix", "se"}:
        out.append("correlations: must be {\"skills\": [...], \"matrix\": [[...]], \"se\"?}")
        return None, None
    skills = data.get("skills")
    if not isinstance(skills, list) or sorted(map(str, skills)) != sorted(ids) \
            or len(set(skills)) != len(skills):  # fmt: skip
        out.append(f"correlations.skills: must list each section's skill_id once "
                   f"({', '.join(ids)}), got {skills!r}")  # fmt: skip
        return None, None
    k = len(ids)
    m = _matrix(data.get("matrix"), k, "correlations.matrix", out)
    se = None if data.get("se") is None else _matrix(data["se"], k, "correlations.se", out)
    if m is None:
        return None, None
    perm = [skills.index(s) for s in ids]
    m = m[np.ix_(perm, perm)]
    if se is not None:
        se = se[np.ix_(perm, perm)]
    if not np.allclose(m, m.T, atol=1e-9):
        out.append("correlations.matrix: must be symmetric")
    if not np.allclose(np.diag(m), 1.0):
        out.append(f"correlations.matrix: the diagonal must be 1, got {np.diag(m).tolist()}")
    off = m[~np.eye(k, dtype=bool)]
    if off.size and (np.abs(off) >= 1).any():
        out.append("correlations.matrix: off-diagonal correlations must lie in (-1, 1)")
    elif np.linalg.eigvalsh((m + m.T) / 2).min() <= 1e-8:
        out.append("correlations.matrix: must be positive definite (it is not a possible "
                   "correlation matrix)")  # fmt: skip
    return m, se


_TOP_KEYS = ("format", "name", "version", "description", "budget", "order", "z",
             "correlations", "sections")  # fmt: skip


def battery_from_dict(data: Any, *, source: str | None = None) -> Battery:
    """Validate a ``zapcat-battery/1`` mapping.

    Raises
    ------
    BatteryValidationError
        Naming every problem with where it is (``sections[1].levels[2].theta_cut``).
    """
    out: list[str] = []
    if not isinstance(data, Mapping):
        raise BatteryValidationError([f"a battery must be a JSON object, got "
                                      f"{type(data).__name__}"], source=source)  # fmt: skip
    if data.get("format") != FORMAT:
        out.append(f"format: must be {FORMAT!r}, got {data.get('format')!r}")
    for key in data:
        if key not in _TOP_KEYS:
            out.append(f"unknown field {key!r} (known: {', '.join(_TOP_KEYS)})")
    name, version = data.get("name"), data.get("version", "1")
    if not isinstance(name, str) or not name.strip():
        out.append(f"name: must be a non-empty string, got {name!r}")
    if not isinstance(version, str) or not version:
        out.append(f"version: must be a non-empty string, got {version!r}")
    desc = data.get("description", "")
    if not isinstance(desc, str):
        out.append(f"description: must be a string, got {desc!r}")
    order = data.get("order", "fixed")
    if order not in ORDERS:
        out.append(f"order: must be one of {', '.join(ORDERS)}, got {order!r}")
    z = data.get("z", DEFAULT_Z)
    if not _num(z) or z <= 0:
        out.append(f"z: must be a number > 0, got {z!r}")
    budget = data.get("budget")
    if budget is not None and (not _int(budget) or budget < 1):
        out.append(f"budget: must be an integer >= 1 or null, got {budget!r}")
    raw = data.get("sections")
    sections: list[Section] = []
    if not isinstance(raw, list) or not raw:
        out.append("sections: must be a non-empty list (one section per skill)")
    else:
        for i, s in enumerate(raw):
            sec = _section(s, f"sections[{i}]", out)
            if sec is not None:
                sections.append(sec)
    ids = [s.skill_id for s in sections]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        out.append(f"sections: skill_id {dup!r} is used by more than one section")
    corr, corr_se = (None, None)
    if not out:
        corr, corr_se = _correlations(data.get("correlations"), ids, out)
    if out:
        raise BatteryValidationError(out, source=source)
    return Battery(name=name, version=version, sections=tuple(sections), description=desc,
                   budget=budget, order=order, correlations=corr, correlation_se=corr_se,
                   z=float(z), source=source)  # fmt: skip



__all__ = ["battery_from_dict"]
