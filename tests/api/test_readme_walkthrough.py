"""The README's description of retries after a finished test is what the service does."""

from __future__ import annotations

from pathlib import Path

from tests.api.helpers import DEMO_BANK, make_assessment, run_test

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_answers_to_a_finished_test_behave_as_the_readme_says(client, tenant):
    assert (
        "Once a test\n  has finished, its last answer sent again returns the stored (finished) "
        "reply, a different\n  answer to that seq is `409 stale_seq`, and an answer with a new "
        "seq `409 test_finished`."
    ) in README
    assessment_id = make_assessment(client, tenant)
    session_id, final = run_test(client, tenant.deliver, assessment_id, DEMO_BANK)
    assert final["status"] == "finished"
    view = client.get(f"/v1/sessions/{session_id}", headers=tenant.deliver).json()
    last = view["responses"][-1]
    url = f"/v1/sessions/{session_id}/responses"
    body = {"item_id": last["item_id"], "seq": last["seq"], "response": last["response"]}
    again = client.post(url, headers=tenant.deliver, json=body)
    assert again.status_code == 200 and again.json() == final
    other = dict(body, response=1 - last["response"] if last["response"] in (0, 1) else 0)
    stale = client.post(url, headers=tenant.deliver, json=other)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_seq"
    new = dict(body, seq=last["seq"] + 1)
    finished = client.post(url, headers=tenant.deliver, json=new)
    assert finished.status_code == 409 and finished.json()["error"]["code"] == "test_finished"
