"""The columnar form of an item bank: arrays for the engine, items decoded on demand.

A bank of 100,000 items is 100,000 :class:`~item_banks.bank.Item` objects with their
mappings and tuples, built by pure-Python validation that takes seconds. A service that
holds a published (already validated) bank needs little of that: the engine computes on
the parameter arrays of each model group and on per-item metadata (statuses, content
areas, enemy groups). This module stores exactly those as arrays, plus each item's JSON
record, in one compact binary (:func:`bank_to_arrays`), and rebuilds an
:class:`~item_banks.bank.ItemBank` from it without decoding any item
(:func:`bank_from_arrays`): an :class:`~item_banks.bank.Item` is decoded from its record
(by the same :func:`~item_banks.io.item_from_record` as a document) when first asked for.

Binary layout (``zapcat-bank-arrays/1``): a zlib-compressed ``.npz`` archive whose
``header`` is UTF-8 JSON (format, name, description, provenance, the model groups and the
vocabularies of content areas and enemy groups) and whose other members are the arrays
listed in :func:`bank_to_arrays`. Decompression releases Python's GIL; nothing in loading
is a loop over items.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from item_banks.bank import STATUSES, Item, ItemBank, ModelGroup
from item_banks.errors import BankValidationError, Problem
from item_banks.models import get_model

ARRAYS_FORMAT = "zapcat-bank-arrays/1"
"""Value of the ``format`` field of the header of :func:`bank_to_arrays`."""


@dataclass(frozen=True)
class ItemColumns:
    """Per-item metadata of a bank as arrays (see :meth:`ItemBank.columns`).

    Attributes
    ----------
    status : ndarray of int8, shape (n_items,)
        Position of each item's status in :data:`~item_banks.bank.STATUSES`.
    usable : ndarray of bool, shape (n_items,)
        :attr:`Item.usable` (no calibration flag, or the flags accepted).
    areas : tuple of str
        Every content area of the bank, sorted.
    area_indptr, area_indices : ndarray of int64, shapes (n_items + 1,) and (n_links,)
        Content areas of item ``i``: ``areas[j]`` for ``j`` in
        ``area_indices[area_indptr[i]:area_indptr[i + 1]]`` (CSR layout, in item order).
    enemy_groups : tuple of str
    enemy_indptr, enemy_indices : ndarray of int64
        The same for enemy groups.
    """

    status: NDArray[np.int8]
    usable: NDArray[np.bool_]
    areas: tuple[str, ...]
    area_indptr: NDArray[np.int64]
    area_indices: NDArray[np.int64]
    enemy_groups: tuple[str, ...]
    enemy_indptr: NDArray[np.int64]
    enemy_indices: NDArray[np.int64]

    def has_status(self, status: str) -> NDArray[np.bool_]:
        """Whether each item has ``status``, shape ``(n_items,)``."""
        return self.status == STATUSES.index(status)

    def membership(self, which: str = "areas") -> NDArray[np.bool_]:
        """``out[i, j]``: item ``i`` is in area (or enemy group) ``j``, shape ``(n, m)``."""
        if which == "areas":
            vocab, indptr, indices = self.areas, self.area_indptr, self.area_indices
        else:
            vocab, indptr, indices = self.enemy_groups, self.enemy_indptr, self.enemy_indices
        n = self.status.size
        out = np.zeros((n, len(vocab)), dtype=bool)
        rows = np.repeat(np.arange(n), np.diff(indptr))
        out[rows, indices] = True
        return out


def _csr(lists: Sequence[tuple[str, ...]]) -> tuple[tuple[str, ...], NDArray, NDArray]:
    vocab = tuple(sorted({v for values in lists for v in values}))
    where = {v: j for j, v in enumerate(vocab)}
    indptr = np.zeros(len(lists) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(values) for values in lists])
    indices = np.fromiter((where[v] for values in lists for v in values), np.int64, indptr[-1])
    return vocab, indptr, indices


def columns_of_items(items: Sequence[Item]) -> ItemColumns:
    """The :class:`ItemColumns` of a sequence of (valid) items."""
    areas, area_indptr, area_indices = _csr([item.content_areas for item in items])
    groups, enemy_indptr, enemy_indices = _csr([item.enemy_groups for item in items])
    code = {s: j for j, s in enumerate(STATUSES)}
    return ItemColumns(
        status=np.fromiter((code[item.status] for item in items), np.int8, len(items)),
        usable=np.fromiter((item.usable for item in items), bool, len(items)),
        areas=areas,
        area_indptr=area_indptr,
        area_indices=area_indices,
        enemy_groups=groups,
        enemy_indptr=enemy_indptr,
        enemy_indices=enemy_indices,
    )


def bank_to_arrays(bank: ItemBank) -> bytes:
    """The columnar binary of a bank (see the module doc); ``bank.version`` is not kept.

    Members: ``header`` (JSON), ``n_categories`` (n,), ``group_of`` (n,), ``params_<g>``
    (n_g, n_params) per model group, ``status`` and ``usable`` (n,), ``area_indptr``,
    ``area_indices``, ``enemy_indptr``, ``enemy_indices``, and the items' JSON records
    (``records``: UTF-8 bytes, ``record_end``: (n,) end offsets) with item ids
    (``ids``, ``id_end``).
    """
    cols = bank.columns()
    records = [json.dumps(item.to_dict(), ensure_ascii=False, allow_nan=False).encode()
               for item in bank.items]  # fmt: skip
    ids = [item_id.encode() for item_id in bank.item_ids]
    header = {
        "format": ARRAYS_FORMAT,
        "name": bank.name,
        "description": bank.description,
        "provenance": dict(bank.provenance),
        "groups": [[g.model.name, g.n_categories] for g in bank.groups],
        "areas": list(cols.areas),
        "enemy_groups": list(cols.enemy_groups),
    }
    group_of = np.empty(len(bank), dtype=np.int32)
    arrays: dict[str, NDArray] = {}
    for g, group in enumerate(bank.groups):
        group_of[group.indices] = g
        arrays[f"params_{g}"] = np.asarray(group.params)
    arrays.update(
        header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        n_categories=np.asarray(bank.n_categories, dtype=np.int64),
        group_of=group_of,
        status=cols.status,
        usable=cols.usable,
        area_indptr=cols.area_indptr,
        area_indices=cols.area_indices,
        enemy_indptr=cols.enemy_indptr,
        enemy_indices=cols.enemy_indices,
        records=np.frombuffer(b"".join(records), dtype=np.uint8),
        record_end=np.cumsum([len(r) for r in records], dtype=np.int64),
        ids=np.frombuffer(b"".join(ids), dtype=np.uint8),
        id_end=np.cumsum([len(r) for r in ids], dtype=np.int64),
    )
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return zlib.compress(buffer.getvalue(), 1)


class LazyItems:
    """The items of a columnar bank, each decoded from its JSON record on first use."""

    def __init__(self, records: NDArray[np.uint8], ends: NDArray[np.int64]) -> None:
        self._records = records
        self._starts = np.concatenate([[0], ends[:-1]]).tolist()
        self._ends = ends.tolist()
        self._done: dict[int, Item] = {}

    def __len__(self) -> int:
        return len(self._ends)

    def item(self, position: int) -> Item:
        """The item at ``position`` (decoded once)."""
        found = self._done.get(position)
        if found is None:
            from item_banks.io import item_from_record

            start, end = self._starts[position], self._ends[position]
            record = json.loads(self._records[start:end].tobytes())
            found, problems = item_from_record(record, f"items[{position}]")
            if found is None:  # the binary was written from a valid bank
                raise BankValidationError(problems, source="bank arrays")
            self._done[position] = found
        return found

    def all(self) -> tuple[Item, ...]:
        """Every item, in bank order."""
        return tuple(self.item(i) for i in range(len(self)))


def bank_from_arrays(blob: bytes, *, version: str) -> ItemBank:
    """The bank of a :func:`bank_to_arrays` binary, with version label ``version``.

    Nothing is validated again (the binary is written from a valid bank) and no item is
    decoded: groups, parameters and metadata come from the arrays.

    Raises
    ------
    BankValidationError
        The binary is not a ``zapcat-bank-arrays/1`` one.
    """
    try:
        data = np.load(io.BytesIO(zlib.decompress(blob)), allow_pickle=False)
        arrays = {name: data[name] for name in data.files}
        header = json.loads(arrays.pop("header").tobytes())
    except (OSError, ValueError, KeyError, zlib.error) as error:
        raise BankValidationError(
            [Problem(None, "arrays", f"not a {ARRAYS_FORMAT} binary ({error})")],
            source="bank arrays",
        ) from None
    if header.get("format") != ARRAYS_FORMAT:
        raise BankValidationError(
            [Problem(None, "format", f"expected {ARRAYS_FORMAT!r}, got {header.get('format')!r}")],
            source="bank arrays",
        )
    group_of = arrays["group_of"]
    groups = []
    for g, (model, k) in enumerate(header["groups"]):
        indices = np.flatnonzero(group_of == g).astype(np.intp)
        params = np.ascontiguousarray(arrays[f"params_{g}"], dtype=np.float64)
        indices.flags.writeable = False
        params.flags.writeable = False
        groups.append(ModelGroup(get_model(model), int(k), indices, params))
    ids_blob, id_end = arrays["ids"].tobytes(), arrays["id_end"].tolist()
    starts = [0, *id_end[:-1]]
    item_ids = [ids_blob[a:b].decode() for a, b in zip(starts, id_end, strict=True)]
    columns = ItemColumns(
        status=arrays["status"].astype(np.int8),
        usable=arrays["usable"].astype(bool),
        areas=tuple(header["areas"]),
        area_indptr=arrays["area_indptr"],
        area_indices=arrays["area_indices"],
        enemy_groups=tuple(header["enemy_groups"]),
        enemy_indptr=arrays["enemy_indptr"],
        enemy_indices=arrays["enemy_indices"],
    )
    return ItemBank._from_columns(
        item_ids=item_ids,
        n_categories=arrays["n_categories"],
        groups=tuple(groups),
        columns=columns,
        items=LazyItems(arrays["records"], arrays["record_end"]),
        name=header["name"],
        version=version,
        description=header["description"],
        provenance=header["provenance"],
    )

