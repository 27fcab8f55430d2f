"""Shared helpers of the API tests: banks, assessments and simulated examinees."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from item_banks.bank import Item, ItemBank
from item_banks.examples import DEMO_BANK_PATH
from item_banks.io import bank_to_json, read_bank

DEMO_DOC = json.loads(DEMO_BANK_PATH.read_text())
DEMO_BANK = read_bank(DEMO_BANK_PATH)

SHORT = {"max_items": 8, "stop_se": None}
"""A short fixed-length test (keeps the API tests fast)."""


def mini_bank(name: str = "mini", n: int = 40, seed: int = 3) -> ItemBank:
    rng = np.random.default_rng(seed)
    items = [
        Item(f"m{i:03d}", "2pl", {"a": float(rng.uniform(0.8, 2.0)), "b": float(rng.normal())})
        for i in range(n)
    ]
    return ItemBank(items, name=name)


def publish(client, headers, bank: ItemBank | None = None) -> dict[str, Any]:
    doc = DEMO_DOC if bank is None else json.loads(bank_to_json(bank))
    reply = client.post("/v1/banks", json=doc, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


def make_assessment(client, tenant, config: dict | None = None, bank: ItemBank | None = None):
    published = publish(client, tenant.admin, bank)
    reply = client.post(
        "/v1/assessments",
        headers=tenant.admin,
        json={
            "bank": published["name"],
            "bank_version": published["version"],
            "config": SHORT if config is None else config,
        },
    )
    assert reply.status_code == 201, reply.text
    return reply.json()["assessment_id"]


def answer(bank: ItemBank, item_id: str, theta: float, rng: np.random.Generator) -> int:
    """A response drawn from the item's category probabilities at ``theta``."""
    item = bank[item_id]
    probs = bank.prob([theta], [bank.index_of(item_id)])[0, 0, : item.n_categories]
    return int(rng.choice(item.n_categories, p=probs / probs.sum()))


def run_test(
    client,
    headers,
    assessment_id,
    bank,
    theta=0.3,
    seed=1,
    session_seed=None,
    bodies: list | None = None,
) -> tuple[str, dict]:
    """Run one whole test over HTTP; returns the session id and the final reply."""
    rng = np.random.default_rng(seed)
    body = {"assessment_id": assessment_id, "examinee_ref": f"ex-{seed}"}
    if session_seed is not None:
        body["seed"] = session_seed
    reply = client.post("/v1/sessions", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    if bodies is not None:
        bodies.append(reply.text)
    body = reply.json()
    while body["status"] == "in_progress":
        item = body["item"]
        reply = client.post(
            f"/v1/sessions/{body['session_id']}/responses",
            headers=headers,
            json={
                "item_id": item["item_id"],
                "seq": body["seq"],
                "response": answer(bank, item["item_id"], theta, rng),
            },
        )
        assert reply.status_code == 200, reply.text
        if bodies is not None:
            bodies.append(reply.text)
        body = reply.json()
    return body["session_id"], body
