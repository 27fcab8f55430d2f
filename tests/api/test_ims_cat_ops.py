"""1EdTech CAT API operations: OAuth 2 tokens, concurrent results, idle-session clean-up."""

from __future__ import annotations

import base64
import threading
import time
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from api.db import Database
from api.models import TestSession, utcnow
from api.services import ims_cat
from api.services.cleanup import close_idle_sessions
from api.services.keys import Principal
from api.services.tokens import TOKEN_PREFIX, sign
from api.settings import Settings
from tests.api.conftest import make_tenant
from tests.api.helpers import make_assessment
from tests.api.ims_client import PREFIX, CatClient, outcomes, section_body
from tests.api.test_ims_cat import _imsx, _section

TOKEN = "/ims/cat/oauth2/token"


def _split(key: str) -> tuple[str, str]:
    _, key_id, secret = key.split("_", 2)
    return key_id, secret


def test_client_credentials_tokens(client, tenant, other_tenant):
    key_id, secret = _split(tenant.deliver_key)
    form = {"grant_type": "client_credentials", "client_id": key_id, "client_secret": secret}
    reply = client.post(TOKEN, data=form)
    assert reply.status_code == 200, reply.text
    assert reply.headers["cache-control"] == "no-store"
    token = reply.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 900
    assert token["scope"] == "deliver" and token["access_token"].startswith(TOKEN_PREFIX)
    basic = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    by_basic = client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert by_basic.status_code == 200, by_basic.text
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assessment_id = make_assessment(client, tenant)
    section_id = _section(client, bearer, {"assessment_id": assessment_id})
    cat = CatClient(client, bearer, section_id)
    cat.start()
    assert cat.answer(1)["nextItems"]["itemIdentifiers"]
    # scoped to the tenant: another tenant's token does not see the section
    o_id, o_secret = _split(other_tenant.deliver_key)
    other = client.post(
        TOKEN,
        json={"grant_type": "client_credentials", "client_id": o_id, "client_secret": o_secret},
    ).json()["access_token"]
    reply = client.post(
        f"{PREFIX}/sections/{section_id}/sessions",
        json={"priorData": []},
        headers={"Authorization": f"Bearer {other}"},
    )
    _imsx(reply, 404, "not_found")
    # and to the key's scope: a delivery token does not see hidden results, an admin one does
    hidden = make_assessment(client, tenant, {"max_items": 2, "stop_se": None,
                                              "show_results": False})  # fmt: skip
    a_id, a_secret = _split(tenant.admin_key)
    admin = client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "client_id": a_id, "client_secret": a_secret},
    ).json()
    assert admin["scope"] == "admin"
    seen = {}
    for name, access in (("deliver", token["access_token"]), ("admin", admin["access_token"])):
        auth = {"Authorization": f"Bearer {access}"}
        cat = CatClient(client, auth, _section(client, auth, {"assessment_id": hidden}))
        cat.start()
        while cat.next_items:
            body = cat.answer(1)
        seen[name] = set(outcomes(body))
    assert seen == {"deliver": {"N_ITEMS", "STOP_REASON"},
                    "admin": {"THETA", "SE", "N_ITEMS", "STOP_REASON"}}  # fmt: skip
    # lenient credentials: "zc_<id>" as client id, the whole key as secret
    whole = client.post(TOKEN, data={"grant_type": "client_credentials",
                                     "client_id": f"zc_{key_id}",
                                     "client_secret": tenant.deliver_key})  # fmt: skip
    assert whole.status_code == 200, whole.text


def test_token_errors(client, tenant):
    key_id, _ = _split(tenant.deliver_key)
    wrong = client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "client_id": key_id, "client_secret": "x" * 43},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert "www-authenticate" in wrong.headers
    grant = client.post(TOKEN, data={"grant_type": "password", "client_id": key_id})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    missing = client.post(TOKEN, data={"grant_type": "client_credentials"})
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_client"
    db = client.app.state.context.db
    claims = {"tenant": tenant.name, "scope": "admin", "key_id": key_id}
    expired = TOKEN_PREFIX + sign(db, "access-token", {**claims, "exp": time.time() - 1})
    reply = client.post(
        f"{PREFIX}/sections",
        json=section_body({"assessment_id": "x"}),
        headers={"Authorization": f"Bearer {expired}"},
    )
    assert "expired" in _imsx(reply, 401, "unauthorized")["imsx_description"]
    assert reply.headers["www-authenticate"] == "Bearer"
    good = TOKEN_PREFIX + sign(db, "access-token", {**claims, "exp": time.time() + 60})
    body, mac = good[len(TOKEN_PREFIX) :].split(".")
    forged = TOKEN_PREFIX + body.replace(body[5], "A" if body[5] != "A" else "B", 1) + "." + mac
    reply = client.post(
        f"{PREFIX}/sections",
        json=section_body({"assessment_id": "x"}),
        headers={"Authorization": f"Bearer {forged}"},
    )
    _imsx(reply, 401, "unauthorized")
    # a session state is not an access token either
    state = TOKEN_PREFIX + sign(db, "session-state", {**claims, "exp": time.time() + 60})
    reply = client.post(
        f"{PREFIX}/sections",
        json=section_body({"assessment_id": "x"}),
        headers={"Authorization": f"Bearer {state}"},
    )
    _imsx(reply, 401, "unauthorized")


def test_concurrent_cumulative_results_apply_once(client, tenant, database_url):
    """Six calls at once, each with its own Database (as separate workers), scores 0/1."""
    assessment_id = make_assessment(client, tenant, {"max_items": 4, "stop_se": None})
    section_id = _section(client, tenant.deliver, {"assessment_id": assessment_id})
    cat = CatClient(client, tenant.deliver, section_id)
    cat.start()
    principal = Principal(tenant.name, "deliver", "test")
    bodies = []
    for score in (0, 1, 0, 1, 0, 1):
        cat.answered = [(cat.next_items[0], score, "FLOAT", "int")]
        bodies.append(cat.payload())
    dbs = [Database(Settings(database_url)) for _ in bodies]
    barrier = threading.Barrier(len(bodies))
    replies: list = [None] * len(bodies)

    def submit(k: int) -> None:
        barrier.wait()
        try:
            replies[k] = ims_cat.submit_results(
                dbs[k],
                principal=principal,
                section_id=section_id,
                session_id=cat.session_id,
                body=bodies[k],
            )
        except Exception as error:  # pragma: no cover - reported by the assert below
            replies[k] = error

    threads = [threading.Thread(target=submit, args=(k,)) for k in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for db in dbs:
        db.dispose()
    assert all(isinstance(r, dict) for r in replies), replies
    assert len({tuple(r["nextItems"]["itemIdentifiers"]) for r in replies}) == 1
    view = client.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
    assert view["n_answered"] == 1 and view["seq"] == 2


def _age(db: Database, session_id: str, seconds: float) -> None:
    with db.write() as session:
        session.execute(
            update(TestSession)
            .where(TestSession.id == session_id)
            .values(updated_at=utcnow() - timedelta(seconds=seconds))
        )


def test_idle_sessions_closed_without_losing_responses(client, tenant):
    db = client.app.state.context.db
    assessment_id = make_assessment(client, tenant)
    section_id = _section(client, tenant.deliver, {"assessment_id": assessment_id})
    idle, active = (
        CatClient(client, tenant.deliver, section_id),
        CatClient(client, tenant.deliver, section_id),
    )
    for cat in (idle, active):
        cat.start()
        cat.answer(1)
        cat.answer(0)
    _age(db, idle.session_id, 7200)
    _age(db, active.session_id, 60)
    assert close_idle_sessions(db, idle_seconds=3600) >= 1
    view = client.get(f"/v1/sessions/{idle.session_id}", headers=tenant.admin).json()
    assert view["status"] == "finished" and view["result"]["stop_reason"] == "expired"
    assert [r["response"] for r in view["responses"]] == [1, 0]  # nothing lost
    assert view["result"]["n_items"] == 2 and view["item"] is None
    assert (
        client.get(f"/v1/sessions/{active.session_id}", headers=tenant.admin).json()["status"]
        == "in_progress"
    )
    # the platform's next call (with the answer to the withdrawn item) ends the section,
    # and the final outcomes come with it; /v1 refuses new answers
    idle.answered.append((idle.next_items[0], 1, "FLOAT", "int"))
    reply = idle.post_results()
    assert reply.status_code == 200 and reply.json()["nextItems"]["itemIdentifiers"] == []
    got = outcomes(reply.json())
    assert got["STOP_REASON"] == "expired" and got["N_ITEMS"] == "2"
    assert float(got["THETA"]) == view["result"]["theta"]
    late = client.post(
        f"/v1/sessions/{idle.session_id}/responses",
        json={"item_id": idle.next_items[0], "seq": 3, "response": 1},
        headers=tenant.deliver,
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "test_finished"
    assert close_idle_sessions(db, idle_seconds=3600) == 0  # nothing left to close


def test_cleanup_runs_on_a_schedule(tmp_path):
    url = f"sqlite:///{tmp_path / 'idle.db'}"
    app = create_app(Settings(url, cleanup_every=0.2, session_idle=0.5))
    tenant = make_tenant(app)
    with TestClient(app) as http:
        assessment_id = make_assessment(http, tenant)
        cat = CatClient(
            http, tenant.deliver, _section(http, tenant.deliver, {"assessment_id": assessment_id})
        )
        cat.start()
        cat.answer(1)
        deadline = time.monotonic() + 10
        status = "in_progress"
        while status == "in_progress" and time.monotonic() < deadline:
            time.sleep(0.2)
            status = http.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()[
                "status"
            ]
        view = http.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
    app.state.context.db.dispose()
    assert view["status"] == "finished" and view["result"]["stop_reason"] == "expired"
    assert view["n_answered"] == 1


def test_version_segment_is_configurable(tmp_path):
    app = create_app(Settings(f"sqlite:///{tmp_path / 'v.db'}", ims_cat_version="v1p3"))
    tenant = make_tenant(app)
    with TestClient(app) as http:
        assessment_id = make_assessment(http, tenant)
        body = section_body({"assessment_id": assessment_id})
        reply = http.post("/ims/cat/v1p3/sections", json=body, headers=tenant.deliver)
        assert reply.status_code == 201 and reply.json()["sectionIdentifier"]
        assert http.post(f"{PREFIX}/sections", json=body, headers=tenant.deliver).status_code == 404
    app.state.context.db.dispose()


def test_close_idle_command(tmp_path):
    from typer.testing import CliRunner

    from api.cli import app as cli

    url = f"sqlite:///{tmp_path / 'c.db'}"
    app = create_app(Settings(url, cleanup_every=0))
    tenant = make_tenant(app)
    with TestClient(app) as http:
        assessment_id = make_assessment(http, tenant)
        section_id = _section(http, tenant.deliver, {"assessment_id": assessment_id})
        cat = CatClient(http, tenant.deliver, section_id)
        cat.start()
        cat.answer(1)
        _age(app.state.context.db, cat.session_id, 7200)
        result = CliRunner().invoke(
            cli, ["sessions", "close-idle", "--idle", "3600", "--database-url", url]
        )
        assert result.exit_code == 0, result.output
        assert "closed 1 session(s)" in result.stdout
        view = http.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
    app.state.context.db.dispose()
    assert view["status"] == "finished" and view["n_answered"] == 1
