"""Issuing Open Badges 3.0 credentials for finished sessions: fields, proofs, refusals."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta

import pytest
from badge_helpers import SECRET, issue, status_bit, strong_battery_session, tampered
from battery_helpers import PLAN, make_battery, run_battery
from helpers import make_assessment, mini_bank, run_test

from api.db import Database
from api.models import TestSession
from api.services.badges import issue_badges
from api.settings import Settings
from guidance.badges.contexts import OB_V3, VC_V2
from guidance.badges.multikey import public_from_did_key
from guidance.badges.proof import verify_proof
from guidance.badges.verify import verify_credential


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_battery_badges_carry_the_profile_and_verify(badge_client, tenant):
    client = badge_client
    _, sid = strong_battery_session(client, tenant)
    profile = client.get(f"/v1/sessions/{sid}", headers=tenant.admin).json()
    skills = {s["skill_id"]: s for s in profile["result"]["skills"]}
    reply = issue(client, tenant.admin, sid)
    assert reply.status_code == 201, reply.text
    got = reply.json()["badges"]
    met = sorted(k for k, s in skills.items() if s["status"] == "met")
    assert met and sorted(b["skill_id"] for b in got) == met
    sections = {sec.skill_id: sec for sec in PLAN.battery.sections}
    for badge in got:
        cred = badge["credential"]
        sec, skill = sections[badge["skill_id"]], skills[badge["skill_id"]]
        assert badge["new"] is True and badge["revoked"] is False
        assert cred["@context"] == [VC_V2, OB_V3]
        assert cred["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
        assert cred["id"] == f"urn:uuid:{badge['badge_id']}"
        assert cred["issuer"]["id"].startswith("did:key:z6Mk")
        assert cred["issuer"]["type"] == ["Profile"] and cred["issuer"]["name"] == tenant.name
        subject = cred["credentialSubject"]
        ident = subject["identifier"][0]
        assert ident["type"] == "IdentityObject" and ident["hashed"] is True
        assert ident["identityType"] == "identifier"
        # OB 3.0 identityHash: "sha256$" + hex SHA-256 of identifier + salt
        digest = hashlib.sha256(f"bx-3{ident['salt']}".encode()).hexdigest()
        assert ident["identityHash"] == f"sha256${digest}"
        ach = subject["achievement"]
        assert ach["achievementType"] == "Assessment" and ach["criteria"]["narrative"]
        if sec.esco_uri:
            assert ach["alignment"][0]["targetUrl"] == sec.esco_uri
            assert ach["alignment"][0]["targetFramework"] == "ESCO"
        else:
            assert "alignment" not in ach
        score_rd, level_rd = ach["resultDescription"]
        assert score_rd["resultType"] == "ScaledScore"
        assert (score_rd["valueMin"], score_rd["valueMax"]) == ("40", "160")
        assert level_rd["resultType"] == "PerformanceLevel"
        assert level_rd["allowedValue"] == ["Foundation", "Practitioner", "Expert"]
        required = next(r for r in level_rd["rubricCriterionLevel"]
                        if r["id"] == level_rd["requiredLevel"])
        assert required["name"] == sec.target_level == "Practitioner"
        score, level = subject["result"]
        assert score["resultDescription"] == score_rd["id"]
        assert score["value"] == str(int(skill["score"]))
        assert level["value"] == skill["level"] == badge["level"]
        reached = next(r for r in level_rd["rubricCriterionLevel"]
                       if r["id"] == level["achievedLevel"])
        assert reached["name"] == skill["level"]
        assert cred["evidence"][0]["id"] == f"http://testserver/v1/sessions/{sid}"
        text = json.dumps(cred)
        for item in profile["responses"]:  # no item content, no item ids
            assert item["item_id"] not in text
        assert _when(cred["validUntil"]) - _when(cred["validFrom"]) == timedelta(days=1095)
        assert cred["credentialStatus"]["type"] == "BitstringStatusListEntry"
        assert status_bit(client, cred) is False
        assert verify_credential(cred)["checks"]["proof"] == "ok"
        assert client.get(f"/v1/badges/{badge['badge_id']}", headers=tenant.admin).json() == {
            **{k: v for k, v in badge.items() if k != "new"}}


def test_changing_one_character_of_a_badge_breaks_its_proof(badge_client, tenant):
    _, sid = strong_battery_session(badge_client, tenant, seed=4)
    cred = issue(badge_client, tenant.admin, sid).json()["badges"][0]["credential"]
    key = public_from_did_key(cred["proof"]["verificationMethod"])
    verify_proof(cred, key)
    subject = ("credentialSubject",)
    score = cred["credentialSubject"]["result"][0]["value"]
    ident = cred["credentialSubject"]["identifier"][0]["identityHash"]
    valid_from = cred["validFrom"]  # ...:SSZ with other seconds, the same text shape
    later = valid_from[:-3] + ("01" if valid_from[-3:-1] != "01" else "02") + "Z"
    changes = [
        ((*subject, "result", 0, "value"), str(int(score) + 1)),
        ((*subject, "result", 1, "value"), "Expert" if cred["credentialSubject"]["result"][1]
         ["value"] != "Expert" else "Foundation"),
        ((*subject, "identifier", 0, "identityHash"),
         ident[:-1] + ("0" if ident[-1] != "0" else "1")),
        (("validUntil",), cred["validUntil"].replace("20", "21", 1)),
        (("validFrom",), later),
    ]
    for path, value in changes:
        assert tampered(cred, path, value) != cred  # a real change, one character
        result = verify_credential(tampered(cred, path, value))
        assert result["verified"] is False
        assert "bad_signature" in [e["code"] for e in result["errors"]], path


def test_issuing_again_returns_the_same_badges(badge_client, tenant):
    _, sid = strong_battery_session(badge_client, tenant, seed=5)
    first = issue(badge_client, tenant.admin, sid).json()["badges"]
    again = issue(badge_client, tenant.deliver, sid).json()["badges"]
    assert [b["badge_id"] for b in again] == [b["badge_id"] for b in first]
    assert all(b["new"] is False for b in again)
    one = issue(badge_client, tenant.admin, sid, skill_id=first[0]["skill_id"]).json()["badges"]
    assert [b["badge_id"] for b in one] == [first[0]["badge_id"]]


def test_email_is_hashed_unless_asked_in_the_clear(badge_client, tenant):
    _, sid = strong_battery_session(badge_client, tenant, seed=6)
    skill = issue(badge_client, tenant.admin, sid).json()["badges"][0]["skill_id"]
    _, sid2 = strong_battery_session(badge_client, tenant, seed=7)
    hashed = issue(badge_client, tenant.admin, sid2, skill_id=skill,
                   email="Learner@Example.org").json()["badges"][0]["credential"]
    ident = hashed["credentialSubject"]["identifier"][0]
    assert ident["identityType"] == "emailAddress" and "learner@" not in json.dumps(hashed)
    digest = hashlib.sha256(f"learner@example.org{ident['salt']}".encode()).hexdigest()
    assert ident["identityHash"] == f"sha256${digest}"
    _, sid3 = strong_battery_session(badge_client, tenant, seed=8)
    plain = issue(badge_client, tenant.admin, sid3, skill_id=skill, email="learner@example.org",
                  include_email=True).json()["badges"][0]["credential"]
    ident = plain["credentialSubject"]["identifier"][0]
    assert ident == {"type": "IdentityObject", "identityType": "emailAddress", "hashed": False,
                     "identityHash": "learner@example.org"}
    bad = issue(badge_client, tenant.admin, sid3, include_email=True)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


def test_valid_days_sets_valid_until_and_zero_means_none(badge_client, tenant):
    _, sid = strong_battery_session(badge_client, tenant, seed=9)
    badges = issue(badge_client, tenant.admin, sid, valid_days=30).json()["badges"]
    cred = badges[0]["credential"]
    assert _when(cred["validUntil"]) - _when(cred["validFrom"]) == timedelta(days=30)
    _, sid2 = strong_battery_session(badge_client, tenant, seed=10)
    cred = issue(badge_client, tenant.admin, sid2, valid_days=0).json()["badges"][0]["credential"]
    assert "validUntil" not in cred and verify_credential(cred)["verified"]


def _code(reply, status: int) -> str:
    assert reply.status_code == status, reply.text
    return reply.json()["error"]["code"]


def test_refusals_unfinished_practice_not_met_hidden_results(badge_client, badge_app, tenant):
    client = badge_client
    aid = make_battery(client, tenant)
    started = client.post("/v1/sessions", headers=tenant.deliver,
                          json={"assessment_id": aid, "examinee_ref": "u"}).json()
    assert _code(issue(client, tenant.admin, started["session_id"]), 409) == "session_not_finished"
    sid, _, _ = run_battery(client, tenant.deliver, aid, seed=11, theta=-2.5)
    reply = issue(client, tenant.admin, sid)
    assert _code(reply, 409) == "level_not_met"
    assert {s["status"] for s in reply.json()["error"]["details"]["skills"]} <= {"near", "not_met"}
    low_skills = client.get(f"/v1/sessions/{sid}", headers=tenant.admin).json()["result"]["skills"]
    assert all(s["status"] != "met" for s in low_skills)
    unknown = issue(client, tenant.admin, sid, skill_id="cooking")
    assert _code(unknown, 422) == "invalid_request"
    # a finished session flagged practice (sessions.practice: a practice session, whatever
    # made it one) earns no badge, even with every level met
    psid, _, _ = run_battery(client, tenant.deliver, aid, seed=13, theta=1.6)
    with badge_app.state.context.db.write() as session:
        session.get(TestSession, psid).practice = True
    assert _code(issue(client, tenant.admin, psid), 409) == "practice_session"
    assert _code(issue(client, tenant.admin, "no-such-session"), 404) == "not_found"


def test_delivery_keys_follow_the_report_rules(badge_client, tenant):
    client = badge_client
    bank = mini_bank("hidden", n=60)
    config = {"max_items": 25, "stop_se": None, "cut_scores": [-1.0], "show_results": False}
    aid = make_assessment(client, tenant, config=config, bank=bank)
    sid, _ = run_test(client, tenant.deliver, aid, bank, theta=2.5, seed=3)
    assert _code(issue(client, tenant.deliver, sid), 403) == "forbidden"
    badge = issue(client, tenant.admin, sid).json()["badges"][0]
    got = client.get(f"/v1/badges/{badge['badge_id']}", headers=tenant.deliver)
    assert _code(got, 403) == "forbidden"
    assert _code(client.post(f"/v1/badges/{badge['badge_id']}/revoke", headers=tenant.deliver),
                 403) == "forbidden"


def test_single_skill_badge_from_cut_scores(badge_client, tenant):
    client = badge_client
    bank = mini_bank("single", n=60)
    config = {"max_items": 25, "stop_se": None, "cut_scores": [-0.5, 0.5]}
    aid = make_assessment(client, tenant, config=config, bank=bank)
    sid, final = run_test(client, tenant.deliver, aid, bank, theta=2.5, seed=2)
    theta, se = final["result"]["theta"], final["result"]["se"]
    assert theta - 1.96 * se > 0.5  # the top cut is met with 95% confidence
    badge = issue(client, tenant.deliver, sid).json()["badges"][0]
    subject = badge["credential"]["credentialSubject"]
    score_rd, level_rd = subject["achievement"]["resultDescription"]
    assert (score_rd["valueMin"], score_rd["valueMax"]) == ("-4", "4")  # theta_range default
    assert level_rd["allowedValue"] == ["Level 1", "Level 2", "Level 3"]
    assert subject["result"][1]["value"] == "Level 3" and badge["skill_id"] == "single"
    assert float(subject["result"][0]["value"]) == pytest.approx(theta, abs=0.005)
    assert verify_credential(badge["credential"])["verified"]
    no_cuts = make_assessment(client, tenant, config={"max_items": 5, "stop_se": None},
                              bank=bank)
    sid2, _ = run_test(client, tenant.deliver, no_cuts, bank, theta=2.5, seed=2)
    assert _code(issue(client, tenant.admin, sid2), 409) == "no_levels"


def test_concurrent_requests_issue_each_badge_once(badge_client, database_url, other_tenant):
    """Four workers (own engines) ask at once, on a tenant's first use: one badge per skill."""
    _, sid = strong_battery_session(badge_client, other_tenant, seed=12)
    dbs = [Database(Settings(database_url, secret_key=SECRET)) for _ in range(4)]
    barrier = threading.Barrier(len(dbs))
    outcomes: list = [None] * len(dbs)

    def ask(k: int) -> None:
        barrier.wait()
        try:
            outcomes[k] = issue_badges(dbs[k], secret=SECRET, tenant=other_tenant.name,
                                       session_id=sid, scope="admin",
                                       public_url="http://testserver", valid_days=10)
        except Exception as error:  # reported below, never swallowed
            outcomes[k] = error

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(len(dbs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for db in dbs:
        db.dispose()
    assert all(isinstance(o, list) for o in outcomes), outcomes
    ids = {tuple(sorted(b["badge_id"] for b in o)) for o in outcomes}
    assert len(ids) == 1  # every worker got the same badges
    assert sum(b["new"] for o in outcomes for b in o) == len(outcomes[0])
    keys = badge_client.get("/v1/badges/keys", headers=other_tenant.admin).json()
    assert len(keys) == 1  # one key made on first use, not one per worker
    indices = [(b["status_list"], b["status_index"]) for b in outcomes[0]]
    assert len(set(indices)) == len(indices)
