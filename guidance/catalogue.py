"""The credential catalogue: ``zapcat-catalogue/1`` (micro-credentials and target roles).

A catalogue lists credentials a learner can take and the roles they may aim at, both in
terms of the skills of a battery (``skill_id``) and their proficiency level names::

    {"format": "zapcat-catalogue/1", "name": "demo-catalogue", "version": "1",
     "description": "...", "attribution": "...",
     "credentials": [
       {"credential_id": "py-basics", "title": "Python basics", "provider": "...",
        "url": "https://...", "hours": 20, "cost": 0, "currency": "EUR",
        "develops": [{"skill_id": "coding", "from_level": "Foundation",
                      "to_level": "Practitioner"}],
        "prerequisites": [{"skill_id": "coding", "level": "Foundation"}],
        "esco_uris": ["http://data.europa.eu/esco/skill/..."], "tags": ["python"]}],
     "roles": [
       {"role_id": "junior-developer", "title": "Junior developer",
        "onet_soc": "15-1252.00",
        "requires": [{"skill_id": "coding", "level": "Practitioner", "importance": 5}]}]}

Levels are names of the battery's levels; they are checked against a battery when the
catalogue is used (:func:`check_against_levels`). Reading validates everything else and
names each problem with its place (``credentials[3].develops[0].to_level``). The same
catalogue can be written as one CSV table (:mod:`guidance.catalogue_csv`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from item_banks.errors import ZapcatError

FORMAT = "zapcat-catalogue/1"
"""Value of the ``format`` field of catalogue files."""

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ESCO = re.compile(r"^http://data\.europa\.eu/esco/skill/[0-9a-f-]{36}$")
_SOC = re.compile(r"^\d{2}-\d{4}(\.\d{2})?$")


class CatalogueValidationError(ZapcatError):
    """A catalogue failed validation; ``details["problems"]`` lists every problem."""

    code = "invalid_catalogue"

    def __init__(self, problems: Sequence[str], *, source: str | None = None) -> None:
        self.problems = tuple(problems)
        head = f"{source}: " if source else ""
        n = len(self.problems)
        lines = [f"{head}{n} problem{'s' if n != 1 else ''} in catalogue:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines), details={"problems": list(self.problems)})


@dataclass(frozen=True)
class Develops:
    """A skill a credential develops, from one level up to another (level names)."""

    skill_id: str
    from_level: str | None
    to_level: str


@dataclass(frozen=True)
class Requirement:
    """A skill at a level (a prerequisite, or a role's requirement with its importance)."""

    skill_id: str
    level: str
    importance: int = 1


@dataclass(frozen=True)
class Credential:
    """A micro-credential: what it develops (skills, level range) and what it needs first."""

    credential_id: str
    title: str
    provider: str
    url: str | None
    hours: float | None
    cost: float | None
    currency: str | None
    develops: tuple[Develops, ...]
    prerequisites: tuple[Requirement, ...]
    esco_uris: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Role:
    """A target role: required level and importance (1-5) per skill."""

    role_id: str
    title: str
    onet_soc: str | None
    requires: tuple[Requirement, ...]


@dataclass(frozen=True)
class Catalogue:
    """A validated catalogue (credentials and roles) with the document it was read from."""

    name: str
    version: str
    description: str
    attribution: str
    credentials: tuple[Credential, ...]
    roles: tuple[Role, ...]
    document: Mapping[str, Any]

    def credential(self, credential_id: str) -> Credential:
        for c in self.credentials:
            if c.credential_id == credential_id:
                return c
        raise KeyError(credential_id)

    def role(self, role_id: str) -> Role:
        """The role ``role_id``; an unknown id raises :class:`CatalogueValidationError`."""
        for r in self.roles:
            if r.role_id == role_id:
                return r
        known = ", ".join(r.role_id for r in self.roles) or "none"
        raise CatalogueValidationError(
            [f"role {role_id!r} is not in catalogue {self.name!r} (roles: {known})"])

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.document))


def _text(obj: Mapping, key: str, where: str, problems: list[str], *, required: bool = True,
          ident: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            problems.append(f"{where}.{key}: missing")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}.{key}: must be a non-empty string, got {value!r}")
        return None
    if ident and not _ID.match(value):
        problems.append(f"{where}.{key}: {value!r} is not an id (letters, digits, . _ -)")
        return None
    return value


def _number(obj: Mapping, key: str, where: str, problems: list[str]) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        problems.append(f"{where}.{key}: must be a number >= 0, got {value!r}")
        return None
    return float(value)


def _list(obj: Mapping, key: str, where: str, problems: list[str]) -> list:
    value = obj.get(key, [])
    if not isinstance(value, list):
        problems.append(f"{where}.{key}: must be a list, got {type(value).__name__}")
        return []
    return value


def _requirement(raw: Any, where: str, problems: list[str], *, importance: bool
                 ) -> Requirement | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be an object, got {raw!r}")
        return None
    skill = _text(raw, "skill_id", where, problems, ident=True)
    level = _text(raw, "level", where, problems)
    imp = 1
    if importance:
        value = raw.get("importance")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            problems.append(f"{where}.importance: must be an integer 1-5, got {value!r}")
        else:
            imp = value
    if skill is None or level is None:
        return None
    return Requirement(skill, level, imp)


def _credential(raw: Any, where: str, problems: list[str]) -> Credential | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be an object, got {raw!r}")
        return None
    n0 = len(problems)
    cid = _text(raw, "credential_id", where, problems, ident=True)
    title = _text(raw, "title", where, problems)
    provider = _text(raw, "provider", where, problems)
    url = _text(raw, "url", where, problems, required=False)
    if url is not None and not url.startswith(("https://", "http://")):
        problems.append(f"{where}.url: must start with https:// or http://, got {url!r}")
    hours = _number(raw, "hours", where, problems)
    cost = _number(raw, "cost", where, problems)
    currency = _text(raw, "currency", where, problems, required=False)
    if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
        problems.append(f"{where}.currency: must be an ISO 4217 code like EUR, got {currency!r}")
    develops = []
    raw_dev = _list(raw, "develops", where, problems)
    if not raw_dev and isinstance(raw.get("develops", []), list):
        problems.append(f"{where}.develops: a credential must develop at least one skill")
    for i, d in enumerate(raw_dev):
        w = f"{where}.develops[{i}]"
        if not isinstance(d, Mapping):
            problems.append(f"{w}: must be an object, got {d!r}")
            continue
        skill = _text(d, "skill_id", w, problems, ident=True)
        lo = _text(d, "from_level", w, problems, required=False)
        hi = _text(d, "to_level", w, problems)
        if skill and hi:
            develops.append(Develops(skill, lo, hi))
    prereqs = [
        _requirement(p, f"{where}.prerequisites[{i}]", problems, importance=False)
        for i, p in enumerate(_list(raw, "prerequisites", where, problems))
    ]
    uris = _list(raw, "esco_uris", where, problems)
    for i, u in enumerate(uris):
        if not isinstance(u, str) or not _ESCO.match(u):
            problems.append(f"{where}.esco_uris[{i}]: not an ESCO skill URI "
                            f"(http://data.europa.eu/esco/skill/<uuid>), got {u!r}")
    tags = _list(raw, "tags", where, problems)
    for i, t in enumerate(tags):
        if not isinstance(t, str) or not t:
            problems.append(f"{where}.tags[{i}]: must be a non-empty string, got {t!r}")
    if len(problems) > n0:
        return None
    return Credential(cid, title, provider, url, hours, cost, currency, tuple(develops),
                      tuple(p for p in prereqs if p), tuple(uris), tuple(tags))  # type: ignore


def _role(raw: Any, where: str, problems: list[str]) -> Role | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be an object, got {raw!r}")
        return None
    n0 = len(problems)
    rid = _text(raw, "role_id", where, problems, ident=True)
    title = _text(raw, "title", where, problems)
    soc = _text(raw, "onet_soc", where, problems, required=False)
    if soc is not None and not _SOC.match(soc):
        problems.append(f"{where}.onet_soc: not an O*NET-SOC code like 15-1252.00, got {soc!r}")
    reqs = [
        _requirement(r, f"{where}.requires[{i}]", problems, importance=True)
        for i, r in enumerate(_list(raw, "requires", where, problems))
    ]
    if not reqs and isinstance(raw.get("requires", []), list):
        problems.append(f"{where}.requires: a role must require at least one skill")
    seen: set[str] = set()
    for i, r in enumerate(reqs):
        if r and r.skill_id in seen:
            problems.append(f"{where}.requires[{i}].skill_id: {r.skill_id!r} required twice")
        if r:
            seen.add(r.skill_id)
    if len(problems) > n0:
        return None
    return Role(rid, title, soc, tuple(r for r in reqs if r))  # type: ignore[arg-type]


def _duplicates(ids: Sequence[str | None], what: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for i, v in enumerate(ids):
        if v is not None and v in seen:
            problems.append(f"{what}[{i}]: id {v!r} appears more than once")
        if v is not None:
            seen.add(v)


def catalogue_from_dict(document: Any, *, source: str | None = None) -> Catalogue:
    """Validate a parsed ``zapcat-catalogue/1`` document.

    Raises
    ------
    CatalogueValidationError
        Listing every problem found, each with its place.
    """
    problems: list[str] = []
    if not isinstance(document, Mapping):
        raise CatalogueValidationError(["the catalogue must be a JSON object"], source=source)
    if document.get("format") != FORMAT:
        problems.append(f"format: must be {FORMAT!r}, got {document.get('format')!r}")
    name = _text(document, "name", "catalogue", problems, ident=True)
    version = document.get("version", "1")
    if not isinstance(version, str | int) or isinstance(version, bool):
        problems.append(f"catalogue.version: must be a string, got {version!r}")
    description = document.get("description", "")
    attribution = document.get("attribution", "")
    raw_c = _list(document, "credentials", "catalogue", problems)
    raw_r = _list(document, "roles", "catalogue", problems)
    creds = [_credential(c, f"credentials[{i}]", problems) for i, c in enumerate(raw_c)]
    roles = [_role(r, f"roles[{i}]", problems) for i, r in enumerate(raw_r)]
    _duplicates([c.get("credential_id") if isinstance(c, Mapping) else None for c in raw_c],
                "credentials", problems)
    _duplicates([r.get("role_id") if isinstance(r, Mapping) else None for r in raw_r],
                "roles", problems)
    if not raw_c:
        problems.append("catalogue.credentials: at least one credential is needed")
    if problems:
        raise CatalogueValidationError(problems, source=source)
    return Catalogue(name, str(version), str(description), str(attribution),  # type: ignore
                     tuple(creds), tuple(roles), dict(document))  # type: ignore[arg-type]


def read_catalogue(path: str | Path) -> Catalogue:
    """Read and validate a catalogue file: JSON, or the CSV table when it ends in ``.csv``.

    The CSV layout is :mod:`guidance.catalogue_csv`'s (one row per credential, role and
    their parts, a ``kind`` column saying which).
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        from guidance.catalogue_csv import catalogue_from_csv

        return catalogue_from_csv(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CatalogueValidationError(
            [f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"],
            source=str(path)) from None
    return catalogue_from_dict(document, source=str(path))


def check_against_levels(catalogue: Catalogue, levels: Mapping[str, Sequence[str]],
                         *, role_id: str | None = None) -> None:
    """Check that skills and level names exist in a battery (``skill_id -> level names``).

    Skills a battery does not assess are allowed in credentials (they cannot be checked
    and are reported as not assessed); a level name of an assessed skill must exist, and a
    role's required skills must all be assessed.
    """
    problems: list[str] = []

    def check(skill: str, level: str | None, where: str) -> None:
        if level is not None and skill in levels and level not in levels[skill]:
            problems.append(f"{where}: level {level!r} is not a level of skill {skill!r} "
                            f"(levels: {', '.join(levels[skill])})")

    for i, c in enumerate(catalogue.credentials):
        for j, d in enumerate(c.develops):
            check(d.skill_id, d.from_level, f"credentials[{i}].develops[{j}].from_level")
            check(d.skill_id, d.to_level, f"credentials[{i}].develops[{j}].to_level")
            if d.skill_id in levels and d.from_level in levels[d.skill_id] and \
                    d.to_level in levels[d.skill_id] and \
                    levels[d.skill_id].index(d.from_level) > levels[d.skill_id].index(d.to_level):
                problems.append(f"credentials[{i}].develops[{j}]: from_level {d.from_level!r} "
                                f"is above to_level {d.to_level!r}")
        for j, p in enumerate(c.prerequisites):
            check(p.skill_id, p.level, f"credentials[{i}].prerequisites[{j}].level")
    for i, r in enumerate(catalogue.roles):
        if role_id is not None and r.role_id != role_id:
            continue
        for j, q in enumerate(r.requires):
            if q.skill_id not in levels:
                problems.append(f"roles[{i}].requires[{j}].skill_id: {q.skill_id!r} is not "
                                f"assessed (skills: {', '.join(levels)})")
            check(q.skill_id, q.level, f"roles[{i}].requires[{j}].level")
    if problems:
        raise CatalogueValidationError(problems, source=catalogue.name)


__all__ = [
    "FORMAT", "Catalogue", "CatalogueValidationError", "Credential", "Develops", "Requirement",
    "Role", "catalogue_from_dict", "check_against_levels", "read_catalogue",
]
