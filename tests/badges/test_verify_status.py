"""Status checking in verify_credential: signed status lists supplied locally, never fetched."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from guidance.badges.contexts import OB_V3, VC_V2
from guidance.badges.multikey import did_key, did_key_method, public_multibase
from guidance.badges.proof import sign
from guidance.badges.status_list import (
    BitstringStatusList,
    status_list_credential,
    status_list_entry,
)
from guidance.badges.verify import ERROR_CODES, verify_credential

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PUB = public_multibase(KEY.public_key())
ISSUER = did_key(PUB)
REVOKE_URL = "https://badges.example.org/v1/status/demo/revocation/1"
SUSPEND_URL = "https://badges.example.org/v1/status/demo/suspension/1"
INDEX = 94567
NOW = datetime(2026, 6, 1, tzinfo=UTC)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _options(key=KEY):
    pub = public_multibase(key.public_key())
    return {
        "type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-01-01T00:00:00Z", "verificationMethod": did_key_method(pub),
        "proofPurpose": "assertionMethod",
    }  # fmt: skip


def _badge(status) -> dict:
    unsigned = {
        "@context": [VC_V2, OB_V3],
        "id": "urn:uuid:9e1c2a52-8f7e-4a4e-9a43-5d0b5e0f8a12",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": ISSUER, "type": ["Profile"], "name": "Demo tenant"},
        "validFrom": "2026-01-01T00:00:00Z",
        "name": "Coding: Proficient",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "urn:zapcat:achievement:coding:proficient", "type": ["Achievement"],
                "name": "Coding", "criteria": {"narrative": "Reach level Proficient."},
            },
        },
        "credentialStatus": status,
    }  # fmt: skip
    return sign(unsigned, _options(), KEY)


def _list(set_bits=(), *, url=REVOKE_URL, purpose="revocation", key=KEY, issuer=None, **kw):
    bits = BitstringStatusList(kw.pop("length", 131_072), minimum_length=8)
    for i in set_bits:
        bits.set(i, True)
    issuer = issuer or did_key(public_multibase(key.public_key()))
    unsigned = status_list_credential(issuer, url, bits, kw.pop("valid_from", T0),
                                      purpose=purpose, **kw)  # fmt: skip
    return sign(unsigned, _options(key), key)


def _verify(badge, *lists, **kw):
    by_url = {doc["id"] if isinstance(doc, dict) else None: doc for doc in lists}
    return verify_credential(badge, now=NOW, status_resolver=by_url.get, **kw)


def _codes(result, key="errors"):
    return [e["code"] for e in result[key]]


def test_not_revoked_verifies():
    result = _verify(_badge(status_list_entry(REVOKE_URL, INDEX)), _list([INDEX - 1, INDEX + 1]))
    assert result["verified"] and result["errors"] == [] and result["warnings"] == []
    assert result["checks"] == {"proof": "ok", "validity": "ok", "status": "ok"}


def test_revoked_bit_fails_with_revoked():
    result = _verify(_badge(status_list_entry(REVOKE_URL, INDEX)), _list([INDEX]))
    assert not result["verified"]
    assert result["checks"] == {"proof": "ok", "validity": "ok", "status": "failed"}
    assert _codes(result) == ["revoked"]
    assert str(INDEX) in result["errors"][0]["message"]


def test_two_entries_revocation_and_suspension():
    badge = _badge([status_list_entry(REVOKE_URL, 5),
                    status_list_entry(SUSPEND_URL, 7, "suspension")])  # fmt: skip
    ok = _verify(badge, _list(), _list(url=SUSPEND_URL, purpose="suspension"))
    assert ok["verified"] and ok["checks"]["status"] == "ok"
    suspended = _verify(badge, _list(), _list([7], url=SUSPEND_URL, purpose="suspension"))
    assert _codes(suspended) == ["suspended"]
    half = _verify(badge, _list())  # the suspension list is not supplied
    assert half["verified"] and half["checks"]["status"] == "not_checked"
    assert _codes(half, "warnings") == ["status_unavailable"]


def test_no_list_is_reported_honestly():
    badge = _badge(status_list_entry(REVOKE_URL, INDEX))
    plain = verify_credential(badge, now=NOW)
    assert plain["checks"]["status"] == "not_checked"
    assert _codes(plain, "warnings") == ["status_unavailable"]
    assert REVOKE_URL in plain["warnings"][0]["message"]
    strict = verify_credential(badge, now=NOW, require_status=True)
    assert not strict["verified"] and _codes(strict) == ["status_unavailable"]
    assert strict["checks"]["status"] == "failed"


def _reissued(doc, **changes):
    """``doc`` re-signed with some top-level fields changed (a consistently signed list)."""
    unsigned = {k: v for k, v in doc.items() if k != "proof"} | changes
    return sign(unsigned, _options(), KEY)


OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda: _list(key=OTHER), "status_list_issuer_mismatch"),
        (lambda: _list(key=OTHER, issuer=ISSUER), "status_list_invalid"),
        (lambda: {k: v for k, v in _list().items() if k != "proof"}, "status_list_invalid"),
        (lambda: _list(valid_until=NOW - timedelta(days=1)), "status_list_expired"),
        (lambda: _list(valid_from=NOW + timedelta(days=1)), "status_list_not_yet_valid"),
        (lambda: _list(purpose="suspension"), "status_purpose_mismatch"),
        (lambda: _list(length=100_000), "status_list_too_short"),
        (lambda: {**_reissued(_list(), type=["VerifiableCredential"]), "id": REVOKE_URL},
         "status_list_invalid"),
    ],
    ids=["other-issuer", "issuer-named-other-key", "unsigned", "expired", "not-yet-valid",
         "purpose", "too-short", "not-a-list-type"],
)  # fmt: skip
def test_bad_status_lists(make, code):
    result = _verify(_badge(status_list_entry(REVOKE_URL, INDEX)), make())
    assert not result["verified"] and result["checks"]["proof"] == "ok"
    assert result["checks"]["status"] == "failed"
    assert _codes(result) == [code]
    assert code in ERROR_CODES


def test_tampered_list_fails():
    """A bit cleared after signing (hiding a revocation) breaks the list's signature."""
    listed = _list([INDEX])
    tampered = copy.deepcopy(listed)
    tampered["credentialSubject"]["encodedList"] = BitstringStatusList().encode()
    result = _verify(_badge(status_list_entry(REVOKE_URL, INDEX)), tampered)
    assert _codes(result) == ["status_list_invalid"]
    assert "bad_signature" in result["errors"][0]["message"]


def test_list_served_at_another_url():
    listed = _list(url="https://badges.example.org/v1/status/demo/revocation/2")
    result = verify_credential(
        _badge(status_list_entry(REVOKE_URL, INDEX)), now=NOW,
        status_resolver=lambda url: listed,
    )  # fmt: skip
    assert _codes(result) == ["status_list_invalid"]
    assert "revocation/2" in result["errors"][0]["message"]


def test_index_out_of_range():
    result = _verify(_badge(status_list_entry(REVOKE_URL, 131_072)), _list())
    assert _codes(result) == ["status_index_out_of_range"]


@pytest.mark.parametrize(
    "edit, code, key",
    [
        (lambda e: e.update(statusListIndex="01"), "invalid_status", "errors"),
        (lambda e: e.update(statusListIndex="-1"), "invalid_status", "errors"),
        (lambda e: e.update(statusListIndex=7), "invalid_status", "errors"),
        (lambda e: e.update(statusPurpose="message"), "unsupported_status", "warnings"),
        (lambda e: e.update(statusSize=2), "unsupported_status", "warnings"),
    ],
)
def test_malformed_or_unsupported_entries(edit, code, key):
    entry = status_list_entry(REVOKE_URL, INDEX)
    edit(entry)
    badge = _badge(entry)
    result = _verify(badge, _list())
    assert _codes(result, key) == [code]
    assert result["checks"]["status"] == ("failed" if key == "errors" else "not_checked")


def test_changed_status_entry_breaks_the_badge_signature():
    """Pointing a revoked badge at a fresh index is caught by the badge's own proof."""
    badge = _badge(status_list_entry(REVOKE_URL, INDEX))
    badge["credentialStatus"] = status_list_entry(REVOKE_URL, INDEX + 1)
    result = _verify(badge, _list([INDEX]))
    assert result["checks"]["proof"] == "failed" and "bad_signature" in _codes(result)
