"""Changes users make to response data before a calibration: leave items out, reverse them.

Both act on a :class:`~calibration.data.ResponseData` and return a new one, so that they
work whatever reader built it (CSV, Parquet, DataFrame, long or wide). Reversing an item
maps category ``k`` to ``K - 1 - k`` and reverses its codes, so ``category_codes`` (and
the bank's ``Item.codes``) still say which data code each category is.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from calibration.data import ResponseData
from item_banks.errors import CalibrationError


def split_ids(values: Iterable[str] | None) -> list[str]:
    """Item ids from repeated and comma-separated options (``["a,b", "c"]``)."""
    out: list[str] = []
    for text in values or []:
        out += [part.strip() for part in str(text).split(",") if part.strip()]
    return list(dict.fromkeys(out))


def _check(data: ResponseData, ids: list[str], option: str) -> None:
    unknown = [i for i in ids if i not in data.item_ids]
    if unknown:
        shown = ", ".join(data.item_ids[:12]) + (" ..." if data.n_items > 12 else "")
        raise CalibrationError(
            f"{option} names item(s) not in the data: {', '.join(map(repr, unknown))}; "
            f"items: {shown}"
        )


def drop_items(data: ResponseData, ids: Iterable[str]) -> ResponseData:
    """The data without the items ``ids``.

    Raises
    ------
    CalibrationError
        An id is not an item of the data, or nothing would be left.

    Examples
    --------
    >>> data = ResponseData.from_matrix([[0, 1, 1], [1, 0, 1]])
    >>> drop_items(data, ["item2"]).item_ids
    ('item1', 'item3')
    """
    ids = list(ids)
    if not ids:
        return data
    _check(data, ids, "--drop")
    keep = np.array([i not in ids for i in data.item_ids])
    if not keep.any():
        raise CalibrationError("--drop leaves no item to calibrate")
    return data.subset_items(keep)


def reverse_items(data: ResponseData, ids: Iterable[str]) -> ResponseData:
    """The data with the categories of the items ``ids`` reversed (``k -> K - 1 - k``).

    Raises
    ------
    CalibrationError
        An id is not an item of the data.

    Examples
    --------
    >>> data = ResponseData.from_matrix([[1, 3], [2, 4]])
    >>> new = reverse_items(data, ["item2"])
    >>> new.to_matrix()[:, 1].tolist(), new.category_codes[1]
    ([1, 0], (4.0, 3.0))
    """
    ids = list(ids)
    if not ids:
        return data
    _check(data, ids, "--reverse")
    n_cat = data.n_categories
    flip = np.zeros(data.n_items, dtype=bool)
    flip[[data.item_ids.index(i) for i in ids]] = True
    rows = flip[data.item]
    category = data.category.astype(np.int64)
    category[rows] = n_cat[data.item[rows]] - 1 - category[rows]
    codes = tuple(
        tuple(reversed(c)) if f else c for c, f in zip(data.category_codes, flip, strict=True)
    )
    return ResponseData(
        data.person_ids,
        data.item_ids,
        data.person,
        data.item,
        category,
        codes,
        data.source,
        data.sha256,
        data.notes,
    )
