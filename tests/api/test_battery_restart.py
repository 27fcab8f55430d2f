"""A battery session survives kill -9 of a real server across a section boundary."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from api.server import start_server
from tests.api.battery_helpers import answer, make_battery

pytestmark = pytest.mark.slow


def _request(body: dict, rng) -> dict:
    item = body["item"]
    return {"item_id": item["item_id"], "seq": body["seq"],
            "response": answer(item["item_id"], 0.3, rng)}  # fmt: skip


def test_kill_9_mid_battery_then_finish(app, client, tenant, database_url, tmp_path):
    aid = make_battery(client, tenant)
    workers = 1 if database_url.startswith("sqlite") else 2
    log = tmp_path / "uvicorn.log"
    server = start_server(database_url, log_path=log, workers=workers, timeout=40)
    rng = np.random.default_rng(9)
    base = server.url
    sent: list[dict] = []
    try:
        with httpx.Client(base_url=base, headers=tenant.deliver, timeout=10) as http:
            body = http.post("/v1/sessions",
                             json={"assessment_id": aid, "examinee_ref": "crash"}).json()
            sid = body["session_id"]
            while body["item"]["section"]["index"] == 1:  # into the second section
                sent.append(_request(body, rng))
                body = http.post(f"/v1/sessions/{sid}/responses", json=sent[-1]).json()
        boundary_reply = body
        in_flight = _request(body, rng)
        pool = ThreadPoolExecutor(1)
        pending = pool.submit(httpx.post, f"{base}/v1/sessions/{sid}/responses",
                              json=in_flight, headers=tenant.deliver, timeout=10)
        time.sleep(0.005)
    finally:
        code = server.stop(signal.SIGKILL)
    assert code == -signal.SIGKILL
    try:
        pending.result()
    except httpx.HTTPError:
        pass
    pool.shutdown()
    port = int(base.rsplit(":", 1)[1])
    server = start_server(database_url, log_path=log, port=port, workers=workers, timeout=40)
    try:
        with httpx.Client(base_url=base, headers=tenant.deliver, timeout=10) as http:
            retry = http.post(f"/v1/sessions/{sid}/responses", json=sent[-1])
            assert retry.status_code == 200 and retry.json() == boundary_reply
            reply = http.post(f"/v1/sessions/{sid}/responses", json=in_flight)
            assert reply.status_code == 200, reply.text
            sent.append(in_flight)
            body = reply.json()
            while body["status"] == "in_progress":
                sent.append(_request(body, rng))
                body = http.post(f"/v1/sessions/{sid}/responses", json=sent[-1]).json()
            view = http.get(f"/v1/sessions/{sid}").json()
    finally:
        server.stop()
    assert view["n_answered"] == len(sent) == body["result"]["n_items"]
    assert [r["item_id"] for r in view["responses"]] == [s["item_id"] for s in sent]
    assert [s["skill_id"] for s in body["result"]["skills"]] == ["coding", "project-management",
                                                                 "design"]
