"""Badge keys (encrypted, rotated, did:web), revocation and tenant isolation."""

from __future__ import annotations

import base64

from badge_helpers import SECRET, issue, status_bit, strong_battery_session
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.models import BadgeKey
from api.services.badge_keys import decrypt_private
from api.services.badges import published_status_list, resolve_method, tenant_jwt_key
from api.settings import Settings
from guidance.badges.multikey import load_public, public_from_did_key
from guidance.badges.proof import verify_proof
from guidance.badges.verify import verify_credential


def _code(reply, status: int) -> str:
    assert reply.status_code == status, reply.text
    return reply.json()["error"]["code"]


def _verify_list(client, url: str) -> dict:
    """The public status list of ``url``, its proof checked with its did:key."""
    document = client.get(url.removeprefix("http://testserver")).json()
    verify_proof(document, public_from_did_key(document["proof"]["verificationMethod"]))
    return document


def test_revoking_flips_the_bit_in_the_public_signed_list(badge_client, badge_app, tenant):
    client = badge_client
    _, sid = strong_battery_session(client, tenant, seed=21)
    first, second = issue(client, tenant.admin, sid).json()["badges"][:2]
    url = first["credential"]["credentialStatus"]["statusListCredential"]
    before = _verify_list(client, url)
    db = badge_app.state.context.db

    def lists(list_url: str):
        return published_status_list(db, list_url)

    checked = verify_credential(first["credential"], status_resolver=lists, require_status=True)
    assert checked["verified"] and checked["checks"]["status"] == "ok"
    assert before["issuer"]["id"] == first["credential"]["issuer"]["id"]
    reply = client.post(f"/v1/badges/{first['badge_id']}/revoke", headers=tenant.admin)
    assert reply.status_code == 200 and reply.json()["revoked"] is True
    after = _verify_list(client, url)
    assert after["credentialSubject"]["encodedList"] != before["credentialSubject"]["encodedList"]
    assert status_bit(client, first["credential"]) is True
    assert status_bit(client, second["credential"]) is False  # only that badge's bit
    result = verify_credential(first["credential"], status_resolver=lists)
    assert result["verified"] is False and result["checks"]["status"] == "failed"
    assert [e["code"] for e in result["errors"]] == ["revoked"]
    assert verify_credential(second["credential"], status_resolver=lists)["verified"]
    again = client.post(f"/v1/badges/{first['badge_id']}/revoke", headers=tenant.admin)
    assert again.json()["revoked_at"] == reply.json()["revoked_at"]  # idempotent
    got = client.get(f"/v1/badges/{first['badge_id']}", headers=tenant.admin).json()
    assert got["revoked"] is True
    assert published_status_list(db, url) == after
    assert published_status_list(db, url + "x") is None


def test_private_keys_are_encrypted_at_rest(badge_client, badge_app, tenant):
    _, sid = strong_battery_session(badge_client, tenant, seed=22)
    cred = issue(badge_client, tenant.admin, sid).json()["badges"][0]["credential"]
    db = badge_app.state.context.db
    with db.read() as session:
        row = session.scalars(select(BadgeKey).where(BadgeKey.tenant == tenant.name,
                                                     BadgeKey.algorithm == "Ed25519")).one()
    seed = decrypt_private(SECRET, row)
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert public == load_public(row.public_key).public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert cred["issuer"]["id"] == f"did:key:{row.public_key}"
    stored = base64.b64decode(row.encrypted_private_key)
    assert seed not in stored and len(stored) == 12 + 32 + 16  # nonce, seed, GCM tag


def test_rotation_signs_new_badges_with_the_new_key_old_ones_still_verify(
        badge_client, tenant):
    client = badge_client
    _, sid = strong_battery_session(client, tenant, seed=23)
    old = issue(client, tenant.admin, sid).json()["badges"][0]
    keys = client.post("/v1/badges/keys/rotate", headers=tenant.admin, json={})
    assert keys.status_code == 200, keys.text
    listed = client.get("/v1/badges/keys", headers=tenant.admin).json()
    assert listed == keys.json()
    current = [k for k in listed if k["retired_at"] is None]
    assert sorted(k["algorithm"] for k in current) == ["Ed25519", "RSA"]
    retired = [k for k in listed if k["retired_at"] is not None]
    assert old["key_id"] in [k["key_id"] for k in retired]
    _, sid2 = strong_battery_session(client, tenant, seed=24)
    new = issue(client, tenant.admin, sid2).json()["badges"][0]
    ed_current = next(k for k in current if k["algorithm"] == "Ed25519")
    assert new["key_id"] == ed_current["key_id"] != old["key_id"]
    assert new["credential"]["proof"]["verificationMethod"] == ed_current["verification_method"]
    assert verify_credential(old["credential"])["verified"]
    assert verify_credential(new["credential"])["verified"]
    old_list = old["credential"]["credentialStatus"]["statusListCredential"]
    assert new["credential"]["credentialStatus"]["statusListCredential"] != old_list
    # revoking a badge of the retired key updates its own list, signed by that key
    client.post(f"/v1/badges/{old['badge_id']}/revoke", headers=tenant.admin)
    document = _verify_list(client, old_list)
    assert document["issuer"]["id"] == old["credential"]["issuer"]["id"]
    assert status_bit(client, old["credential"]) is True
    bad = client.post("/v1/badges/keys/rotate", headers=tenant.admin,
                      json={"algorithms": ["DSA"]})
    assert _code(bad, 422) == "invalid_request"


def test_did_web_issuer_and_its_public_did_document(badge_client, badge_app, tenant):
    client = badge_client
    reply = client.put("/v1/badges/issuer", headers=tenant.admin, json={
        "name": "Acme Academy", "url": "https://acme.example", "domain": "badges.acme.example"})
    assert reply.status_code == 200, reply.text
    did = f"did:web:badges.acme.example:tenants:{tenant.name}"
    assert reply.json()["did_document"] == (
        f"https://badges.acme.example/tenants/{tenant.name}/did.json")
    _, sid = strong_battery_session(client, tenant, seed=25)
    cred = issue(client, tenant.admin, sid).json()["badges"][0]["credential"]
    assert cred["issuer"] == {"id": did, "type": ["Profile"], "name": "Acme Academy",
                              "url": "https://acme.example"}
    method = cred["proof"]["verificationMethod"]
    assert method.startswith(f"{did}#key-")
    document = client.get(f"/tenants/{tenant.name}/did.json")  # public: no key
    assert document.status_code == 200
    doc = document.json()
    assert doc["id"] == did and method in doc["assertionMethod"]
    entry = next(m for m in doc["verificationMethod"] if m["id"] == method)
    assert entry["type"] == "Multikey" and entry["controller"] == did

    def from_did_document(vm: str):
        found = next(m for m in doc["verificationMethod"] if m["id"] == vm)
        return load_public(found["publicKeyMultibase"])

    assert verify_credential(cred, resolve=from_did_document)["verified"]
    db = badge_app.state.context.db
    assert resolve_method(db, method).public_bytes(Encoding.Raw, PublicFormat.Raw) == (
        from_did_document(method).public_bytes(Encoding.Raw, PublicFormat.Raw))
    jwt_key = tenant_jwt_key(db, tenant=tenant.name, secret=SECRET)
    assert jwt_key.issuer == did and jwt_key.kid.startswith(f"{did}#key-")
    rsa = next(m for m in client.get(f"/tenants/{tenant.name}/did.json").json()
               ["verificationMethod"] if m["id"] == jwt_key.kid)
    assert rsa["type"] == "JsonWebKey"
    n = int.from_bytes(base64.urlsafe_b64decode(rsa["publicKeyJwk"]["n"] + "=="), "big")
    assert n == jwt_key.private_key.public_key().public_numbers().n
    assert jwt_key.private_key.key_size == 2048
    assert _code(client.put("/v1/badges/issuer", headers=tenant.admin,
                            json={"name": "x", "domain": "https://a.example/x"}), 422)
    assert client.get("/tenants/nobody-here/did.json").status_code == 404


def test_tenant_isolation_of_badges_and_keys(badge_client, badge_app, tenant, other_tenant):
    client = badge_client
    _, sid = strong_battery_session(client, tenant, seed=26)
    mine = issue(client, tenant.admin, sid).json()["badges"][0]
    _, other_sid = strong_battery_session(client, other_tenant, seed=26)
    theirs = issue(client, other_tenant.admin, other_sid).json()["badges"][0]
    # another tenant's admin never reads, revokes or issues for this tenant's sessions
    bid = mine["badge_id"]
    assert _code(client.get(f"/v1/badges/{bid}", headers=other_tenant.admin), 404) == "not_found"
    revoke = client.post(f"/v1/badges/{bid}/revoke", headers=other_tenant.admin)
    assert _code(revoke, 404) == "not_found"
    assert status_bit(client, mine["credential"]) is False
    assert _code(issue(client, other_tenant.admin, sid), 404) == "not_found"
    # each tenant's badges are signed by its own key and listed in its own status list
    my_keys = {k["key_id"] for k in client.get("/v1/badges/keys", headers=tenant.admin).json()}
    their_keys = {k["key_id"] for k in
                  client.get("/v1/badges/keys", headers=other_tenant.admin).json()}
    assert mine["key_id"] in my_keys and theirs["key_id"] in their_keys
    assert not my_keys & their_keys
    assert mine["credential"]["issuer"]["id"] != theirs["credential"]["issuer"]["id"]
    assert mine["status_list"] != theirs["status_list"]
    # a key's ciphertext is bound to its tenant: copied into another tenant's row, it
    # does not decrypt, so no tenant's key can sign another's badges
    db = badge_app.state.context.db
    with db.write() as session:
        rows = {r.tenant: r for r in session.scalars(select(BadgeKey).where(
            BadgeKey.tenant.in_([tenant.name, other_tenant.name]),
            BadgeKey.algorithm == "Ed25519", BadgeKey.retired_at.is_(None)))}
        rows[other_tenant.name].encrypted_private_key = rows[tenant.name].encrypted_private_key
    _, sid2 = strong_battery_session(client, other_tenant, seed=27)
    reply = issue(client, other_tenant.admin, sid2)
    assert _code(reply, 503) == "badge_secret_mismatch"


def test_badges_need_the_server_secret(client, badge_client, database_url, tenant):
    _, sid = strong_battery_session(badge_client, tenant, seed=28)
    reply = issue(client, tenant.admin, sid)  # the service started without ZAPCAT_SECRET_KEY
    assert _code(reply, 503) == "badge_secret_missing"
    assert "ZAPCAT_SECRET_KEY" in reply.json()["error"]["message"]
    assert _code(client.post("/v1/badges/keys/rotate", headers=tenant.admin), 503) == (
        "badge_secret_missing")
    badge = issue(badge_client, tenant.admin, sid).json()["badges"][0]
    wrong = create_app(Settings(database_url, secret_key="another-secret-" + "z" * 32))
    with TestClient(wrong) as other:
        reply = other.post(f"/v1/badges/{badge['badge_id']}/revoke", headers=tenant.admin)
        assert _code(reply, 503) == "badge_secret_mismatch"
        short = create_app(Settings(database_url, secret_key="short"))
        with TestClient(short) as weak:
            assert _code(issue(weak, tenant.admin, sid), 503) == "badge_secret_missing"
        short.state.context.db.dispose()
    wrong.state.context.db.dispose()
    # the public routes need no key; the badge routes do
    public = badge["status_list"].removeprefix("http://testserver")
    assert badge_client.get(public).status_code == 200
    assert _code(badge_client.get(f"/v1/badges/{badge['badge_id']}"), 401) == "unauthorized"


def test_a_badge_as_vc_jwt_verifies_and_is_revoked_with_it(badge_client, badge_app, tenant):
    from guidance.badges.jwt import trusted_keys, unverified_payload, verify_jwt

    client = badge_client
    _, sid = strong_battery_session(client, tenant, seed=29)
    badge = issue(client, tenant.admin, sid).json()["badges"][0]
    reply = client.get(f"/v1/badges/{badge['badge_id']}/jwt", headers=tenant.admin)
    assert reply.status_code == 200, reply.text
    token = reply.json()["jwt"]
    assert client.get(f"/v1/badges/{badge['badge_id']}/jwt", headers=tenant.admin).json()[
        "jwt"] == token  # RS256 is deterministic
    payload = unverified_payload(token)
    assert payload["iss"] == badge["credential"]["issuer"]["id"]
    assert payload["jti"] == badge["credential"]["id"] and "proof" not in payload
    assert payload["credentialSubject"] == badge["credential"]["credentialSubject"]
    db = badge_app.state.context.db
    public = tenant_jwt_key(db, tenant=tenant.name, secret=SECRET).private_key.public_key()
    lists = lambda url: published_status_list(db, url)  # noqa: E731
    assert verify_jwt(token, keys=trusted_keys([public]), status_resolver=lists)["verified"]
    served = client.post("/v1/badges/verify", headers=tenant.admin, json={"jwt": token})
    assert served.status_code == 200 and served.json()["verified"], served.text
    client.post(f"/v1/badges/{badge['badge_id']}/revoke", headers=tenant.admin)
    after = client.post("/v1/badges/verify", headers=tenant.admin, json={"jwt": token}).json()
    assert after["verified"] is False and "revoked" in [e["code"] for e in after["errors"]]
    other = client.post("/v1/badges/verify", headers=tenant.admin,
                        json={"credential": badge["credential"]}).json()
    assert [e["code"] for e in other["errors"]] == ["revoked"]
