"""The OpenAPI document: exactly what the service answers, errors and security included.

FastAPI derives the paths, parameters and success bodies from the routes; this module
adds what it cannot know: the error envelope under every status an operation can
answer (400, 401, 403, 404, 409, 413, 422, 503), the bearer-key security scheme, the
typed ``zapcat-bank/1`` body of ``POST /v1/banks`` (that route parses its own body), the
paging headers and the statement that integers are strict.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from api.limits import DESCRIPTION_MAX_LENGTH, ID_MAX_LENGTH, ID_PATTERN, ID_RULE
from item_banks.bank import STATUSES
from item_banks.models import model_names

STRICT = 'Integers are strict: a JSON integer literal, never `1.0`, `1e0`, `"1"` or `true`.'


def integer_text() -> str:
    """The strict-integer statement used in parameter descriptions."""
    return STRICT


class ErrorDetail(BaseModel):
    """The error: a stable machine-readable ``code``, a message and structured details."""

    code: str = Field(description="Stable error code, for example `not_found`.")
    message: str = Field(description="What was wrong, with the value and how to fix it.")
    details: dict[str, Any] = Field(description="Machine-readable context of the error.")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx reply: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


class BankItem(BaseModel):
    """One item of a ``zapcat-bank/1`` document."""

    model_config = ConfigDict(extra="forbid")

    item_id: StrictStr = Field(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        description=f"Unique within the bank. {ID_RULE}.",
        json_schema_extra={"pattern": ID_PATTERN},
    )
    model: Literal[tuple(model_names())] = Field(  # type: ignore[valid-type]
        description="Item model; its parameters go in `params`."
    )
    n_categories: StrictInt = Field(
        default=2, ge=2, le=100, description="Response categories (2 for dichotomous models)."
    )
    params: dict[str, float] = Field(
        description="The model's parameters by name (`a`, `b`, `c`, `b1`, ...): finite numbers."
    )
    se: dict[str, float] = Field(default_factory=dict, description="Standard errors by name.")
    content_areas: list[str] = Field(default_factory=list)
    enemy_groups: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    status: Literal[tuple(STATUSES)] = Field(  # type: ignore[valid-type]
        default="operational",
        description="`practice` items may be disclosed: only practice-mode tests give them.",
    )
    feedback: dict[str, StrictStr] = Field(
        default_factory=dict,
        description='Explanation text by response category (`{"0": "...", "1": "..."}`), '
        'shown by practice tests with `feedback: "item"`.',
    )


class BankDocument(BaseModel):
    """A ``zapcat-bank/1`` document: a named list of calibrated items.

    The service numbers versions itself (``version`` is replaced). Beyond this shape,
    each item's parameters must fit its model (``422 invalid_item_bank`` lists every
    problem, with the item id and field).
    """

    model_config = ConfigDict(extra="forbid")

    format: Literal["zapcat-bank/1"]
    name: StrictStr = Field(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        description=f"Bank name. {ID_RULE}.",
        json_schema_extra={"pattern": ID_PATTERN},
    )
    version: StrictStr | StrictInt = Field(default="1", description="Replaced on publishing.")
    description: StrictStr = Field(default="", max_length=DESCRIPTION_MAX_LENGTH)
    provenance: dict[str, Any] = Field(default_factory=dict)
    items: list[BankItem] = Field(min_length=1)


BANK_BODY: dict[str, Any] = {
    "required": True,
    "description": "A zapcat-bank/1 document.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BankDocument"}}},
}
"""``requestBody`` of ``POST /v1/banks`` (the route reads the raw body itself)."""

NEXT_PAGE_HEADERS: dict[str, Any] = {
    "X-Next-Cursor": {
        "description": "Cursor of the next page (absent on the last page).",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The next page as `<url>; rel="next"` (absent on the last page).',
        "schema": {"type": "string"},
    },
}

_ERRORS: dict[int, str] = {
    400: "Malformed JSON body (`malformed_json`).",
    401: "Missing, invalid or revoked API key (`unauthorized`).",
    403: "The key's scope does not allow this (`forbidden`).",
    404: "Unknown id, or one of another tenant (`not_found`).",
    409: "Conflicts with the stored state: `stale_seq`, `future_seq`, `item_mismatch`, "
    "`test_finished`, `bank_exhausted`, `idempotency_conflict`; badges: "
    "`session_not_finished`, `practice_session`, `level_not_met`, `no_levels`.",
    413: "Request body larger than the service accepts (`payload_too_large`).",
    422: "Invalid request (`invalid_request`, `invalid_response`, `invalid_config`, "
    "`invalid_item_bank`, `unknown_model`, `unknown_item`).",
    503: "The database is unavailable; retry later (`database_unavailable`); badges: the "
    "server secret ZAPCAT_SECRET_KEY is not set or not the one the signing keys were "
    "encrypted with (`badge_secret_missing`, `badge_secret_mismatch`).",
}

_OAUTH_ERROR: dict[str, Any] = {
    "description": "OAuth 2 error (RFC 6749 section 5.2): `invalid_request`, "
    "`invalid_client`, `unsupported_grant_type`, ...",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {"type": "string"},
                    "error_description": {"type": "string"},
                },
            }
        }
    },
}

PUBLIC_V1 = frozenset({"/v1/status-lists/{list_id}"})
"""Paths under ``/v1/`` that need no key (verifiers fetch them)."""

_SECURITY = {"ApiKey": {"type": "http", "scheme": "bearer", "description": "An API key."}}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer."""
    out = [503] if path != "/openapi.json" else []
    if path != "/health" and path not in PUBLIC_V1 and not path.endswith("/did.json"):
        out += [401, 403]
    if method in ("post", "put", "patch"):
        out += [400, 413, 422]
    if operation.get("parameters"):
        out.append(422)
    if path != "/metrics" and (method == "post" or "{" in path):
        out.append(404)
    if method == "post":
        out.append(409)
    return sorted(set(out))


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The service's OpenAPI document (FastAPI's, completed; see the module docstring)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for model in (ErrorDetail, ErrorBody, BankItem, BankDocument):
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(found.pop("$defs", {}))
        schemas[model.__name__] = found
    components["securitySchemes"] = _SECURITY
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, operations in schema["paths"].items():
        if path.endswith("/oauth2/token"):  # OAuth 2 errors have their own body (RFC 6749)
            for operation in operations.values():
                for status in (400, 401):
                    operation["responses"].setdefault(str(status), _OAUTH_ERROR)
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's own 422 body is never sent here
            for status in _statuses(path, method, operation):
                responses[str(status)] = {"description": _ERRORS[status], "content": error_ref}
            if (path.startswith("/v1/") and path not in PUBLIC_V1) or path == "/metrics":
                operation["security"] = [{"ApiKey": []}]
                responses["401"]["headers"] = {
                    "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}
                }
    app.openapi_schema = schema
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`build_openapi` as the app's ``/openapi.json``."""
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
