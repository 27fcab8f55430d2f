"""A database written by an earlier version (flat configurations, states without a prior)
still serves its assessments and sessions, giving the tests that version gave.

``tests/data/legacy/legacy_cat_v1.db`` and ``.json`` were written by
``tests/data/legacy/make_legacy_db.py`` with the code of commit 4d98325: three
assessments (flat ``zapcat-cat-config/1`` configurations), a session in progress on each,
and the items that code gave when it finished them on a copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from engine.config import CATConfig

LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy"


def _answer(item_id: str, step: int) -> int:
    from tests.api.helpers import DEMO_BANK

    return (sum(map(ord, item_id)) + step) % DEMO_BANK[item_id].n_categories


def test_sessions_of_a_legacy_database_continue_identically(tmp_path):
    expected = json.loads((LEGACY / "legacy_cat_v1.json").read_text())
    db_file = tmp_path / "legacy.db"
    shutil.copy(LEGACY / "legacy_cat_v1.db", db_file)
    app = create_app(Settings(f"sqlite:///{db_file}"))
    head = {"Authorization": f"Bearer {expected['deliver_key']}"}
    admin = {"Authorization": f"Bearer {expected['admin_key']}"}
    try:
        with TestClient(app) as client:
            for name, info in expected["sessions"].items():
                stored = client.get(f"/v1/assessments/{info['assessment_id']}", headers=admin)
                assert stored.status_code == 200, stored.text
                flat = expected["configs"][name]
                assert CATConfig.from_dict(stored.json()["config"]) == CATConfig.from_dict(flat)
                body, items, step = info["next"], [], 4
                while body["status"] == "in_progress":
                    item = body["item"]["item_id"]
                    items.append(item)
                    reply = client.post(
                        f"/v1/sessions/{info['session_id']}/responses",
                        headers=head,
                        json={"item_id": item, "seq": body["seq"],
                              "response": _answer(item, step)},
                    )  # fmt: skip
                    assert reply.status_code == 200, reply.text
                    body = reply.json()
                    step += 1
                assert items == info["rest"], name
                assert body == info["final"], name
    finally:
        app.state.context.db.dispose()
