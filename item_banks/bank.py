"""Immutable item banks (their items: :mod:`item_banks.item`, re-exported here).

An :class:`ItemBank` is a named, versioned, immutable collection of :class:`Item`. Items
of the same model and number of categories are grouped into read-only parameter arrays so
that the engine and calibration compute probabilities and information for thousands of
items at once (see :attr:`ItemBank.groups`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from item_banks.errors import BankValidationError, Problem, UnknownItemError
from item_banks.item import (  # noqa: F401 - re-exported: their home before the split
    FEEDBACK_MAX_LENGTH,
    LIST_SEPARATOR,
    SECURE_STATUSES,
    STATUSES,
    Item,
    item_problems,
)
from item_banks.models import ItemModel, get_model


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
        self._items: tuple[Item, ...] | None = items
        self._lazy: Any = None
        self._columns: Any = None
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

    @classmethod
    def _from_columns(
        cls,
        *,
        item_ids: Sequence[str],
        n_categories: ArrayLike,
        groups: tuple[ModelGroup, ...],
        columns: Any,
        items: Any,
        name: str,
        version: str,
        description: str,
        provenance: Mapping[str, Any],
    ) -> ItemBank:
        """A bank of an already validated bank's arrays (see :mod:`item_banks.columns`).

        ``items`` decodes the :class:`Item` at a position on demand (``item(i)``, ``all()``);
        nothing is validated.
        """
        self = cls.__new__(cls)
        self._items = None
        self._lazy = items
        self._columns = columns
        self.name, self.version, self.description = str(name), str(version), str(description)
        self.provenance = MappingProxyType(dict(provenance or {}))
        self._index = {}
        n = len(item_ids)
        for start in range(0, n, 4096):  # short steps: other threads run between them
            stop = min(start + 4096, n)
            self._index.update(zip(item_ids[start:stop], range(start, stop), strict=True))
        self._groups = groups
        self._group_of = np.empty(len(item_ids), dtype=np.intp)
        self._row_of = np.empty(len(item_ids), dtype=np.intp)
        for g, group in enumerate(groups):
            self._group_of[group.indices] = g
            self._row_of[group.indices] = np.arange(group.indices.size)
        self._n_categories = np.asarray(n_categories, dtype=np.intp)
        self._n_categories.flags.writeable = False
        return self

    # ----------------------------------------------------------------- collection protocol
    @property
    def items(self) -> tuple[Item, ...]:
        """The items, in bank order."""
        if self._items is None:
            self._items = self._lazy.all()
        return self._items

    def item_at(self, position: int) -> Item:
        """The item at ``position`` (of a columnar bank: decoded alone, on first use)."""
        if self._items is None:
            return self._lazy.item(int(position))
        return self._items[position]

    def columns(self) -> Any:
        """Per-item metadata as arrays (:class:`item_banks.columns.ItemColumns`), cached."""
        if self._columns is None:
            from item_banks.columns import columns_of_items

            self._columns = columns_of_items(self.items)
        return self._columns

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
        return len(self._index)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index

    def __getitem__(self, item_id: str) -> Item:
        return self.item_at(self.index_of(item_id))

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
            and self.items == other.items
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
            return np.arange(len(self))
        sel = np.asarray(items, dtype=np.intp).reshape(-1)
        return sel

    def _per_group(self, sel: NDArray[np.intp]) -> Iterator[tuple[ModelGroup, NDArray, NDArray]]:
        """Yield (group, output columns, parameter rows) for the selected positions."""
        if sel.size == len(self) and np.array_equal(sel, np.arange(sel.size)):
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
            "items": [item.to_dict() for item in self.items],
        }
