"""The credential catalogue as one CSV table: ``zapcat-catalogue/1`` for spreadsheets.

Like the bank table (:mod:`item_banks.io`), one row per thing and lists joined with
``;``; since a catalogue holds several kinds of things, a ``kind`` column says which:

============  ===========================================================================
kind          columns used
============  ===========================================================================
catalogue     ``name, version, description, attribution`` (at most one row; without it,
              the name is the file's stem and the version 1)
credential    ``credential_id, title, provider, url, hours, cost, currency, esco_uris,
              tags``
develops      ``credential_id`` (of a credential row), ``skill_id, from_level, to_level``
prerequisite  ``credential_id``, ``skill_id, level``
role          ``role_id, title, onet_soc``
requires      ``role_id`` (of a role row), ``skill_id, level, importance``
============  ===========================================================================

For example::

    kind,credential_id,role_id,skill_id,title,provider,...,level,importance
    credential,py-basics,,,Python basics,Open Code School,...,,
    develops,py-basics,,coding,,,...,,
    role,,junior-developer,,Junior developer,,...,,
    requires,,junior-developer,coding,,,...,Practitioner,5

Rows of a credential or role may come in any order; their own order is kept. Reading
builds the JSON document and validates it with
:func:`guidance.catalogue.catalogue_from_dict` (one set of rules for both forms); each
problem is then named by its CSV row (the header is row 1), column and value. Writing
and reading give back an equal catalogue.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from guidance.catalogue import FORMAT, Catalogue, CatalogueValidationError, catalogue_from_dict

LIST_SEPARATOR = ";"
"""Separator of ``esco_uris`` and ``tags`` in a cell (as in bank tables)."""

COLUMNS = ("kind", "credential_id", "role_id", "skill_id", "title", "provider", "url",
           "hours", "cost", "currency", "esco_uris", "tags", "onet_soc", "from_level",
           "to_level", "level", "importance", "name", "version", "description",
           "attribution")  # fmt: skip
"""Every column, in the order written."""

KINDS: dict[str, tuple[str, ...]] = {
    "catalogue": ("name", "version", "description", "attribution"),
    "credential": ("credential_id", "title", "provider", "url", "hours", "cost", "currency",
                   "esco_uris", "tags"),
    "develops": ("credential_id", "skill_id", "from_level", "to_level"),
    "prerequisite": ("credential_id", "skill_id", "level"),
    "role": ("role_id", "title", "onet_soc"),
    "requires": ("role_id", "skill_id", "level", "importance"),
}
"""The columns each kind of row may fill."""

_NUMBERS = ("hours", "cost", "importance")
_LISTS = ("esco_uris", "tags")
_PART = {"develops": "develops", "prerequisite": "prerequisites", "requires": "requires"}
_PLACE = re.compile(
    r"^(?P<path>(?:credentials|roles)\[\d+\](?:\.(?:develops|prerequisites|requires)\[\d+\])?)"
    r"(?:\.(?P<field>[a-z_]+))?(?:\[(?P<index>\d+)\])?: (?P<message>.*)$", re.S)


def _number(text: str) -> Any:
    """A cell's number (``int`` when integral), or the text itself for the validator."""
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() \
        else value  # fmt: skip


def _cell_value(column: str, text: str) -> Any:
    if column in _LISTS:
        return [v for v in text.split(LIST_SEPARATOR) if v != ""]
    if column in _NUMBERS:
        return _number(text)
    return text


def _read_rows(source: str | Path | IO[str], label: str) -> list[dict[str, str]]:
    if isinstance(source, str | Path):
        try:
            text = Path(source).read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CatalogueValidationError([f"not UTF-8 text: {exc.reason}"],
                                           source=label) from None  # fmt: skip
    else:
        text = source.read()
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise CatalogueValidationError([f"cannot read CSV: {exc}"], source=label) from None
    if not rows:
        raise CatalogueValidationError(["the CSV file is empty (a header row is needed)"],
                                       source=label)  # fmt: skip
    header = [h.strip() for h in rows[0]]
    problems = [f"row 1, column {h!r}: unknown column (columns: {', '.join(COLUMNS)})"
                for h in header if h not in COLUMNS]  # fmt: skip
    if "kind" not in header:
        problems.append("row 1: the kind column is missing (catalogue, credential, develops, "
                        "prerequisite, role or requires on each row)")  # fmt: skip
    seen: set[str] = set()
    for h in header:
        if h in seen:
            problems.append(f"row 1, column {h!r}: appears twice")
        seen.add(h)
    if problems:
        raise CatalogueValidationError(problems, source=label)
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) > len(header):
            problems.append(f"row {n}: {len(row)} cells for {len(header)} columns")
            continue
        cells = dict(zip(header, row, strict=False))
        cells["__row__"] = str(n)
        out.append(cells)
    if problems:
        raise CatalogueValidationError(problems, source=label)
    return out


def catalogue_from_csv(source: str | Path | IO[str], *, name: str | None = None
                       ) -> Catalogue:
    """Read and validate a catalogue from its CSV table (see the module docstring).

    Parameters
    ----------
    source : path or text file
    name : str, optional
        Catalogue name when the table has no ``catalogue`` row (default: the file's stem;
        a text stream without that row and ``name`` is refused).

    Raises
    ------
    CatalogueValidationError
        Every problem, named by row, column and value.
    """
    label = str(source) if isinstance(source, str | Path) else getattr(source, "name", "<csv>")
    rows = _read_rows(source, label)
    problems: list[str] = []
    head: dict[str, Any] = {}
    owners: dict[str, dict[str, tuple[dict[str, Any], int]]] = {"credential": {}, "role": {}}
    parts: list[tuple[str, dict[str, str]]] = []
    places: dict[str, int] = {}  # document path -> CSV row
    credentials: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    for cells in rows:
        n = int(cells.pop("__row__"))
        kind = cells.get("kind", "").strip()
        if kind not in KINDS:
            problems.append(f"row {n}, column kind: {kind!r} is not a kind of row "
                            f"({', '.join(KINDS)})")  # fmt: skip
            continue
        for column, text in cells.items():
            if column != "kind" and text != "" and column not in KINDS[kind]:
                problems.append(f"row {n}, column {column}: a {kind} row does not use it "
                                f"(got {text!r}; its columns: {', '.join(KINDS[kind])})")
        if kind == "catalogue":
            if head:
                problems.append(f"row {n}: a second catalogue row (the first is row "
                                f"{head['__row__']})")  # fmt: skip
                continue
            head = {c: cells[c] for c in KINDS[kind] if cells.get(c, "") != ""}
            head["__row__"] = n
        elif kind in ("credential", "role"):
            key = f"{kind}_id"
            record = {c: _cell_value(c, cells[c]) for c in KINDS[kind]
                      if cells.get(c, "") != "" or c in _LISTS}  # fmt: skip
            ident = cells.get(key, "")
            if kind == "credential":
                record |= {"develops": [], "prerequisites": []}
                places[f"credentials[{len(credentials)}]"] = n
                credentials.append(record)
            else:
                record["requires"] = []
                places[f"roles[{len(roles)}]"] = n
                roles.append(record)
            if ident and ident not in owners[kind]:
                owners[kind][ident] = (record, len(credentials if kind == "credential"
                                                   else roles) - 1)  # fmt: skip
        else:
            parts.append((kind, {**cells, "__row__": str(n)}))
    for kind, cells in parts:
        n = int(cells["__row__"])
        owner_kind = "role" if kind == "requires" else "credential"
        key = f"{owner_kind}_id"
        ident = cells.get(key, "")
        if ident not in owners[owner_kind]:
            known = ", ".join(owners[owner_kind]) or "none"
            problems.append(f"row {n}, column {key}: {ident!r} is not the {key} of a "
                            f"{owner_kind} row ({owner_kind}s: {known})")  # fmt: skip
            continue
        record, index = owners[owner_kind][ident]
        entry = {c: _cell_value(c, cells[c]) for c in KINDS[kind][1:] if cells.get(c, "") != ""}
        plural = "credentials" if owner_kind == "credential" else "roles"
        places[f"{plural}[{index}].{_PART[kind]}[{len(record[_PART[kind]])}]"] = n
        record[_PART[kind]].append(entry)
    stem = Path(label).stem if isinstance(source, str | Path) else None
    if not head and (name or stem) is None:
        problems.append("no catalogue row names the catalogue: add a row of kind catalogue "
                        "with its name (and version, description, attribution)")  # fmt: skip
    document: dict[str, Any] = {
        "format": FORMAT,
        "name": head.get("name", name or stem or "catalogue"),
        "version": head.get("version", "1"),
        "description": head.get("description", ""),
        "attribution": head.get("attribution", ""),
        "credentials": credentials,
        "roles": roles,
    }
    try:
        built = catalogue_from_dict(document, source=label)
    except CatalogueValidationError as error:  # the rows' own problems and the table's
        problems += [_locate(p, places, document, head) for p in error.problems]
    if problems:
        raise CatalogueValidationError(problems, source=label)
    return built


def _locate(problem: str, places: Mapping[str, int], document: Mapping[str, Any],
            head: Mapping[str, Any]) -> str:
    """A problem of the JSON document, named by CSV row, column and value instead."""
    if problem.startswith("catalogue.") and head:
        field, _, rest = problem[len("catalogue."):].partition(": ")
        return f"row {head['__row__']}, column {field}: {rest}"
    match = _PLACE.match(problem)
    if match is None or match["path"] not in places:
        return problem
    path, field, message = match["path"], match["field"], match["message"]
    row = places[path]
    if field is None:
        return f"row {row}: {message}"
    if field not in COLUMNS:  # a list of the credential or role: its rows are missing
        return f"row {row}: {field}: {message}"
    return f"row {row}, column {field}: {message}"


def catalogue_to_csv(catalogue: Catalogue) -> str:
    """The CSV table of ``catalogue`` (see the module docstring).

    Examples
    --------
    >>> from guidance.catalogue import read_catalogue
    >>> from item_banks.examples.battery_demo import DEMO_CATALOGUE_PATH
    >>> text = catalogue_to_csv(read_catalogue(DEMO_CATALOGUE_PATH))
    >>> text.splitlines()[0][:40]
    'kind,credential_id,role_id,skill_id,titl'
    >>> back = catalogue_from_csv(io.StringIO(text))
    >>> back.credentials == read_catalogue(DEMO_CATALOGUE_PATH).credentials
    True
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return str(int(value)) if value.is_integer() else repr(value)
        return str(value)

    writer.writerow({"kind": "catalogue", "name": catalogue.name, "version": catalogue.version,
                     "description": catalogue.description,
                     "attribution": catalogue.attribution})  # fmt: skip
    for c in catalogue.credentials:
        writer.writerow({"kind": "credential", "credential_id": c.credential_id,
                         "title": c.title, "provider": c.provider, "url": text(c.url),
                         "hours": text(c.hours), "cost": text(c.cost),
                         "currency": text(c.currency),
                         "esco_uris": LIST_SEPARATOR.join(c.esco_uris),
                         "tags": LIST_SEPARATOR.join(c.tags)})  # fmt: skip
        for d in c.develops:
            writer.writerow({"kind": "develops", "credential_id": c.credential_id,
                             "skill_id": d.skill_id, "from_level": text(d.from_level),
                             "to_level": d.to_level})  # fmt: skip
        for p in c.prerequisites:
            writer.writerow({"kind": "prerequisite", "credential_id": c.credential_id,
                             "skill_id": p.skill_id, "level": p.level})  # fmt: skip
    for r in catalogue.roles:
        writer.writerow({"kind": "role", "role_id": r.role_id, "title": r.title,
                         "onet_soc": text(r.onet_soc)})  # fmt: skip
        for q in r.requires:
            writer.writerow({"kind": "requires", "role_id": r.role_id, "skill_id": q.skill_id,
                             "level": q.level, "importance": str(q.importance)})  # fmt: skip
    return buffer.getvalue()


__all__ = ["COLUMNS", "KINDS", "catalogue_from_csv", "catalogue_to_csv"]
