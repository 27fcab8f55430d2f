"""Battery sessions over HTTP: sections, profile, retries, races, tenants, leaks, hiding."""

from __future__ import annotations

import itertools

from engine.battery import respond as battery_respond
from engine.battery import result as battery_result
from engine.battery import start as battery_start
from tests.api.battery_helpers import PLAN, battery_document, make_battery, run_battery
from tests.api.test_concurrency import _race, _rows


def test_battery_session_end_to_end_matches_the_engine(client, tenant):
    aid = make_battery(client, tenant)
    sid, final, replies = run_battery(client, tenant.deliver, aid, session_seed=77)
    sections = [r["item"]["section"] for r in replies if r["item"]]
    assert [s["of"] for s in sections] == [3] * len(sections)
    order = [s["skill_id"] for s in sections]
    # contiguous sections, in the battery's order, indexes 1..3
    assert list(dict.fromkeys(order)) == ["coding", "project-management", "design"]
    assert [s["index"] for s in sections] == sorted(s["index"] for s in sections)
    profile = final["result"]
    assert [s["skill_id"] for s in profile["skills"]] == list(PLAN.skill_ids)
    assert profile["n_items"] == len(sections) and profile["stop_reason"] in ("completed",
                                                                               "budget")
    # the engine given the same seed and answers gives the same items and profile
    state = battery_start(PLAN, seed=77)
    for r, nxt in itertools.pairwise(replies):
        assert state.pending_item == r["item"]["item_id"]
        answered = client.get(f"/v1/sessions/{sid}", headers=tenant.admin).json()["responses"]
        response = answered[r["seq"] - 1]["response"]
        state = battery_respond(PLAN, state, state.pending_item, response)
        assert state.pending_item == (nxt["item"] or {}).get("item_id")
    expected = battery_result(PLAN, state)
    assert {k: v for k, v in profile.items() if k != "finished"} == expected


def test_retries_and_stale_answers(app, client, tenant):
    aid = make_battery(client, tenant)
    first = client.post("/v1/sessions", headers=tenant.deliver,
                        json={"assessment_id": aid, "examinee_ref": "r"}).json()  # fmt: skip
    url = f"/v1/sessions/{first['session_id']}/responses"
    body = {"item_id": first["item"]["item_id"], "seq": 1, "response": 1}
    one = client.post(url, headers=tenant.deliver, json=body)
    again = client.post(url, headers=tenant.deliver, json=body)
    assert one.status_code == again.status_code == 200 and one.json() == again.json()
    other = client.post(url, headers=tenant.deliver, json={**body, "response": 0})
    assert other.status_code == 409 and other.json()["error"]["code"] == "stale_seq"
    assert _rows(app, first["session_id"]) == (1, 2)


def test_concurrent_answers_to_a_battery_apply_once(app, client, tenant, database_url):
    aid = make_battery(client, tenant)
    first = client.post("/v1/sessions", headers=tenant.deliver,
                        json={"assessment_id": aid, "examinee_ref": "r"}).json()  # fmt: skip
    outcomes = _race(database_url, tenant, first["session_id"], first["item"]["item_id"],
                     [k % 2 for k in range(6)])  # fmt: skip
    applied = [o for o in outcomes if isinstance(o, dict)]
    assert applied and all(o == applied[0] for o in applied)
    assert _rows(app, first["session_id"]) == (1, 2)


def test_tenants_cannot_reach_each_others_batteries(client, tenant, other_tenant):
    aid = make_battery(client, tenant)
    sid, _, _ = run_battery(client, tenant.deliver, aid)
    reply = client.post("/v1/sessions", headers=other_tenant.deliver,
                        json={"assessment_id": aid, "examinee_ref": "x"})  # fmt: skip
    assert reply.status_code == 404
    assert client.get(f"/v1/sessions/{sid}", headers=other_tenant.admin).status_code == 404
    # a battery may pin only the tenant's own published bank versions
    doc = battery_document({b.name: 1 for b in PLAN.banks})
    reply = client.post("/v1/assessments", headers=other_tenant.admin, json={"battery": doc})
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "not_found"


def test_invalid_batteries_list_their_problems(client, tenant):
    make_battery(client, tenant)  # publishes the banks
    doc = battery_document({b.name: 1 for b in PLAN.banks}, order="random", budget=5)
    reply = client.post("/v1/assessments", headers=tenant.admin, json={"battery": doc})
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "invalid_battery"
    assert any("order" in p for p in error["details"]["problems"])
    doc = battery_document({b.name: 1 for b in PLAN.banks}, budget=10)
    reply = client.post("/v1/assessments", headers=tenant.admin, json={"battery": doc})
    assert reply.status_code == 422 and "minimum" in reply.text
    reply = client.post("/v1/assessments", headers=tenant.admin,
                        json={"battery": doc, "bank": "x", "bank_version": 1})  # fmt: skip
    assert reply.status_code == 422 and reply.json()["error"]["code"] == "invalid_request"


def test_hidden_profile_and_no_leaks(client, tenant):
    doc_sections = battery_document({b.name: 1 for b in PLAN.banks})["sections"]
    for sec in doc_sections:
        sec["cat"] = {**sec["cat"], "show_results": False}
    aid = make_battery(client, tenant, sections=doc_sections)
    bodies: list[str] = []
    sid, final, _ = run_battery(client, tenant.deliver, aid, seed=3, bodies=bodies)
    assert set(final["result"]) == {"n_items", "finished", "stop_reason"}
    admin = client.get(f"/v1/sessions/{sid}", headers=tenant.admin).json()["result"]
    assert "skills" in admin and "strengths" in admin
    bodies.append(client.get(f"/v1/sessions/{sid}", headers=tenant.deliver).text)
    values = {repr(v) for bank in PLAN.banks for it in bank for v in it.params.values()}
    for text in bodies:
        for needle in ('"params"', '"a"', '"b1"', '"theta"', '"se"', tenant.admin_key):
            assert needle not in text, (needle, text[:300])
        tokens = set(text.replace(",", " ").replace(":", " ").replace("}", " ").split())
        assert not tokens & values


def test_single_test_routes_refuse_a_battery_clearly(app, client, tenant):
    import pytest

    from api.errors import InvalidRequestError
    from api.services.assessments import load_assessment

    aid = make_battery(client, tenant)
    db = app.state.context.db
    with db.read() as session, pytest.raises(InvalidRequestError, match="skill battery"):
        load_assessment(db, session, tenant=tenant.name, assessment_id=aid)
    view = client.get(f"/v1/assessments/{aid}", headers=tenant.admin).json()
    assert view["kind"] == "battery" and view["config"]["battery"]["name"] == "skills-profile-demo"
