"""Practice mode and immediate feedback through the service, on SQLite and PostgreSQL.

Independent truths: the progress interval against the posterior computed here on a fine
grid from the bank's parameters; the item feedback against the bank's own texts; the
exposure table and the response export read before and after practice sessions.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
from sqlalchemy import select

from api.models import ExposureCount
from item_banks.bank import Item, ItemBank
from item_banks.io import bank_to_json
from tests.api.battery_helpers import PLAN, battery_document
from tests.api.helpers import answer, run_test

Z975 = 1.959963984540054
SECURE = {"max_items": 6, "stop_se": None}
PRACTICE = {"mode": "practice", "feedback": "item", "max_items": 5, "stop_se": None}


def mixed_bank(name: str = "mixed") -> ItemBank:
    """30 secure 2PL items and 8 practice items (2PL and GRM) with explanation texts."""
    rng = np.random.default_rng(11)
    secure = [Item(f"s{j:02d}", "2pl", {"a": float(rng.uniform(0.8, 2.0)),
                                        "b": float(rng.normal())}) for j in range(30)]
    practice = [Item(f"p{j}", "2pl", {"a": 1.0 + 0.1 * j, "b": j / 2 - 1.0}, status="practice",
                     feedback={0: f"Not quite ({j}): check the loop bound.",
                               1: f"Right ({j}): the loop stops at n."}) for j in range(5)]
    practice += [Item(f"g{j}", "grm", {"a": 1.3, "b1": -1.0 + j / 3, "b2": 0.8 + j / 3},
                      status="practice", feedback={2: f"Full marks ({j})."}) for j in range(3)]
    return ItemBank(secure + practice, name=name)


def publish(client, tenant, bank: ItemBank) -> int:
    reply = client.post("/v1/banks", json=json.loads(bank_to_json(bank)), headers=tenant.admin)
    assert reply.status_code == 201, reply.text
    return reply.json()["version"]


def assessment(client, tenant, bank: ItemBank, version: int, config: dict):
    return client.post("/v1/assessments", headers=tenant.admin,
                       json={"bank": bank.name, "bank_version": version, "config": config})


def posterior_interval(bank: ItemBank, items: list[str], responses: list[int]) -> list[float]:
    """EAP +- z SD under the N(0, 1) prior on [-4, 4], on 4001 points (not the engine's)."""
    grid = np.linspace(-4, 4, 4001)
    log_post = -grid**2 / 2
    for item_id, x in zip(items, responses, strict=True):
        it = bank[item_id]
        if it.model == "2pl":
            p1 = 1 / (1 + np.exp(-it.params["a"] * (grid - it.params["b"])))
            p = p1 if x == 1 else 1 - p1
        else:  # GRM: P(X >= k) differences
            a, cuts = it.params["a"], [it.params["b1"], it.params["b2"]]
            star = [np.ones_like(grid)] + [1 / (1 + np.exp(-a * (grid - b))) for b in cuts]
            star.append(np.zeros_like(grid))
            p = star[x] - star[x + 1]
        log_post += np.log(p)
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    mean = float((w * grid).sum())
    sd = float(np.sqrt((w * (grid - mean) ** 2).sum()))
    return [mean - Z975 * sd, mean + Z975 * sd]


def test_refusals_name_the_field(client, tenant):
    bank = mixed_bank()
    version = publish(client, tenant, bank)
    cases = [
        ({"feedback": "item"}, "feedback: 'item'"),
        ({"mode": "practice", "pretest_count": 1}, "pretest_count"),
        ({"feedback": "progress", "show_results": False}, "show_results"),
        ({"mode": "rehearsal"}, "mode must be one of"),
    ]
    for config, words in cases:
        reply = assessment(client, tenant, bank, version, config)
        assert reply.status_code == 422, reply.text
        error = reply.json()["error"]
        assert error["code"] == "invalid_config" and words in error["message"], error
    secure_only = ItemBank([it for it in bank if it.status != "practice"], name="secure-only")
    v2 = publish(client, tenant, secure_only)
    reply = assessment(client, tenant, secure_only, v2, {"mode": "practice"})
    assert reply.status_code == 422 and "has no practice item" in reply.json()["error"]["message"]
    practice_only = ItemBank([it for it in bank if it.status == "practice"], name="practice-only")
    v3 = publish(client, tenant, practice_only)
    reply = assessment(client, tenant, practice_only, v3, {})
    assert reply.status_code == 422
    assert "no operational item (its 8 practice items" in reply.json()["error"]["message"]


def test_practice_session_feedback_exposure_and_export(app, client, tenant):
    bank = mixed_bank()
    version = publish(client, tenant, bank)
    secure = assessment(client, tenant, bank, version, SECURE).json()["assessment_id"]
    practice = assessment(client, tenant, bank, version, PRACTICE).json()
    assert practice["config"]["mode"] == "practice" and practice["config"]["feedback"] == "item"
    practice = practice["assessment_id"]
    secure_sessions = [run_test(client, tenant.deliver, secure, bank, seed=k)[0]
                       for k in range(3)]  # fmt: skip

    db = app.state.context.db

    def exposure() -> dict[tuple[str, str], int]:
        with db.read() as session:
            rows = session.execute(select(ExposureCount.assessment_id, ExposureCount.item_id,
                                          ExposureCount.count).where(
                ExposureCount.assessment_id.in_([secure, practice]))).all()  # fmt: skip
        return {(a, i): n for a, i, n in rows}

    before = exposure()
    # a practice session: refused flags first
    refused = client.post("/v1/sessions", headers=tenant.deliver, json={
        "assessment_id": secure, "examinee_ref": "x", "practice": True})  # fmt: skip
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request"
    refused = client.post("/v1/sessions", headers=tenant.deliver, json={
        "assessment_id": practice, "examinee_ref": "x", "practice": False})  # fmt: skip
    assert refused.status_code == 422

    rng = np.random.default_rng(5)
    practice_sessions = []
    for run in range(3):
        reply = client.post("/v1/sessions", headers=tenant.deliver, json={
            "assessment_id": practice, "examinee_ref": f"learner-{run}"})  # fmt: skip
        assert reply.status_code == 201, reply.text
        body = reply.json()
        assert "feedback" not in body  # nothing answered yet
        practice_sessions.append(body["session_id"])
        items, responses = [], []
        while body["status"] == "in_progress":
            item_id = body["item"]["item_id"]
            assert bank[item_id].status == "practice"
            x = answer(bank, item_id, 0.5, rng)
            request = {"item_id": item_id, "seq": body["seq"], "response": x}
            url = f"/v1/sessions/{body['session_id']}/responses"
            reply = client.post(url, headers=tenant.deliver, json=request)
            assert reply.status_code == 200, reply.text
            retry = client.post(url, headers=tenant.deliver, json=request)
            assert retry.json() == reply.json()  # the stored reply, feedback and all
            body = reply.json()
            items.append(item_id)
            responses.append(x)
            fb = body["feedback"]
            # item feedback from the bank's own texts
            assert fb["item"]["item_id"] == item_id and fb["item"]["category"] == x
            assert fb["item"]["explanation"] == bank[item_id].feedback.get(x)
            if bank[item_id].n_categories == 2:
                assert fb["item"]["correct"] is (x == 1)
            else:
                assert fb["item"]["correct"] is None and fb["item"]["max_category"] == 2
            # progress: the posterior computed independently
            prog = fb["progress"]
            assert prog["skill_id"] == bank.name and prog["n_answered"] == len(items)
            lo, hi = posterior_interval(bank, items, responses)
            assert abs(prog["score_interval"][0] - lo) < 0.006, (prog, lo)
            assert abs(prog["score_interval"][1] - hi) < 0.006, (prog, hi)
            assert prog["level"] is None  # no cut scores
            text = json.dumps(fb)
            assert '"a"' not in text and '"b"' not in text  # no parameter
        assert body["result"]["practice"] is True
        view = client.get(f"/v1/sessions/{body['session_id']}", headers=tenant.deliver).json()
        assert view["practice"] is True
    # exposure: the secure assessment's counts untouched, the practice one's only practice items
    after = exposure()
    assert {k: v for k, v in after.items() if k[0] == secure} == \
        {k: v for k, v in before.items() if k[0] == secure}  # fmt: skip
    assert all(bank[i].status == "practice" for a, i in after if a == practice)
    assert sum(n for (a, _), n in after.items() if a == practice) == 3 * 5
    # the response export of the bank version has the secure sessions only
    reply = client.get(f"/v1/banks/{bank.name}/versions/{version}/responses?format=parquet",
                       headers=tenant.admin)  # fmt: skip
    assert reply.status_code == 200, reply.text
    frame = pd.read_parquet(io.BytesIO(reply.content))
    assert sorted(frame["session_id"].unique()) == sorted(secure_sessions)
    assert not frame["item"].isin([it.item_id for it in bank if it.status == "practice"]).any()
    # secure sessions are not practice and their replies carry no feedback
    view = client.get(f"/v1/sessions/{secure_sessions[0]}", headers=tenant.deliver).json()
    assert view["practice"] is False and "practice" not in view["result"]
    body = client.post("/v1/sessions", headers=tenant.deliver,
                       json={"assessment_id": secure, "examinee_ref": "y"}).json()  # fmt: skip
    reply = client.post(f"/v1/sessions/{body['session_id']}/responses", headers=tenant.deliver,
                        json={"item_id": body["item"]["item_id"], "seq": 1, "response": 0})
    assert "feedback" not in reply.json()  # the assessment gives none: replies as before


def test_progress_feedback_with_cut_scores_on_a_secure_test(client, tenant):
    bank = mixed_bank("cuts")
    version = publish(client, tenant, bank)
    config = {**SECURE, "feedback": "progress", "cut_scores": [-0.5, 0.7]}
    aid = assessment(client, tenant, bank, version, config).json()["assessment_id"]
    body = client.post("/v1/sessions", headers=tenant.deliver,
                       json={"assessment_id": aid, "examinee_ref": "c"}).json()  # fmt: skip
    items, responses = [], []
    while body["status"] == "in_progress":
        item_id = body["item"]["item_id"]
        assert bank[item_id].status == "operational"  # a secure test never gives practice items
        x = len(items) % 2
        body = client.post(f"/v1/sessions/{body['session_id']}/responses", headers=tenant.deliver,
                           json={"item_id": item_id, "seq": body["seq"], "response": x}).json()
        items.append(item_id)
        responses.append(x)
        fb = body["feedback"]
        assert set(fb) == {"progress"}  # no item feedback outside practice mode
        lo, hi = posterior_interval(bank, items, responses)
        assert np.allclose(fb["progress"]["score_interval"], [lo, hi], atol=0.006)
        mean = (lo + hi) / 2
        band = int(np.searchsorted([-0.5, 0.7], mean, side="right"))
        assert fb["progress"]["level"] == {"index": band, "name": None,
                                           "from": [None, -0.5, 0.7][band],
                                           "to": [-0.5, 0.7, None][band]}  # fmt: skip


def _publish_battery_banks(client, tenant, status: str | None) -> dict[str, int]:
    """The demo battery's banks published (with every item of ``status`` when given)."""
    versions = {}
    for bank in PLAN.banks:
        doc = json.loads(bank_to_json(bank))
        for item in doc["items"]:
            item["status"] = status or item["status"]
        reply = client.post("/v1/banks", json=doc, headers=tenant.admin)
        assert reply.status_code == 201, reply.text
        versions[bank.name] = reply.json()["version"]
    return versions


def test_practice_battery_progress_per_skill_and_mixed_battery_refused(client, tenant):
    secure = _publish_battery_banks(client, tenant, None)
    versions = _publish_battery_banks(client, tenant, "practice")
    doc = battery_document(versions)
    for sec in doc["sections"]:
        sec["cat"] = {**sec["cat"], "mode": "practice", "feedback": "progress"}
    mixed = json.loads(json.dumps(doc))
    mixed["sections"][1]["cat"]["mode"] = "secure"
    mixed["sections"][1]["cat"]["feedback"] = "none"
    mixed["sections"][1]["bank"]["version"] = secure["project-management-demo"]
    reply = client.post("/v1/assessments", headers=tenant.admin, json={"battery": mixed})
    assert reply.status_code == 422, reply.text
    message = reply.json()["error"]["message"]
    assert "mix practice and secure" in message and "project-management" in message
    reply = client.post("/v1/assessments", headers=tenant.admin, json={"battery": doc})
    assert reply.status_code == 201, reply.text
    aid = reply.json()["assessment_id"]
    body = client.post("/v1/sessions", headers=tenant.deliver,
                       json={"assessment_id": aid, "examinee_ref": "bp", "seed": 3}).json()
    rng = np.random.default_rng(2)
    last: dict[str, dict] = {}
    counts: dict[str, int] = {}
    from tests.api.battery_helpers import answer as battery_answer

    while body["status"] == "in_progress":
        item = body["item"]
        skill = item["section"]["skill_id"]
        body = client.post(f"/v1/sessions/{body['session_id']}/responses",
                           headers=tenant.deliver,
                           json={"item_id": item["item_id"], "seq": body["seq"],
                                 "response": battery_answer(item["item_id"], 0.3, rng)}).json()
        prog = body["feedback"]["progress"]
        counts[skill] = counts.get(skill, 0) + 1
        assert prog["skill_id"] == skill and prog["n_answered"] == counts[skill]
        assert prog["level"]["name"] in ("Foundation", "Practitioner", "Expert")
        assert "item" not in body["feedback"]
        other = [s for s in PLAN.skill_ids if s != skill]
        assert not any(s in json.dumps(body["feedback"]) for s in other)
        last[skill] = prog
    profile = body["result"]
    assert profile["practice"] is True
    for s in profile["skills"]:  # the last progress of a skill is its profile entry
        assert last[s["skill_id"]]["score_interval"] == s["score_interval"]
        assert last[s["skill_id"]]["level"]["name"] == s["level"]
    report = client.get(f"/v1/sessions/{body['session_id']}/report", headers=tenant.deliver)
    assert report.status_code == 200 and report.json()["practice"] is True
    html = client.get(f"/v1/sessions/{body['session_id']}/report",
                      headers={**tenant.deliver, "Accept": "text/html"}).text
    assert "Practice session" in html


def test_admin_replies_and_their_retries_carry_the_same_feedback(client, tenant):
    bank = mixed_bank("admin")
    version = publish(client, tenant, bank)
    config = {**PRACTICE, "max_items": 2}
    aid = assessment(client, tenant, bank, version, config).json()["assessment_id"]
    body = client.post("/v1/sessions", headers=tenant.admin,
                       json={"assessment_id": aid, "examinee_ref": "adm"}).json()  # fmt: skip
    replies = []
    while body["status"] == "in_progress":
        request = {"item_id": body["item"]["item_id"], "seq": body["seq"], "response": 1}
        url = f"/v1/sessions/{body['session_id']}/responses"
        body = client.post(url, headers=tenant.admin, json=request).json()
        replies.append((url, request, body))
    url, request, final = replies[-1]
    assert final["status"] == "finished" and "theta" in final["result"]  # the admin view
    assert final["feedback"]["item"]["explanation"] == bank[request["item_id"]].feedback.get(1)
    again = client.post(url, headers=tenant.admin, json=request).json()
    assert again == final
    as_learner = client.post(url, headers=tenant.deliver, json=request).json()
    assert as_learner["feedback"] == final["feedback"]
