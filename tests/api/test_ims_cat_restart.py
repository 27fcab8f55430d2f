"""A TAO-like client survives ``kill -9`` of the service mid-section.

The client answers four items, sends the fifth cumulative results call and the server
is killed with SIGKILL while that call is in flight. After a restart the client does
what TAO does after a failed call: it sends the same cumulative results again with the
last sessionState it received (issued before the crash). The fifth answer is applied
exactly once (now, or it was stored before the kill), the section runs to its end and
the response log holds every answer once and in order.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from api.server import start_server
from tests.api.helpers import DEMO_BANK, answer, make_assessment
from tests.api.ims_client import PREFIX, CatClient, section_body

pytestmark = pytest.mark.slow


def test_kill_9_mid_section_then_finish(client, tenant, database_url, tmp_path):
    assessment_id = make_assessment(client, tenant, {"max_items": 10, "stop_se": None})
    workers = 1 if database_url.startswith("sqlite") else 2
    log = tmp_path / "uvicorn.log"
    server = start_server(database_url, log_path=log, workers=workers, timeout=40)
    base = server.url
    rng = np.random.default_rng(8)
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            reply = http.post(
                f"{PREFIX}/sections",
                json=section_body({"assessment_id": assessment_id}),
                headers=tenant.deliver,
            )
            assert reply.status_code == 201, reply.text
            cat = CatClient(http, tenant.deliver, reply.json()["sectionIdentifier"])
            cat.start()
            for _ in range(4):
                cat.answer(answer(DEMO_BANK, cat.next_items[0], 0.2, rng))
        state_before = cat.state
        cat.answered.append((cat.next_items[0], answer(DEMO_BANK, cat.next_items[0], 0.2, rng),
                             "FLOAT", "int"))  # fmt: skip
        pool = ThreadPoolExecutor(1)
        pending = pool.submit(
            httpx.post,
            f"{base}{PREFIX}/sections/{cat.section_id}/sessions/{cat.session_id}/results",
            json=cat.payload(),
            headers=tenant.deliver,
            timeout=10,
        )
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
        with httpx.Client(base_url=base, timeout=10) as http:
            cat.http = http
            assert cat.state == state_before  # the client never saw a reply
            retry = cat.post_results()
            assert retry.status_code == 200, retry.text
            retried = retry.json()
            view = http.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
            assert view["n_answered"] == 5
            again = cat.post_results()  # the same call once more: nothing changes
            assert again.json()["nextItems"] == retried["nextItems"]
            cat.state, cat.next_items = (
                retried["sessionState"],
                retried["nextItems"]["itemIdentifiers"],
            )
            while cat.next_items:
                cat.answer(answer(DEMO_BANK, cat.next_items[0], 0.2, rng))
            view = http.get(f"/v1/sessions/{cat.session_id}", headers=tenant.admin).json()
    finally:
        server.stop(timeout=20)
    assert view["status"] == "finished" and view["n_answered"] == 10 == len(cat.answered)
    stored = [(r["item_id"], r["response"]) for r in view["responses"]]
    assert stored == [(i, s) for i, s, *_ in cat.answered]
    assert [r["seq"] for r in view["responses"]] == list(range(1, 11))
