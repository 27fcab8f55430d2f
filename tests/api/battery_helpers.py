"""Battery assessments for the API tests: the demo battery's banks published per tenant."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from engine.battery import load_battery
from item_banks.examples import DEMO_BATTERY_PATH
from item_banks.examples.battery_demo import BATTERY_DEMO_DIR

PLAN = load_battery(DEMO_BATTERY_PATH)
BANKS = {bank.item_ids[0][:4]: bank for bank in PLAN.banks}


def battery_document(versions: dict[str, int], **changes: Any) -> dict[str, Any]:
    """The demo battery with its sections pinned to published bank versions."""
    doc = json.loads(DEMO_BATTERY_PATH.read_text())
    for sec in doc["sections"]:
        bank = json.loads((BATTERY_DEMO_DIR / sec["bank"]["path"]).read_text())
        sec["bank"] = {"name": bank["name"], "version": versions[bank["name"]]}
    doc.update(changes)
    return doc


def make_battery(client, tenant, **changes: Any) -> str:
    versions = {}
    for bank in PLAN.banks:
        doc = json.loads((BATTERY_DEMO_DIR / f"{bank.name.removesuffix('-demo')}.json").read_text())
        reply = client.post("/v1/banks", json=doc, headers=tenant.admin)
        assert reply.status_code == 201, reply.text
        versions[bank.name] = reply.json()["version"]
    reply = client.post("/v1/assessments", headers=tenant.admin,
                        json={"battery": battery_document(versions, **changes), "name": "b"})
    assert reply.status_code == 201, reply.text
    assert reply.json()["kind"] == "battery"
    return reply.json()["assessment_id"]


def bank_of(item_id: str):
    for bank in PLAN.banks:
        if item_id in bank:
            return bank
    raise KeyError(item_id)


def answer(item_id: str, theta: float, rng: np.random.Generator) -> int:
    bank = bank_of(item_id)
    k = bank[item_id].n_categories
    p = bank.prob([theta], [bank.index_of(item_id)])[0, 0, :k]
    return int(rng.choice(k, p=p / p.sum()))


def run_battery(client, headers, assessment_id, *, seed: int = 1, session_seed=None, theta=0.4,
                bodies: list | None = None) -> tuple[str, dict, list]:  # fmt: skip
    """Run a whole battery over HTTP; returns (session id, final reply, replies)."""
    rng = np.random.default_rng(seed)
    body = {"assessment_id": assessment_id, "examinee_ref": f"bx-{seed}"}
    if session_seed is not None:
        body["seed"] = session_seed
    reply = client.post("/v1/sessions", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    replies = [reply.json()]
    while replies[-1]["status"] == "in_progress":
        last = replies[-1]
        item = last["item"]
        reply = client.post(f"/v1/sessions/{last['session_id']}/responses", headers=headers,
                            json={"item_id": item["item_id"], "seq": last["seq"],
                                  "response": answer(item["item_id"], theta, rng)})  # fmt: skip
        assert reply.status_code == 200, reply.text
        if bodies is not None:
            bodies.append(reply.text)
        replies.append(reply.json())
    return replies[0]["session_id"], replies[-1], replies
