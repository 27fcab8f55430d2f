"""``/ims/cat/{version}``: the 1EdTech Computerized Adaptive Testing API (TAO's dialect).

Three ``POST`` routes over the services of ``/v1`` (see :mod:`api.services.ims_cat`),
an OAuth 2 client-credentials token endpoint, and the schedule that closes idle
sessions. Errors of these routes are 1EdTech ``imsx_StatusInfo`` objects (with the
service's usual ``error`` envelope inside, so the stable code is there too); the status
codes are those of the rest of the API (:mod:`api.errors`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api.deps import ContextDep
from api.errors import AuthenticationError, MalformedJSONError
from api.services import ims_cat, tokens
from api.services.cleanup import cleanup_schedule
from api.services.keys import Principal
from api.settings import Settings

# the caller is a route's first dependency: the key is checked before the body is read
BASE = "/ims/cat"
TOKEN_PATH = f"{BASE}/oauth2/token"

_MINOR = {400: "invaliddata", 401: "unauthorisedrequest", 403: "forbidden",
          404: "unknownobject", 409: "invaliddata", 413: "invaliddata", 422: "invaliddata",
          429: "server_busy", 503: "server_busy"}  # fmt: skip


def _handler_for(app: Any, error: Exception) -> Callable[..., Coroutine[Any, Any, Response]]:
    handlers = app.exception_handlers
    for cls in type(error).__mro__:
        if cls in handlers:
            return handlers[cls]
    return handlers[Exception]  # pragma: no cover - api.errors registers Exception


async def imsx_error(request: Request, error: Exception) -> JSONResponse:
    """The app's error response for ``error``, reshaped as an ``imsx_StatusInfo``."""
    plain = await _handler_for(request.app, error)(request, error)
    status = plain.status_code
    try:
        envelope = json.loads(plain.body)
        description = str(envelope["error"]["message"])
    except (ValueError, KeyError, TypeError):  # a handler with another body shape
        envelope, description = {}, str(error) or type(error).__name__
    body = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_codeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": _MINOR.get(status, "internal_server_error"),
                }
            ]
        },
        **envelope,
    }
    headers = {k: v for k, v in plain.headers.items() if k.lower() == "www-authenticate"}
    return JSONResponse(body, status_code=status, headers=headers)


class ImsRoute(APIRoute):
    """A route whose errors (validation, auth, domain) are ``imsx_StatusInfo`` bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as error:
                return await imsx_error(request, error)

        return route


async def ims_principal(
    context: ContextDep,
    authorization: Annotated[
        str | None, Header(description="Bearer <API key> or Bearer <access token>")
    ] = None,
) -> Principal:
    """The caller: an API key or an access token of the token endpoint."""
    if authorization and not authorization.strip().partition(" ")[2].startswith("zct."):
        hit = context.keys.cached(authorization)
        if hit is not None:
            return hit
    return await run_in_threadpool(tokens.verify_bearer, context.db, context.keys, authorization)


async def json_body(request: Request) -> Any:
    """The request body as JSON, whatever its content type (``None`` when empty)."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedJSONError(f"request body is not valid JSON: {error}") from None


Caller = Annotated[Principal, Depends(ims_principal)]
Body = Annotated[Any, Depends(json_body)]

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


def _json_body(example: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI description of a JSON body read by :func:`json_body` (for ``/docs``)."""
    content = {"schema": {"type": "object"}, "example": example}
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


_SECTION_EXAMPLE = {"qtiMetadata": "", "qtiUsagedata": "",
                    "sectionConfiguration": "eyJhc3Nlc3NtZW50X2lkIjogIi4uLiJ9"}  # fmt: skip
_SESSION_EXAMPLE = {"priorData": [{"key": "initialEstimatedAbility", "value": "0.0"}]}
_RESULTS_EXAMPLE = {
    "assessmentResult": {
        "context": {"sourcedId": None, "sessionIdentifiers": []},
        "itemResult": [
            {
                "identifier": "py-func-027",
                "datestamp": "2026-12-01T10:00:00+0000",
                "sessionStatus": "FINAL",
                "outcomeVariables": [
                    {
                        "identifier": "SCORE",
                        "cardinality": 0,
                        "value": [{"baseType": "FLOAT", "value": 1}],
                    }
                ],
            }
        ],
    },
    "sessionState": "<the sessionState of the last reply>",
}


def build_router(settings: Settings) -> APIRouter:
    """The three CAT routes under ``/ims/cat/{settings.ims_cat_version}``."""
    if not _VERSION.match(settings.ims_cat_version):
        raise ValueError(
            "ZAPCAT_IMS_CAT_VERSION must be one path segment of letters, digits, '.', '_' "
            f"or '-' (for example v1p0), got {settings.ims_cat_version!r}"
        )
    router = APIRouter(
        prefix=f"{BASE}/{settings.ims_cat_version}", tags=["1EdTech CAT"], route_class=ImsRoute
    )

    @router.post("/sections", status_code=201, openapi_extra=_json_body(_SECTION_EXAMPLE))
    def create_section(principal: Caller, body: Body, context: ContextDep) -> Any:
        """Store a section: ``{"qtiMetadata", "qtiUsagedata", "sectionConfiguration"}``.

        ``sectionConfiguration`` is base64 of the JSON described in the README
        ("1EdTech CAT API"). Returns ``{"sectionIdentifier"}``, the same for an equal
        configuration.
        """
        return ims_cat.create_section(context.db, principal=principal, body=body)

    @router.post(
        "/sections/{section_id}/sessions",
        status_code=201,
        openapi_extra=_json_body(_SESSION_EXAMPLE),
    )
    def start_session(section_id: str, principal: Caller, body: Body, context: ContextDep) -> Any:
        """Start a session (``priorData``: ``initialEstimatedAbility``, ``seed``)."""
        return ims_cat.start_session(
            context.db, principal=principal, section_id=section_id, body=body
        )

    @router.post(
        "/sections/{section_id}/sessions/{session_id}/results",
        openapi_extra=_json_body(_RESULTS_EXAMPLE),
    )
    def submit_results(
        section_id: str, session_id: str, principal: Caller, body: Body, context: ContextDep
    ) -> Any:
        """Apply the cumulative ``itemResult`` scores; returns ``nextItems`` (empty: done)."""
        return ims_cat.submit_results(
            context.db, principal=principal, section_id=section_id, session_id=session_id,
            body=body,
        )  # fmt: skip

    return router


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="zapcat"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _credentials(request: Request, form: dict[str, str]) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user, password
    if "client_id" in form and "client_secret" in form:
        return form["client_id"], form["client_secret"]
    return None


token_router = APIRouter(tags=["1EdTech CAT"])


@token_router.post(TOKEN_PATH)
async def issue_token(request: Request, context: ContextDep) -> Response:
    """OAuth 2 client credentials (RFC 6749 4.4): an API key in, a short-lived token out.

    Send ``grant_type=client_credentials`` (form or JSON) with the key's id as
    ``client_id`` and its secret as ``client_secret`` (HTTP Basic or in the body).
    Errors are RFC 6749 ``{"error", "error_description"}`` objects.
    """
    raw = (await request.body()).decode(errors="replace")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            loaded = json.loads(raw or "{}")
        except ValueError:
            return _oauth_error(400, "invalid_request", "the body is not valid JSON")
        form = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
    else:
        form = {k: v[-1] for k, v in parse_qs(raw).items()}
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type",
            f"grant_type must be client_credentials, got {form.get('grant_type')!r}",
        )  # fmt: skip
    credentials = _credentials(request, form)
    if credentials is None:
        return _oauth_error(
            401, "invalid_client",
            "send client_id and client_secret (HTTP Basic or in the body): the API key "
            "zc_<client_id>_<client_secret>",
        )  # fmt: skip
    try:
        reply = await run_in_threadpool(tokens.issue_token, context.db, context.keys, *credentials)
    except AuthenticationError as error:
        return _oauth_error(401, "invalid_client", error.message)
    return JSONResponse(reply, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def install(app: FastAPI, settings: Settings) -> None:
    """Add the CAT routes, the token endpoint and the idle-session schedule to ``app``."""
    app.include_router(build_router(settings))
    app.include_router(token_router)
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        context = application.state.context
        async with (
            previous(application) as state,
            cleanup_schedule(
                context.db,
                every=settings.cleanup_every,
                idle_seconds=settings.session_idle,
                idempotency_ttl=settings.idempotency_ttl,
            ),
        ):
            yield state

    app.router.lifespan_context = lifespan
