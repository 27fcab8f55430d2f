"""``zapcat badge verify``: JSON and VC-JWT files, --status-list, --at, --jwk, --json."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner

from api.cli import app
from guidance.badges.jwt import public_jwk, sign_jwt
from guidance.badges.proof import sign
from guidance.badges.status_list import (
    BitstringStatusList,
    status_list_credential,
    status_list_entry,
)
from tests.badges.test_verify_status import ISSUER, KEY, _badge, _options

URL = "https://badges.example.org/v1/status/demo/revocation/1"
runner = CliRunner()


def _signed_list(revoked: bool) -> dict:
    bits = BitstringStatusList()
    if revoked:
        bits.set(4000, True)
    unsigned = status_list_credential(ISSUER, URL, bits, datetime(2026, 1, 1, tzinfo=UTC))
    return sign(unsigned, _options(), KEY)


@pytest.fixture
def files(tmp_path):
    badge = tmp_path / "badge.json"
    badge.write_text(json.dumps(_badge(status_list_entry(URL, 4000))))
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(_signed_list(False)))
    revoked = tmp_path / "revoked.json"
    revoked.write_text(json.dumps(_signed_list(True)))
    return badge, clean, revoked


def _run(*args):
    return runner.invoke(app, ["badge", "verify", *map(str, args)])


def test_status_list_files(files):
    badge, clean, revoked = files
    ok = _run(badge, "--status-list", clean, "--at", "2026-06-01T00:00:00Z")
    assert ok.exit_code == 0, ok.output
    assert "status: ok" in ok.output and "verified" in ok.output
    ko = _run(badge, "--status-list", revoked, "--at", "2026-06-01T00:00:00Z")
    assert ko.exit_code == 1
    assert "revoked" in ko.output and "status: failed" in ko.output and "NOT verified" in ko.output


def test_without_a_list_the_status_is_not_checked(files):
    badge, _clean, _revoked = files
    plain = _run(badge, "--at", "2026-06-01T00:00:00Z")
    assert plain.exit_code == 0 and "status: not_checked" in plain.output
    assert "status_unavailable" in plain.output
    strict = _run(badge, "--require-status", "--at", "2026-06-01T00:00:00Z")
    assert strict.exit_code == 1 and "status_unavailable" in strict.output


def test_at_and_json(files):
    badge, clean, _revoked = files
    early = _run(badge, "--status-list", clean, "--at", "2025-06-01T00:00:00+02:00", "--json")
    assert early.exit_code == 1
    result = json.loads(early.output)
    assert [e["code"] for e in result["errors"]] == ["not_yet_valid", "status_list_not_yet_valid"]
    naive = _run(badge, "--at", "2026-06-01T00:00:00")
    assert naive.exit_code == 2 and "time zone" in naive.output
    assert _run(badge, "--at", "June").exit_code == 2


def test_unreadable_inputs(tmp_path, files):
    badge, _clean, _revoked = files
    junk = tmp_path / "junk.txt"
    junk.write_text("not a badge")
    assert _run(junk).exit_code == 2
    nolist = tmp_path / "noid.json"
    nolist.write_text("{}")
    out = _run(badge, "--status-list", nolist)
    assert out.exit_code == 2 and "no 'id'" in out.output


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_jwt_file_with_jwk_or_pem(tmp_path, rsa_key):
    kid = "did:web:badges.example.org#rsa-1"
    unsigned = {k: v for k, v in _badge(status_list_entry(URL, 4000)).items() if k != "proof"}
    unsigned["issuer"] = {**unsigned["issuer"], "id": "did:web:badges.example.org"}
    token = tmp_path / "badge.jwt"
    token.write_text(sign_jwt(unsigned, rsa_key, kid=kid) + "\n")
    jwk = tmp_path / "key.jwk"
    jwk.write_text(json.dumps(public_jwk(rsa_key.public_key(), kid=kid)))
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        rsa_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    bits = BitstringStatusList()
    bits.set(4000, True)
    listed = status_list_credential("did:web:badges.example.org", URL, bits,
                                    datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    jwt_list = tmp_path / "list.jwt"
    jwt_list.write_text(sign_jwt(listed, rsa_key, kid=kid))
    at = ("--at", "2026-06-01T00:00:00Z")
    ok = _run(token, "--jwk", jwk, *at)
    assert ok.exit_code == 0, ok.output
    assert "VC-JWT" in ok.output and "proof: ok" in ok.output
    assert _run(token, "--jwk", pem, *at).exit_code == 0
    revoked = _run(token, "--jwk", jwk, "--status-list", jwt_list, *at)
    assert revoked.exit_code == 1 and "revoked" in revoked.output
    untrusted = _run(token, *at)
    assert untrusted.exit_code == 1 and "unresolvable_key" in untrusted.output
