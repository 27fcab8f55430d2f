"""Bank publishing/versioning, API keys and tenants, health and metrics, over HTTP."""

from __future__ import annotations

import json

import pytest

from api.services.keys import KeyVerifier, create_key
from item_banks.examples import DEMO_BANK_PATH
from item_banks.io import bank_from_dict, read_bank
from tests.api.test_migrations import HEAD

DEMO = json.loads(DEMO_BANK_PATH.read_text())


def small_bank(name: str = "mini", n: int = 5) -> dict:
    items = [
        {
            "item_id": f"q{i}",
            "model": "2pl",
            "n_categories": 2,
            "params": {"a": 1.0 + 0.1 * i, "b": -1.0 + 0.5 * i},
        }
        for i in range(n)
    ]
    return {"format": "zapcat-bank/1", "name": name, "version": "draft", "items": items}


def test_publish_assigns_versions_and_keeps_them(client, tenant):
    first = client.post("/v1/banks", json=small_bank(), headers=tenant.admin)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["n_items"] == 5
    changed = small_bank(n=7)
    second = client.post("/v1/banks", json=changed, headers=tenant.admin)
    assert second.json()["version"] == 2 and second.json()["n_items"] == 7
    v1 = client.get("/v1/banks/mini/versions/1", headers=tenant.admin).json()
    assert len(v1["document"]["items"]) == 5  # publishing v2 did not touch v1
    assert v1["document"]["version"] == "1"
    listing = client.get("/v1/banks", headers=tenant.admin).json()
    assert [(b["name"], b["version"]) for b in listing] == [("mini", 1), ("mini", 2)]


def test_published_demo_bank_round_trips_exactly(client, tenant):
    reply = client.post("/v1/banks", json=DEMO, headers=tenant.admin)
    assert reply.status_code == 201
    stored = client.get(f"/v1/banks/{DEMO['name']}/versions/1", headers=tenant.admin).json()
    original = read_bank(DEMO_BANK_PATH)
    got = bank_from_dict(stored["document"])
    assert got.item_ids == original.item_ids
    assert [it.params for it in got] == [it.params for it in original]


def test_delivery_key_sees_no_parameters(client, tenant):
    client.post("/v1/banks", json=DEMO, headers=tenant.admin)
    reply = client.get(f"/v1/banks/{DEMO['name']}/versions/1", headers=tenant.deliver)
    assert reply.status_code == 200
    body = reply.json()
    assert "document" not in body and body["n_items"] == 250
    assert '"a"' not in reply.text and "params" not in reply.text
    assert client.post("/v1/banks", json=DEMO, headers=tenant.deliver).status_code == 403


def test_invalid_bank_lists_every_problem(client, tenant):
    bank = small_bank()
    bank["items"][1]["params"]["a"] = -1.0
    bank["items"][3]["model"] = "nope"
    reply = client.post("/v1/banks", json=bank, headers=tenant.admin)
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "invalid_item_bank"
    located = {(p["item_id"], p["field"]) for p in error["details"]["problems"]}
    assert ("q1", "a") in located and ("q3", "model") in located


def test_tenants_are_isolated(client, tenant, other_tenant):
    client.post("/v1/banks", json=small_bank("secret"), headers=tenant.admin)
    assert client.get("/v1/banks", headers=other_tenant.admin).json() == []
    reply = client.get("/v1/banks/secret/versions/1", headers=other_tenant.admin)
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "not_found"
    # the other tenant's versions are numbered on their own
    mine = client.post("/v1/banks", json=small_bank("secret"), headers=other_tenant.admin)
    assert mine.json()["version"] == 1


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Basic abc",
        "Bearer zc_000000000000_notarealsecretnotarealsecret",
        "Bearer garbage",
    ],
)
def test_bad_keys_are_401(client, header):
    headers = {"Authorization": header} if header else {}
    reply = client.get("/v1/banks", headers=headers)
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "unauthorized"


def test_wrong_secret_of_a_real_key_is_rejected(app, client, tenant):
    key_id = tenant.admin_key.split("_")[1]
    forged = f"zc_{key_id}_{'x' * 43}"
    reply = client.get("/v1/banks", headers={"Authorization": f"Bearer {forged}"})
    assert reply.status_code == 401


def test_keys_are_stored_hashed(app, tenant):
    db = app.state.context.db
    from sqlalchemy import select

    from api.models import ApiKey

    with db.read() as session:
        rows = session.scalars(select(ApiKey).where(ApiKey.tenant == tenant.name)).all()
    assert len(rows) == 2
    for row in rows:
        secret = (tenant.admin_key if row.scope == "admin" else tenant.deliver_key).split("_", 2)[2]
        assert secret not in row.secret_hash and len(row.secret_hash) == 64


def test_revoked_key_is_refused(app):
    from datetime import UTC, datetime

    from sqlalchemy import select

    from api.models import ApiKey

    db = app.state.context.db
    token, principal = create_key(db, tenant="revoke-me", scope="deliver")
    assert KeyVerifier(db).verify(f"Bearer {token}").tenant == "revoke-me"
    with db.write() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.key_id == principal.key_id)).one()
        row.revoked_at = datetime.now(UTC)
    from api.errors import AuthenticationError

    with pytest.raises(AuthenticationError):
        KeyVerifier(db).verify(f"Bearer {token}")


def test_health_and_metrics(client, tenant):
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["schema_revision"] == HEAD
    client.get("/v1/banks", headers=tenant.admin)
    text = client.get("/metrics", headers=tenant.admin).text
    assert 'zapcat_http_requests_total{method="GET",route="/v1/banks",status="200"}' in text
    assert "zapcat_http_request_duration_seconds_bucket" in text
    assert 'zapcat_sessions{status="in_progress"}' in text


def test_unreachable_database_is_503_not_500():
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings("postgresql://postgres@127.0.0.1:1/nowhere"), migrate=False)
    with TestClient(app) as down:
        health = down.get("/health")
        assert health.status_code == 503
        assert health.json()["error"]["code"] == "database_unavailable"
        key = "zc_0123456789ab_" + "s" * 43  # not cached: the key lookup needs the database
        reply = down.get("/v1/banks", headers={"Authorization": f"Bearer {key}"})
        assert reply.status_code == 503
    app.state.context.db.dispose()
