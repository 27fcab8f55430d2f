"""Items and immutable item banks.

An :class:`ItemBank` is a named, versioned, immutable collection of :class:`Item`. Items
of the same model and number of categories are grouped into read-only parameter arrays so
that the engine and calibration compute probabilities and information for thousands of
items at once (see :attr:`ItemBank.groups`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from item_banks.errors import BankValidationError, Problem, UnknownItemError
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


@dataclass(frozen=True)
class ModelGroup:
    """Items of one bank that share a model and a number of categories.

    Attributes
    ----------
    model : ItemModel
    n_categories : int
    indices : ndarray of int, shape (n_group,)
        Positions of the group's items in the bank, increasing.
    params : ndarray, shape (n_group, n_params)
        Read-only parameters, columns in ``model.param_names(n_categories)`` order.
    """

    model: ItemModel
    n_categories: int
    indices: NDArray[np.intp]
    params: NDArray[np.float64]


def _group(items: Sequence[Item]) -> tuple[ModelGroup, ...]:
    keys: dict[tuple[str, int], list[int]] = {}
    for i, item in enumerate(items):
        keys.setdefault((item.model, item.n_categories), []).append(i)
    groups = []
    for (name, k), idx in keys.items():
        model = get_model(name)
        params = np.array([items[i].param_vector() for i in idx], dtype=float)
        params = params.reshape(len(idx), len(model.param_names(k)))
        indices = np.asarray(idx, dtype=np.intp)
        params.flags.writeable = False
        indices.flags.writeable = False
        groups.append(ModelGroup(model, k, indices, params))
    return tuple(groups)


def bank_problems(items: Sequence[Item], locations: Sequence[str] | None = None) -> list[Problem]:
    """Every problem of a collection of items: per item, duplicates and parameter ranges.

    Parameters
    ----------
    items : sequence of Item
    locations : sequence of str, optional
        Where each item was read from (for example ``"row 7"``), for the messages.

    Returns
    -------
    list of Problem
        In item order; empty when the items form a valid bank.
    """
    if locations is None:
        locations = [f"position {i}" for i in range(len(items))]
    where = list(locations)
    found: list[tuple[int, Problem]] = []
    seen: dict[str, int] = {}
    valid: list[int] = []
    for pos, item in enumerate(items):
        own = item_problems(item)
        if isinstance(item.item_id, str) and item.item_id in seen:
            first = where[seen[item.item_id]]
            own.insert(0, Problem(item.item_id, "item_id", f"duplicate item id (first at {first})"))
        seen.setdefault(str(item.item_id), pos)
        found += [(pos, p) for p in own]
        if not own:
            valid.append(pos)
    for group in _group([items[pos] for pos in valid]):
        for row, fld, msg in group.model.check_params(group.params, group.n_categories):
            pos = valid[group.indices[row]]
            found.append((pos, Problem(items[pos].item_id, fld, msg)))
    found.sort(key=lambda pair: pair[0])  # stable: file order, then kind of check
    return [Problem(p.item_id, p.field, p.message, where[pos]) for pos, p in found]


class ItemBank:
    """An immutable, named, versioned collection of items.

    Parameters
    ----------
    items : iterable of Item
        At least one item; ids unique.
    name : str
        Bank name, for example ``"python-skills"``.
    version : str, default "1"
        Version label; a published version never changes.
    description : str, optional
    provenance : mapping, optional
        Where the parameters come from (calibration data hash, software, date ...).

    Raises
    ------
    BankValidationError
        Listing every problem at once, each with its item id and field.

    Examples
    --------
    >>> bank = ItemBank([Item("q1", "2pl", {"a": 1.0, "b": 0.0})], name="demo")
    >>> bank.information([0.0]).round(3)
    array([[0.25]])
    """

    def __init__(
        self,
        items: Iterable[Item],
        *,
        name: str,
        version: str = "1",
        description: str = "",
        provenance: Mapping[str, Any] | None = None,
        _locations: Sequence[str] | None = None,
    ) -> None:
        items = tuple(items)
        problems = bank_problems(items, _locations)
        if not str(name).strip():
            problems.insert(0, Problem(None, "name", "bank name must be a non-empty string"))
        if not str(version).strip():
            problems.insert(0, Problem(None, "version", "bank version must be non-empty"))
        if not items:
            problems.insert(0, Problem(None, "items", "a bank needs at least one item"))
        if problems:
            raise BankValidationError(problems, source=f"bank {name!r}")
        self._items = items
        self.name = str(name)
        self.version = str(version)
        self.description = str(description)
        self.provenance: Mapping[str, Any] = MappingProxyType(dict(provenance or {}))
        self._index = {item.item_id: i for i, item in enumerate(items)}
        self._groups = _group(items)
        self._group_of = np.empty(len(items), dtype=np.intp)
        self._row_of = np.empty(len(items), dtype=np.intp)
        for g, group in enumerate(self._groups):
            self._group_of[group.indices] = g
            self._row_of[group.indices] = np.arange(group.indices.size)
        self._n_categories = np.array([item.n_categories for item in items], dtype=np.intp)
        self._n_categories.flags.writeable = False

    # ----------------------------------------------------------------- collection protocol
    @property
    def items(self) -> tuple[Item, ...]:
        """The items, in bank order."""
        return self._items

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Item ids, in bank order."""
        return tuple(self._index)

    @property
    def groups(self) -> tuple[ModelGroup, ...]:
        """Items grouped by (model, number of categories), with read-only parameters."""
        return self._groups

    @property
    def n_categories(self) -> NDArray[np.intp]:
        """Number of categories of each item, shape ``(n_items,)``."""
        return self._n_categories

    @property
    def max_categories(self) -> int:
        """Largest number of categories of any item."""
        return int(self._n_categories.max())

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index

    def __getitem__(self, item_id: str) -> Item:
        return self._items[self.index_of(item_id)]

    def index_of(self, item_id: str) -> int:
        """Position of ``item_id`` in the bank.

        Raises
        ------
        UnknownItemError
        """
        try:
            return self._index[item_id]
        except KeyError:
            raise UnknownItemError(item_id, self.name) from None

    def indices_of(self, item_ids: Iterable[str]) -> NDArray[np.intp]:
        """Positions of several item ids, shape ``(n,)``."""
        return np.array([self.index_of(i) for i in item_ids], dtype=np.intp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ItemBank):
            return NotImplemented
        return (
            self.name == other.name
            and self.version == other.version
            and self.description == other.description
            and dict(self.provenance) == dict(other.provenance)
            and self._items == other._items
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        models = ", ".join(sorted({f"{g.model.name}" for g in self._groups}))
        return f"<ItemBank {self.name!r} v{self.version}: {len(self)} items ({models})>"

    def subset(self, item_ids: Iterable[str], *, name: str | None = None) -> ItemBank:
        """A new bank holding only ``item_ids`` (in the given order)."""
        return ItemBank(
            [self[i] for i in item_ids],
            name=name or self.name,
            version=self.version,
            description=self.description,
            provenance=self.provenance,
        )

    # ---------------------------------------------------------------------------- maths
    def _selection(self, items: ArrayLike | None) -> NDArray[np.intp]:
        if items is None:
            return np.arange(len(self._items))
        sel = np.asarray(items, dtype=np.intp).reshape(-1)
        return sel

    def _per_group(self, sel: NDArray[np.intp]) -> Iterator[tuple[ModelGroup, NDArray, NDArray]]:
        """Yield (group, output columns, parameter rows) for the selected positions."""
        if sel.size == len(self._items) and np.array_equal(sel, np.arange(sel.size)):
            for group in self._groups:
                yield group, group.indices, group.params
            return
        gid = self._group_of[sel]
        for g, group in enumerate(self._groups):
            cols = np.nonzero(gid == g)[0]
            if cols.size:
                yield group, cols, group.params[self._row_of[sel[cols]]]

    def log_prob(self, theta: ArrayLike, items: ArrayLike | None = None) -> NDArray[np.float64]:
        """Category log-probabilities, padded to the largest number of categories.

        Parameters
        ----------
        theta : array_like, shape (n_theta,)
        items : array_like of int, shape (n,), optional
            Item positions (see :meth:`index_of`); all items when omitted.

        Returns
        -------
        ndarray, shape (n_theta, n, max_categories)
            ``-inf`` for categories an item does not have.
        """
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        sel = self._selection(items)
        k_max = int(self._n_categories[sel].max()) if sel.size else 2
        out = np.full((theta.size, sel.size, k_max), -np.inf)
        for group, cols, params in self._per_group(sel):
            out[:, cols, : group.n_categories] = group.model.log_prob(theta, params)
        return out

    def prob(self, theta: ArrayLike, items: ArrayLike | None = None) -> NDArray[np.float64]:
        """Category probabilities, shape ``(n_theta, n, max_categories)``, zero-padded."""
        return np.exp(self.log_prob(theta, items))

    def dlog_prob_dtheta(
        self, theta: ArrayLike, items: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """``d log P / d theta`` per category, shape ``(n_theta, n, max_categories)``.

        Zero for categories an item does not have.
        """
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        sel = self._selection(items)
        k_max = int(self._n_categories[sel].max()) if sel.size else 2
        out = np.zeros((theta.size, sel.size, k_max))
        for group, cols, params in self._per_group(sel):
            out[:, cols, : group.n_categories] = group.model.dlog_prob_dtheta(theta, params)
        return out

    def information(self, theta: ArrayLike, items: ArrayLike | None = None) -> NDArray[np.float64]:
        """Fisher information of each item, shape ``(n_theta, n)``."""
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        sel = self._selection(items)
        out = np.empty((theta.size, sel.size))
        for group, cols, params in self._per_group(sel):
            out[:, cols] = group.model.information(theta, params)
        return out

    def log_likelihood(
        self, theta: ArrayLike, items: ArrayLike, responses: ArrayLike
    ) -> NDArray[np.float64]:
        """Log-likelihood of one response pattern at each theta.

        Parameters
        ----------
        theta : array_like, shape (n_theta,)
        items : array_like of int, shape (n,)
            Positions of the answered items.
        responses : array_like of int, shape (n,)
            Category scored ``0 .. K-1`` for each answered item.

        Returns
        -------
        ndarray, shape (n_theta,)
        """
        sel = self._selection(items)
        resp = np.asarray(responses, dtype=np.intp).reshape(-1)
        logp = self.log_prob(theta, sel)
        return logp[:, np.arange(sel.size), resp].sum(axis=1)

    # ------------------------------------------------------------------------ dict form
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the ``zapcat-bank/1`` format."""
        from item_banks.io import FORMAT

        return {
            "format": FORMAT,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "provenance": dict(self.provenance),
            "items": [item.to_dict() for item in self._items],
        }
