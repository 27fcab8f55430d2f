"""One calibrated item and the checks that need no other item.

Split from :mod:`item_banks.bank` (which re-exports every public name here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from item_banks.errors import Problem
from item_banks.models import ItemModel, get_model, model_names

STATUSES = ("operational", "pretest", "retired", "practice")
"""Allowed item statuses: scored live items, seeded unscored items, withdrawn items, and
practice items (they may be disclosed: only practice-mode tests give them, and only they)."""

SECURE_STATUSES = ("operational", "pretest")
"""Statuses of the items a secure (not practice) test may give."""

FEEDBACK_MAX_LENGTH = 4000
"""Longest explanation text of one response category (characters)."""

LIST_SEPARATOR = ";"
"""Separator of list-valued metadata (content areas, enemy groups, tags) in CSV cells."""


def _frozen_floats(values: Mapping[str, Any]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in values.items()})


@dataclass(frozen=True, eq=True)
class Item:
    """One calibrated item.

    Parameters
    ----------
    item_id : str
        Identifier, unique within a bank (always a string: ``"007"`` is not ``7``).
    model : str
        Registered model name (see :func:`item_banks.models.model_names`).
    params : mapping of str to float
        Parameter values by name, for example ``{"a": 1.2, "b": -0.4}`` (logistic metric).
    n_categories : int, optional
        Number of response categories ``K``; inferred from the parameters when omitted.
    se : mapping of str to float, optional
        Standard errors of the parameters, where known.
    content_areas, enemy_groups, tags : sequence of str, optional
        Metadata used by content balancing, enemy exclusion and free-form selection.
    status : {"operational", "pretest", "retired", "practice"}, default "operational"
        ``practice`` items may be disclosed: only practice-mode tests give them.
    codes : sequence of float, optional
        The response code of each category ``0 .. K-1`` in the data the item was
        calibrated on (for example ``(1, 2)`` for an item whose code 0 nobody used), so that
        the mapping from the data's codes to categories travels with the item.
    flags : sequence of str, optional
        Diagnostics of its calibration (a parameter that ran off, an SE that makes the
        estimate meaningless). The engine does not administer a flagged item unless
        ``flags_accepted`` is true.
    flags_accepted : bool, default False
        The owner has looked at the flags and accepts the item as it is.
    feedback : mapping of int to str, optional
        Explanation text per response category ``0 .. K-1`` (not every category needs
        one), shown after an answer in practice tests with ``feedback: "item"``.

    Examples
    --------
    >>> Item("q1", "2pl", {"a": 1.1, "b": 0.3}).n_categories
    2
    """

    item_id: str
    model: str
    params: Mapping[str, float]
    n_categories: int = 0
    se: Mapping[str, float] = field(default_factory=dict)
    content_areas: tuple[str, ...] = ()
    enemy_groups: tuple[str, ...] = ()
    status: str = "operational"
    tags: tuple[str, ...] = ()
    codes: tuple[float, ...] = ()
    flags: tuple[str, ...] = ()
    flags_accepted: bool = False
    feedback: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", str(self.model).lower())
        object.__setattr__(self, "params", _frozen_floats(self.params))
        object.__setattr__(self, "se", _frozen_floats(self.se))
        for name in ("content_areas", "enemy_groups", "tags", "flags"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))
        object.__setattr__(self, "codes", tuple(float(c) for c in self.codes))
        object.__setattr__(self, "flags_accepted", bool(self.flags_accepted))
        object.__setattr__(self, "feedback", MappingProxyType(
            {int(k): str(v) for k, v in sorted(dict(self.feedback).items())}))  # fmt: skip
        if not self.n_categories and self.model in model_names():
            model = get_model(self.model)
            try:
                k = model.n_categories_for(len(self.params))
            except Exception:
                k = 0  # reported by validation
            object.__setattr__(self, "n_categories", k)

    def __hash__(self) -> int:
        return hash((self.item_id, self.model, tuple(self.params.items())))

    @property
    def usable(self) -> bool:
        """Whether the engine may administer the item: no flag, or its flags accepted."""
        return not self.flags or self.flags_accepted

    def param_vector(self) -> NDArray[np.float64]:
        """Parameters in the model's column order, shape ``(n_params,)``."""
        names = get_model(self.model).param_names(self.n_categories)
        return np.array([self.params[n] for n in names], dtype=float)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation (as stored in ``zapcat-bank/1`` files)."""
        out: dict[str, Any] = {
            "item_id": self.item_id,
            "model": self.model,
            "n_categories": self.n_categories,
            "params": dict(self.params),
        }
        if self.se:
            out["se"] = dict(self.se)
        out["content_areas"] = list(self.content_areas)
        out["enemy_groups"] = list(self.enemy_groups)
        out["status"] = self.status
        out["tags"] = list(self.tags)
        if self.codes:
            out["codes"] = [int(c) if float(c).is_integer() else c for c in self.codes]
        if self.flags:
            out["flags"] = list(self.flags)
            out["flags_accepted"] = self.flags_accepted
        if self.feedback:
            out["feedback"] = {str(k): text for k, text in self.feedback.items()}
        return out


def _layout_problem(model: ItemModel, params: Mapping[str, float]) -> str:
    """Why the parameters given cannot be those of any item of ``model``."""
    lo = model.min_categories
    dichotomous = model.max_categories == 2
    takes = ", ".join(model.param_names(lo)) + (
        "" if dichotomous else ", ... (one more per category)"
    )
    given = ", ".join(f"{n} = {v:g}" for n, v in params.items()) or "none"
    return f"model {model.name!r} takes parameters {takes}; got {given}"


def _feedback_problems(item: Item) -> list[Problem]:
    """Problems of an item's explanation texts (categories 0 .. K-1, bounded texts)."""
    out = []
    k = item.n_categories
    for category, text in item.feedback.items():
        where = f"feedback[{category}]"
        if not 0 <= category < k:
            out.append(Problem(item.item_id, where, f"category {category} is not one of the "
                               f"item's categories 0..{k - 1}"))  # fmt: skip
        if not text.strip():
            out.append(Problem(item.item_id, where, "explanation text must not be empty "
                               "(leave the category out instead)"))  # fmt: skip
        elif len(text) > FEEDBACK_MAX_LENGTH:
            out.append(Problem(item.item_id, where, f"explanation text has {len(text)} "
                               f"characters; at most {FEEDBACK_MAX_LENGTH}"))  # fmt: skip
    return out


def item_problems(item: Item) -> list[Problem]:
    """Every problem of a single item that does not need the rest of the bank.

    Parameters
    ----------
    item : Item

    Returns
    -------
    list of Problem
        Empty when the item is valid. Parameter-range checks are made bank-wide, per
        model group (see :func:`bank_problems`), so they are not repeated here.
    """
    iid = item.item_id
    out: list[Problem] = []
    if not isinstance(iid, str) or not iid.strip():
        out.append(Problem(str(iid), "item_id", f"item id must be a non-empty string, got {iid!r}"))
    if item.model not in model_names():
        known = ", ".join(model_names())
        out.append(Problem(iid, "model", f"unknown model {item.model!r}; known: {known}"))
        return out
    model = get_model(item.model)
    k = item.n_categories
    msg = model.check_n_categories(k) if k else _layout_problem(model, item.params)
    if msg:
        out.append(Problem(iid, "n_categories", msg))
        return out
    expected = model.param_names(k)
    missing = [n for n in expected if n not in item.params]
    extra = [n for n in item.params if n not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        out.append(
            Problem(
                iid,
                "params",
                f"{'; '.join(parts)} for model {item.model!r} with {k} "
                f"categories (expects {', '.join(expected)})",
            )
        )
    for name, value in item.se.items():
        if name not in expected:
            out.append(Problem(iid, f"{name}_se", f"standard error of unknown parameter {name!r}"))
        elif not (np.isfinite(value) and value >= 0):
            out.append(
                Problem(iid, f"{name}_se", f"standard error must be finite and >= 0, got {value!r}")
            )
    if item.status not in STATUSES:
        out.append(
            Problem(
                iid, "status", f"status must be one of {', '.join(STATUSES)}, got {item.status!r}"
            )
        )
    if item.codes and len(item.codes) != k:
        codes = ", ".join(f"{c:g}" for c in item.codes)
        out.append(Problem(iid, "codes", f"{len(item.codes)} codes ({codes}) for {k} categories"))
    if item.codes and len(set(item.codes)) != len(item.codes):
        out.append(Problem(iid, "codes", "codes must be distinct"))
    out += _feedback_problems(item)
    for name in ("content_areas", "enemy_groups", "tags", "flags"):
        for entry in getattr(item, name):
            if not entry.strip() or LIST_SEPARATOR in entry:
                out.append(
                    Problem(
                        iid,
                        name,
                        f"entries must be non-empty and contain no "
                        f"{LIST_SEPARATOR!r}, got {entry!r}",
                    )
                )
    return out
