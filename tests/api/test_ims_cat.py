"""The 1EdTech CAT API replayed with TAO's payload shapes, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest

from api.services.tokens import sign
from tests.api.helpers import DEMO_BANK, SHORT, answer, make_assessment, mini_bank, publish
from tests.api.ims_client import PREFIX, CatClient, item_result, outcomes, section_body


def _section(client, headers, configuration) -> str:
    reply = client.post(f"{PREFIX}/sections", json=section_body(configuration), headers=headers)
    assert reply.status_code == 201, reply.text
    section_id = reply.json()["sectionIdentifier"]
    assert isinstance(section_id, str) and section_id
    return section_id


def _imsx(reply, status: int, code: str) -> dict:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["imsx_codeMajor"] == "failure" and body["imsx_severity"] == "error"
    field = body["imsx_codeMinor"]["imsx_codeMinorField"][0]
    assert field["imsx_codeMinorFieldName"] == "TargetEndSystem"
    assert body["error"]["code"] == code, body
    assert body["imsx_description"] == body["error"]["message"]
    return body


def _v1_run(client, tenant, assessment_id, seed, theta, rng_seed):
    """The same examinee through /v1: returns (items, final admin view)."""
    rng = np.random.default_rng(rng_seed)
    body = client.post(
        "/v1/sessions",
        json={"assessment_id": assessment_id, "examinee_ref": "v1", "seed": seed},
        headers=tenant.deliver,
    ).json()
    while body["status"] == "in_progress":
        item = body["item"]["item_id"]
        body = client.post(
            f"/v1/sessions/{body['session_id']}/responses",
            json={"item_id": item, "seq": body["seq"],
                  "response": answer(DEMO_BANK, item, theta, rng)},
            headers=tenant.deliver,
        ).json()  # fmt: skip
    view = client.get(f"/v1/sessions/{body['session_id']}", headers=tenant.admin).json()
    return [r["item_id"] for r in view["responses"]], view


def test_full_demo_section_matches_v1(client, tenant):
    """Demo bank, demo (default) configuration: to the stopping rule, as /v1 does it."""
    assessment_id = make_assessment(client, tenant, {})
    section_id = _section(client, tenant.deliver, {"assessment_id": assessment_id})
    seed, theta = 987654321, 0.7
    cat = CatClient(client, tenant.deliver, section_id)
    cat.start([{"key": "initialEstimatedAbility", "value": "0.0"},
               {"key": "seed", "value": str(seed)}])  # fmt: skip
    rng = np.random.default_rng(5)
    styles = [("FLOAT", "int"), ("FLOAT", "float"), ("INTEGER", "int"), ("FLOAT", "str")]
    while cat.next_items:
        item = cat.next_items[0]
        assert cat.replies[-1]["nextItems"]["stageLength"] == 1
        base_type, style = styles[len(cat.answered) % len(styles)]
        body = cat.answer(answer(DEMO_BANK, item, theta, rng), base_type, style)
        assert len(cat.answered) <= 40
    assert body["nextItems"] == {"itemIdentifiers": [], "stageLength": 0}
    items, view = _v1_run(client, tenant, assessment_id, seed, theta, 5)
    assert [i for i, *_ in cat.answered] == items
    assert view["status"] == "finished" and view["result"]["stop_reason"] in ("se", "max_items")
    got = outcomes(body)
    assert float(got["THETA"]) == view["result"]["theta"]
    assert float(got["SE"]) == view["result"]["se"]
    assert int(got["N_ITEMS"]) == len(items) and got["STOP_REASON"] == view["result"]["stop_reason"]
    ims_view = client.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
    assert [r["item_id"] for r in ims_view["responses"]] == items  # each applied once
    assert [r["response"] for r in ims_view["responses"]] == [
        r["response"] for r in view["responses"]
    ]
    # the section is over: the same cumulative call again changes nothing, still empty
    again = cat.post_results()
    assert again.status_code == 200 and again.json()["nextItems"]["itemIdentifiers"] == []


def test_cumulative_and_retried_results_apply_once(client, tenant):
    assessment_id = make_assessment(client, tenant, {"max_items": 5, "stop_se": None})
    cat = CatClient(client, tenant.deliver, _section(client, tenant.deliver,
                                                     {"assessment_id": assessment_id}))  # fmt: skip
    cat.start()
    first = cat.answer(1)
    old_state = cat.replies[0]["sessionState"]
    # a retry with the state from before that call (the reply was lost): same reply
    retry = cat.post_results({**cat.payload(), "sessionState": old_state})
    assert retry.status_code == 200
    assert retry.json()["nextItems"] == first["nextItems"]
    cat.answer(0, "INTEGER")
    cat.answer(1, "FLOAT", "float")  # 1.0
    view = client.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
    assert [r["response"] for r in view["responses"]] == [1, 0, 1]
    # a re-answered item appears once with a changed score: the first score counts
    changed = cat.payload()
    changed["assessmentResult"]["itemResult"][0] = item_result(cat.answered[0][0], 0)
    again = cat.post_results(changed)
    assert again.status_code == 200 and again.json()["nextItems"] == cat.replies[-1]["nextItems"]
    view = client.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
    assert [r["response"] for r in view["responses"]] == [1, 0, 1]
    # the 1EdTech binding's other spellings: baseType on the variable, a bare value
    presented = cat.next_items[0]
    spelled = cat.payload()
    entry = item_result(presented, 0)
    entry["outcomeVariables"][0] = {"identifier": "score", "cardinality": "single",
                                    "baseType": "integer", "value": ["0"]}  # fmt: skip
    spelled["assessmentResult"]["itemResult"].append(entry)
    reply = cat.post_results(spelled)
    assert reply.status_code == 200, reply.text
    cat.answered.append((presented, 0, "INTEGER", "int"))
    cat.state = reply.json()["sessionState"]
    cat.replies.append(reply.json())
    view = client.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
    assert [r["response"] for r in view["responses"]] == [1, 0, 1, 0]
    # an empty itemResult (nothing answered yet) re-sends the presented item
    empty = cat.post_results({"assessmentResult": {"itemResult": []}, "sessionState": cat.state})
    assert empty.status_code == 200 and empty.json()["nextItems"] == cat.replies[-1]["nextItems"]


def test_tampered_forged_and_foreign_state_refused(client, tenant):
    assessment_id = make_assessment(client, tenant)
    section_id = _section(client, tenant.deliver, {"assessment_id": assessment_id})
    one, two = (
        CatClient(client, tenant.deliver, section_id),
        CatClient(client, tenant.deliver, section_id),
    )
    one.start()
    two.start()
    one.answered.append((one.next_items[0], 1, "FLOAT", "int"))
    body, mac = one.state.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (f"{flipped}.{mac}", f"{body}.{mac[:-1]}", "not-a-state", two.state):
        reply = one.post_results({**one.payload(), "sessionState": bad})
        _imsx(reply, 400, "invalid_session_state")
    # a state signed for another purpose (an access-token payload) is refused too
    forged = sign(client.app.state.context.db, "access-token", {"sid": one.session_id})
    _imsx(one.post_results({**one.payload(), "sessionState": forged}), 400,
          "invalid_session_state")  # fmt: skip
    _imsx(one.post_results({**one.payload(), "sessionState": None}), 422, "invalid_request")
    view = client.get(f"/v1/sessions/{one.session_id}", headers=tenant.admin).json()
    assert view["n_answered"] == 0  # nothing applied
    assert one.post_results().status_code == 200  # the genuine state works


@pytest.mark.parametrize(
    ("score", "base_type", "code"),
    [(2, "FLOAT", "invalid_response"), (0.5, "FLOAT", "invalid_response"),
     (-1, "INTEGER", "invalid_response"), ("yes", "FLOAT", "invalid_request"),
     (1, "STRING", "invalid_request")],
)  # fmt: skip
def test_scores_outside_categories_refused(client, tenant, score, base_type, code):
    assessment_id = make_assessment(client, tenant, bank=mini_bank())  # 2PL: scores 0, 1
    cat = CatClient(client, tenant.deliver, _section(client, tenant.deliver,
                                                     {"assessment_id": assessment_id}))  # fmt: skip
    cat.start()
    item = cat.next_items[0]
    payload = cat.payload()
    entry = item_result(item, 0)
    entry["outcomeVariables"][0]["value"] = [{"baseType": base_type, "value": score}]
    payload["assessmentResult"]["itemResult"] = [entry]
    body = _imsx(cat.post_results(payload), 422, code)
    assert "itemResult[0].outcomeVariables[0].value" in body["imsx_description"]
    view = client.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
    assert view["n_answered"] == 0


def test_items_the_engine_did_not_select(client, tenant):
    bank = DEMO_BANK
    assessment_id = make_assessment(client, tenant, {"max_items": 4, "stop_se": None})
    refuse = _section(client, tenant.deliver, {"assessment_id": assessment_id})
    cat = CatClient(client, tenant.deliver, refuse)
    cat.start()
    other = next(i for i in bank.item_ids if i != cat.next_items[0])
    cat.answered = [(other, 1, "FLOAT", "int"), (cat.next_items[0], 1, "FLOAT", "int")]
    body = _imsx(cat.post_results(), 409, "item_mismatch")
    assert other in body["imsx_description"]
    _imsx(
        cat.post_results({**cat.payload(), "assessmentResult": {"itemResult": [
            item_result("no-such-item", 1)]}}),
        422, "unknown_item",
    )  # fmt: skip
    assert client.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()[
        "n_answered"] == 0  # fmt: skip
    # rule "ignore": the platform's extra item is skipped, the presented one applied
    ignore = _section(
        client, tenant.deliver, {"assessment_id": assessment_id, "unselected_items": "ignore"}
    )
    assert ignore != refuse
    cat2 = CatClient(client, tenant.deliver, ignore)
    cat2.start()
    other = next(i for i in bank.item_ids if i != cat2.next_items[0])
    cat2.answered = [(other, 1, "FLOAT", "int")]
    presented = cat2.next_items[0]
    reply = cat2.answer(0)
    view = client.get(f"/v1/sessions/{cat2.session_id}", headers=tenant.admin).json()
    assert [(r["item_id"], r["response"]) for r in view["responses"]] == [(presented, 0)]
    assert reply["nextItems"]["itemIdentifiers"]


def test_sections_stored_idempotent_and_validated(app, client, tenant, other_tenant, database_url):
    assessment_id = make_assessment(client, tenant)
    configuration = {"assessment_id": assessment_id}
    first = _section(client, tenant.deliver, configuration)
    assert _section(client, tenant.deliver, configuration) == first
    encoded = section_body(configuration)["sectionConfiguration"]
    wrapped = "\n".join(encoded[k : k + 20] for k in range(0, len(encoded), 20))  # MIME style
    body = {**section_body(configuration), "sectionConfiguration": wrapped}
    reply = client.post(f"{PREFIX}/sections", headers=tenant.deliver, json=body)
    assert reply.json() == {"sectionIdentifier": first}
    # a second service on the same database (a restart) knows the section
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    restarted = create_app(Settings(database_url))
    with TestClient(restarted) as fresh:
        assert CatClient(fresh, tenant.deliver, first).start()["nextItems"]["itemIdentifiers"]
    restarted.state.context.db.dispose()
    # other tenants see nothing
    other = client.post(f"{PREFIX}/sections/{first}/sessions", json={"priorData": []},
                        headers=other_tenant.deliver)  # fmt: skip
    _imsx(other, 404, "not_found")
    _imsx(client.post(f"{PREFIX}/sections", json=section_body(configuration),
                      headers=other_tenant.deliver), 404, "not_found")  # fmt: skip
    # malformed bodies and configurations, each with a clear message
    bad = {"qtiMetadata": "", "qtiUsagedata": "", "sectionConfiguration": "%%%"}
    assert "base64" in _imsx(client.post(f"{PREFIX}/sections", json=bad,
                                         headers=tenant.deliver), 422, "invalid_request")[
        "imsx_description"]  # fmt: skip
    for doc, words in [
        ("{not json", "not JSON"),
        ({"bank": "demo"}, "bank_version"),
        ({"assessment_id": assessment_id, "unselected_items": "maybe"}, "unselected_items"),
        ({"assessment_id": assessment_id, "items": {"q1": "nope"}}, "'nope'"),
        ({"assessment_id": assessment_id, "colour": 1}, "unknown key 'colour'"),
    ]:
        reply = client.post(f"{PREFIX}/sections", json=section_body(doc), headers=tenant.deliver)
        assert words in _imsx(reply, 422, "invalid_request")["imsx_description"]
    _imsx(client.post(f"{PREFIX}/sections", content=b"{oops", headers=tenant.deliver),
          400, "malformed_json")  # fmt: skip
    _imsx(client.post(f"{PREFIX}/sections", json=section_body(configuration)), 401,
          "unauthorized")  # fmt: skip
    # the key is checked before the body is read: no key and a broken body is a 401
    _imsx(client.post(f"{PREFIX}/sections", content=b"{oops"), 401, "unauthorized")


def test_bank_form_section_maps_qti_identifiers(client, tenant):
    published = publish(client, tenant.admin)
    items = {f"QTI-{i}": i for i in DEMO_BANK.item_ids}
    configuration = {"bank": published["name"], "bank_version": published["version"],
                     "config": SHORT, "items": items}  # fmt: skip
    section_id = _section(client, tenant.deliver, configuration)  # the platform's key
    assert _section(client, tenant.admin, configuration) == section_id  # no second assessment
    missing = {**configuration, "bank_version": published["version"] + 5}
    reply = client.post(f"{PREFIX}/sections", json=section_body(missing), headers=tenant.deliver)
    _imsx(reply, 404, "not_found")
    cat = CatClient(client, tenant.deliver, section_id)
    cat.start()
    while cat.next_items:
        assert cat.next_items[0].startswith("QTI-")
        body = cat.answer(1)
    assert len(cat.answered) == SHORT["max_items"]
    view = client.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
    assert [r["item_id"] for r in view["responses"]] == [q[4:] for q, *_ in cat.answered]
    assert int(outcomes(body)["N_ITEMS"]) == SHORT["max_items"]


def test_initial_estimated_ability_sets_the_start(client, tenant):
    config = {**SHORT, "start_spread": 0.0, "start_randomesque": 1}
    base = make_assessment(client, tenant, config)
    high = make_assessment(client, tenant, {**config, "start_theta": 2.5})
    section_id = _section(client, tenant.deliver, {"assessment_id": base})
    prior = [{"key": "initialEstimatedAbility", "value": "2.5"}, {"key": "seed", "value": "3"}]
    first = CatClient(client, tenant.deliver, section_id).start(prior)["nextItems"]
    v1 = client.post("/v1/sessions", json={"assessment_id": high, "examinee_ref": "x",
                                           "seed": 3}, headers=tenant.deliver).json()  # fmt: skip
    assert first["itemIdentifiers"] == [v1["item"]["item_id"]]
    zero = CatClient(client, tenant.deliver, section_id).start()["nextItems"]
    assert zero["itemIdentifiers"] != first["itemIdentifiers"]
    bad = client.post(
        f"{PREFIX}/sections/{section_id}/sessions",
        headers=tenant.deliver,
        json={"priorData": [{"key": "initialEstimatedAbility", "value": "high"}]},
    )
    assert "initialEstimatedAbility" in _imsx(bad, 422, "invalid_request")["imsx_description"]


def test_hidden_results_and_levels(client, tenant):
    hidden = make_assessment(client, tenant, {**SHORT, "show_results": False})
    cat = CatClient(client, tenant.deliver, _section(client, tenant.deliver,
                                                     {"assessment_id": hidden}))  # fmt: skip
    cat.start()
    while cat.next_items:
        body = cat.answer(1)
    assert set(outcomes(body)) == {"N_ITEMS", "STOP_REASON"}  # no theta for a delivery key
    levels = make_assessment(client, tenant, {**SHORT, "cut_scores": [-0.5, 0.5]})
    cat = CatClient(client, tenant.admin, _section(client, tenant.admin,
                                                   {"assessment_id": levels}))  # fmt: skip
    cat.start()
    while cat.next_items:
        body = cat.answer(1)
    got = outcomes(body)
    expected = int(np.searchsorted([-0.5, 0.5], float(got["THETA"]), side="right"))
    assert int(got["LEVEL"]) == expected >= 1  # all correct: above the lower cut at least
    view = client.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
    assert int(got["LEVEL"]) == view["result"]["classification"]["category"]


def test_readme_section_configurations_work(client, tenant):
    """The two section configurations of the README's "1EdTech CAT API" section."""
    import json
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## 1EdTech CAT API") :]
    by_id, by_bank = (json.loads(b) for b in re.findall(r"```json\n(.*?)```", section, re.S)[:2])
    by_id["assessment_id"] = make_assessment(client, tenant)
    cat = CatClient(client, tenant.deliver, _section(client, tenant.deliver, by_id))
    cat.start()
    assert cat.answer(1)["nextItems"]["stageLength"] == 1
    cat = CatClient(client, tenant.deliver, _section(client, tenant.admin, by_bank))  # v1 above
    cat.start()
    assert cat.answer(0)["nextItems"]["stageLength"] == 1
