"""Promotion: the next bank version from the old one, accepted candidates, retirements, a link.

:func:`promote` takes a bank version, the ``zapcat-candidates/1`` document of an online
calibration (:mod:`calibration.online`), the candidates to accept (default: those with
no flag), items to retire (for example the drifted items of
:func:`calibration.drift.parameter_drift`) and optionally a link to apply to the whole
bank, and returns the new version with its provenance: which export and method the
candidates came from, which items changed and how.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any

from calibration.linking import Link, transform_bank
from calibration.online import CANDIDATES_FORMAT
from calibration.results import _zapcat_version
from item_banks.bank import Item, ItemBank
from item_banks.errors import CalibrationError


def _next_version(version: str) -> str:
    return str(int(version) + 1) if version.isdigit() else f"{version}.1"


def promote(
    bank: ItemBank,
    candidates: Mapping[str, Any] | None = None,
    *,
    accept: Iterable[str] | None = None,
    retire: Iterable[str] = (),
    link: Link | None = None,
    version: str | None = None,
    source: str = "",
) -> ItemBank:
    """The next version of ``bank``: candidates made operational, items retired, linked.

    Parameters
    ----------
    bank : ItemBank
        The current version.
    candidates : mapping, optional
        A ``zapcat-candidates/1`` document estimated against ``bank``.
    accept : iterable of str, optional
        Candidate ids to make operational (default: every candidate marked
        ``accepted``, that is without flags). A flagged candidate can be accepted by
        naming it.
    retire : iterable of str
        Items whose status becomes ``retired``.
    link : Link, optional
        Applied to every item last (the new version on the link's TO scale).
    version : str, optional
        Version label (default: the old one plus 1).
    source : str
        Where the candidates document was read from (recorded).

    Returns
    -------
    ItemBank

    Raises
    ------
    CalibrationError
        A candidates document of another bank or format, or ids that are not candidates
        or not in the bank.
    """
    items = {it.item_id: it for it in bank}
    rows: dict[str, Mapping[str, Any]] = {}
    if candidates is not None:
        if candidates.get("format") != CANDIDATES_FORMAT:
            raise CalibrationError(
                f"{source or 'candidates'}: expected format {CANDIDATES_FORMAT!r}, got "
                f"{candidates.get('format')!r}"
            )
        of = candidates.get("bank", {})
        if of.get("name") != bank.name:
            raise CalibrationError(
                f"the candidates were estimated against bank {of.get('name')!r}, not {bank.name!r}"
            )
        rows = {str(r["item_id"]): r for r in candidates.get("items", [])}
    chosen = [i for i, r in rows.items() if r.get("accepted")] if accept is None else list(accept)
    unknown = [i for i in chosen if i not in rows]
    if unknown:
        raise CalibrationError(
            f"not candidates of this calibration: {', '.join(map(repr, unknown))}; "
            f"candidates are {', '.join(map(repr, rows)) or 'none'}"
        )
    retire = list(retire)
    missing = [i for i in retire if i not in items]
    if missing:
        raise CalibrationError(f"cannot retire items not in the bank: {', '.join(missing)}")
    changed: dict[str, str] = {}
    for item_id in chosen:
        row = rows[item_id]
        old = items.get(item_id)
        fitted = {
            "model": str(row["model"]),
            "params": dict(row["params"]),
            "n_categories": int(row["n_categories"]),
            "se": dict(row.get("se", {})),
            "status": "operational",
        }
        if old is not None and old.n_categories == fitted["n_categories"]:
            # a seeded item keeps its texts, codes and metadata; its flags were about its
            # old estimates
            items[item_id] = dataclasses.replace(old, **fitted, flags=(), flags_accepted=False)
        else:  # a new item, or other categories: only the metadata carries over
            meta = {} if old is None else {
                "content_areas": old.content_areas, "enemy_groups": old.enemy_groups,
                "tags": old.tags}  # fmt: skip
            items[item_id] = Item(item_id, **fitted, **meta)
        changed[item_id] = "pretest -> operational (online calibration)"
    for item_id in retire:
        old = items[item_id]
        items[item_id] = dataclasses.replace(old, status="retired")
        changed[item_id] = f"{old.status} -> retired"
    provenance: dict[str, Any] = {
        "software": f"zapcat {_zapcat_version()}",
        "method": "promotion",
        "promoted_from": {"name": bank.name, "version": bank.version},
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "accepted": chosen,
        "retired": retire,
        "changed_items": changed,
        "previous": dict(bank.provenance),
    }
    if candidates is not None:
        provenance["candidates"] = {
            "source": source,
            "method": candidates.get("method"),
            "latent": candidates.get("latent"),
            "data": candidates.get("data"),
            "rejected": sorted(set(rows) - set(chosen)),
        }
    new = ItemBank(
        items.values(),
        name=bank.name,
        version=version or _next_version(bank.version),
        description=bank.description,
        provenance=provenance,
    )
    if link is not None:
        new = transform_bank(new, link)
        prov = dict(new.provenance)
        prov["link"] = prov.pop("linked")
        new = ItemBank(
            new.items,
            name=new.name,
            version=new.version,
            description=new.description,
            provenance=prov,
        )
    return new
