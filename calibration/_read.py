"""Columnar reading and vectorised recoding of response tables (pyarrow, numpy).

:mod:`calibration.data` validates and lays out responses; this module does the two things
whose cost grows with the file:

* :func:`read_csv` reads CSV/TSV with pyarrow's multi-threaded reader, numeric columns
  typed as numbers (the id columns stay text, so ``007`` stays ``007``), and falls back to
  pandas' all-text reader when a column's type changes past the first block;
* :func:`recode` turns the codes of all items at once into categories ``0 .. K-1`` (one
  ``bincount`` over (item, code) instead of a loop over columns), and :func:`factorize`
  gives person and item ids their positions in order of first appearance.

Both return plain arrays; messages about bad values are written by :mod:`calibration.data`
(the same ones whichever reader ran).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numpy.typing import NDArray

NULL_STRINGS = ("", "na", "NA", "Na", "nan", "NaN", "NAN", "null", "NULL", "Null", ".")
"""Cells read as missing in numeric columns (the missing strings of :mod:`calibration.data`
in their usual spellings; any other spelling makes the column text, which the validating
path reads)."""

MAX_DIRECT_CODES = 1 << 12
"""Largest code range (max - min + 1) recoded through one table lookup; wider ranges (odd
codes such as 1000, 2000) are recoded item by item."""


def header(path: Path, delimiter: str, encoding: str = "utf8") -> list[str]:
    """Column names of a delimited file (its first record), stripped."""
    import csv

    with path.open(newline="", encoding=encoding, errors="replace") as fh:
        first = next(csv.reader(fh, delimiter=delimiter), [])
    return [c.strip() for c in first]


def read_csv(
    path: Path,
    delimiter: str,
    text_columns: Iterable[str],
    numeric_columns: Iterable[str] | None = None,
    encoding: str = "utf8",
) -> pd.DataFrame:
    """Read a delimited file: response columns as numbers (NaN = missing), ids as text.

    Every column's type is given before reading (none is guessed from the first rows), so
    the file is parsed in parallel blocks; when a numeric column holds anything else (a
    word, a decimal comma) the file is read again as text by pandas, for the validating
    path to name each bad cell.

    Parameters
    ----------
    path : Path
    delimiter : str, one character
    text_columns : iterable of str
        Columns read as text (person and item ids), whatever they hold.
    numeric_columns : iterable of str, optional
        Columns read as numbers; the others as text. Default: every column not in
        ``text_columns``.
    encoding : str
        Text encoding of the file.

    Returns
    -------
    DataFrame
        Numeric columns float64; text columns strings (empty cells kept as ``""``).
    """
    names = header(path, delimiter, encoding)
    text = set(text_columns)
    numbers = set(names) - text if numeric_columns is None else set(numeric_columns) - text
    types = {c: (pa.float64() if c in numbers else pa.string()) for c in names}
    convert = pacsv.ConvertOptions(
        column_types=types,
        null_values=list(NULL_STRINGS),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=1 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=convert,
        )
        table = table.rename_columns([c.strip() for c in table.column_names])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeError, KeyError):
        # a word or a decimal comma in a response column, ragged rows, odd quoting:
        # pandas' text reader gives every cell as written, for the validating path
        return pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False, encoding=encoding)
    return to_frame(table)


def to_frame(table: pa.Table) -> pd.DataFrame:
    """The table as a DataFrame, the table's memory freed and handed back to the system.

    Columns are converted one by one, each freed once converted (``self_destruct``), and
    the memory pool then returns its free pages: otherwise pyarrow's allocator keeps them
    for the rest of the process (1.2 GB after reading a 40-million-row log, through the
    whole calibration that follows).
    """
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    release_memory()
    return frame


def release_memory() -> None:
    """Hand the free pages of pyarrow's memory pool back to the system."""
    pa.default_memory_pool().release_unused()


def numeric_block(frame: pd.DataFrame, columns: list[str]) -> NDArray[np.float64]:
    """The numeric ``columns`` of ``frame`` as one (n_rows, n_columns) float array."""
    if not columns:
        return np.zeros((len(frame), 0))
    return frame[columns].to_numpy(dtype=np.float64, na_value=np.nan)


def is_numeric(values: pd.Series) -> bool:
    """Whether a column holds numbers (not booleans, not text)."""
    return bool(
        pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values)
    )


def factorize(values: pd.Series) -> tuple[NDArray[np.int64], list[str]]:
    """Positions of stripped text ids in order of first appearance; ``-1`` for empty ids.

    Work grows with the rows only through hashing or a comparison of neighbours: ids are
    encoded first and only the distinct ones are stripped and checked (an id column of
    40 million rows and a million persons costs no Python object per row).

    Parameters
    ----------
    values : Series
        Ids as text, categories or numbers (numbers are written as text: ``7`` -> ``"7"``).

    Returns
    -------
    codes : ndarray of int64, (n,)
    uniques : list of str
        The distinct non-empty ids, in order of first appearance.
    """
    if is_numeric(values) and not values.isna().any():
        num = values.to_numpy()
        if num.size and num.dtype.kind in "iu" and bool(np.all(num[1:] >= num[:-1])):
            start = np.concatenate([[True], num[1:] != num[:-1]])  # sorted: neighbours
            codes = np.cumsum(start) - 1
            return codes, [str(u) for u in num[start]]
        codes, uniques = pd.factorize(num, sort=False)
        return codes.astype(np.int64), [str(u) for u in uniques]
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw = values.cat.codes.to_numpy()
        labels = [str(c) for c in values.cat.categories]
    else:
        array = pa.array(values.astype("string"), from_pandas=True)
        encoded = pc.dictionary_encode(array)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        raw = encoded.indices.to_numpy(zero_copy_only=False)
        labels = [str(c) for c in encoded.dictionary.to_pylist()]
    # distinct labels in order of first appearance, stripped; equal after stripping -> one id
    seen = pd.unique(raw)
    position: dict[str, int] = {}
    lookup = np.full(len(labels) + 1, -1, dtype=np.int64)  # the last entry: a null (-1)
    for code in seen.tolist():
        if code < 0:
            continue
        label = labels[code].strip()
        if label:
            lookup[code] = position.setdefault(label, len(position))
    return lookup[raw], list(position)


def recode(
    item: NDArray[np.int64], codes: NDArray[np.float64], n_items: int
) -> tuple[NDArray[np.int64], list[tuple[float, ...]]]:
    """Categories ``0 .. K-1`` of integer codes, per item in increasing order of the codes.

    Parameters
    ----------
    item : ndarray of int, (n,)
        Item position of each response, in ``0 .. n_items - 1``.
    codes : ndarray of float, (n,)
        Integer-valued codes (checked by the caller).
    n_items : int

    Returns
    -------
    category : ndarray of int16 or int64, (n,)
    tables : list of tuple of float
        Per item, the code of each category.
    """
    if codes.size == 0:
        return np.zeros(0, dtype=np.int16), [() for _ in range(n_items)]
    lo, hi = float(codes.min()), float(codes.max())
    width = int(hi - lo) + 1
    if width <= MAX_DIRECT_CODES and width * n_items <= 50_000_000:
        if codes.dtype.kind in "iu":
            offset = codes.astype(np.int16 if width < 32767 else np.int64) - int(lo)
        else:
            offset = (codes - lo).astype(np.int64)
        if width <= 8:  # which codes each item uses: one counting pass per code
            present = np.stack(
                [
                    np.bincount(item, weights=offset == k, minlength=n_items) > 0
                    for k in range(width)
                ],
                axis=1,
            )
        else:
            key = item.astype(np.int64) * width + offset
            present = np.bincount(key, minlength=n_items * width).reshape(n_items, width) > 0
        values = lo + np.arange(width)
        tables = [tuple(float(v) for v in values[row]) for row in present]
        if lo == 0 and present.all():  # every item uses every code 0..K-1: categories = codes
            return offset.astype(np.int16, copy=False), tables
        rank = (np.cumsum(present, axis=1) - 1).astype(np.int16)
        return rank[item, offset], tables
    order = np.argsort(item, kind="stable")
    bounds = np.searchsorted(item[order], np.arange(n_items + 1))
    category = np.empty(codes.size, dtype=np.int64)
    tables: list[tuple[float, ...]] = []
    for j in range(n_items):
        sel = order[bounds[j] : bounds[j + 1]]
        table, inverse = np.unique(codes[sel], return_inverse=True)
        category[sel] = inverse.ravel()
        tables.append(tuple(float(c) for c in table))
    return category, tables
