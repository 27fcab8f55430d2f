"""``POST /v1/badges/verify``: the service's own badges and lists, foreign ones, bad input."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from badge_helpers import SECRET, issue
from conftest import make_tenant
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers import make_assessment, mini_bank, run_test

from api.services.badges import tenant_jwt_key
from guidance.badges.jwt import public_jwk, sign_jwt
from guidance.badges.status_list import (
    BitstringStatusList,
    status_list_credential,
    status_list_entry,
)
from tests.badges.test_jwt import ISSUER as JWT_ISSUER
from tests.badges.test_jwt import _badge as jwt_badge
from tests.badges.test_verify_status import REVOKE_URL, _list
from tests.badges.test_verify_status import _badge as di_badge

VERIFY = "/v1/badges/verify"


def _issued(client, tenant, name: str, theta: float = 2.5) -> dict:
    bank = mini_bank(name, n=60)
    config = {"max_items": 25, "stop_se": None, "cut_scores": [-0.5, 0.5]}
    aid = make_assessment(client, tenant, config=config, bank=bank)
    sid, _ = run_test(client, tenant.deliver, aid, bank, theta=theta, seed=2)
    reply = issue(client, tenant.admin, sid)
    assert reply.status_code == 201, reply.text
    return reply.json()["badges"][0]


@pytest.fixture(scope="module")
def issued(badge_app, badge_client):
    tenant = make_tenant(badge_app, "verify")
    return tenant, _issued(badge_client, tenant, "verify-skill")


def _codes(reply, key="errors"):
    assert reply.status_code == 200, reply.text
    return [e["code"] for e in reply.json()[key]]


def test_own_badge_verifies_with_its_published_list(badge_client, issued):
    tenant, badge = issued
    reply = badge_client.post(VERIFY, headers=tenant.deliver, json=badge["credential"])
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "verified": True, "errors": [], "warnings": [],
        "checks": {"proof": "ok", "validity": "ok", "status": "ok"},
    }  # fmt: skip
    wrapped = badge_client.post(
        VERIFY,
        headers=tenant.admin,
        json={"credential": badge["credential"], "require_status": True},
    )
    assert wrapped.json()["verified"] is True  # fmt: skip


def test_any_tenant_may_verify_and_a_key_is_needed(badge_app, badge_client, issued):
    _tenant, badge = issued
    stranger = make_tenant(badge_app, "stranger")
    reply = badge_client.post(VERIFY, headers=stranger.deliver, json=badge["credential"])
    assert reply.json()["verified"] is True
    anonymous = badge_client.post(VERIFY, json=badge["credential"])
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"


def test_tampered_badge_fails(badge_client, issued):
    tenant, badge = issued
    changed = copy.deepcopy(badge["credential"])
    changed["credentialSubject"]["result"][1]["value"] = "Level 2"
    reply = badge_client.post(VERIFY, headers=tenant.deliver, json=changed)
    assert _codes(reply) == ["bad_signature"]
    assert reply.json()["checks"]["proof"] == "failed"


def test_revoked_badge_fails_even_with_an_older_list_stapled(badge_app, badge_client):
    tenant = make_tenant(badge_app, "revoke")
    badge = _issued(badge_client, tenant, "revoke-skill")
    cred = badge["credential"]
    url = cred["credentialStatus"]["statusListCredential"]
    before = badge_client.get(url.removeprefix("http://testserver")).json()  # bit not yet set
    revoked = badge_client.post(f"/v1/badges/{badge['badge_id']}/revoke", headers=tenant.admin)
    assert revoked.status_code == 200, revoked.text
    reply = badge_client.post(VERIFY, headers=tenant.deliver,
                              json={"credential": cred, "status_lists": [before]})  # fmt: skip
    assert _codes(reply) == ["revoked"]
    assert reply.json()["checks"] == {"proof": "ok", "validity": "ok", "status": "failed"}


def test_dates_with_at(badge_client, issued):
    tenant, badge = issued
    cred = badge["credential"]
    early = badge_client.post(
        VERIFY, headers=tenant.deliver, json={"credential": cred, "at": "2000-01-01T00:00:00Z"}
    )
    assert "not_yet_valid" in _codes(early)
    naive = badge_client.post(
        VERIFY, headers=tenant.deliver, json={"credential": cred, "at": "2030-01-01T00:00:00"}
    )
    assert naive.status_code == 422 and naive.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    "body, where",
    [
        ([1, 2], "body"),
        ({"jwt": "a.b.c", "credential": {"x": 1}}, "body"),
        ({}, "body"),
        ({"credential": {"a": 1}, "colour": "red"}, "body.colour"),
        ({"jwt": 12}, "body.jwt"),
        ({"credential": {"a": 1}, "status_lists": [{"type": "x"}]}, "body.status_lists[0]"),
        ({"credential": {"a": 1}, "status_lists": ["a.b"]}, "body.status_lists[0]"),
        ({"credential": {"a": 1}, "jwks": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "x"}]},
         "body.jwks"),
    ],
)  # fmt: skip
def test_bad_bodies_are_422(badge_client, issued, body, where):
    tenant, _badge = issued
    reply = badge_client.post(VERIFY, headers=tenant.deliver, json=body)
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "invalid_request"
    assert any(p["location"].startswith(where) for p in error["details"]["problems"])


def test_foreign_badge_and_list_from_the_body(badge_client, issued):
    """A did:key badge from elsewhere, with its list in the request."""
    tenant, _ = issued
    badge = di_badge(status_list_entry(REVOKE_URL, 77))
    ok = badge_client.post(
        VERIFY, headers=tenant.deliver, json={"credential": badge, "status_lists": [_list([76])]}
    )
    assert ok.json()["checks"] == {"proof": "ok", "validity": "ok", "status": "ok"}
    ko = badge_client.post(
        VERIFY, headers=tenant.deliver, json={"credential": badge, "status_lists": [_list([77])]}
    )
    assert _codes(ko) == ["revoked"]
    missing = badge_client.post(VERIFY, headers=tenant.deliver, json=badge)
    assert _codes(missing, "warnings") == ["status_unavailable"]
    assert missing.json()["checks"]["status"] == "not_checked"


def test_vc_jwt_with_the_tenants_rsa_key(badge_app, badge_client, issued):
    tenant, badge = issued
    db = badge_app.state.context.db
    key = tenant_jwt_key(db, tenant=tenant.name, secret=SECRET)
    cred = badge["credential"]
    assert key.issuer == cred["issuer"]["id"]
    token = sign_jwt(cred, key.private_key, kid=key.kid)
    reply = badge_client.post(VERIFY, headers=tenant.deliver, json={"jwt": token})
    assert reply.json()["checks"] == {"proof": "ok", "validity": "ok", "status": "ok"}
    # another tenant's RSA key of this service signs a JWT naming this tenant as issuer
    other = make_tenant(badge_app, "forger")
    forger = tenant_jwt_key(db, tenant=other.name, secret=SECRET)
    forged = sign_jwt(cred, forger.private_key, kid=forger.kid)
    assert _codes(badge_client.post(VERIFY, headers=other.admin, json={"jwt": forged})) == [
        "issuer_key_mismatch"
    ]


def test_foreign_vc_jwt_with_caller_keys(badge_client, issued):
    tenant, _ = issued
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = JWT_ISSUER  # the issuer of tests.badges.test_jwt._badge
    kid = issuer + "#rsa-1"
    url = "https://elsewhere.example/status/1"
    bits = BitstringStatusList()
    bits.set(5, True)
    listed = sign_jwt(status_list_credential(issuer, url, bits, datetime(2026, 1, 1, tzinfo=UTC)),
                      private, kid=kid)  # fmt: skip
    token = sign_jwt(jwt_badge(credentialStatus=status_list_entry(url, 5)), private, kid=kid)
    jwk = public_jwk(private.public_key(), kid=kid)
    at = "2026-06-01T00:00:00Z"
    untrusted = badge_client.post(VERIFY, headers=tenant.deliver, json={"jwt": token, "at": at})
    assert _codes(untrusted) == ["unresolvable_key"]
    revoked = badge_client.post(VERIFY, headers=tenant.deliver, json={
        "jwt": token, "at": at, "jwks": [jwk], "status_lists": [listed]})  # fmt: skip
    assert _codes(revoked) == ["revoked"]


def test_did_web_badge_key_from_the_database(badge_app, badge_client):
    tenant = make_tenant(badge_app, "web")
    put = badge_client.put(
        "/v1/badges/issuer",
        headers=tenant.admin,
        json={"name": "Web Academy", "domain": "badges.web.example"},
    )
    assert put.status_code == 200, put.text
    badge = _issued(badge_client, tenant, "web-skill")
    cred = badge["credential"]
    assert cred["issuer"]["id"] == f"did:web:badges.web.example:tenants:{tenant.name}"
    assert cred["proof"]["verificationMethod"].startswith(cred["issuer"]["id"] + "#key-")
    reply = badge_client.post(VERIFY, headers=tenant.deliver, json=cred)
    assert reply.json()["checks"] == {"proof": "ok", "validity": "ok", "status": "ok"}
    # the same proof presented under another tenant's did:web issuer id is refused
    moved = copy.deepcopy(cred)
    moved["issuer"]["id"] = "did:web:badges.web.example:tenants:someone-else"
    assert _codes(badge_client.post(VERIFY, headers=tenant.deliver, json=moved)) == [
        "issuer_key_mismatch", "status_list_issuer_mismatch",
    ]  # fmt: skip
