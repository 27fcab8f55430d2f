"""The demo set-up of ``zapcat serve --demo`` (and ``make run``).

Tenant ``demo``: the demo bank published (once), an assessment on it named ``demo``
(once), the three banks of the demo battery (coding, project management, design; simulated,
not calibrated on real data) and a battery assessment on them named ``demo-battery``
(once), the practice demo bank (items that may be disclosed, with explanations) and a
practice test on it named ``demo-practice`` (``mode: "practice"``, ``feedback: "item"``;
once), the badge issuer's name (once), and a fresh admin and delivery key on every call
(keys are shown only once, so the demo keys printed before are revoked: one set of live
demo keys, not a pile).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from api.db import Database
from api.models import ApiKey, Assessment
from api.services.assessments import create_assessment
from api.services.banks import list_banks, publish_bank
from api.services.battery import create_battery_assessment
from api.services.keys import create_key
from item_banks.examples import DEMO_BANK_PATH, DEMO_BATTERY_PATH
from item_banks.examples.battery_demo import BATTERY_DEMO_DIR, DEMO_CATALOGUE_PATH
from item_banks.examples.practice_demo import PRACTICE_DEMO_PATH

DEMO_TENANT = "demo"
DEMO_CONFIG: dict[str, Any] = {}
"""Engine configuration of the demo assessment (the engine's defaults)."""
PRACTICE_CONFIG: dict[str, Any] = {"mode": "practice", "feedback": "item", "max_items": 8,
                                   "stop_se": None}  # fmt: skip
"""The demo practice test: 8 of the 12 practice items, each answer's reply with feedback."""


def setup_demo(db: Database) -> dict[str, Any]:
    """Publish the demo bank and assessment if missing; create two new keys.

    Returns
    -------
    dict
        ``{bank, bank_version, assessment_id, battery_assessment_id,
        practice_assessment_id, catalogue {name, version}, admin_key, deliver_key}``.
    """
    document = json.loads(DEMO_BANK_PATH.read_text())
    versions = [b for b in list_banks(db, tenant=DEMO_TENANT) if b["name"] == document["name"]]
    if versions:
        version = versions[0]["version"]
    else:
        version = publish_bank(db, tenant=DEMO_TENANT, document=document)["version"]
    with db.read() as session:
        assessment_id = session.scalar(
            select(Assessment.id).where(Assessment.tenant == DEMO_TENANT, Assessment.name == "demo")
        )
    if assessment_id is None:
        assessment_id = create_assessment(
            db,
            tenant=DEMO_TENANT,
            bank=document["name"],
            bank_version=version,
            config=DEMO_CONFIG,
            name="demo",
        )["assessment_id"]
    with db.write() as session:  # the earlier demo keys: their secrets are gone anyway
        now = datetime.now(UTC)
        for row in session.scalars(
            select(ApiKey).where(
                ApiKey.tenant == DEMO_TENANT, ApiKey.label == "demo", ApiKey.revoked_at.is_(None)
            )
        ):
            row.revoked_at = now
    battery_id = _setup_battery(db)
    practice_id = _setup_practice(db)
    _setup_issuer(db)
    catalogue = _setup_catalogue(db)
    admin_key, _ = create_key(db, tenant=DEMO_TENANT, scope="admin", label="demo")
    deliver_key, _ = create_key(db, tenant=DEMO_TENANT, scope="deliver", label="demo")
    return {
        "bank": document["name"],
        "bank_version": version,
        "assessment_id": assessment_id,
        "battery_assessment_id": battery_id,
        "practice_assessment_id": practice_id,
        "catalogue": catalogue,
        "admin_key": admin_key,
        "deliver_key": deliver_key,
    }


def _setup_issuer(db: Database) -> None:
    """Name the demo tenant's badge issuer (once; its did:key comes with the first badge)."""
    from api.models import BadgeIssuer
    from api.services.badge_issuers import set_issuer

    with db.read() as session:
        if session.get(BadgeIssuer, DEMO_TENANT) is not None:
            return
    set_issuer(db, tenant=DEMO_TENANT, name="Zapcat demo issuer",
               description="Demo badges of simulated item banks (not a real credential).")


def _setup_practice(db: Database) -> str:
    """Publish the practice demo bank and its practice test if missing; the test's id."""
    with db.read() as session:
        found = session.scalar(select(Assessment.id).where(
            Assessment.tenant == DEMO_TENANT, Assessment.name == "demo-practice"))  # fmt: skip
    if found is not None:
        return found
    document = json.loads(PRACTICE_DEMO_PATH.read_text())
    versions = [b for b in list_banks(db, tenant=DEMO_TENANT) if b["name"] == document["name"]]
    version = versions[0]["version"] if versions else publish_bank(
        db, tenant=DEMO_TENANT, document=document)["version"]  # fmt: skip
    return create_assessment(db, tenant=DEMO_TENANT, bank=document["name"],
                             bank_version=version, config=PRACTICE_CONFIG,
                             name="demo-practice")["assessment_id"]  # fmt: skip


def _setup_catalogue(db: Database) -> dict[str, Any]:
    """Publish the demo credential catalogue if missing; ``{name, version}``."""
    from api.services.guidance import list_catalogues, publish_catalogue

    document = json.loads(DEMO_CATALOGUE_PATH.read_text())
    for row in list_catalogues(db, tenant=DEMO_TENANT):
        if row["name"] == document["name"]:
            return {"name": row["name"], "version": row["version"]}
    row = publish_catalogue(db, tenant=DEMO_TENANT, document=document)
    return {"name": row["name"], "version": row["version"]}


def _setup_battery(db: Database) -> str:
    """Publish the demo battery's banks and its assessment if missing; its id."""
    with db.read() as session:
        found = session.scalar(select(Assessment.id).where(
            Assessment.tenant == DEMO_TENANT, Assessment.name == "demo-battery"))  # fmt: skip
    if found is not None:
        return found
    battery = json.loads(DEMO_BATTERY_PATH.read_text())
    published = {b["name"]: b["version"] for b in list_banks(db, tenant=DEMO_TENANT)}
    for sec in battery["sections"]:
        document = json.loads((BATTERY_DEMO_DIR / sec["bank"]["path"]).read_text())
        if document["name"] not in published:
            published[document["name"]] = publish_bank(db, tenant=DEMO_TENANT,
                                                       document=document)["version"]
        sec["bank"] = {"name": document["name"], "version": published[document["name"]]}
    view = create_battery_assessment(db, tenant=DEMO_TENANT, battery=battery,
                                     name="demo-battery")  # fmt: skip
    return view["assessment_id"]
