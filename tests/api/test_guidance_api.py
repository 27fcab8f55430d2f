from __future__ import annotations

import json

from battery_helpers import PLAN, battery_document, make_battery, run_battery
from helpers import make_assessment, mini_bank, run_test

from engine.battery import load_battery
from guidance.catalogue import read_catalogue
from guidance.gaps import levels_from_sections, recommend
from item_banks.examples.battery_demo import DEMO_BATTERY_PATH, DEMO_CATALOGUE_PATH


def publish_catalogue(client, tenant) -> int:
    doc = json.loads(DEMO_CATALOGUE_PATH.read_text())
    reply = client.post("/v1/catalogues", json=doc, headers=tenant.admin)
    assert reply.status_code == 201, reply.text
    assert reply.json()["n_credentials"] == 17 and reply.json()["n_roles"] == 3
    return reply.json()["version"]


def test_catalogue_versions_published_and_read_by_admin_only(client, tenant, other_tenant):
    v1 = publish_catalogue(client, tenant)
    v2 = publish_catalogue(client, tenant)
    assert (v1, v2) == (1, 2)
    listed = client.get("/v1/catalogues", headers=tenant.admin).json()
    assert [(c["name"], c["version"]) for c in listed] == [("demo-catalogue", 1),
                                                         ("demo-catalogue", 2)]
    got = client.get("/v1/catalogues/demo-catalogue/versions/2", headers=tenant.admin).json()
    assert got["document"]["version"] == "2"
    assert len(got["document"]["credentials"]) == 17
    assert client.post("/v1/catalogues", json={}, headers=tenant.deliver).status_code == 403
    assert client.get("/v1/catalogues", headers=tenant.deliver).status_code == 403
    other = client.get("/v1/catalogues/demo-catalogue/versions/1", headers=other_tenant.admin)
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"


def test_invalid_catalogue_lists_every_problem(client, tenant):
    doc = json.loads(DEMO_CATALOGUE_PATH.read_text())
    doc["credentials"][0]["hours"] = "many"
    doc["roles"][0]["requires"][0]["importance"] = 0
    reply = client.post("/v1/catalogues", json=doc, headers=tenant.admin)
    assert reply.status_code == 422
    err = reply.json()["error"]
    assert err["code"] == "invalid_catalogue"
    assert len(err["details"]["problems"]) == 2


def test_recommendations_and_report_of_a_battery_session(client, tenant, other_tenant):
    version = publish_catalogue(client, tenant)
    aid = make_battery(client, tenant)
    sid, _, _ = run_battery(client, tenant.deliver, aid, seed=5)
    body = {"catalogue": "demo-catalogue", "version": version, "role": "ux-designer"}
    reply = client.post(f"/v1/sessions/{sid}/recommendations", json=body,
                        headers=tenant.deliver)
    assert reply.status_code == 200, reply.text
    out = reply.json()
    # the same as the guidance functions on the session's profile (the admin sees it)
    profile = client.get(f"/v1/sessions/{sid}", headers=tenant.admin).json()["result"]
    plan = load_battery(DEMO_BATTERY_PATH)
    direct = recommend(profile, levels_from_sections(plan.sections),
                       read_catalogue(DEMO_CATALOGUE_PATH), "ux-designer")
    assert [g["p_met"] for g in out["gaps"]] == [g["p_met"] for g in direct["gaps"]]
    assert [r["credential_id"] for r in out["recommendations"]] == [
        r["credential_id"] for r in direct["recommendations"]]
    assert out["session_id"] == sid
    # the report: JSON and HTML; no theta, no SE, no item ids or parameters
    rep = client.get(f"/v1/sessions/{sid}/report", headers=tenant.deliver,
                     params={"catalogue": "demo-catalogue", "version": version,
                             "role": "ux-designer"})
    assert rep.status_code == 200, rep.text
    data = rep.json()
    assert data["format"] == "zapcat-report/1"
    assert [s["score"] for s in data["skills"]] == [s["score"] for s in profile["skills"]]
    html = client.get(f"/v1/sessions/{sid}/report", headers={**tenant.deliver,
                                                            "Accept": "text/html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.text.count('<svg class="figure"') == 3
    items = {i for bank in PLAN.banks for i in bank.item_ids}
    for text in (rep.text, html.text):
        for needle in ('"theta"', '"se"', '"params"', "theta", tenant.admin_key):
            assert needle not in text
        assert not any(i in text for i in items)
    # tenant rules: another tenant cannot see it
    assert client.get(f"/v1/sessions/{sid}/report",
                      headers=other_tenant.deliver).status_code == 404
    assert client.post(f"/v1/sessions/{sid}/recommendations", json=body,
                       headers=other_tenant.deliver).status_code == 404
    # unknown role / catalogue version
    bad = client.post(f"/v1/sessions/{sid}/recommendations", headers=tenant.deliver,
                      json={**body, "role": "astronaut"})
    assert bad.status_code == 422 and "astronaut" in bad.json()["error"]["message"]
    assert client.post(f"/v1/sessions/{sid}/recommendations", headers=tenant.deliver,
                       json={**body, "version": 99}).status_code == 404


def test_hidden_results_report_for_admin_only(client, tenant):
    sections = battery_document({b.name: 1 for b in PLAN.banks})["sections"]
    for sec in sections:
        sec["cat"] = {**sec["cat"], "show_results": False}
    aid = make_battery(client, tenant, sections=sections)
    sid, _, _ = run_battery(client, tenant.deliver, aid, seed=2)
    hidden = client.get(f"/v1/sessions/{sid}/report", headers=tenant.deliver)
    assert hidden.status_code == 403 and hidden.json()["error"]["code"] == "forbidden"
    assert client.get(f"/v1/sessions/{sid}/report", headers=tenant.admin).status_code == 200


def test_unfinished_and_single_test_sessions_refused(client, tenant):
    aid = make_battery(client, tenant)
    started = client.post("/v1/sessions", json={"assessment_id": aid, "examinee_ref": "u"},
                          headers=tenant.deliver).json()
    rep = client.get(f"/v1/sessions/{started['session_id']}/report", headers=tenant.deliver)
    assert rep.status_code == 422 and "not finished" in rep.json()["error"]["message"]
    bank = mini_bank()
    single = make_assessment(client, tenant, bank=bank)
    sid, _ = run_test(client, tenant.deliver, single, bank)
    rep = client.get(f"/v1/sessions/{sid}/report", headers=tenant.deliver)
    assert rep.status_code == 422 and "battery sessions only" in rep.json()["error"]["message"]


def test_demo_learner_report_after_make_run_setup(tmp_path):
    """What `make run` prints works: the demo battery, then report and recommendations."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.services.demo import setup_demo
    from api.settings import Settings

    app = create_app(Settings(f"sqlite:///{tmp_path / 'demo.db'}"))
    info = setup_demo(app.state.context.db)
    headers = {"Authorization": f"Bearer {info['deliver_key']}"}
    cat = info["catalogue"]
    with TestClient(app) as client:
        sid, _, _ = run_battery(client, headers, info["battery_assessment_id"], seed=9)
        for role in ("junior-developer", "project-coordinator", "ux-designer"):
            rep = client.get(f"/v1/sessions/{sid}/report", headers={**headers,
                             "Accept": "text/html"},
                             params={"catalogue": cat["name"], "version": cat["version"],
                                     "role": role})
            assert rep.status_code == 200 and "Next steps for" in rep.text
            recs = client.post(f"/v1/sessions/{sid}/recommendations", headers=headers,
                               json={**cat, "catalogue": cat["name"], "role": role})
            assert recs.status_code == 422  # "name" is not a field of the request
            recs = client.post(f"/v1/sessions/{sid}/recommendations", headers=headers,
                               json={"catalogue": cat["name"], "version": cat["version"],
                                     "role": role})
            assert recs.status_code == 200 and recs.json()["role"]["role_id"] == role
    app.state.context.db.dispose()


def test_catalogue_published_as_csv_equals_the_json_one(client, tenant):
    from guidance.catalogue_csv import catalogue_to_csv

    v_json = publish_catalogue(client, tenant)
    text = catalogue_to_csv(read_catalogue(DEMO_CATALOGUE_PATH))
    csv_headers = {**tenant.admin, "Content-Type": "text/csv; charset=utf-8"}
    reply = client.post("/v1/catalogues", content=text.encode(), headers=csv_headers)
    assert reply.status_code == 201, reply.text
    assert reply.json()["n_credentials"] == 17 and reply.json()["version"] == v_json + 1
    docs = [client.get(f"/v1/catalogues/demo-catalogue/versions/{v}",
                       headers=tenant.admin).json()["document"] for v in (v_json, v_json + 1)]
    from guidance.catalogue import catalogue_from_dict

    a, b = (catalogue_from_dict(d) for d in docs)
    assert (a.credentials, a.roles, a.attribution) == (b.credentials, b.roles, b.attribution)
    bad = text.replace(",30,0,EUR,", ",-3,0,EUR,")
    reply = client.post("/v1/catalogues", content=bad.encode(), headers=csv_headers)
    assert reply.status_code == 422 and reply.json()["error"]["code"] == "invalid_catalogue"
    assert "row 3, column hours: must be a number >= 0, got -3" in reply.json()["error"]["message"]
    reply = client.post("/v1/catalogues", content=b"{not json", headers=tenant.admin)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "malformed_json"
    reply = client.post("/v1/catalogues", content=b"\xff\xfe", headers=csv_headers)
    assert reply.status_code == 422 and "not UTF-8" in reply.json()["error"]["message"]
