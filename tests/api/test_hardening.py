"""The defects of issue 11, one test each (both databases through the ``client`` fixture)."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select, text

from api.models import Assessment, ExposureCount, TestSession
from api.openapi import PUBLIC_V1
from tests.api.helpers import DEMO_BANK, DEMO_DOC, SHORT, make_assessment, mini_bank, publish

BIG = 2**63  # 9223372036854775808: beyond int64 (SQLite's OverflowError before)


def _code(reply, status: int, code: str) -> dict:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == code, error
    assert set(error) == {"code", "message", "details"}
    return error


def _start(client, headers, assessment_id, ref="ex", key=None, seed=None):
    body = {"assessment_id": assessment_id, "examinee_ref": ref}
    if seed is not None:
        body["seed"] = seed
    extra = {"Idempotency-Key": key} if key else {}
    return client.post("/v1/sessions", json=body, headers={**headers, **extra})


# 1 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [BIG, 2**31, 10**30, -BIG])
def test_integers_out_of_range_are_422_at_the_schema_on_both_databases(client, tenant, value):
    published = publish(client, tenant.admin)
    _code(
        client.get(f"/v1/banks/{published['name']}/versions/{value}", headers=tenant.admin),
        422,
        "invalid_request",
    )
    assessment = {"bank": published["name"], "bank_version": value}
    err = _code(
        client.post("/v1/assessments", json=assessment, headers=tenant.admin),
        422,
        "invalid_request",
    )
    assert "database" not in err["message"]  # refused by the schema, not by the database
    assessment_id = make_assessment(client, tenant)
    first = _start(client, tenant.deliver, assessment_id).json()
    url = f"/v1/sessions/{first['session_id']}/responses"
    item = first["item"]["item_id"]
    for body in ({"item_id": item, "seq": value, "response": 0},
                 {"item_id": item, "seq": 1, "response": value}):  # fmt: skip
        _code(client.post(url, json=body, headers=tenant.deliver), 422, "invalid_request")
    if not 0 <= value < 2**53:  # seeds go up to 2**53 - 1
        _code(_start(client, tenant.deliver, assessment_id, seed=value), 422, "invalid_request")
    _code(client.get(f"/v1/banks?limit={value}", headers=tenant.admin), 422, "invalid_request")
    # the session is untouched: its first item can still be answered
    ok = client.post(url, json={"item_id": item, "seq": 1, "response": 0}, headers=tenant.deliver)
    assert ok.status_code == 200, ok.text


# 2 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw_config", "needle"),
    [
        ('{"max_items": 1e308}', "max_items"),
        ('{"max_items": 10000000}', "250 items"),
        ('{"sprt_delta": Infinity}', "sprt_delta"),
        ('{"prior_sd": NaN}', "prior_sd"),
        ('{"stop_se": 1e300}', "stop_se"),
        ('{"randomesque": 251}', "randomesque"),
        ('{"cut_scores": [0, Infinity]}', "cut_scores"),
        ('{"theta_range": [-1e300, 4]}', "theta_range"),
    ],
)
def test_engine_settings_are_finite_and_bounded(client, tenant, raw_config, needle):
    published = publish(client, tenant.admin)  # the 250-item demo bank
    body = (
        f'{{"bank": "{published["name"]}", "bank_version": {published["version"]}, '
        f'"config": {raw_config}}}'
    )
    reply = client.post(
        "/v1/assessments",
        content=body,
        headers={**tenant.admin, "content-type": "application/json"},
    )
    err = _code(reply, 422, "invalid_config")
    assert needle in err["message"], err["message"]


def test_max_items_up_to_the_bank_size_is_served(client, tenant):
    bank = mini_bank("small", n=12)
    assessment_id = make_assessment(client, tenant, {"max_items": 12, "stop_se": None}, bank)
    assert _start(client, tenant.deliver, assessment_id).status_code == 201
    published = publish(client, tenant.admin, bank)
    over = {"bank": "small", "bank_version": published["version"], "config": {"max_items": 13}}
    err = _code(client.post("/v1/assessments", json=over, headers=tenant.admin), 422,
                "invalid_config")  # fmt: skip
    assert "12 items" in err["message"]


@pytest.mark.parametrize(
    "config",
    [
        {"content": [1, 2]},
        {"exposure_params": [3]},
        {"content_proportions": [7]},
        {"content": [[1, 2, 3]]},
    ],
)
def test_config_messages_show_no_python_internals(client, tenant, config):
    published = publish(client, tenant.admin)
    body = {"bank": published["name"], "bank_version": published["version"], "config": config}
    err = _code(client.post("/v1/assessments", json=body, headers=tenant.admin), 422,
                "invalid_config")  # fmt: skip
    message = err["message"]
    for internal in ("unpack", "non-iterable", "object", "Traceback", "NoneType"):
        assert internal not in message, message
    assert next(iter(config)) in message


# 3 ------------------------------------------------------------------------------------
def _bank_doc(name="ids", item_ids=("q1", "q2", "q3")) -> dict:
    items = [{"item_id": i, "model": "2pl", "params": {"a": 1.0, "b": 0.1 * k}}
             for k, i in enumerate(item_ids)]  # fmt: skip
    return {"format": "zapcat-bank/1", "name": name, "items": items}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (_bank_doc(item_ids=("q1", "x" * 201, "q3")), "item_id"),
        (_bank_doc(name="n" * 300), "name"),
        (_bank_doc(name="x/y"), "name"),
        (_bank_doc(name="a\x00b"), "name"),
        (_bank_doc(item_ids=("q1", "bad\x00id")), "item_id"),
        ({**_bank_doc(), "description": "d" * 10_001}, "description"),
    ],
    ids=["long-item-id", "long-name", "slash", "nul-name", "nul-item", "long-description"],
)
def test_identifier_limits_are_enforced_at_publish(client, tenant, document, field):
    err = _code(client.post("/v1/banks", json=document, headers=tenant.admin), 422,
                "invalid_item_bank")  # fmt: skip
    assert field in {p["field"] for p in err["details"]["problems"]}, err


def test_longest_item_ids_publish_present_and_answer(client, tenant):
    ids = ["a" * 200, "b" * 200, "c" * 200]
    reply = client.post("/v1/banks", json=_bank_doc(item_ids=ids), headers=tenant.admin)
    assert reply.status_code == 201, reply.text
    body = {"bank": "ids", "bank_version": 1, "config": {"max_items": 2, "stop_se": None}}
    created = client.post("/v1/assessments", json=body, headers=tenant.admin)
    assert created.status_code == 201, created.text
    first = _start(client, tenant.deliver, created.json()["assessment_id"]).json()
    answer = {"item_id": first["item"]["item_id"], "seq": 1, "response": 1}
    reply = client.post(f"/v1/sessions/{first['session_id']}/responses", json=answer,
                        headers=tenant.deliver)  # fmt: skip
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("ref", ["nul\x00ref", "r" * 201, " lead", "trail ", "", "a/b"])
def test_examinee_refs_follow_the_same_rule(client, tenant, ref):
    assessment_id = make_assessment(client, tenant)
    err = _code(_start(client, tenant.deliver, assessment_id, ref=ref), 422, "invalid_request")
    assert "examinee_ref" in err["message"]


def test_unicode_names_round_trip(client, tenant):
    reply = client.post("/v1/banks", json=_bank_doc(name="Ölçme 5: fractions"),
                        headers=tenant.admin)  # fmt: skip
    assert reply.status_code == 201, reply.text
    got = client.get("/v1/banks/%C3%96l%C3%A7me%205%3A%20fractions/versions/1",
                     headers=tenant.admin)  # fmt: skip
    assert got.status_code == 200 and got.json()["name"] == "Ölçme 5: fractions"


# 4 ------------------------------------------------------------------------------------
def test_malformed_json_without_a_key_is_401(client):
    json_type = {"content-type": "application/json"}
    reply = client.post("/v1/banks", content=b'{"oops', headers=json_type)
    _code(reply, 401, "unauthorized")
    reply = client.post("/v1/sessions", content=b"[", headers={"Authorization": "Bearer nope"})
    _code(reply, 401, "unauthorized")


async def _asgi(app, method, path, chunks, headers):
    """Call the ASGI app directly; return (status, body, number of body chunks read)."""
    read = [0]
    sent: list[dict] = []

    async def receive():
        if read[0] < len(chunks):
            read[0] += 1
            return {"type": "http.request", "body": chunks[read[0] - 1],
                    "more_body": read[0] < len(chunks)}  # fmt: skip
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), read[0]


def test_body_is_not_read_without_a_valid_key(app):
    import anyio

    chunks = [b"x" * 65536] * 16
    for headers in ({}, {"authorization": "Bearer zc_000000000000_" + "s" * 43}):
        status, body, read = anyio.run(_asgi, app, "POST", "/v1/banks", chunks, headers)
        assert status == 401 and body["error"]["code"] == "unauthorized"
        assert read == 0  # not one chunk of the body was read


def test_body_size_is_limited_with_413(database_url, tenant, app):
    import anyio

    from api.app import create_app
    from api.settings import Settings

    small = create_app(Settings(database_url, max_body_bytes=10_000), migrate=False)
    try:
        headers = {"authorization": f"Bearer {tenant.admin_key}"}
        chunks = [b" " * 4096] * 8  # chunked, no Content-Length: stopped after 3 chunks
        status, body, read = anyio.run(_asgi, small, "POST", "/v1/banks", chunks, headers)
        assert status == 413 and body["error"]["code"] == "payload_too_large"
        assert body["error"]["details"]["max_bytes"] == 10_000 and read == 3
        declared = {**headers, "content-length": "20000"}
        status, body, read = anyio.run(_asgi, small, "POST", "/v1/banks", chunks, declared)
        assert status == 413 and read == 0
        doc = json.dumps(_bank_doc()).encode()
        ok = {**headers, "content-type": "application/json"}
        status, body, _ = anyio.run(_asgi, small, "POST", "/v1/banks", [doc], ok)
        assert status == 201, body
    finally:
        small.state.context.db.dispose()
    # the default limit takes a 250-item bank easily
    assert app.state.context.settings.max_body_bytes >= 32 * 2**20


def test_bank_list_is_paged_with_a_cursor_and_short_entries(client, tenant):
    names = [f"bank-{k}" for k in range(5)]
    for name in names:
        doc = {**_bank_doc(name=name), "description": "long words " * 900}
        assert client.post("/v1/banks", json=doc, headers=tenant.admin).status_code == 201
    client.post("/v1/banks", json=_bank_doc(name="bank-0"), headers=tenant.admin)
    seen, cursor, pages = [], None, 0
    while True:
        url = "/v1/banks?limit=2" + (f"&cursor={cursor}" if cursor else "")
        reply = client.get(url, headers=tenant.deliver)
        assert reply.status_code == 200, reply.text
        pages += 1
        seen += [(b["name"], b["version"]) for b in reply.json()]
        assert all(len(b["description"]) <= 200 for b in reply.json())
        cursor = reply.headers.get("X-Next-Cursor")
        if cursor is None:
            assert "Link" not in reply.headers
            break
        assert 'rel="next"' in reply.headers["Link"]
    assert seen == [("bank-0", 1), ("bank-0", 2)] + [(n, 1) for n in names[1:]]
    assert pages == 3
    full = client.get("/v1/banks/bank-1/versions/1", headers=tenant.admin).json()
    assert len(full["description"]) == len("long words " * 900)
    _code(client.get("/v1/banks?cursor=not-a-cursor", headers=tenant.admin), 422,
          "invalid_request")  # fmt: skip
    _code(client.get("/v1/banks?limit=0", headers=tenant.admin), 422, "invalid_request")


# 5 ------------------------------------------------------------------------------------
def test_admin_retry_of_the_final_answer_gets_the_first_reply(client, tenant):
    assessment_id = make_assessment(client, tenant, {**SHORT, "show_results": False})
    reply = _start(client, tenant.admin, assessment_id).json()
    while True:
        url = f"/v1/sessions/{reply['session_id']}/responses"
        body = {"item_id": reply["item"]["item_id"], "seq": reply["seq"], "response": 1}
        first = client.post(url, json=body, headers=tenant.admin)
        assert first.status_code == 200, first.text
        again = client.post(url, json=body, headers=tenant.admin)
        assert again.json() == first.json()
        reply = first.json()
        if reply["status"] == "finished":
            break
    assert "theta" in reply["result"] and "se" in reply["result"]
    # a delivery key retrying the same final answer still sees no scores
    hidden = client.post(url, json=body, headers=tenant.deliver).json()
    assert "theta" not in hidden["result"]


# 6 ------------------------------------------------------------------------------------
def _exposures(app, assessment_id) -> tuple[int, int, int]:
    with app.state.context.db.read() as session:
        exposed = session.scalar(select(func.coalesce(func.sum(ExposureCount.count), 0)).where(
            ExposureCount.assessment_id == assessment_id))  # fmt: skip
        sessions = session.scalar(select(func.count()).select_from(TestSession).where(
            TestSession.assessment_id == assessment_id))  # fmt: skip
        counted = session.scalar(select(Assessment.n_sessions).where(
            Assessment.id == assessment_id))  # fmt: skip
    return exposed, sessions, counted


def test_session_start_with_an_idempotency_key_happens_once(app, client, tenant):
    assessment_id = make_assessment(client, tenant)
    first = _start(client, tenant.deliver, assessment_id, key="start-1")
    again = _start(client, tenant.deliver, assessment_id, key="start-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert _exposures(app, assessment_id) == (1, 1, 1)
    conflict = _start(client, tenant.deliver, assessment_id, ref="someone-else", key="start-1")
    _code(conflict, 409, "idempotency_conflict")
    other = _start(client, tenant.deliver, assessment_id, key="start-2")
    assert other.json()["session_id"] != first.json()["session_id"]
    assert _exposures(app, assessment_id) == (2, 2, 2)
    _code(_start(client, tenant.deliver, assessment_id, key="has space"), 422, "invalid_request")


def test_concurrent_retries_with_one_key_start_one_session(app, client, tenant):
    assessment_id = make_assessment(client, tenant)
    replies: list = [None] * 6

    def go(k: int) -> None:
        replies[k] = _start(client, tenant.deliver, assessment_id, key="racing")

    threads = [threading.Thread(target=go, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.status_code for r in replies} == {201}
    assert len({r.json()["session_id"] for r in replies}) == 1
    assert _exposures(app, assessment_id) == (1, 1, 1)


def test_bank_and_assessment_creates_are_idempotent(client, tenant, other_tenant):
    key = {"Idempotency-Key": "publish-1"}
    doc = _bank_doc(name="idem")
    first = client.post("/v1/banks", json=doc, headers={**tenant.admin, **key})
    again = client.post("/v1/banks", json=doc, headers={**tenant.admin, **key})
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    listing = client.get("/v1/banks", headers=tenant.admin).json()
    assert [(b["name"], b["version"]) for b in listing] == [("idem", 1)]
    changed = {**doc, "description": "another"}
    _code(client.post("/v1/banks", json=changed, headers={**tenant.admin, **key}), 409,
          "idempotency_conflict")  # fmt: skip
    # keys belong to a tenant: the other tenant's identical key is its own
    theirs = client.post("/v1/banks", json=doc, headers={**other_tenant.admin, **key})
    assert theirs.status_code == 201 and theirs.json()["version"] == 1
    body = {"bank": "idem", "bank_version": 1, "config": {"max_items": 2}}
    akey = {"Idempotency-Key": "assess-1"}
    one = client.post("/v1/assessments", json=body, headers={**tenant.admin, **akey})
    two = client.post("/v1/assessments", json=body, headers={**tenant.admin, **akey})
    assert one.status_code == two.status_code == 201 and one.json() == two.json()
    _code(client.post("/v1/assessments", json={**body, "name": "x"},
                      headers={**tenant.admin, **akey}), 409, "idempotency_conflict")  # fmt: skip


# 7 ------------------------------------------------------------------------------------
def test_no_bank_is_parsed_or_serialised_while_the_write_lock_is_held(app, client, tenant,
                                                                       monkeypatch):  # fmt: skip
    """The write transaction (SQLite's database lock) only numbers and stores rows."""
    import api.services.banks as banks_service
    from item_banks.bank import ItemBank

    db = app.state.context.db
    inside = threading.local()
    offences: list[str] = []
    rows_written: list[int] = []
    real_write = type(db).write

    from contextlib import contextmanager

    @contextmanager
    def watched_write(self):
        with real_write(self) as session:
            inside.flag = True
            try:
                yield session
            finally:
                inside.flag = False

    def guard(name, function):
        def wrapped(*args, **kwargs):
            if getattr(inside, "flag", False):
                offences.append(name)
            return function(*args, **kwargs)

        return wrapped

    from sqlalchemy import event

    def count_rows(conn, cursor, statement, parameters, context, executemany):
        if getattr(inside, "flag", False) and statement.lstrip().upper().startswith("INSERT"):
            rows_written.append(len(parameters) if executemany else 1)

    monkeypatch.setattr(type(db), "write", watched_write)
    monkeypatch.setattr(ItemBank, "to_dict", guard("to_dict", ItemBank.to_dict))
    for name in ("bank_from_json", "parse_stored"):  # the parser, before and after
        if hasattr(banks_service, name):
            monkeypatch.setattr(banks_service, name, guard(name, getattr(banks_service, name)))
    event.listen(db.engine, "before_cursor_execute", count_rows)
    try:
        bank = mini_bank("wide", n=3000)
        publish(client, tenant.admin, bank)
        assert offences == [] and sum(rows_written) == 1
        rows_written.clear()
        body = {"bank": "wide", "bank_version": 1, "config": SHORT}
        created = client.post("/v1/assessments", json=body, headers=tenant.admin)
        assert created.status_code == 201
        assert sum(rows_written) == 1, rows_written  # one row, not one per item
        banks_service._BANKS._data.clear()  # a worker that never saw the bank
        import api.services.assessments as assessments_service

        assessments_service._LOADED._data.clear()
        assert _start(client, tenant.deliver, created.json()["assessment_id"]).status_code == 201
        assert offences == []
    finally:
        event.remove(db.engine, "before_cursor_execute", count_rows)


def test_large_bodies_are_prepared_in_a_child_process(client, tenant, monkeypatch):
    from api.services import bank_documents

    monkeypatch.setattr(bank_documents, "CHILD_PROCESS_BYTES", 0)  # every body goes there
    bank = mini_bank("child", n=30)
    published = publish(client, tenant.admin, bank)
    stored = client.get(f"/v1/banks/child/versions/{published['version']}",
                        headers=tenant.admin).json()["document"]  # fmt: skip
    assert [it["params"] for it in stored["items"]] == [it.params for it in bank]
    bad = _bank_doc(name="x/y")
    bad["items"][0]["params"]["a"] = -1.0
    err = _code(client.post("/v1/banks", json=bad, headers=tenant.admin), 422,
                "invalid_item_bank")  # fmt: skip
    assert {"name", "a"} <= {p["field"] for p in err["details"]["problems"]}
    broken = client.post("/v1/banks", content=b'{"format": ',
                         headers={**tenant.admin, "content-type": "application/json"})  # fmt: skip
    _code(broken, 400, "malformed_json")
    key = {**tenant.admin, "Idempotency-Key": "child-1"}
    one = client.post("/v1/banks", json=_bank_doc(name="child2"), headers=key)
    two = client.post("/v1/banks", json=_bank_doc(name="child2"), headers=key)
    assert one.status_code == 201 and one.json() == two.json()


def test_stored_documents_parse_item_by_item_to_the_same_bank():
    from api.services.bank_documents import parse_stored
    from item_banks.io import bank_from_json, bank_to_json

    for doc in (bank_to_json(DEMO_BANK), bank_to_json(DEMO_BANK, indent=None),
                 json.dumps(json.loads(bank_to_json(DEMO_BANK)), indent=4)):  # fmt: skip
        assert parse_stored(doc, source="t") == bank_from_json(doc)


# 8 ------------------------------------------------------------------------------------
def test_openapi_documents_every_error_and_the_bank_body(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        if not path.startswith("/v1/") and path not in ("/health", "/metrics"):
            continue  # the 1EdTech CAT router documents its own (imsx) errors
        for method, operation in operations.items():
            responses = operation["responses"]
            if path in PUBLIC_V1:  # the status lists verifiers fetch: no key
                assert "security" not in operation and "401" not in responses
            elif path.startswith("/v1/"):
                assert {"401", "403", "503"} <= set(responses), (method, path)
                if operation.get("parameters") or "requestBody" in operation:
                    assert "422" in responses, (method, path)
                assert operation["security"] == [{"ApiKey": []}]
            if method == "post":
                assert {"400", "413", "404", "409"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorBody"
    body = schema["paths"]["/v1/banks"]["post"]["requestBody"]["content"]["application/json"]
    bank = schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"format", "name", "items"} <= set(bank["required"])  # `{}` is not a bank
    version = schema["components"]["schemas"]["AssessmentCreate"]["properties"]["bank_version"]
    assert version["type"] == "integer" and "strict" in version["description"]
    assert version["maximum"] == 2**31 - 1
    headers = schema["paths"]["/v1/banks"]["get"]["responses"]["200"]["headers"]
    assert "X-Next-Cursor" in headers


def test_405_names_every_allowed_method(client, tenant):
    reply = client.put("/v1/banks", json={}, headers=tenant.admin)
    _code(reply, 405, "method_not_allowed")
    assert set(reply.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_whole_floats_are_refused_as_integers(client, tenant):
    published = publish(client, tenant.admin)
    body = {"bank": published["name"], "bank_version": float(published["version"])}
    err = _code(client.post("/v1/assessments", json=body, headers=tenant.admin), 422,
                "invalid_request")  # fmt: skip
    assert "bank_version" in err["message"]


# 9 ------------------------------------------------------------------------------------
def test_metrics_need_an_admin_key_and_show_only_its_tenant(client, tenant, other_tenant):
    _code(client.get("/metrics"), 401, "unauthorized")
    _code(client.get("/metrics", headers=tenant.deliver), 403, "forbidden")
    assessment_id = make_assessment(client, other_tenant)
    for k in range(3):
        assert _start(client, other_tenant.deliver, assessment_id, ref=f"e{k}").status_code == 201
    mine = client.get("/metrics", headers=tenant.admin).text
    theirs = client.get("/metrics", headers=other_tenant.admin).text
    assert 'zapcat_sessions{status="in_progress"} 0.0' in mine
    assert 'zapcat_sessions{status="in_progress"} 3.0' in theirs


def test_database_errors_never_carry_bound_values(app):
    db = app.state.context.db
    with pytest.raises(Exception) as caught, db.read() as session:
        session.execute(text("SELECT * FROM no_such_table WHERE x = :v"), {"v": "alice-secret"})
    assert "alice-secret" not in str(caught.value)
    assert DEMO_BANK.name and DEMO_DOC  # the helpers' bank is the demo bank
