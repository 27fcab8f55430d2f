"""VC-JWT (RS256) against the OB 3.0 JWT proof format, checked with ``cryptography`` alone.

Independent truth: the JOSE header and claims table of Open Badges 3.0 section 8.2 (1EdTech
openbadges-specification, ob_v3p0/integrity.md at 1af145f), and RFC 7515 / RFC 7518 RS256
(RSASSA-PKCS1-v1_5 with SHA-256 over ``BASE64URL(header) || '.' || BASE64URL(payload)``),
computed here with ``cryptography`` and ``json``, without PyJWT.
"""

from __future__ import annotations

import base64
import calendar
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from guidance.badges.contexts import OB_V3, VC_V2
from guidance.badges.errors import BadgeError
from guidance.badges.jwt import public_jwk, sign_jwt, trusted_keys, verify_jwt
from guidance.badges.multikey import did_key, did_key_method, public_multibase
from guidance.badges.proof import sign
from guidance.badges.status_list import (
    BitstringStatusList,
    status_list_credential,
    status_list_entry,
)

ISSUER = "did:web:badges.example.org"
KID = ISSUER + "#rsa-1"
LIST_URL = "https://badges.example.org/v1/status/demo/revocation/1"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def keys(key):
    return trusted_keys([public_jwk(key.public_key(), kid=KID)])


def _badge(**extra) -> dict:
    return {
        "@context": [VC_V2, OB_V3],
        "id": "urn:uuid:6f1c2a52-8f7e-4a4e-9a43-5d0b5e0f8a13",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": ISSUER, "type": ["Profile"], "name": "Demo tenant"},
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2028-01-01T00:00:00Z",
        "name": "Coding: Proficient",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "achievement": {"id": "urn:zapcat:achievement:coding", "type": ["Achievement"]},
            "result": [{"type": ["Result"], "value": "612"}],
        },
        **extra,
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hand_made(header: dict, payload: dict, key) -> str:
    """A compact JWS built from RFC 7515 with ``cryptography`` only."""
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64(signature)


def _claims_for(badge: dict) -> dict:
    return {
        "iss": ISSUER, "jti": badge["id"],
        "nbf": calendar.timegm((2026, 1, 1, 0, 0, 0)),
        "exp": calendar.timegm((2028, 1, 1, 0, 0, 0)),
    }  # fmt: skip


def test_header_and_claims_follow_ob30(key):
    token = sign_jwt(_badge(), key, kid=KID)
    head, body, _sig = token.split(".")
    assert json.loads(_unb64(head)) == {"alg": "RS256", "typ": "JWT", "kid": KID}
    payload = json.loads(_unb64(body))
    assert payload == {**_badge(), **_claims_for(_badge())}
    assert payload["nbf"] == 1_767_225_600 and "sub" not in payload and "vc" not in payload
    with_id = _badge()
    with_id["credentialSubject"]["id"] = "did:example:learner-1"
    sub = json.loads(_unb64(sign_jwt(with_id, key, kid=KID).split(".")[1]))["sub"]
    assert sub == "did:example:learner-1"


def test_signature_checks_with_cryptography_alone(key):
    token = sign_jwt(_badge(), key, kid=KID, include_jwk=True)
    head, body, sig = token.split(".")
    key.public_key().verify(
        _unb64(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    jwk = json.loads(_unb64(head))["jwk"]
    assert set(jwk) == {"kty", "n", "e"} and jwk["kty"] == "RSA"
    numbers = key.public_key().public_numbers()
    assert int.from_bytes(_unb64(jwk["n"]), "big") == numbers.n
    assert int.from_bytes(_unb64(jwk["e"]), "big") == numbers.e == 65537


def test_hand_made_token_verifies(key, keys):
    badge = _badge()
    token = _hand_made({"alg": "RS256", "kid": KID}, {**badge, **_claims_for(badge)}, key)
    result = verify_jwt(token, keys=keys, now=NOW)
    assert result == {
        "verified": True, "errors": [], "warnings": [],
        "checks": {"proof": "ok", "validity": "ok", "status": "not_applicable"},
    }  # fmt: skip


def test_round_trip_kid_or_embedded_trusted_jwk(key, keys):
    assert verify_jwt(sign_jwt(_badge(), key, kid=KID), keys=keys, now=NOW)["verified"]
    by_value = trusted_keys([key.public_key()])
    token = sign_jwt(_badge(), key, include_jwk=True)
    assert verify_jwt(token, keys=by_value, now=NOW)["verified"]


def test_untrusted_embedded_key_is_refused(keys):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = sign_jwt(_badge(), other, kid=KID + "x", include_jwk=True)
    result = verify_jwt(token, keys=keys, now=NOW)
    assert [e["code"] for e in result["errors"]] == ["unresolvable_key"]
    assert result["checks"] == {"proof": "failed", "validity": "not_checked",
                                "status": "not_checked"}  # fmt: skip
    forged = sign_jwt(_badge(), other, kid=KID)  # claims the trusted kid, signed by another key
    assert [e["code"] for e in verify_jwt(forged, keys=keys, now=NOW)["errors"]] == [
        "bad_signature"
    ]


def _tampered_payload(token: str) -> str:
    head, body, sig = token.split(".")
    payload = json.loads(_unb64(body))
    payload["credentialSubject"]["result"][0]["value"] = "613"
    return f"{head}.{_b64(json.dumps(payload).encode())}.{sig}"


def _mutations(key):
    badge = _badge()
    claims = {**badge, **_claims_for(badge)}
    good = sign_jwt(badge, key, kid=KID)
    secret = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    hs_input = _b64(b'{"alg":"HS256","kid":"%s"}' % KID.encode()) + "." + good.split(".")[1]
    import hmac

    hs = hs_input + "." + _b64(hmac.new(secret, hs_input.encode(), "sha256").digest())
    none = _b64(b'{"alg":"none","kid":"x"}') + "." + good.split(".")[1] + "."
    return {
        "score": (_tampered_payload(good), "bad_signature"),
        "signature-swapped": (good.rsplit(".", 1)[0] + "." + sign_jwt(
            _badge(name="Other"), key, kid=KID).rsplit(".", 1)[1], "bad_signature"),
        "hs256-confusion": (hs, "invalid_jwt"),
        "alg-none": (none, "invalid_jwt"),
        "extra-header": (_hand_made({"alg": "RS256", "kid": KID, "x5u": "https://e.org"},
                                    claims, key), "invalid_jwt"),
        "typ": (_hand_made({"alg": "RS256", "kid": KID, "typ": "JOSE"}, claims, key),
                "invalid_jwt"),
        "no-key-named": (_hand_made({"alg": "RS256"}, claims, key), "invalid_jwt"),
        "jti": (_hand_made({"alg": "RS256", "kid": KID}, {**claims, "jti": "urn:x"}, key),
                "claim_mismatch"),
        "iss": (_hand_made({"alg": "RS256", "kid": KID}, {**claims, "iss": "did:web:x"}, key),
                "claim_mismatch"),
        "nbf": (_hand_made({"alg": "RS256", "kid": KID}, {**claims, "nbf": claims["nbf"] - 1},
                           key), "claim_mismatch"),
        "exp-missing": (_hand_made({"alg": "RS256", "kid": KID},
                                   {k: v for k, v in claims.items() if k != "exp"}, key),
                        "claim_mismatch"),
        "vc-claim": (_hand_made({"alg": "RS256", "kid": KID}, {**claims, "vc": badge}, key),
                     "invalid_jwt"),
        "two-parts": (good.rsplit(".", 1)[0], "invalid_jwt"),
        "garbage": ("a.b.c", "invalid_jwt"),
    }  # fmt: skip


MUTATIONS = [
    "score", "signature-swapped", "hs256-confusion", "alg-none", "extra-header", "typ",
    "no-key-named", "jti", "iss", "nbf", "exp-missing", "vc-claim", "two-parts", "garbage",
]  # fmt: skip


@pytest.mark.parametrize("name", MUTATIONS)
def test_tampered_or_malformed_tokens_fail(name, key, keys):
    token, code = _mutations(key)[name]
    result = verify_jwt(token, keys=keys, now=NOW)
    assert not result["verified"]
    assert [e["code"] for e in result["errors"]] == [code]
    assert result["checks"]["proof"] == "failed"


def test_dates(key, keys):
    token = sign_jwt(_badge(), key, kid=KID)
    early = verify_jwt(token, keys=keys, now=datetime(2025, 12, 31, tzinfo=UTC))
    late = verify_jwt(token, keys=keys, now=datetime(2028, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert [e["code"] for e in early["errors"]] == ["not_yet_valid"]
    assert [e["code"] for e in late["errors"]] == ["expired"]
    assert late["checks"] == {"proof": "ok", "validity": "failed", "status": "not_applicable"}


def test_status_with_a_jwt_list_and_a_data_integrity_list(key, keys):
    badge = _badge(credentialStatus=status_list_entry(LIST_URL, 4000))
    token = sign_jwt(badge, key, kid=KID)
    bits = BitstringStatusList()
    clean = sign_jwt(status_list_credential(ISSUER, LIST_URL, bits, NOW - timedelta(days=1)),
                     key, kid=KID)  # fmt: skip
    bits.set(4000, True)
    revoked = sign_jwt(status_list_credential(ISSUER, LIST_URL, bits, NOW - timedelta(days=1)),
                       key, kid=KID)  # fmt: skip
    assert verify_jwt(token, keys=keys, now=NOW, status_resolver={LIST_URL: clean}.get)[
        "checks"
    ] == {"proof": "ok", "validity": "ok", "status": "ok"}
    result = verify_jwt(token, keys=keys, now=NOW, status_resolver={LIST_URL: revoked}.get)
    assert [e["code"] for e in result["errors"]] == ["revoked"]
    unavailable = verify_jwt(token, keys=keys, now=NOW)
    assert unavailable["verified"] and unavailable["checks"]["status"] == "not_checked"
    # a Data Integrity list of another issuer (a did:key) is refused for this did:web badge
    ed = Ed25519PrivateKey.generate()
    pub = public_multibase(ed.public_key())
    di_list = sign(
        status_list_credential(did_key(pub), LIST_URL, bits, NOW - timedelta(days=1)),
        {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
         "created": "2026-01-01T00:00:00Z", "verificationMethod": did_key_method(pub),
         "proofPurpose": "assertionMethod"},
        ed,
    )  # fmt: skip
    other = verify_jwt(token, keys=keys, now=NOW, status_resolver={LIST_URL: di_list}.get)
    assert [e["code"] for e in other["errors"]] == ["status_list_issuer_mismatch"]


def test_sign_errors(key):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(BadgeError, match="1024 bits"):
        sign_jwt(_badge(), small, kid=KID)
    with pytest.raises(BadgeError, match="names its key"):
        sign_jwt(_badge(), key)
    with pytest.raises(BadgeError, match="needs an 'id'"):
        sign_jwt({k: v for k, v in _badge().items() if k != "id"}, key, kid=KID)
    with pytest.raises(BadgeError, match="RSA private key"):
        sign_jwt(_badge(), Ed25519PrivateKey.generate(), kid=KID)
    with pytest.raises(BadgeError, match="private key"):
        trusted_keys([{**public_jwk(key.public_key()), "d": "AQAB"}])
