"""Request guard: the API key is checked before the body is read, and the body is bounded.

:class:`RequestGuard` is pure ASGI middleware in front of the routes. For a request that
carries a body (``POST``, ``PUT``, ``PATCH``, ``DELETE``) to a path outside
:data:`PUBLIC_PATHS` it refuses a declared ``Content-Length`` above the limit at once
(``413``), and for the API-key routes under ``/v1/`` it

1. verifies the ``Authorization`` header first (``401 unauthorized`` without a valid key,
   and the body is never read), keeping the principal for the route's dependencies;
2. refuses a ``Content-Length`` above ``Settings.max_body_bytes`` at once, and stops
   reading a chunked body as soon as it passes the limit (``413 payload_too_large``);
3. hands the routes the body it read.

Requests without a body (``GET``) are authenticated by the routes' dependencies, so that an
unknown route is still ``404 route_not_found``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool

from api.errors import envelope
from item_banks.errors import ZapcatError

PUBLIC_PATHS = frozenset({"/health", "/metrics", "/openapi.json", "/docs", "/redoc"})
"""Paths the guard leaves alone (they read no body; ``/metrics`` checks its own key)."""

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

KEYED_PREFIX = "/v1/"
"""Paths whose requests carry a Zapcat API key (other routes check their own credentials;
the guard only refuses a declared ``Content-Length`` above the limit for them)."""

PRINCIPAL = "principal"
"""Key of the verified principal in the ASGI scope's ``state``."""


class RequestGuard:
    """Pure ASGI middleware: authenticate, then read at most ``max_body_bytes`` of body.

    Parameters
    ----------
    app : ASGI application
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in BODY_METHODS
            or scope.get("path") in PUBLIC_PATHS
        ):
            await self.app(scope, receive, send)
            return
        context = scope["app"].state.context
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = context.settings.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(scope, receive, send, limit, int(declared))
            return
        if not scope["path"].startswith(KEYED_PREFIX):  # routes with their own credentials
            await self.app(scope, receive, send)
            return
        authorization = headers.get("authorization")
        try:
            principal = context.keys.cached(authorization)
            if principal is None:
                principal = await run_in_threadpool(context.keys.verify, authorization)
        except ZapcatError as error:
            reply = envelope(401, error.code, error.message, error.details)
            reply.headers["WWW-Authenticate"] = "Bearer"
            reply.headers["Connection"] = "close"  # the unread body would follow
            await reply(scope, receive, send)
            return
        except (OperationalError, InterfaceError):
            reply = envelope(
                503, "database_unavailable", "the database is unavailable; retry later"
            )
            await reply(scope, receive, send)
            return
        scope.setdefault("state", {})[PRINCIPAL] = principal
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(scope, receive, send, limit, None)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(scope: Any, receive: Any, send: Any, limit: int, size: int | None) -> None:
    said = f"{size} bytes" if size is not None else "more than that"
    reply = envelope(
        413,
        "payload_too_large",
        f"the request body is {said}; this service accepts at most {limit} bytes "
        "(ZAPCAT_MAX_BODY_BYTES)",
        {"max_bytes": limit, "size": size},
        {"Connection": "close"},
    )
    await reply(scope, receive, send)
