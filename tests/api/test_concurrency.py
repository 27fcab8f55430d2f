"""Two (or more) concurrent submissions for one session cannot both apply.

Each thread opens its OWN Database (engine, pool, in-process lock), as separate worker
processes would, so only the database's locking (BEGIN IMMEDIATE on SQLite, SELECT ...
FOR UPDATE on PostgreSQL) stands between them.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from api.db import Database
from api.errors import StaleSeqError
from api.models import Response, TestSession
from api.services import sessions
from api.settings import Settings
from tests.api.helpers import make_assessment

N_THREADS = 6


def _race(database_url, tenant, session_id, item_id, responses):
    barrier = threading.Barrier(len(responses))
    outcomes: list = [None] * len(responses)
    dbs = [Database(Settings(database_url)) for _ in responses]

    def submit(k: int) -> None:
        barrier.wait()
        try:
            outcomes[k] = sessions.respond(
                dbs[k],
                tenant=tenant.name,
                session_id=session_id,
                item_id=item_id,
                seq=1,
                response=responses[k],
            )
        except StaleSeqError as error:
            outcomes[k] = error

    threads = [threading.Thread(target=submit, args=(k,)) for k in range(len(responses))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for db in dbs:
        db.dispose()
    return outcomes


def _rows(app, session_id):
    with app.state.context.db.read() as session:
        n = session.scalar(
            select(func.count()).select_from(Response).where(Response.session_id == session_id)
        )
        seq = session.scalar(select(TestSession.seq).where(TestSession.id == session_id))
    return n, seq


def test_concurrent_different_answers_only_one_applies(app, client, tenant, database_url):
    assessment_id = make_assessment(client, tenant)
    for _ in range(3):  # repeat: a race that is lost only sometimes must still never apply twice
        first = client.post(
            "/v1/sessions",
            headers=tenant.deliver,
            json={"assessment_id": assessment_id, "examinee_ref": "r"},
        ).json()
        responses = [k % 2 for k in range(N_THREADS)]
        outcomes = _race(
            database_url, tenant, first["session_id"], first["item"]["item_id"], responses
        )
        applied = [k for k, o in enumerate(outcomes) if isinstance(o, dict)]
        refused = [k for k, o in enumerate(outcomes) if isinstance(o, StaleSeqError)]
        assert len(applied) + len(refused) == N_THREADS
        winner = responses[applied[0]]
        # only submissions identical to the winner may succeed (idempotent), all the same reply
        assert all(responses[k] == winner for k in applied)
        assert all(responses[k] != winner for k in refused)
        assert all(outcomes[k] == outcomes[applied[0]] for k in applied)
        assert _rows(app, first["session_id"]) == (1, 2)


def test_concurrent_identical_retries_record_once(app, client, tenant, database_url):
    assessment_id = make_assessment(client, tenant)
    first = client.post(
        "/v1/sessions",
        headers=tenant.deliver,
        json={"assessment_id": assessment_id, "examinee_ref": "r"},
    ).json()
    outcomes = _race(
        database_url, tenant, first["session_id"], first["item"]["item_id"], [1] * N_THREADS
    )
    assert all(isinstance(o, dict) for o in outcomes)
    assert all(o == outcomes[0] for o in outcomes)
    assert _rows(app, first["session_id"]) == (1, 2)
