"""Write ``legacy_cat_v1.db`` and ``legacy_cat_v1.json`` with the code of an earlier version.

Run once with the engine of commit 4d98325 (flat ``zapcat-cat-config/1`` configurations,
states without a prior)::

    PYTHONPATH=/path/to/tree/at/4d98325 .venv/bin/python tests/data/legacy/make_legacy_db.py

The database holds the demo bank, three assessments with flat configurations and one
session in progress on each (4 answers given). The JSON holds the keys, the sessions and,
for each, the items that earlier code gave when the session was finished on a copy of the
database with the answers of ``answer`` below: ``tests/api/test_legacy_db.py`` finishes
the same sessions with today's code and expects the same items.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parents[2]))  # after PYTHONPATH: the earlier tree wins

from api.app import create_app  # noqa: E402
from api.services.keys import create_key  # noqa: E402
from api.settings import Settings  # noqa: E402
from tests.api.helpers import DEMO_BANK, publish  # noqa: E402

CONFIGS = {
    "mfi_content_pretest": {"max_items": 14, "stop_se": 0.35, "min_items": 6,
                            "content": {"testing": {"min": 2, "max": 5}}, "pretest_count": 1},
    "kl_sprt": {"selector": "kl", "max_items": 12, "stop_se": None, "cut_scores": [0.0],
                "classification": "sprt", "sprt_delta": 0.3, "randomesque": 2},
    "astrat_sh_map": {"selector": "a_stratified", "n_strata": 3, "estimator": "map",
                      "max_items": 10, "exposure": "sympson_hetter",
                      "exposure_params": {"py-synt-001": 0.4}},
}  # fmt: skip


def answer(item_id: str, step: int) -> int:
    """A deterministic response (the same items get the same answers)."""
    k = DEMO_BANK[item_id].n_categories
    return (sum(map(ord, item_id)) + step) % k


def _open(path: Path):
    app = create_app(Settings(f"sqlite:///{path}"))
    return app, TestClient(app)


def main() -> None:
    db_path = HERE / "legacy_cat_v1.db"
    db_path.unlink(missing_ok=True)
    app, client = _open(db_path)
    db = app.state.context.db
    admin, _ = create_key(db, tenant="legacy", scope="admin")
    deliver, _ = create_key(db, tenant="legacy", scope="deliver")
    head_a = {"Authorization": f"Bearer {admin}"}
    head_d = {"Authorization": f"Bearer {deliver}"}
    with client:
        published = publish(client, head_a)
        sessions = {}
        for name, config in CONFIGS.items():
            reply = client.post("/v1/assessments", headers=head_a, json={
                "bank": published["name"], "bank_version": published["version"],
                "config": config})  # fmt: skip
            assert reply.status_code == 201, reply.text
            aid = reply.json()["assessment_id"]
            start = {"assessment_id": aid, "examinee_ref": name}
            body = client.post("/v1/sessions", headers=head_d, json=start).json()
            given = []
            for step in range(4):
                item = body["item"]["item_id"]
                given.append(item)
                sent = {"item_id": item, "seq": body["seq"], "response": answer(item, step)}
                url = f"/v1/sessions/{body['session_id']}/responses"
                body = client.post(url, headers=head_d, json=sent).json()
            sessions[name] = {"assessment_id": aid, "session_id": body["session_id"],
                              "given": given, "next": body}  # fmt: skip
    db.dispose()
    # finish every session on a copy: the items earlier code gave
    copy = HERE / "legacy_copy.db"
    shutil.copy(db_path, copy)
    app, client = _open(copy)
    with client:
        for info in sessions.values():
            body, items, step = info["next"], [], 4
            while body["status"] == "in_progress":
                item = body["item"]["item_id"]
                items.append(item)
                sent = {"item_id": item, "seq": body["seq"], "response": answer(item, step)}
                url = f"/v1/sessions/{info['session_id']}/responses"
                body = client.post(url, headers=head_d, json=sent).json()
                step += 1
            info["rest"] = items
            info["final"] = body
    app.state.context.db.dispose()
    copy.unlink()
    out = {"admin_key": admin, "deliver_key": deliver, "configs": CONFIGS,
           "sessions": sessions, "written_by": "zapcat at commit 4d98325"}  # fmt: skip
    (HERE / "legacy_cat_v1.json").write_text(json.dumps(out, indent=1, default=float))
    print(json.dumps({k: len(v["rest"]) for k, v in sessions.items()}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
