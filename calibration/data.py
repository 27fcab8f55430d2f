"""Response data for calibration: wide or long, CSV / Parquet / DataFrame, stored sparsely.

Only observed responses are kept, as three parallel arrays ``(person, item, category)``
(the coordinate form of a sparse matrix), so memory and the work of one EM iteration grow
with the number of observed responses, not with persons x items. Category codes are
recoded per item to ``0 .. K-1`` (in increasing order of the original codes) and the
mapping is kept in :attr:`ResponseData.category_codes`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from calibration import _read
from calibration.sniff import layout_hints, looks_like_id, mask_missing, parse_missing, sniff_text
from item_banks.errors import ResponseDataError

LAYOUTS = ("wide", "long")
"""Accepted layouts: one row per person, or one row per (person, item, response)."""


@dataclass(frozen=True)
class ResponseData:
    """Observed item responses in coordinate (sparse) form.

    Attributes
    ----------
    person_ids : tuple of str, length n_persons
    item_ids : tuple of str, length n_items
    person : ndarray of int32, shape (n_obs,)
        Person position of each observed response.
    item : ndarray of int32, shape (n_obs,)
        Item position of each observed response.
    category : ndarray of int16, shape (n_obs,)
        Recoded response ``0 .. K_i - 1``.
    category_codes : tuple of tuple of float
        Per item, the original code of each category (index = recoded category).
    source : str
        Where the data came from (file name or ``"DataFrame"``).
    sha256 : str
        Hash of the file (or of the observed triples for in-memory data).
    """

    person_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    person: NDArray[np.int32]
    item: NDArray[np.int32]
    category: NDArray[np.int16]
    category_codes: tuple[tuple[float, ...], ...]
    source: str = "DataFrame"
    sha256: str = ""
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        # compact storage: 4 + 4 + 2 bytes per observed response
        object.__setattr__(self, "person", np.asarray(self.person, dtype=np.int32))
        object.__setattr__(self, "item", np.asarray(self.item, dtype=np.int32))
        object.__setattr__(self, "category", np.asarray(self.category, dtype=np.int16))

    @property
    def n_persons(self) -> int:
        """Number of persons (rows of the wide layout)."""
        return len(self.person_ids)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.item_ids)

    @property
    def n_observed(self) -> int:
        """Number of observed responses."""
        return int(self.person.size)

    @property
    def n_categories(self) -> NDArray[np.int64]:
        """Number of categories of each item (declared or observed), shape (n_items,)."""
        return np.array([len(c) for c in self.category_codes], dtype=np.int64)

    @property
    def density(self) -> float:
        """Share of the person x item cells that hold a response, in [0, 1]."""
        return self.n_observed / max(1, self.n_persons * self.n_items)

    def to_matrix(self) -> NDArray[np.int64]:
        """Dense ``(n_persons, n_items)`` matrix of categories, ``-1`` where not answered."""
        out = np.full((self.n_persons, self.n_items), -1, dtype=np.int64)
        out[self.person, self.item] = self.category
        return out

    def subset_items(self, keep: NDArray[np.bool_]) -> ResponseData:
        """Data restricted to the items where ``keep`` is true (persons unchanged)."""
        keep = np.asarray(keep, dtype=bool)
        new_pos = np.cumsum(keep) - 1
        mask = keep[self.item]
        return ResponseData(
            self.person_ids,
            tuple(i for i, k in zip(self.item_ids, keep, strict=True) if k),
            self.person[mask],
            new_pos[self.item[mask]],
            self.category[mask],
            tuple(c for c, k in zip(self.category_codes, keep, strict=True) if k),
            self.source,
            self.sha256,
            self.notes,
        )

    def subset_persons(self, keep: NDArray[np.bool_]) -> ResponseData:
        """Data restricted to the persons where ``keep`` is true (items unchanged)."""
        keep = np.asarray(keep, dtype=bool)
        new_pos = np.cumsum(keep) - 1
        mask = keep[self.person]
        return ResponseData(
            tuple(p for p, k in zip(self.person_ids, keep, strict=True) if k),
            self.item_ids,
            new_pos[self.person[mask]],
            self.item[mask],
            self.category[mask],
            self.category_codes,
            self.source,
            self.sha256,
            self.notes,
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_matrix(
        cls,
        matrix: Any,
        *,
        item_ids: Sequence[str] | None = None,
        person_ids: Sequence[str] | None = None,
    ) -> ResponseData:
        """Build from a numeric persons x items array (NaN or negative = missing).

        Parameters
        ----------
        matrix : array_like, shape (n_persons, n_items)
            Integer codes; ``NaN`` or any negative value means not answered.
        item_ids, person_ids : sequence of str, optional
            Default ``"item1".."itemN"`` and ``"1".."n"``.

        Returns
        -------
        ResponseData

        Examples
        --------
        >>> data = ResponseData.from_matrix([[0, 1], [1, -1]])
        >>> data.n_observed, data.item_ids
        (3, ('item1', 'item2'))
        """
        values = np.asarray(matrix)
        if values.dtype.kind not in "iub":
            values = values.astype(float)
        if values.ndim != 2:
            raise ResponseDataError([f"expected a 2-D persons x items array, got {values.shape}"])
        n, m = values.shape
        ids = [f"item{j + 1}" for j in range(m)] if item_ids is None else list(item_ids)
        persons = [str(i + 1) for i in range(n)] if person_ids is None else list(person_ids)
        problems = []
        if len(ids) != m or len(set(ids)) != m:
            problems.append(f"item_ids must be {m} distinct strings")
        if len(persons) != n or len(set(persons)) != n:
            problems.append(f"person_ids must be {n} distinct strings")
        if values.dtype.kind == "f":
            missing = np.isnan(values) | (values < 0)
            filled = np.where(missing, 0.0, values)
            bad = ~np.isfinite(filled) | (filled != np.round(filled))
            for r, c in list(zip(*np.nonzero(bad), strict=True))[:20]:
                problems.append(
                    f"row {r + 1}, column {ids[c]!r} (item {ids[c]!r}): code "
                    f"{float(values[r, c])!r} is not an integer"
                )
            codes = filled.astype(np.int64)
        else:
            missing = values < 0
            codes = np.where(missing, 0, values)
        if codes.size and 0 <= codes.min() and codes.max() < 32767:
            codes = codes.astype(np.int16)
        if problems:
            raise ResponseDataError(problems, source="array")
        digest = hashlib.sha256(np.ascontiguousarray(codes).tobytes() + missing.tobytes())
        top = int(codes.max()) + 1 if codes.size else 1
        item, person = (idx.astype(np.int32) for idx in np.nonzero(~missing.T))
        if top <= 64:  # which codes each item uses
            present = np.stack([((codes == k) & ~missing).any(axis=0) for k in range(top)], 1)
        else:
            key = item.astype(np.int64) * top + codes[person, item]
            present = np.bincount(key, minlength=m * top).reshape(m, top) > 0
        rank = (np.cumsum(present, axis=1) - 1).astype(np.int16)  # code -> category, per item
        category = rank[item, codes[person, item]]
        tables = [tuple(float(c) for c in np.nonzero(row)[0]) for row in present]
        return cls(
            tuple(str(p) for p in persons),
            tuple(str(i) for i in ids),  # ids given
            person,
            item,
            category,
            tuple(tables),
            "array",
            digest.hexdigest(),
        )


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


ID_COLUMNS = ("person", "id", "person_id")
"""Names of a wide file's first column that make it the person-id column."""


def _read_table(
    path: Path,
    fmt: str | None,
    text_columns: tuple[str, ...] = (),
    numeric_columns: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if not path.exists():
        raise ResponseDataError([f"file not found: {str(path)!r}"], source=str(path))
    if path.stat().st_size == 0:
        raise ResponseDataError(["the file is empty (no header, no rows)"], source=str(path))
    if fmt in ("parquet", "pq"):
        import pyarrow.parquet as pq

        # id columns as dictionaries: one string per distinct id, not one per row
        schema = pq.read_schema(path)
        ids = [c for c in text_columns if c in schema.names]
        return _read.to_frame(pq.read_table(path, read_dictionary=ids))
    if fmt in ("csv", "txt", "tsv"):
        text = sniff_text(path, "\t" if fmt == "tsv" else ",")
        try:
            frame = _read.read_csv(
                path,
                text.delimiter,
                (*text_columns, *ID_COLUMNS),
                numeric_columns,
                encoding=text.encoding,
            )
        except pd.errors.EmptyDataError:
            raise ResponseDataError(
                ["the file is empty (no header, no rows)"], source=str(path)
            ) from None
        except (pd.errors.ParserError, UnicodeError) as exc:
            raise ResponseDataError(
                [f"cannot read the file as a {text.encoding} table: {exc}"], source=str(path)
            ) from None
        frame.attrs["notes"] = list(text.notes)
        return frame
    raise ResponseDataError(
        [f"unknown file format {fmt!r} (use .csv, .tsv or .parquet)"], source=str(path)
    )


_MISSING_STRINGS = {"", "na", "nan", "null", "none", "."}


def _codes(values: pd.Series) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
    """Return (numeric values, missing mask, bad mask) of one column."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        num = values.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(num)
        return num, missing, np.zeros(num.size, dtype=bool)
    text = values.astype("string").str.strip()
    missing = text.isna().to_numpy() | text.str.lower().isin(_MISSING_STRINGS).to_numpy(
        dtype=bool, na_value=True
    )
    num = pd.to_numeric(text.where(~pd.Series(missing, index=text.index)), errors="coerce")
    num = num.to_numpy(dtype=float, na_value=np.nan)
    bad = ~missing & np.isnan(num)
    return num, missing, bad


def read_responses(
    source: str | Path | pd.DataFrame,
    *,
    layout: str = "wide",
    id_column: str | None = None,
    item_column: str = "item",
    response_column: str = "response",
    categories: Mapping[str, Sequence[float]] | None = None,
    format: str | None = None,
    missing: str | Sequence[str] | None = None,
) -> ResponseData:
    """Read item responses from CSV, Parquet or a DataFrame, wide or long.

    Parameters
    ----------
    source : path or DataFrame
        ``.csv`` / ``.tsv`` / ``.parquet`` file or a pandas DataFrame.
    layout : {"wide", "long"}
        ``wide``: one row per person, one column per item (an optional person-id column).
        ``long``: one row per response with person, item and response columns.
    id_column : str, optional
        Person-id column. Wide: default the first column if it is named ``person`` or
        ``id``, otherwise persons are numbered ``1..n``. Long: default ``"person"``.
    item_column, response_column : str
        Columns of the long layout.
    categories : mapping of item id to sequence of codes, optional
        Declared response codes of some items (in order). Codes outside them are errors;
        declared codes nobody used make the item unestimable (reported by calibration).
        Items not listed take their observed codes.
    format : str, optional
        File format when the suffix does not tell (``"csv"``, ``"parquet"``).
    missing : str or sequence of str, optional
        Missing-value codes besides empty cells, ``NA`` and ``.`` (for example
        ``"-1,9,NA"``); without them such codes become categories.

    Returns
    -------
    ResponseData

    Raises
    ------
    ResponseDataError
        Listing every problem, with row numbers (1-based data rows), column and item ids:
        non-numeric or non-integer codes, codes outside declared categories, duplicate
        person ids or (person, item) pairs, an empty file, unknown columns.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"person": ["a", "b"], "q1": [1, 2], "q2": [0, None]})
    >>> data = read_responses(frame)
    >>> data.category.tolist(), data.category_codes[0]
    ([0, 1, 0], (1.0, 2.0))
    """
    if layout not in LAYOUTS:
        raise ResponseDataError([f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}"])
    if isinstance(source, pd.DataFrame):
        frame, name, sha = source, "DataFrame", ""
    else:
        path = Path(source)
        if layout == "wide":
            frame = _read_table(path, format, (id_column,) if id_column else ())
        else:
            text = (id_column or "person", item_column)
            frame = _read_table(path, format, text, (response_column,))
        name, sha = str(path), _file_hash(path)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ResponseDataError(["no responses: the data have no rows"], source=name)
    notes = list(frame.attrs.get("notes", []))
    frame = frame.copy(deep=False)  # the caller's frame keeps its column names
    frame.columns = [str(c).strip() for c in frame.columns]
    codes = parse_missing(missing)
    if codes:
        frame = mask_missing(frame, codes, keep={id_column, item_column, "person", "id"})
        notes.append(f"missing-value codes: {', '.join(codes)}")
    if layout == "wide":
        cols = list(frame.columns)
        auto_id = bool(cols) and cols[0].lower() in ("person", "id", "person_id")
        if id_column is None and not auto_id and looks_like_id(frame, cols[0]):
            raise ResponseDataError(layout_hints(frame, None, "wide"), source=name)
        try:
            data = _from_wide(frame, id_column, categories, name)
        except ResponseDataError as exc:
            hints = layout_hints(frame, id_column, "wide")
            if not hints:
                raise
            raise ResponseDataError(
                [f"likely cause: {h}" for h in hints] + list(exc.problems), source=name
            ) from None
    else:
        data = _from_long(
            frame, id_column or "person", item_column, response_column, categories, name
        )
    if not sha:
        digest = hashlib.sha256()
        for arr in (data.person, data.item, data.category):
            digest.update(np.ascontiguousarray(arr).tobytes())
        digest.update("\x1f".join(data.item_ids).encode())
        sha = digest.hexdigest()
    del frame  # its columns may be pyarrow's buffers: freed here, then handed back
    _read.release_memory()
    return ResponseData(
        data.person_ids,
        data.item_ids,
        data.person,
        data.item,
        data.category,
        data.category_codes,
        name,
        sha,
        tuple(notes),
    )


def _person_ids(values: pd.Series, column: str, problems: list[str]) -> list[str]:
    ids = values.astype("string").str.strip().fillna("")
    empty = (ids == "").to_numpy(dtype=bool)
    repeated = ids.duplicated(keep="first").to_numpy(dtype=bool) & ~empty
    if empty.any() or repeated.any():  # messages in row order, each repeat with its first row
        first: dict[str, int] = {}
        for row in np.nonzero(empty | repeated | ids.duplicated(keep=False).to_numpy())[0]:
            pid = ids.iloc[row]
            if pid == "":
                problems.append(f"row {row + 1}, column {column!r}: empty person id")
            elif pid in first:
                problems.append(
                    f"row {row + 1}, column {column!r}: duplicate person id {pid!r} (first at "
                    f"row {first[pid]})"
                )
            else:
                first[pid] = row + 1
    return ids.tolist()


def _recode(
    item_id: str,
    rows: NDArray[np.int64],
    codes: NDArray[np.float64],
    declared: Sequence[float] | None,
    problems: list[str],
    where: str,
) -> tuple[NDArray[np.int64], tuple[float, ...]]:
    """Map codes of one item to 0..K-1; report non-integers and undeclared codes."""
    frac = codes != np.round(codes)
    for r in rows[frac][:10]:
        value = codes[rows == r][0]
        problems.append(f"row {r}, {where}: code {float(value)!r} is not an integer")
    if declared is not None:
        allowed = np.asarray(sorted(float(c) for c in declared))
        outside = ~np.isin(codes, allowed) & ~frac
        for r, value in zip(rows[outside][:10], codes[outside][:10], strict=True):
            problems.append(
                f"row {r}, {where}: code {value:g} is outside the declared categories "
                f"{', '.join(f'{c:g}' for c in allowed)}"
            )
        if outside.sum() > 10:
            problems.append(f"{where}: {int(outside.sum()) - 10} more codes outside categories")
        table = allowed
    else:
        table = np.unique(codes[~frac])
    cat = np.searchsorted(table, codes).astype(np.int64)
    cat = np.clip(cat, 0, max(0, table.size - 1))
    return cat, tuple(float(c) for c in table)


def _column_problems(
    values: pd.Series, bad: NDArray[np.bool_], col: str, problems: list[str]
) -> None:
    """Messages for the non-numeric cells of one wide column."""
    for r in np.nonzero(bad)[0][:10]:
        problems.append(
            f"row {r + 1}, column {col!r} (item {col!r}): non-numeric value {values.iloc[r]!r}"
        )
    if bad.sum() > 10:
        problems.append(f"column {col!r}: {int(bad.sum()) - 10} more non-numeric values")


def _from_wide(
    frame: pd.DataFrame,
    id_column: str | None,
    categories: Mapping[str, Sequence[float]] | None,
    name: str,
) -> ResponseData:
    problems: list[str] = []
    cols = list(frame.columns)
    dup_cols = sorted({c for c in cols if cols.count(c) > 1})
    if dup_cols:
        raise ResponseDataError(
            [f"duplicate column(s) {', '.join(map(repr, dup_cols))}"], source=name
        )
    if id_column is None and cols and cols[0].lower() in ID_COLUMNS:
        id_column = cols[0]
    if id_column is not None:
        if id_column not in frame.columns:
            raise ResponseDataError(
                [f"person-id column {id_column!r} not found; columns: {', '.join(cols[:20])}"],
                source=name,
            )
        person_ids = _person_ids(frame[id_column], id_column, problems)
        item_cols = [c for c in cols if c != id_column]
    else:
        person_ids = [str(i) for i in range(1, len(frame) + 1)]
        item_cols = cols
    if not item_cols:
        raise ResponseDataError(["no item columns"], source=name)
    declared = dict(categories or {})
    for item_id in declared:
        if item_id not in item_cols:
            problems.append(f"categories given for unknown item {item_id!r}")
    # every item at once: numeric columns as one block; text columns (rare: a stray word,
    # a decimal comma) through the per-column parser that names each bad cell
    numeric = np.array([_read.is_numeric(frame[c]) for c in item_cols], dtype=bool)
    # the observed cells of every numeric column (no persons x items array), then all
    # items recoded at once
    rows, vals = [], []
    for j in np.nonzero(numeric)[0]:
        column = frame[item_cols[j]].to_numpy(dtype=np.float64, na_value=np.nan)
        obs = np.flatnonzero(~np.isnan(column))
        rows.append(obs)
        vals.append(column[obs])
    sizes = [r.size for r in rows]
    person = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    codes = np.concatenate(vals) if vals else np.zeros(0)
    item = np.repeat(np.nonzero(numeric)[0], sizes)
    parts: dict[int, tuple[NDArray[np.int64], NDArray[np.float64]]] = {}
    for j in np.nonzero(~numeric)[0]:
        col = item_cols[j]
        num, missing, bad = _codes(frame[col])
        _column_problems(frame[col], bad, col, problems)
        obs = np.nonzero(~missing & ~bad)[0]
        parts[int(j)] = (obs, num[obs])
    fractional = np.zeros(len(item_cols), dtype=bool)
    fractional[np.unique(item[codes != np.round(codes)])] = True
    special = ~numeric | fractional | np.isin(item_cols, list(declared))
    regular = ~special[item]
    plain = np.nonzero(~special)[0]
    renumber = np.cumsum(~special) - 1
    category, plain_tables = _read.recode(renumber[item[regular]], codes[regular], plain.size)
    tables: list[tuple[float, ...]] = [()] * len(item_cols)
    for j, table in zip(plain, plain_tables, strict=True):
        tables[j] = table
    out = [(person[regular], item[regular], category)]
    for j in np.nonzero(special)[0]:
        col = item_cols[j]
        if j in parts:
            obs, values = parts[int(j)]
        else:
            sel = item == j
            obs, values = person[sel], codes[sel]
        cat, tables[j] = _recode(
            col, obs + 1, values, declared.get(col), problems, f"column {col!r} (item {col!r})"
        )
        out.append((obs, np.full(obs.size, j, dtype=np.int64), cat))
    if problems:
        raise ResponseDataError(problems, source=name)
    person, item, category = (np.concatenate(x) for x in zip(*out, strict=True))
    if len(out) > 1:  # item-major order, persons ascending within an item
        order = np.argsort(item, kind="stable")
        person, item, category = person[order], item[order], category[order]
    return ResponseData(
        tuple(person_ids), tuple(item_cols), person, item, category, tuple(tables), name
    )


def _from_long(
    frame: pd.DataFrame,
    person_column: str,
    item_column: str,
    response_column: str,
    categories: Mapping[str, Sequence[float]] | None,
    name: str,
) -> ResponseData:
    problems: list[str] = []
    missing_cols = [
        c for c in (person_column, item_column, response_column) if c not in frame.columns
    ]
    if missing_cols:
        raise ResponseDataError(
            [
                f"column {c!r} not found in the long layout; columns: {', '.join(frame.columns)}"
                for c in missing_cols
            ],
            source=name,
        )
    p_all, person_ids = _read.factorize(frame[person_column])
    i_all, item_ids = _read.factorize(frame[item_column])
    for r in np.nonzero(p_all < 0)[0][:10]:
        problems.append(f"row {r + 1}, column {person_column!r}: empty person id")
    for r in np.nonzero(i_all < 0)[0][:10]:
        problems.append(f"row {r + 1}, column {item_column!r}: empty item id")
    response = frame[response_column]
    if _read.is_numeric(response) and response.dtype.kind in "iu":  # integers, none missing
        num = response.to_numpy()
        missing, bad = np.zeros(num.size, dtype=bool), None
    elif _read.is_numeric(response):
        num = response.to_numpy(dtype=np.float64, na_value=np.nan)
        missing, bad = np.isnan(num), None
    else:
        num, missing, bad = _codes(response)
        for r in np.nonzero(bad)[0][:10]:
            item_id = item_ids[i_all[r]] if i_all[r] >= 0 else ""
            problems.append(
                f"row {r + 1}, column {response_column!r} (item {item_id!r}): non-numeric "
                f"value {response.iloc[r]!r}"
            )
    n_items = len(item_ids)
    keep = ~missing & (p_all >= 0) & (i_all >= 0)
    if bad is not None:
        keep &= ~bad
    if keep.all():  # the usual case: no copy of 40 million rows for nothing
        rows = None
        person, item, codes = p_all.astype(np.int32), i_all.astype(np.int32), num
    else:
        rows = np.nonzero(keep)[0]
        person, item, codes = p_all[rows].astype(np.int32), i_all[rows].astype(np.int32), num[rows]
    del p_all, i_all, num, keep
    # person-major order (the layout of the E-step); a log sorted by person costs no sort
    key = person.astype(np.int64) * max(n_items, 1) + item
    if key.size > 1 and not bool(np.all(key[1:] > key[:-1])):
        order = np.argsort(key, kind="stable")
        key, person, item, codes = key[order], person[order], item[order], codes[order]
        rows = order if rows is None else rows[order]
    if rows is None:
        rows = np.arange(key.size)
    repeat = np.nonzero(key[1:] == key[:-1])[0] + 1
    if repeat.size:
        _duplicate_problems(rows, key, repeat, person_ids, item_ids, problems)
    del key
    declared = dict(categories or {})
    for item_id in declared:
        if item_id not in item_ids:
            problems.append(f"categories given for unknown item {item_id!r}")
    special = np.zeros(n_items, dtype=bool)
    if codes.dtype.kind == "f":
        special[np.unique(item[codes != np.round(codes)])] = True
    special[[item_ids.index(i) for i in declared if i in item_ids]] = True
    plain = np.nonzero(~special)[0]
    if special.any():
        regular = ~special[item]
        local = np.cumsum(~special) - 1
        category = np.zeros(codes.size, dtype=np.int16)
        category[regular], plain_tables = _read.recode(
            local[item[regular]], codes[regular], plain.size
        )
    else:
        category, plain_tables = _read.recode(item, codes, n_items)
    tables: list[tuple[float, ...]] = [()] * n_items
    for j, table in zip(plain, plain_tables, strict=True):
        tables[j] = table
    for j in np.nonzero(special)[0]:
        sel = np.nonzero(item == j)[0]
        order = np.argsort(rows[sel], kind="stable")  # messages in file order
        sel = sel[order]
        category[sel], tables[j] = _recode(
            item_ids[j],
            rows[sel] + 1,
            codes[sel].astype(np.float64),
            declared.get(item_ids[j]),
            problems,
            f"column {response_column!r} (item {item_ids[j]!r})",
        )
    if problems:
        raise ResponseDataError(problems, source=name)
    return ResponseData(
        tuple(person_ids), tuple(item_ids), person, item, category, tuple(tables), name
    )


def _duplicate_problems(
    rows: NDArray[np.intp],
    key: NDArray[np.int64],
    repeat: NDArray[np.intp],
    person_ids: list[str],
    item_ids: list[str],
    problems: list[str],
) -> None:
    """One message per repeated (person, item) response, in file order, with its first row."""
    n_items = max(len(item_ids), 1)
    new = np.concatenate([[True], key[1:] != key[:-1]])
    group_start = np.maximum.accumulate(np.where(new, np.arange(key.size), 0))
    entries = sorted((int(rows[t]), int(rows[group_start[t]]), int(key[t])) for t in repeat)
    for r, f, k in entries:
        p, i = divmod(k, n_items)
        problems.append(
            f"row {r + 1}: duplicate response of person {person_ids[p]!r} to item "
            f"{item_ids[i]!r} (first at row {f + 1})"
        )
