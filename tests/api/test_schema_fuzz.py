"""Schema-based fuzzing of the whole OpenAPI document (schemathesis), on both databases.

Every operation of ``/openapi.json`` gets schema-valid and schema-invalid requests, with
an admin key and with a delivery key. Each reply must be no 5xx and conform to the
document: a documented status, content type, headers and body schema; and schema-invalid
requests must be refused. Half of the valid requests name the tenant's real bank,
assessment and session, so that the happy paths are reached too, not only 404s.
"""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from tests.api.helpers import DEMO_DOC, make_assessment

CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]
EXAMPLES = 12
"""Examples per operation, generation mode and key (about 700 requests per database)."""


def _real_ids(case, known: dict[str, object], turn: int) -> None:
    """Every other valid case names existing resources instead of random ones."""
    if turn % 2:
        return
    for name in list(case.path_parameters or {}):
        if name in known:
            case.path_parameters[name] = known[name]
    if isinstance(case.body, dict):
        for name in ("assessment_id", "bank", "bank_version"):
            if name in case.body and name in known:
                case.body[name] = known[name]


def _fuzz(operation, mode, key: str, known: dict, failures: list[str], turns) -> int:
    """Run the examples of one operation, mode and key; return how many were sent."""
    sent = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        nonlocal sent
        sent += 1
        if mode is GenerationMode.POSITIVE:
            _real_ids(case, known, next(turns))
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
        try:
            case.call_and_validate(checks=CHECKS)
        except BaseException as failure:  # schemathesis raises a FailureGroup
            if isinstance(failure, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label} ({mode.value}): {failure}"[:1500])

    try:
        run()
    except Unsatisfiable:  # no invalid request exists (an operation without inputs)
        pass
    return sent


@pytest.mark.slow
def test_openapi_fuzzing_finds_no_server_error_and_no_undocumented_reply(badge_app, badge_client,
                                                                         tenant):
    # the service as deployed with badges on (ZAPCAT_SECRET_KEY set); without the secret
    # the badge routes answer 503 badge_secret_missing (tests/api/test_badges_keys.py)
    app, client = badge_app, badge_client
    published = client.post("/v1/banks", json=DEMO_DOC, headers=tenant.admin).json()
    assessment_id = make_assessment(client, tenant)
    session = client.post(
        "/v1/sessions",
        json={"assessment_id": assessment_id, "examinee_ref": "fuzz"},
        headers=tenant.deliver,
    ).json()
    known = {
        "assessment_id": assessment_id,
        "session_id": session["session_id"],
        "name": published["name"],
        "version": published["version"],
        "bank": published["name"],
        "bank_version": published["version"],
    }
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    turns = itertools.count()
    failures: list[str] = []
    n_cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, key in itertools.product(
            (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
            (tenant.admin_key, tenant.deliver_key),
        ):
            n_cases += _fuzz(operation, mode, key, known, failures, turns)
    assert n_cases > 300
    assert not failures, f"{len(failures)} of {n_cases} failed:\n" + "\n\n".join(failures[:5])
