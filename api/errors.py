"""The ONE mapping from domain errors to HTTP: status codes and the error envelope.

Every 4xx/5xx body reads ``{"error": {"code", "message", "details"}}``. Domain errors
(:mod:`item_banks.errors`) and the service's own errors (defined here: keys, requests,
resources, response order) are mapped by their stable ``code``; request validation,
unknown routes and database outages get their own codes here. Nothing else in ``api/``
chooses a status code for an error.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from item_banks.errors import ZapcatError

log = logging.getLogger("zapcat.api")


# ------------------------------------------------------------------ service errors
class NotFoundError(ZapcatError):
    """A resource (bank, assessment, session) does not exist or belongs to another tenant."""

    code = "not_found"

    def __init__(self, resource: str, ident: object) -> None:
        super().__init__(
            f"{resource} {ident!r} not found", details={"resource": resource, "id": str(ident)}
        )


class AuthenticationError(ZapcatError):
    """No API key, or an unknown or revoked one, was presented."""

    code = "unauthorized"


class PermissionDeniedError(ZapcatError):
    """The API key is valid but its scope does not allow the request."""

    code = "forbidden"


class InvalidRequestError(ZapcatError):
    """A request body or parameter has a wrong type or value (``details["problems"]``)."""

    code = "invalid_request"


class StaleSeqError(ZapcatError):
    """A response names a ``seq`` already answered, with a different item or response."""

    code = "stale_seq"


class FutureSeqError(ZapcatError):
    """A response names a ``seq`` beyond the item currently presented."""

    code = "future_seq"


class BadgeSecretError(ZapcatError):
    """The server secret that encrypts the badge signing keys is missing, short or wrong."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, details={"variable": "ZAPCAT_SECRET_KEY"})
        self.code = code


class BadgeIssueError(ZapcatError):
    """A badge cannot be issued for this session (``code`` says why; ``details`` where)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.code = code


STATUS_OF_CODE: dict[str, int] = {
    "malformed_json": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "item_mismatch": 409,
    "stale_seq": 409,
    "future_seq": 409,
    "test_finished": 409,
    "bank_exhausted": 409,
    "idempotency_conflict": 409,
    "session_not_finished": 409,
    "practice_session": 409,
    "level_not_met": 409,
    "no_levels": 409,
    "badge_secret_missing": 503,
    "badge_secret_mismatch": 503,
    "invalid_badge": 422,
    "payload_too_large": 413,
    "invalid_request": 422,
    "invalid_response": 422,
    "invalid_config": 422,
    "invalid_battery": 422,
    "invalid_catalogue": 422,
    "invalid_guidance_request": 422,
    "invalid_item_bank": 422,
    "unknown_model": 422,
    "unknown_item": 422,
}
"""HTTP status of each domain error code; any other :class:`ZapcatError` is a 400."""


class MalformedJSONError(ZapcatError):
    """A request body that is not JSON (for routes that parse their own body)."""

    code = "malformed_json"

    def __init__(self, error: Exception | str) -> None:
        if isinstance(error, str):  # a message already written by the caller
            super().__init__(error)
            return
        position = getattr(error, "pos", None)
        reason = getattr(error, "msg", None) or "too deeply nested"
        super().__init__(
            f"request body is not valid JSON: {reason}"
            + (f" at character {position}" if position is not None else ""),
            details={"position": position},
        )


_HTTP_CODES = {404: "route_not_found", 405: "method_not_allowed", 401: "unauthorized"}


def envelope(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The JSON error response ``{"error": {"code", "message", "details"}}``."""
    body = {"error": {"code": code, "message": message, "details": _jsonable(details or {})}}
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(error: ZapcatError) -> int:
    """HTTP status of a domain error (see :data:`STATUS_OF_CODE`)."""
    return STATUS_OF_CODE.get(error.code, 400)


async def _domain(_request: Request, error: ZapcatError) -> JSONResponse:
    status = status_of(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return envelope(status, error.code, error.message, error.details, headers)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
    problems = []
    for item in error.errors():
        if item.get("type") == "json_invalid":
            ctx = item.get("ctx") or {}
            return envelope(
                400,
                "malformed_json",
                f"request body is not valid JSON: {ctx.get('error', 'parse error')}",
                {"position": item.get("loc", [None, None])[-1]},
            )
        problems.append(
            {
                "location": _location(item.get("loc", ())),
                "message": item.get("msg", ""),
                "type": item.get("type", ""),
                "input": _jsonable(item.get("input")),
            }
        )
    summary = "; ".join(f"{p['location']}: {p['message']}" for p in problems)
    return envelope(422, "invalid_request", f"invalid request: {summary}", {"problems": problems})


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy: non-finite floats and unknown objects become short strings."""
    if value is None or isinstance(value, bool | int | str):
        return value if not isinstance(value, str) or len(value) <= 200 else value[:200] + "..."
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth < 6 and isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if depth < 6 and isinstance(value, list | tuple):
        return [_jsonable(v, depth + 1) for v in value]
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _leaf_routes(routes: Any) -> Any:
    for route in routes:
        inner = getattr(route, "original_router", None) or getattr(route, "app", None)
        if hasattr(route, "path_regex"):
            yield route
        elif inner is not None and hasattr(inner, "routes"):
            yield from _leaf_routes(inner.routes)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at the request's path (for a 405's ``Allow``)."""
    methods: set[str] = set()
    for route in _leaf_routes(request.app.router.routes):
        route_methods = getattr(route, "methods", None)
        if route_methods and route.path_regex.match(request.url.path):
            methods |= set(route_methods)
    return sorted(methods)


async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(error.status_code, f"http_{error.status_code}")
    headers = dict(getattr(error, "headers", None) or {})
    message = str(error.detail)
    details: dict[str, Any] = {}
    if error.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        message = (
            f"{request.method} is not allowed on {request.url.path}; allowed: {headers['Allow']}"
        )
        details = {"method": request.method, "allowed": allowed}
    return envelope(error.status_code, code, message, details, headers or None)


def _without_parameters(error: Exception) -> str:
    """The database error's first line, never the request's values (bound parameters)."""
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip().splitlines()
    return f"{type(orig or error).__name__}: {text[0] if text else ''}"


async def _database(_request: Request, error: OperationalError | InterfaceError) -> JSONResponse:
    log.error("database error: %s", _without_parameters(error))
    return envelope(503, "database_unavailable", "the database is unavailable; retry later")


async def _data(_request: Request, error: DataError) -> JSONResponse:
    reason = str(error.orig).splitlines()[0] if error.orig is not None else "invalid value"
    return envelope(
        422, "invalid_request", f"the database refused a value: {reason}", {"reason": reason}
    )


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:  # pragma: no cover
    log.exception("unexpected error", exc_info=error)
    return envelope(500, "internal_error", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into the envelope."""
    app.add_exception_handler(ZapcatError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(DataError, _data)
    app.add_exception_handler(OperationalError, _database)
    app.add_exception_handler(InterfaceError, _database)
    app.add_exception_handler(Exception, _unexpected)
