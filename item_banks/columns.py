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

Binary layout (``zapcat-bank-arrays/1``): the length of what follows once decompressed
(8 bytes, little-endian), then zlib-compressed: the length of the header (8 bytes), the
header (UTF-8 JSON: format, name, description, provenance, the
model groups, the vocabularies of content areas and enemy groups, and each array's dtype,
shape and offset), then the arrays' bytes (each at a multiple of 8). Loading decompresses
a megabyte at a time and maps the arrays onto the buffer without copying them: no single
step takes more than a few milliseconds of the interpreter, and none is a call per item
except the decoding of the item ids (a Python loop, which other threads interrupt).
"""

from __future__ import annotations

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


def bank_to_arrays(bank: ItemBank, *, records: Sequence[bytes] | None = None) -> bytes:
    """The columnar binary of a bank (see the module doc); ``bank.version`` is not kept.

    Members: ``header`` (JSON), ``n_categories`` (n,), ``group_of`` (n,), ``params_<g>``
    (n_g, n_params) per model group, ``status`` and ``usable`` (n,), ``area_indptr``,
    ``area_indices``, ``enemy_indptr``, ``enemy_indices``, and the items' JSON records
    (``records``: UTF-8 bytes, ``record_end``: (n,) end offsets) with item ids
    (``ids``, ``id_end``). ``records`` may be given: the UTF-8 JSON of each item's
    :meth:`~item_banks.bank.Item.to_dict`, already serialised.
    """
    cols = bank.columns()
    if records is None:
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
        arrays[f"params_{g}"] = np.ascontiguousarray(group.params, dtype="<f8")
    arrays.update(
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
    layout, offset = {}, 0
    for name, array in arrays.items():
        layout[name] = [array.dtype.str, list(array.shape), offset]
        offset += -(-array.nbytes // 8) * 8
    head = json.dumps({**header, "arrays": layout}).encode()
    body = bytearray(offset)
    for name, array in arrays.items():
        start = layout[name][2]
        body[start : start + array.nbytes] = np.ascontiguousarray(array).tobytes()
    plain = len(head).to_bytes(8, "little") + head + bytes(body)
    return len(plain).to_bytes(8, "little") + zlib.compress(plain, 1)


def _inflate(blob: bytes, step: int = 1 << 16) -> bytearray:
    """The decompressed payload of a binary, at most ``step`` bytes of output per call."""
    out = bytearray(int.from_bytes(blob[:8], "little"))
    view = memoryview(out)
    stream = zlib.decompressobj()
    data, at = memoryview(blob)[8:], 0
    while data and at < len(out):
        piece = stream.decompress(data, step)
        view[at : at + len(piece)] = piece
        at += len(piece)
        data = stream.unconsumed_tail
    if at != len(out) or not stream.eof:
        raise ValueError(f"the binary decompresses to {at} bytes, its header says {len(out)}")
    return out


class LazyItems:
    """The items of a columnar bank, each decoded from its JSON record on first use."""

    def __init__(self, records: NDArray[np.uint8], ends: NDArray[np.int64]) -> None:
        self._records = records
        self._ends = ends
        self._done: dict[int, Item] = {}

    def __len__(self) -> int:
        return int(self._ends.size)

    def item(self, position: int) -> Item:
        """The item at ``position`` (decoded once)."""
        found = self._done.get(position)
        if found is None:
            from item_banks.io import item_from_record

            start = int(self._ends[position - 1]) if position else 0
            end = int(self._ends[position])
            record = json.loads(self._records[start:end].tobytes())
            found, problems = item_from_record(record, f"items[{position}]")
            if found is None:  # the binary was written from a valid bank
                raise BankValidationError(problems, source="bank arrays")
            self._done[position] = found
        return found

    def all(self) -> tuple[Item, ...]:
        """Every item, in bank order."""
        return tuple(self.item(i) for i in range(len(self)))


def _strings(data: NDArray[np.uint8], ends: NDArray[np.int64], step: int = 4096) -> list[str]:
    """The UTF-8 strings ending at ``ends`` in ``data``, decoded ``step`` at a time."""
    out: list[str] = []
    blob = data.tobytes() if data.nbytes < (1 << 20) else None
    for first in range(0, ends.size, step):
        stops = ends[first : first + step].tolist()
        begin = int(ends[first - 1]) if first else 0
        chunk = blob[begin : stops[-1]] if blob is not None else data[begin : stops[-1]].tobytes()
        starts = [0, *(stop - begin for stop in stops[:-1])]
        out += [chunk[a : b - begin] for a, b in zip(starts, stops, strict=True)]
    return [s.decode() for s in out]


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
        buffer = _inflate(blob)
        size = int.from_bytes(buffer[:8], "little")
        header = json.loads(bytes(buffer[8 : 8 + size]))
        body = memoryview(buffer)[8 + size :]
        arrays = {}
        for name, (dtype, shape, offset) in header["arrays"].items():
            count = int(np.prod(shape, dtype=np.int64))
            array = np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(shape)
            array.flags.writeable = False
            arrays[name] = array
    except (ValueError, KeyError, TypeError, zlib.error) as error:
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
        params = arrays[f"params_{g}"].astype(np.float64)  # native order, own memory
        indices.flags.writeable = False
        params.flags.writeable = False
        groups.append(ModelGroup(get_model(model), int(k), indices, params))
    item_ids = _strings(arrays["ids"], arrays["id_end"])
    columns = ItemColumns(
        status=arrays["status"],
        usable=arrays["usable"],
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
