"""Reading and writing item banks: ``zapcat-bank/1`` JSON and a CSV table.

JSON (the canonical form)::

    {"format": "zapcat-bank/1", "name": "...", "version": "1", "description": "...",
     "provenance": {...},
     "items": [{"item_id": "q1", "model": "2pl", "n_categories": 2,
                "params": {"a": 1.2, "b": -0.3}, "se": {"a": 0.05, "b": 0.04},
                "content_areas": ["algebra"], "enemy_groups": [], "status": "operational",
                "tags": []}, ...]}

CSV: one row per item with columns ``item_id, model, n_categories``, the parameter
columns (``a, b, c, u, b1..bK-1, t1..tK-1``, empty where a model has no such parameter),
``<param>_se`` columns, and ``content_areas, enemy_groups, status, tags`` (lists joined
with ``;``); when some item has explanation texts (``"feedback": {"0": "...", "1":
"..."}`` in JSON, by response category), one column ``feedback_<k>`` per category.
Both forms round-trip exactly (floats are written with ``repr``).

Readers validate everything and raise one :class:`~item_banks.errors.BankValidationError`
listing every problem with its location, item id and field.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from item_banks.bank import LIST_SEPARATOR, Item, ItemBank, bank_problems
from item_banks.errors import BankValidationError, Problem, ZapcatError
from item_banks.models import get_model, is_param_name, model_names, param_sort_key

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "zapcat-bank/1"
"""Value of the ``format`` field of bank JSON files."""

META_COLUMNS = ("content_areas", "enemy_groups", "status", "tags")
CALIBRATION_COLUMNS = ("codes", "flags", "flags_accepted")
"""Columns written only when some item has them (category codes, calibration flags)."""
FIXED_DEFAULTS = {"a": 1.0, "c": 0.0, "u": 1.0}
"""Parameters some models fix: a column at this value is accepted for those models (many
tools export ``c = 0, u = 1`` for 2PL items, ``a = 1`` for Rasch items)."""
_ID_COLUMNS = ("item_id", "model", "n_categories")
FEEDBACK_PREFIX = "feedback_"
"""CSV columns ``feedback_0 .. feedback_<K-1>``: the explanation text of each category."""

PathLike = str | Path


# --------------------------------------------------------------------------- records
def _as_float(
    value: Any, where: str, item_id: str | None, fld: str, out: list[Problem]
) -> float | None:
    if isinstance(value, bool) or value is None:
        out.append(Problem(item_id, fld, f"expected a number, got {value!r}", where))
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        out.append(Problem(item_id, fld, f"expected a number, got {value!r}", where))
        return None
    if not math.isfinite(number):
        out.append(Problem(item_id, fld, f"non-finite value {value!r}", where))
        return None
    return number


def _as_str_list(
    value: Any, where: str, item_id: str | None, fld: str, out: list[Problem]
) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.split(LIST_SEPARATOR) if v != "") if value else ()
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    out.append(Problem(item_id, fld, f"expected a list of strings, got {value!r}", where))
    return ()


def item_from_record(record: Mapping[str, Any], where: str) -> tuple[Item | None, list[Problem]]:
    """Build an :class:`Item` from a JSON-like record, collecting problems.

    Parameters
    ----------
    record : mapping
        Keys ``item_id, model, n_categories, params, se, content_areas, enemy_groups,
        status, tags`` (only the first three and ``params`` are required).
    where : str
        Location for messages, for example ``"items[3]"`` or ``"row 5"``.

    Returns
    -------
    item : Item or None
        ``None`` when the record cannot form an item.
    problems : list of Problem
    """
    out: list[Problem] = []
    raw_id = record.get("item_id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        out.append(
            Problem(None, "item_id", f"item id must be a non-empty string, got {raw_id!r}", where)
        )
        item_id = None
    else:
        item_id = raw_id
    model = record.get("model")
    if not isinstance(model, str) or not model.strip():
        out.append(Problem(item_id, "model", f"model must be a name, got {model!r}", where))
    n_cat_raw = record.get("n_categories", 0)
    n_categories = 0
    if n_cat_raw not in (None, ""):
        try:
            n_categories = int(n_cat_raw)
            if n_categories != float(n_cat_raw):
                raise ValueError
        except (TypeError, ValueError):
            out.append(
                Problem(item_id, "n_categories", f"expected an integer, got {n_cat_raw!r}", where)
            )
    params_raw = record.get("params")
    params: dict[str, float] = {}
    if not isinstance(params_raw, Mapping) or not params_raw:
        out.append(
            Problem(
                item_id, "params", f"expected a mapping of parameters, got {params_raw!r}", where
            )
        )
    else:
        for name, value in params_raw.items():
            number = _as_float(value, where, item_id, str(name), out)
            if number is not None:
                params[str(name)] = number
    se_raw = record.get("se") or {}
    se: dict[str, float] = {}
    if not isinstance(se_raw, Mapping):
        out.append(
            Problem(item_id, "se", f"expected a mapping of standard errors, got {se_raw!r}", where)
        )
    else:
        for name, value in se_raw.items():
            number = _as_float(value, where, item_id, f"{name}_se", out)
            if number is not None:
                se[str(name)] = number
    lists = {
        name: _as_str_list(record.get(name), where, item_id, name, out)
        for name in ("content_areas", "enemy_groups", "tags")
    }
    _drop_fixed_defaults(record.get("model"), n_categories, params)
    codes: tuple[float, ...] = ()
    codes_raw = record.get("codes")
    if codes_raw not in (None, "", []):
        parts = codes_raw.split(LIST_SEPARATOR) if isinstance(codes_raw, str) else codes_raw
        if not isinstance(parts, list | tuple):
            out.append(Problem(item_id, "codes", f"expected a list of codes, got {codes_raw!r}"))
        else:
            found = [_as_float(v, where, item_id, "codes", out) for v in parts]
            codes = tuple(v for v in found if v is not None)
    feedback = _feedback(record.get("feedback"), where, item_id, out)
    flags = _as_str_list(record.get("flags"), where, item_id, "flags", out)
    accepted_raw = record.get("flags_accepted", False)
    accepted = False
    if isinstance(accepted_raw, bool):
        accepted = accepted_raw
    elif isinstance(accepted_raw, str) and accepted_raw.strip().lower() in _BOOLS:
        accepted = _BOOLS[accepted_raw.strip().lower()]
    else:
        out.append(
            Problem(
                item_id, "flags_accepted", f"expected true or false, got {accepted_raw!r}", where
            )
        )
    status = record.get("status") or "operational"
    if not isinstance(status, str):
        out.append(Problem(item_id, "status", f"expected a string, got {status!r}", where))
        status = "operational"
    known = {"item_id", "model", "n_categories", "params", "se", "feedback", *META_COLUMNS}
    known |= set(CALIBRATION_COLUMNS)
    for key in record:
        if key not in known:
            out.append(Problem(item_id, str(key), "unknown field", where))
    if out:
        return None, out
    item = Item(
        item_id=str(item_id),
        model=str(model),
        params=params,
        n_categories=n_categories,
        se=se,
        status=status,
        codes=codes,
        flags=flags,
        flags_accepted=accepted,
        feedback=feedback,
        **lists,
    )
    return item, []


def _feedback(value: Any, where: str, item_id: str | None, out: list[Problem]) -> dict[int, str]:
    """Explanation texts by category from ``{"0": text, ...}`` (keys are category numbers)."""
    if value in (None, {}):
        return {}
    if not isinstance(value, Mapping):
        out.append(Problem(item_id, "feedback", "expected an object of explanation texts by "
                           f'response category ({{"0": "...", "1": "..."}}), got {value!r}'[:300],
                           where))  # fmt: skip
        return {}
    texts: dict[int, str] = {}
    for key, text in value.items():
        try:
            category = int(key)
            if isinstance(key, bool) or str(category) != str(key).strip():
                raise ValueError
        except (TypeError, ValueError):
            out.append(Problem(item_id, f"feedback[{key!r}]", "keys are response categories "
                               f"0, 1, ..., got {key!r}", where))  # fmt: skip
            continue
        if not isinstance(text, str):
            out.append(Problem(item_id, f"feedback[{key}]", f"expected a text, got {text!r}"[:300],
                               where))  # fmt: skip
            continue
        texts[category] = text
    return texts


_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False, "": False}


def _drop_fixed_defaults(model: Any, n_categories: int, params: dict[str, float]) -> None:
    """Remove parameters the model does not have when they sit at its fixed value."""
    if not isinstance(model, str) or model.strip().lower() not in model_names():
        return
    m = get_model(model.strip().lower())
    sizes = [n_categories] if n_categories else [m.min_categories, m.min_categories + 1]
    own: set[str] = set()
    for k in sizes:
        if m.check_n_categories(k) is None:
            own |= set(m.param_names(k))
    for name, fixed in FIXED_DEFAULTS.items():
        if name in params and name not in own and params[name] == fixed:
            del params[name]


def bank_from_records(
    records: list[tuple[Mapping[str, Any], str]],
    *,
    name: str,
    version: str,
    description: str = "",
    provenance: Mapping[str, Any] | None = None,
    source: str | None = None,
    early: list[Problem] | None = None,
) -> ItemBank:
    """Build a bank from located records, reporting every problem in one error.

    Parameters
    ----------
    records : list of (record, location)
    name, version, description, provenance
        Bank attributes.
    source : str, optional
        File name for the error message.
    early : list of Problem, optional
        Problems already found in the file (bank-level fields).

    Raises
    ------
    BankValidationError
    """
    problems = list(early or [])
    items: list[Item] = []
    locations: list[str] = []
    for record, where in records:
        item, found = item_from_record(record, where)
        problems += found
        if item is not None:
            items.append(item)
            locations.append(where)
    if problems or not items:
        # report the record problems together with those of the items that did parse
        problems += bank_problems(items, locations)
        if not records:
            problems.append(Problem(None, "items", "a bank needs at least one item"))
        raise BankValidationError(problems, source=source)
    try:
        return ItemBank(
            items,
            name=name,
            version=version,
            description=description,
            provenance=provenance,
            _locations=locations,
        )
    except BankValidationError as exc:
        raise BankValidationError(exc.problems, source=source) from None


# ------------------------------------------------------------------------------ JSON
def bank_to_json(bank: ItemBank, *, indent: int | None = 1) -> str:
    """Serialise a bank to ``zapcat-bank/1`` JSON text."""
    return json.dumps(bank.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)


def bank_from_dict(data: Any, *, source: str | None = None) -> ItemBank:
    """Validate and build a bank from a parsed ``zapcat-bank/1`` document.

    Raises
    ------
    BankValidationError
        Listing every problem (format, bank fields, each item) at once.
    """
    early: list[Problem] = []
    if not isinstance(data, Mapping):
        raise BankValidationError(
            [Problem(None, "format", f"expected a JSON object, got {type(data).__name__}")],
            source=source,
        )
    if data.get("format") != FORMAT:
        early.append(Problem(None, "format", f"expected {FORMAT!r}, got {data.get('format')!r}"))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        early.append(Problem(None, "name", f"bank name must be a non-empty string, got {name!r}"))
        name = "unnamed"
    version = data.get("version", "1")
    if not isinstance(version, str | int) or isinstance(version, bool) or not str(version).strip():
        early.append(
            Problem(None, "version", f"version must be a non-empty string, got {version!r}")
        )
        version = "1"
    provenance = data.get("provenance") or {}
    if not isinstance(provenance, Mapping):
        early.append(Problem(None, "provenance", f"expected an object, got {provenance!r}"))
        provenance = {}
    known = {"format", "name", "version", "description", "provenance", "items"}
    for key in data:
        if key not in known:
            early.append(Problem(None, str(key), "unknown bank field"))
    raw_items = data.get("items")
    records: list[tuple[Mapping[str, Any], str]] = []
    if not isinstance(raw_items, list):
        early.append(Problem(None, "items", f"expected a list of items, got {raw_items!r}"))
    else:
        for i, rec in enumerate(raw_items):
            if isinstance(rec, Mapping):
                records.append((rec, f"items[{i}]"))
            else:
                early.append(
                    Problem(None, "items", f"expected an object, got {rec!r}", f"items[{i}]")
                )
    return bank_from_records(
        records,
        name=name,
        version=str(version),
        description=str(data.get("description", "")),
        provenance=provenance,
        source=source,
        early=early,
    )


def bank_from_json(text: str, *, source: str | None = None) -> ItemBank:
    """Parse ``zapcat-bank/1`` JSON text (see :func:`bank_from_dict`)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BankValidationError(
            [
                Problem(
                    None,
                    "json",
                    f"invalid JSON: {exc.msg}",
                    f"line {exc.lineno} column {exc.colno}",
                )
            ],
            source=source,
        ) from None
    return bank_from_dict(data, source=source)


# ------------------------------------------------------------------------------- CSV
def bank_to_frame(bank: ItemBank) -> pd.DataFrame:
    """One row per item: ids, parameters, ``*_se`` columns and metadata.

    Returns
    -------
    pandas.DataFrame
        Columns ``item_id, model, n_categories``, parameters, SEs, then
        ``content_areas, enemy_groups, status, tags`` (lists joined with ``;``).
    """
    import pandas as pd

    param_names = sorted({n for it in bank for n in it.params}, key=param_sort_key)
    se_names = sorted({n for it in bank for n in it.se}, key=param_sort_key)
    rows = []
    for it in bank:
        row: dict[str, Any] = {
            "item_id": it.item_id,
            "model": it.model,
            "n_categories": it.n_categories,
        }
        row.update({n: it.params.get(n) for n in param_names})
        row.update({f"{n}_se": it.se.get(n) for n in se_names})
        row.update(
            {
                "content_areas": LIST_SEPARATOR.join(it.content_areas),
                "enemy_groups": LIST_SEPARATOR.join(it.enemy_groups),
                "status": it.status,
                "tags": LIST_SEPARATOR.join(it.tags),
                "codes": LIST_SEPARATOR.join(f"{c:g}" for c in it.codes),
                "flags": LIST_SEPARATOR.join(it.flags),
                "flags_accepted": ("true" if it.flags_accepted else "false") if it.flags else "",
            }
        )
        rows.append(row)
    extra = [c for c in CALIBRATION_COLUMNS if any(r[c] for r in rows)]
    columns = [*_ID_COLUMNS, *param_names, *(f"{n}_se" for n in se_names), *META_COLUMNS]
    columns += extra
    categories = sorted({k for it in bank for k in it.feedback})
    for row, it in zip(rows, bank, strict=True):
        row.update({f"{FEEDBACK_PREFIX}{k}": it.feedback.get(k, "") for k in categories})
    columns += [f"{FEEDBACK_PREFIX}{k}" for k in categories]
    return pd.DataFrame(rows, columns=columns)


def bank_to_csv(bank: ItemBank) -> str:
    """The CSV table of :func:`bank_to_frame` as text (floats written exactly)."""
    import pandas as pd

    buffer = io.StringIO()
    frame = bank_to_frame(bank)
    for col in frame.columns:
        if col not in (*_ID_COLUMNS, *META_COLUMNS, *CALIBRATION_COLUMNS) \
                and not col.startswith(FEEDBACK_PREFIX):  # fmt: skip
            frame[col] = frame[col].map(lambda v: "" if v is None or pd.isna(v) else repr(float(v)))
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()


def bank_from_csv(
    source: PathLike | IO[str],
    *,
    name: str | None = None,
    version: str = "1",
    description: str = "",
) -> ItemBank:
    """Read a bank from its CSV table.

    Parameters
    ----------
    source : path or text file
    name : str, optional
        Bank name; the file's stem when omitted.
    version : str, default "1"
    description : str, optional

    Raises
    ------
    BankValidationError
        Every problem at once, located by CSV row (the header is row 1).
    """
    import pandas as pd

    label = str(source) if isinstance(source, str | Path) else getattr(source, "name", "<csv>")
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BankValidationError(
            [Problem(None, "csv", f"cannot read CSV: {exc}")], source=label
        ) from None
    if name is None:
        name = Path(label).stem if isinstance(source, str | Path) else "bank"
    early = [
        Problem(None, col, "required column is missing")
        for col in ("item_id", "model")
        if col not in frame.columns
    ]
    if early:  # not an item bank: say so once instead of a problem per row
        shown = ", ".join(map(str, frame.columns[:8])) + (" ..." if frame.shape[1] > 8 else "")
        early.append(
            Problem(
                None,
                "csv",
                f"this does not look like an item bank table (columns: {shown}); a bank CSV "
                "has one row per item with item_id, model and parameter columns. Response "
                "data are calibrated into a bank with `zapcat calibrate`",
            )
        )
        raise BankValidationError(early, source=label)
    records = []
    for pos, row in enumerate(frame.to_dict(orient="records")):
        where = f"row {pos + 2}"
        rec: dict[str, Any] = {"params": {}, "se": {}, "feedback": {}}
        for col, value in row.items():
            col = str(col)
            if col in _ID_COLUMNS or col in META_COLUMNS or col in CALIBRATION_COLUMNS:
                rec[col] = value
            elif value == "":
                continue
            elif col.startswith(FEEDBACK_PREFIX):
                rec["feedback"][col[len(FEEDBACK_PREFIX):]] = value
            elif col.endswith("_se"):
                rec["se"][col[:-3]] = value
            elif is_param_name(col):
                rec["params"][col] = value
            else:
                rec[col] = value
        if rec.get("status") == "":
            rec["status"] = None
        records.append((rec, where))
    return bank_from_records(
        records, name=name, version=version, description=description, source=label, early=early
    )


# ----------------------------------------------------------------------------- files
def _format_of(path: Path, fmt: str | None) -> str:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in {"json", "csv"}:
        raise ZapcatError(f"cannot tell the bank format of {str(path)!r}: use .json or .csv")
    return fmt


def read_bank(path: PathLike, *, format: str | None = None, **csv_options: Any) -> ItemBank:
    """Read a bank file (``.json`` or ``.csv``; or name the ``format``).

    Examples
    --------
    >>> from item_banks import read_bank
    >>> from item_banks.examples import DEMO_BANK_PATH
    >>> read_bank(DEMO_BANK_PATH).name
    'skills-demo'
    """
    path = Path(path)
    if not path.is_file():
        raise ZapcatError(f"bank file not found: {str(path)!r}")
    if _format_of(path, format) == "json":
        return bank_from_json(path.read_text(encoding="utf-8"), source=str(path))
    return bank_from_csv(path, **csv_options)


def write_bank(bank: ItemBank, path: PathLike, *, format: str | None = None) -> Path:
    """Write ``bank`` to ``path`` as JSON or CSV (by suffix unless ``format`` is given)."""
    path = Path(path)
    text = bank_to_json(bank) if _format_of(path, format) == "json" else bank_to_csv(bank)
    path.write_text(text, encoding="utf-8")
    return path
