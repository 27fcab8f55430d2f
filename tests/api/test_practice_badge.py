"""Practice-mode tests (issue 14) never earn a badge (issue 15)."""

from __future__ import annotations

from helpers import make_assessment, run_test

from item_banks.bank import Item, ItemBank


def test_practice_mode_assessment_earns_no_badge(badge_client, tenant):
    items = [Item(f"p{j:02d}", "2pl", {"a": 1.5, "b": j / 10 - 1.0}, status="practice")
             for j in range(30)]
    bank = ItemBank(items, name="practice-only")
    aid = make_assessment(badge_client, tenant, config={"mode": "practice", "max_items": 20,
                                                        "stop_se": None, "cut_scores": [-2.0]},
                          bank=bank)
    sid, final = run_test(badge_client, tenant.deliver, aid, bank, theta=3.0, seed=1)
    assert final["status"] == "finished"
    view = badge_client.get(f"/v1/sessions/{sid}", headers=tenant.admin).json()
    assert view["practice"] is True  # a session of a practice test, whose level is met
    reply = badge_client.post(f"/v1/sessions/{sid}/badges", headers=tenant.admin, json={})
    assert reply.status_code == 409, reply.text
    assert reply.json()["error"]["code"] == "practice_session"
