"""Offline verification: a did:key-signed OB 3.0 credential, tampering, dates, the CLI."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from api.cli import app
from guidance.badges.contexts import OB_V3, VC_V2
from guidance.badges.multikey import did_key, did_key_method, public_multibase
from guidance.badges.proof import sign
from guidance.badges.verify import verify_credential

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUB = public_multibase(KEY.public_key())
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _badge() -> dict:
    """A credential shaped like a Zapcat skill badge (score and level results)."""
    unsigned = {
        "@context": [VC_V2, OB_V3],
        "id": "urn:uuid:3f1c2a52-8f7e-4a4e-9a43-5d0b5e0f8a11",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": did_key(PUB), "type": ["Profile"], "name": "Demo tenant"},
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2028-01-01T00:00:00Z",
        "name": "Coding: Proficient",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{
                "type": "IdentityObject", "identityHash": "sha256$" + "ab" * 32,
                "identityType": "identifier", "hashed": True, "salt": "s4lt",
            }],
            "achievement": {
                "id": "urn:zapcat:achievement:coding:proficient",
                "type": ["Achievement"], "achievementType": "Assessment",
                "name": "Coding", "description": "Coding skill at level Proficient",
                "criteria": {"narrative": "Reach level Proficient on the adaptive test."},
            },
            "result": [{"type": ["Result"], "value": "612"},
                       {"type": ["Result"], "achievedLevel": "urn:zapcat:level:proficient"}],
        },
    }  # fmt: skip
    options = {
        "type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-01-01T00:00:00Z", "verificationMethod": did_key_method(PUB),
        "proofPurpose": "assertionMethod",
    }  # fmt: skip
    return sign(unsigned, options, KEY)


def test_signed_badge_verifies():
    result = verify_credential(_badge(), now=NOW)
    assert result == {
        "verified": True, "errors": [], "warnings": [],
        "checks": {"proof": "ok", "validity": "ok", "status": "not_applicable"},
    }  # fmt: skip


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b["credentialSubject"]["result"][0].update(value="613"),
        lambda b: b["credentialSubject"]["result"][1].update(
            achievedLevel="urn:zapcat:level:proficienT"
        ),
        lambda b: b["credentialSubject"]["identifier"][0].update(
            identityHash="sha256$" + "ab" * 31 + "ac"
        ),
        lambda b: b.update(validUntil="2029-01-01T00:00:00Z"),
        lambda b: b.update(validFrom="2025-01-01T00:00:00Z"),
    ],
    ids=["score", "level", "subject", "validUntil", "validFrom"],
)
def test_one_character_changed_fails(edit):
    badge = copy.deepcopy(_badge())
    edit(badge)
    result = verify_credential(badge, now=NOW)
    assert not result["verified"]
    assert result["checks"]["proof"] == "failed"
    assert result["errors"][0]["code"] == "bad_signature"


def test_other_key_fails():
    badge = _badge()
    other = public_multibase(Ed25519PrivateKey.generate().public_key())
    badge["proof"]["verificationMethod"] = did_key_method(other)
    assert verify_credential(badge, now=NOW)["errors"][0]["code"] == "issuer_key_mismatch"


def test_forged_issuer_is_refused():
    """Signed correctly by an attacker's did:key, but naming the demo tenant as issuer."""
    attacker = Ed25519PrivateKey.generate()
    method = did_key_method(public_multibase(attacker.public_key()))
    unsigned = {k: v for k, v in _badge().items() if k != "proof"}
    options = {**_badge()["proof"], "verificationMethod": method}
    del options["proofValue"]
    forged = sign(unsigned, options, attacker)
    result = verify_credential(forged, now=NOW)
    assert [e["code"] for e in result["errors"]] == ["issuer_key_mismatch"]
    assert result["checks"]["proof"] == "failed"


def test_dates():
    early = verify_credential(_badge(), now=datetime(2025, 1, 1, tzinfo=UTC))
    late = verify_credential(_badge(), now=datetime(2028, 1, 2, tzinfo=UTC))
    assert early["checks"] == {"proof": "ok", "validity": "failed", "status": "not_applicable"}
    assert [e["code"] for e in early["errors"]] == ["not_yet_valid"]
    assert [e["code"] for e in late["errors"]] == ["expired"]


def test_cli_verify(tmp_path):
    good = tmp_path / "badge.json"
    good.write_text(json.dumps(_badge()))
    bad_badge = _badge()
    bad_badge["credentialSubject"]["result"][0]["value"] = "999"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_badge))
    runner = CliRunner()
    ok = runner.invoke(app, ["badge", "verify", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "proof: ok" in ok.output and "verified" in ok.output
    ko = runner.invoke(app, ["badge", "verify", str(bad)])
    assert ko.exit_code == 1
    assert "bad_signature" in ko.output and "NOT verified" in ko.output
