"""No request can produce a 500: random JSON bodies and paths get a 4xx envelope."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.helpers import make_assessment

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "item_id": values,
        "seq": values,
        "response": values,
        "assessment_id": values,
        "examinee_ref": values,
        "seed": values,
        "bank": values,
        "bank_version": values,
        "config": values,
        "name": values,
    },
)
bodies = st.one_of(fields, values)


def _check(reply):
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        error = reply.json()["error"]
        assert set(error) == {"code", "message", "details"}


def test_random_bodies_never_500(client, tenant):
    assessment_id = make_assessment(client, tenant)
    first = client.post(
        "/v1/sessions",
        headers=tenant.deliver,
        json={"assessment_id": assessment_id, "examinee_ref": "f"},
    ).json()
    targets = [
        "/v1/sessions",
        f"/v1/sessions/{first['session_id']}/responses",
        "/v1/assessments",
        "/v1/banks",
    ]

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(body=bodies, target=st.sampled_from(targets))
    def check(body, target):
        _check(
            client.post(
                target,
                content=json.dumps(body),
                headers={**tenant.admin, "content-type": "application/json"},
            )
        )

    check()


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(raw=st.binary(max_size=40), segment=st.text(max_size=12))
def test_random_bytes_and_ids_never_500(client, tenant, raw, segment):
    headers = {**tenant.deliver, "content-type": "application/json"}
    _check(client.post("/v1/sessions", content=raw, headers=headers))
    safe = quote(segment, safe="") or "x"
    _check(client.get(f"/v1/sessions/{safe}", headers=tenant.deliver))
    _check(client.get(f"/v1/banks/{safe}/versions/1", headers=tenant.deliver))


def test_nul_characters_are_refused_or_stored_never_500(client, tenant):
    from tests.api.helpers import DEMO_DOC

    doc = {**DEMO_DOC, "name": "nul\x00bank"}
    _check(client.post("/v1/banks", json=doc, headers=tenant.admin))
    _check(client.get("/v1/sessions/%00", headers=tenant.deliver))
    _check(
        client.post(
            "/v1/sessions",
            json={"assessment_id": "a\x00", "examinee_ref": "x"},
            headers=tenant.deliver,
        )
    )
