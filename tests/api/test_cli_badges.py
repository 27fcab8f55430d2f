"""``zapcat badge issue | revoke | rotate | issuer`` on the service's database."""

from __future__ import annotations

import json

from badge_helpers import SECRET, status_bit, strong_battery_session
from typer.testing import CliRunner

from api.cli import app as cli


def test_badge_commands_issue_verify_revoke_rotate(badge_client, database_url, tenant,
                                                   tmp_path, monkeypatch):
    monkeypatch.setenv("ZAPCAT_SECRET_KEY", SECRET)
    runner = CliRunner()
    _, sid = strong_battery_session(badge_client, tenant, seed=31)
    base = ["--tenant", tenant.name, "--database-url", database_url]
    missing = runner.invoke(cli, ["badge", "issue", sid, *base])
    assert missing.exit_code == 1 and "--public-url" in missing.output
    out = tmp_path / "badges"
    done = runner.invoke(cli, ["badge", "issue", sid, *base, "--public-url",
                               "http://testserver", "--skill", "coding", "--out", str(out)])
    assert done.exit_code == 0, done.output
    badge_id = done.stdout.split()[0]
    path = out / f"{badge_id}.json"
    verified = runner.invoke(cli, ["badge", "verify", str(path)])
    assert verified.exit_code == 0 and "verified" in verified.stdout
    credential = json.loads(path.read_text())
    api = badge_client.get(f"/v1/badges/{badge_id}", headers=tenant.admin).json()
    assert api["credential"] == credential and api["skill_id"] == "coding"
    revoked = runner.invoke(cli, ["badge", "revoke", badge_id, *base])
    assert revoked.exit_code == 0, revoked.output
    assert status_bit(badge_client, credential) is True
    other = runner.invoke(cli, ["badge", "revoke", badge_id, "--tenant", "someone-else",
                                "--database-url", database_url])
    assert other.exit_code == 1 and "not found" in other.output
    rotated = runner.invoke(cli, ["badge", "rotate", *base, "--algorithm", "Ed25519"])
    assert rotated.exit_code == 0, rotated.output
    lines = rotated.stdout.splitlines()
    current = [line for line in lines if "current" in line]
    assert len(current) == 1 and "Ed25519" in current[0]  # no RSA key until a VC-JWT
    assert any(api["key_id"] in line and "retired" in line for line in lines)
    issuer = runner.invoke(cli, ["badge", "issuer", *base, "--name", "Acme",
                                 "--domain", "badges.acme.example:8443"])
    assert issuer.exit_code == 0, issuer.output
    view = json.loads(issuer.stdout)
    assert view["issuer_id"] == f"did:web:badges.acme.example%3A8443:tenants:{tenant.name}"
    monkeypatch.delenv("ZAPCAT_SECRET_KEY")
    nosecret = runner.invoke(cli, ["badge", "rotate", *base])
    assert nosecret.exit_code == 1 and "ZAPCAT_SECRET_KEY" in nosecret.output
