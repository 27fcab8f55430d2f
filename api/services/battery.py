"""Battery assessments: sections pinning published bank versions, run as one session.

``create_battery_assessment`` validates a ``zapcat-battery/1`` document whose sections
name their banks as ``{"name", "version"}`` (published versions of the tenant), builds
its plan (every section's CAT configuration validated against its bank, the budget
against the minimums) and stores it as an assessment whose configuration is
``{"kind": "battery", "battery": ...}`` with every section's configuration in its
complete form. Sessions on it run through :mod:`api.services.sessions` like any other.
"""

from __future__ import annotations

import uuid
from typing import Any

from api.db import Database
from api.models import Assessment, ExposureCount, utcnow
from api.services.banks import find_bank_version, load_bank
from engine.battery import BatteryPlan
from item_banks.battery import BatteryValidationError, battery_from_dict


def create_battery_assessment(
    db: Database, *, tenant: str, battery: dict[str, Any], name: str = ""
) -> dict[str, Any]:
    """Create a battery assessment of ``tenant``.

    Raises
    ------
    BatteryValidationError
        Naming every problem (file format, a section without a published bank version,
        a configuration that does not fit its bank, item ids shared between banks).
    NotFoundError
        A section's bank version is not published.
    """
    definition = battery_from_dict(battery)
    problems, banks, rows = [], {}, []
    for i, sec in enumerate(definition.sections):
        if "name" not in sec.bank:
            problems.append(f"sections[{i}].bank: a battery assessment pins a published "
                            f"bank version {{\"name\", \"version\"}}, got {dict(sec.bank)!r}")
            continue
        try:
            version = int(sec.bank["version"])
        except ValueError:
            problems.append(f"sections[{i}].bank.version: published versions are numbers "
                            f"1, 2, ..., got {sec.bank['version']!r}")  # fmt: skip
            continue
        row = find_bank_version(db, tenant=tenant, name=sec.bank["name"], version=version)
        rows.append(row)
        banks[sec.skill_id] = load_bank(db, row)
    if problems:
        raise BatteryValidationError(problems)
    plan = BatteryPlan(definition, banks)
    seen: dict[str, str] = {}
    for sec, bank in zip(definition.sections, plan.banks, strict=True):
        for item_id in bank.item_ids:
            if item_id in seen:
                problems.append(f"item id {item_id!r} is in the banks of both "
                                f"{seen[item_id]!r} and {sec.skill_id!r}; a battery needs "
                                f"distinct item ids")  # fmt: skip
            seen[item_id] = sec.skill_id
    if problems:
        raise BatteryValidationError(problems[:20])
    stored = definition.to_dict()
    for k, sec in enumerate(stored["sections"]):
        sec["cat"] = plan.configs[k].to_dict()
        sec["bank"] = {"name": rows[k].name, "version": rows[k].version}
    with db.write() as session:
        row = Assessment(id=str(uuid.uuid4()), tenant=tenant, name=name,
                         bank_version_id=rows[0].id,
                         config={"kind": "battery", "battery": stored}, n_sessions=0,
                         created_at=utcnow())  # fmt: skip
        session.add(row)
        session.flush()
        session.add_all(ExposureCount(assessment_id=row.id, item_id=item_id, count=0)
                        for item_id in seen)  # fmt: skip
        from api.services.assessments import _view

        return _view(row, rows[0])


__all__ = ["create_battery_assessment"]
