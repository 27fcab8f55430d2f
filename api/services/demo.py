"""The demo set-up of ``zapcat serve --demo`` (and ``make run``).

Tenant ``demo``: the demo bank published (once), an assessment on it named ``demo``
(once), and a fresh admin and delivery key on every call (keys are shown only once, so the
demo keys printed before are revoked: one set of live demo keys, not a pile).
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
from api.services.keys import create_key
from item_banks.examples import DEMO_BANK_PATH

DEMO_TENANT = "demo"
DEMO_CONFIG: dict[str, Any] = {}
"""Engine configuration of the demo assessment (the engine's defaults)."""


def setup_demo(db: Database) -> dict[str, Any]:
    """Publish the demo bank and assessment if missing; create two new keys.

    Returns
    -------
    dict
        ``{bank, bank_version, assessment_id, admin_key, deliver_key}``.
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
    admin_key, _ = create_key(db, tenant=DEMO_TENANT, scope="admin", label="demo")
    deliver_key, _ = create_key(db, tenant=DEMO_TENANT, scope="deliver", label="demo")
    return {
        "bank": document["name"],
        "bank_version": version,
        "assessment_id": assessment_id,
        "admin_key": admin_key,
        "deliver_key": deliver_key,
    }
