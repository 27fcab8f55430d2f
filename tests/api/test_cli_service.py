"""``zapcat keys`` and the demo set-up of ``zapcat serve --demo``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from api.cli import app as cli
from api.db import Database
from api.services.demo import setup_demo
from api.services.keys import KeyVerifier
from api.settings import Settings


def test_keys_create_prints_a_working_key_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["keys", "create", "--tenant", "acme", "--scope", "deliver", "--database-url", url]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    db = Database(Settings(url))
    principal = KeyVerifier(db).verify(f"Bearer {token}")
    assert (principal.tenant, principal.scope) == ("acme", "deliver")
    listing = runner.invoke(cli, ["keys", "list", "--database-url", url])
    assert principal.key_id in listing.stdout and token.split("_", 2)[2] not in listing.stdout
    revoke = runner.invoke(cli, ["keys", "revoke", principal.key_id, "--database-url", url])
    assert revoke.exit_code == 0
    bad = runner.invoke(
        cli,
        ["keys", "create", "--tenant", "bad tenant!", "--scope", "admin", "--database-url", url],
    )
    assert bad.exit_code == 1 and "tenant" in bad.output
    db.dispose()


def test_demo_setup_is_idempotent_and_usable(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    app = create_app(Settings(url))
    db = app.state.context.db
    first = setup_demo(db)
    second = setup_demo(db)
    assert first["assessment_id"] == second["assessment_id"]
    assert first["battery_assessment_id"] == second["battery_assessment_id"]
    assert first["catalogue"] == second["catalogue"] == {"name": "demo-catalogue",
                                                          "version": 1}
    assert first["bank_version"] == second["bank_version"] == 1
    assert first["deliver_key"] != second["deliver_key"]
    with TestClient(app) as client:
        reply = client.post(
            "/v1/sessions",
            json={"assessment_id": first["assessment_id"], "examinee_ref": "demo"},
            headers={"Authorization": f"Bearer {second['deliver_key']}"},
        )
        assert reply.status_code == 201 and reply.json()["item"]["item_id"]
        reply = client.post(
            "/v1/sessions",
            json={"assessment_id": first["battery_assessment_id"], "examinee_ref": "demo"},
            headers={"Authorization": f"Bearer {second['deliver_key']}"},
        )
        assert reply.status_code == 201
        assert reply.json()["item"]["section"] == {"skill_id": "coding", "index": 1, "of": 3}
        # the practice test: practice items only, each reply with the item's explanation
        assert first["practice_assessment_id"] == second["practice_assessment_id"]
        from item_banks.examples.practice_demo import build_practice_demo

        practice = build_practice_demo()
        headers = {"Authorization": f"Bearer {second['deliver_key']}"}
        body = client.post("/v1/sessions", headers=headers, json={
            "assessment_id": first["practice_assessment_id"], "examinee_ref": "demo"}).json()
        item_id = body["item"]["item_id"]
        reply = client.post(f"/v1/sessions/{body['session_id']}/responses", headers=headers,
                            json={"item_id": item_id, "seq": 1, "response": 1}).json()
        assert reply["feedback"]["item"]["explanation"] == practice[item_id].feedback[1]
        assert client.get(f"/v1/sessions/{body['session_id']}",
                          headers=headers).json()["practice"] is True
        # one set of live demo keys, not a pile: the keys printed before are revoked
        stale = client.get("/v1/banks", headers={"Authorization": f"Bearer {first['admin_key']}"})
        assert stale.status_code == 401
    with db.read() as session:
        from sqlalchemy import select

        from api.models import ApiKey

        live = session.scalars(
            select(ApiKey).where(ApiKey.tenant == "demo", ApiKey.revoked_at.is_(None))
        ).all()
    assert sorted(k.scope for k in live) == ["admin", "deliver"]
    db.dispose()


def test_http_protocol_sets_tcp_nodelay_on_sockets_uvicorn_binds():
    """uvicorn --workers binds with proto 0, so asyncio leaves Nagle on; we turn it off."""
    import socket

    from api.server import NoDelayH11Protocol

    listener = socket.socket(socket.AF_INET)  # as uvicorn's Config.bind_socket: proto 0
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0

    class Transport:
        def get_extra_info(self, name, default=None):
            return {
                "socket": accepted,
                "peername": ("127.0.0.1", 1),
                "sockname": ("127.0.0.1", 2),
            }.get(name, default)

    protocol = NoDelayH11Protocol.__new__(NoDelayH11Protocol)
    try:
        protocol.connection_made(Transport())
    except Exception:
        pass  # the half-built protocol may fail after the option is set; only that matters
    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    for sock in (client, accepted, listener):
        sock.close()


def test_demo_secret_is_made_once_kept_private_and_env_wins(tmp_path, monkeypatch):
    import stat

    from api.cli.serve import DEMO_SECRET_FILE, demo_secret

    monkeypatch.delenv("ZAPCAT_SECRET_KEY", raising=False)
    secret, source = demo_secret(str(tmp_path))
    path = tmp_path / DEMO_SECRET_FILE
    assert source == f"{path} (new)" and len(secret) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_secret(str(tmp_path)) == (secret, str(path))  # the same on the next run
    monkeypatch.setenv("ZAPCAT_SECRET_KEY", "from-the-environment-" + "e" * 20)
    assert demo_secret(str(tmp_path))[1] == "$ZAPCAT_SECRET_KEY"
    assert DEMO_SECRET_FILE in (Path(__file__).parents[2] / ".gitignore").read_text()
