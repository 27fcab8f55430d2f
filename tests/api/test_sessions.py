"""Sessions over HTTP: the whole flow, agreement with the engine, retries, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from api.models import ExposureCount, Response, TestSession
from engine import session as cat
from engine.config import CATConfig
from tests.api.helpers import DEMO_BANK, answer, make_assessment, mini_bank, run_test


def test_whole_test_end_to_end(client, tenant):
    assessment_id = make_assessment(client, tenant)
    session_id, final = run_test(client, tenant.deliver, assessment_id, DEMO_BANK)
    assert final["status"] == "finished" and final["item"] is None
    view = client.get(f"/v1/sessions/{session_id}", headers=tenant.deliver).json()
    assert view["status"] == "finished" and view["n_answered"] == 8
    assert [r["seq"] for r in view["responses"]] == list(range(1, 9))
    full = client.get(f"/v1/sessions/{session_id}", headers=tenant.admin).json()
    assert np.isfinite(full["result"]["theta"]) and full["result"]["n_items"] == 8
    assert [it["item_id"] for it in full["result"]["items"]] == [
        r["item_id"] for r in view["responses"]
    ]


def test_api_session_matches_the_engine(client, tenant):
    """Same seed and same simulated responses: same items and estimates as the engine."""
    bank = mini_bank("agree")
    config = {"max_items": 12, "stop_se": None}
    assessment_id = make_assessment(client, tenant, config, bank)
    _, final = run_test(
        client, tenant.admin, assessment_id, bank, theta=-0.4, seed=11, session_seed=12345
    )
    # the engine alone, same seed, same response generator
    cfg = CATConfig.from_dict(config, bank)
    rng = np.random.default_rng(11)
    state = cat.start(bank, cfg, seed=12345)
    while not state.finished:
        item_id = state.pending_item
        state = cat.respond(bank, cfg, state, item_id, answer(bank, item_id, -0.4, rng))
    expected = cat.result(bank, cfg, state)
    got = final["result"]
    assert [it["item_id"] for it in got["items"]] == [it["item_id"] for it in expected["items"]]
    assert got["theta"] == pytest.approx(expected["theta"], abs=1e-12)
    assert got["se"] == pytest.approx(expected["se"], abs=1e-12)


def _start(client, tenant, assessment_id):
    reply = client.post(
        "/v1/sessions",
        headers=tenant.deliver,
        json={"assessment_id": assessment_id, "examinee_ref": "x"},
    )
    assert reply.status_code == 201
    return reply.json()


def test_retry_returns_the_same_answer_and_records_once(app, client, tenant):
    assessment_id = make_assessment(client, tenant)
    first = _start(client, tenant, assessment_id)
    url = f"/v1/sessions/{first['session_id']}/responses"
    body = {"item_id": first["item"]["item_id"], "seq": 1, "response": 1}
    one = client.post(url, json=body, headers=tenant.deliver)
    two = client.post(url, json=body, headers=tenant.deliver)
    assert one.status_code == two.status_code == 200
    assert one.json() == two.json() and one.json()["seq"] == 2
    with app.state.context.db.read() as session:
        n = session.scalar(
            select(func.count())
            .select_from(Response)
            .where(Response.session_id == first["session_id"])
        )
    assert n == 1
    # the retry did not advance the test: seq 2 is still the presented item
    view = client.get(f"/v1/sessions/{first['session_id']}", headers=tenant.deliver).json()
    assert view["seq"] == 2 and view["item"] == one.json()["item"]


def _error(reply, status, code):
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == code, error
    assert error["message"] and isinstance(error["details"], dict)
    return error


def test_each_delivery_error_has_its_code(client, tenant):
    assessment_id = make_assessment(client, tenant)
    first = _start(client, tenant, assessment_id)
    sid, item = first["session_id"], first["item"]
    url = f"/v1/sessions/{sid}/responses"
    h = tenant.deliver
    ok = {"item_id": item["item_id"], "seq": 1, "response": 0}
    _error(client.post(url, json={**ok, "seq": 2}, headers=h), 409, "future_seq")
    _error(client.post(url, json={**ok, "item_id": "not-it"}, headers=h), 409, "item_mismatch")
    err = _error(
        client.post(url, json={**ok, "response": item["n_categories"]}, headers=h),
        422,
        "invalid_response",
    )
    assert str(item["n_categories"]) in err["message"]
    _error(client.post(url, json={**ok, "response": -1}, headers=h), 422, "invalid_response")
    _error(client.post(url, json={**ok, "response": "1"}, headers=h), 422, "invalid_request")
    _error(client.post(url, json={**ok, "response": 1.5}, headers=h), 422, "invalid_request")
    _error(client.post(url, json={**ok, "seq": True}, headers=h), 422, "invalid_request")
    _error(client.post(url, json={"item_id": item["item_id"]}, headers=h), 422, "invalid_request")
    _error(client.post(url, json={**ok, "extra": 1}, headers=h), 422, "invalid_request")
    _error(client.post(url, json=[1, 2], headers=h), 422, "invalid_request")
    _error(
        client.post(
            url, content=b'{"item_id": ', headers={**h, "content-type": "application/json"}
        ),
        400,
        "malformed_json",
    )
    _error(client.post("/v1/sessions/nope/responses", json=ok, headers=h), 404, "not_found")
    _error(
        client.post("/v1/sessions", json={"assessment_id": "nope", "examinee_ref": "x"}, headers=h),
        404,
        "not_found",
    )
    _error(client.get("/v1/nothing-here", headers=h), 404, "route_not_found")
    _error(client.delete(url, headers=h), 405, "method_not_allowed")
    # a good answer, then a different answer to the same seq is stale
    assert client.post(url, json=ok, headers=h).status_code == 200
    _error(client.post(url, json={**ok, "response": 1}, headers=h), 409, "stale_seq")


def test_finished_session_refuses_new_responses(client, tenant):
    assessment_id = make_assessment(client, tenant, {"max_items": 2, "stop_se": None})
    session_id, final = run_test(client, tenant.deliver, assessment_id, DEMO_BANK)
    url = f"/v1/sessions/{session_id}/responses"
    view = client.get(f"/v1/sessions/{session_id}", headers=tenant.deliver).json()
    last = view["responses"][-1]
    body = {"item_id": last["item_id"], "seq": 3, "response": 0}
    _error(client.post(url, json=body, headers=tenant.deliver), 409, "test_finished")
    # the last answer, sent again, still gets its stored reply
    retry = client.post(
        url, headers=tenant.deliver, json={k: last[k] for k in ("item_id", "seq", "response")}
    )
    assert retry.status_code == 200 and retry.json() == final


def test_invalid_config_lists_problems(client, tenant):
    from tests.api.helpers import publish

    published = publish(client, tenant.admin)
    reply = client.post(
        "/v1/assessments",
        headers=tenant.admin,
        json={
            "bank": published["name"],
            "bank_version": 1,
            "config": {"max_items": "many", "no_such_rule": 1},
        },
    )
    error = _error(reply, 422, "invalid_config")
    assert len(error["details"]["problems"]) >= 2
    _error(
        client.post(
            "/v1/assessments",
            headers=tenant.admin,
            json={"bank": published["name"], "bank_version": 9, "config": {}},
        ),
        404,
        "not_found",
    )


def test_scopes_and_tenants_for_sessions(client, tenant, other_tenant):
    assessment_id = make_assessment(client, tenant)
    first = _start(client, tenant, assessment_id)
    sid = first["session_id"]
    # delivery keys cannot manage assessments
    _error(client.get(f"/v1/assessments/{assessment_id}", headers=tenant.deliver), 403, "forbidden")
    _error(
        client.post(
            "/v1/assessments", headers=tenant.deliver, json={"bank": "x", "bank_version": 1}
        ),
        403,
        "forbidden",
    )
    assert client.get(f"/v1/assessments/{assessment_id}", headers=tenant.admin).status_code == 200
    # another tenant sees nothing of ours
    for headers in (other_tenant.deliver, other_tenant.admin):
        _error(client.get(f"/v1/sessions/{sid}", headers=headers), 404, "not_found")
        _error(
            client.post(
                f"/v1/sessions/{sid}/responses",
                headers=headers,
                json={"item_id": first["item"]["item_id"], "seq": 1, "response": 0},
            ),
            404,
            "not_found",
        )
        _error(
            client.post(
                "/v1/sessions",
                headers=headers,
                json={"assessment_id": assessment_id, "examinee_ref": "x"},
            ),
            404,
            "not_found",
        )
        _error(
            client.get(f"/v1/assessments/{assessment_id}", headers=other_tenant.admin),
            404,
            "not_found",
        )


def test_delivery_responses_never_leak(client, tenant):
    """Scan every delivery response of whole tests for parameters, keys, other examinees."""
    assessment_id = make_assessment(client, tenant, {"max_items": 15, "stop_se": None})
    bodies: list[str] = []
    run_test(client, tenant.deliver, assessment_id, DEMO_BANK, seed=5, bodies=bodies)
    other_sid, _ = run_test(client, tenant.deliver, assessment_id, DEMO_BANK, seed=6)
    sid = run_test(client, tenant.deliver, assessment_id, DEMO_BANK, seed=7, bodies=bodies)[0]
    bodies.append(client.get(f"/v1/sessions/{sid}", headers=tenant.deliver).text)
    bodies.append(client.get("/v1/banks", headers=tenant.deliver).text)
    bodies.append(client.get(f"/v1/banks/{DEMO_BANK.name}/versions/1", headers=tenant.deliver).text)
    secrets_ = [
        tenant.admin_key,
        tenant.deliver_key,
        tenant.admin_key.split("_", 2)[2],
        other_sid,
        "ex-6",
        '"params"',
        '"se":{',
        '"a"',
        '"b"',
        '"c"',
        '"b1"',
        "content_areas",
        "enemy",
    ]
    values = {repr(v) for it in DEMO_BANK for v in it.params.values()}
    for text in bodies:
        for needle in secrets_:
            assert needle not in text, (needle, text[:300])
        numbers = {
            tok
            for tok in text.replace(",", " ")
            .replace(":", " ")
            .replace("}", " ")
            .replace("]", " ")
            .split()
        }
        assert not numbers & values, numbers & values


def test_exposure_counts_match_items_presented(app, client, tenant):
    assessment_id = make_assessment(client, tenant, {"max_items": 4, "stop_se": None})
    for seed in range(3):
        run_test(client, tenant.deliver, assessment_id, DEMO_BANK, seed=seed)
    _start(client, tenant, assessment_id)  # one in progress: its first item is exposed
    with app.state.context.db.read() as session:
        total = session.scalar(
            select(func.sum(ExposureCount.count)).where(
                ExposureCount.assessment_id == assessment_id
            )
        )
        n_sessions = session.scalar(
            select(func.count())
            .select_from(TestSession)
            .where(TestSession.assessment_id == assessment_id)
        )
    assert n_sessions == 4 and total == 3 * 4 + 1
    view = client.get(f"/v1/assessments/{assessment_id}", headers=tenant.admin).json()
    assert view["n_sessions"] == 4


def test_openapi_documents_the_routes(client):
    schema = client.get("/openapi.json").json()
    for path in (
        "/v1/banks",
        "/v1/assessments",
        "/v1/sessions",
        "/v1/sessions/{session_id}/responses",
        "/health",
        "/metrics",
    ):
        assert path in schema["paths"]
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    "config",
    [
        {"max_items": 15, "stop_se": 0.35, "randomesque": 3},
        # online exposure cap: each test depends on the exposure counts of the earlier ones,
        # which the service keeps in the database (the simulation keeps them in memory)
        {"max_items": 8, "stop_se": None, "max_exposure_rate": 0.3, "start_spread": 0.0},
    ],
    ids=["batch", "exposure-cap"],
)
def test_api_sessions_replay_the_engine_simulation(client, tenant, config):
    """The simulation's simulees, replayed over HTTP with their seeds and answers."""
    from engine.simulation import simulate

    bank = mini_bank("replay", n=60, seed=8)
    assessment_id = make_assessment(client, tenant, config, bank)
    thetas = [-1.5, 0.0, 0.7, 2.0, 0.1, -0.2, 0.3]
    sim = simulate(bank, CATConfig.from_dict(config, bank), true_theta=thetas, seed=21)
    if "max_exposure_rate" in config:  # the cap bites: the same items are not given to all
        first_items = {bank.item_ids[sim.items[j, 0]] for j in range(len(thetas))}
        assert len(first_items) > 1
    for j in range(len(thetas)):
        reply = client.post(
            "/v1/sessions",
            headers=tenant.admin,
            json={
                "assessment_id": assessment_id,
                "examinee_ref": f"sim-{j}",
                "seed": int(sim.seeds[j]),
            },
        ).json()
        k = 0
        while reply["status"] == "in_progress":
            assert reply["item"]["item_id"] == bank.item_ids[sim.items[j, k]], (j, k)
            reply = client.post(
                f"/v1/sessions/{reply['session_id']}/responses",
                headers=tenant.admin,
                json={
                    "item_id": reply["item"]["item_id"],
                    "seq": reply["seq"],
                    "response": int(sim.responses[j, k]),
                },
            ).json()
            k += 1
        assert k == sim.n_administered[j]
        assert reply["result"]["theta"] == pytest.approx(sim.theta[j], abs=1e-9)
        assert reply["result"]["se"] == pytest.approx(sim.se[j], abs=1e-9)
        assert reply["result"]["stop_reason"] == sim.stop_reason[j]


def test_hidden_results_are_hidden_from_delivery_keys_only(client, tenant):
    config = {"max_items": 3, "stop_se": None, "show_results": False}
    assessment_id = make_assessment(client, tenant, config)
    session_id, final = run_test(client, tenant.deliver, assessment_id, DEMO_BANK)
    assert final["result"] == {
        "n_items": 3,
        "n_administered": 3,
        "finished": True,
        "stop_reason": "max_items",
    }
    view = client.get(f"/v1/sessions/{session_id}", headers=tenant.deliver).json()
    assert "theta" not in view["result"] and "items" not in view["result"]
    full = client.get(f"/v1/sessions/{session_id}", headers=tenant.admin).json()
    assert np.isfinite(full["result"]["theta"]) and len(full["result"]["items"]) == 3
    assert all("scored" in it for it in full["result"]["items"])  # admin sees pretest flags
