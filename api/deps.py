"""FastAPI dependencies: the service context and the caller's API key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from api.db import Database
from api.guard import PRINCIPAL
from api.services.bank_documents import cooperative
from api.services.keys import KeyVerifier, Principal
from api.settings import Settings

T = TypeVar("T")


@dataclass
class ServiceContext:
    """What every request needs: settings, database and key verifier (one per app).

    ``admin_limiter`` runs the heavy administrative work (publishing a bank, creating an
    assessment) one at a time on its own thread, so that it never takes the threads
    that serve examinees.
    """

    settings: Settings
    db: Database
    keys: KeyVerifier
    admin_limiter: anyio.CapacityLimiter | None = None

    async def run_admin(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` on the administrative thread (one at a time).

        It runs :func:`api.services.bank_documents.cooperative`: the request threads
        get the interpreter quickly while it works.
        """

        def run() -> T:
            with cooperative():
                return function(*args, **kwargs)

        return await anyio.to_thread.run_sync(run, limiter=self.admin_limiter)


async def get_context(request: Request) -> ServiceContext:
    """The app's :class:`ServiceContext`."""
    return request.app.state.context


ContextDep = Annotated[ServiceContext, Depends(get_context)]


async def get_principal(
    request: Request,
    context: ContextDep,
    authorization: Annotated[
        str | None, Header(description="Bearer <API key>", include_in_schema=False)
    ] = None,
) -> Principal:
    """The principal of the request's API key (401 without a valid one).

    Requests with a body were authenticated by :class:`api.guard.RequestGuard` before
    their body was read; its principal is reused. Dependencies are ``async`` so that they
    run on the event loop instead of costing a thread hop each; the database is read (in
    the thread pool) only on a cache miss.
    """
    verified = request.scope.get("state", {}).get(PRINCIPAL)
    if verified is not None:
        return verified
    principal = context.keys.cached(authorization)
    if principal is not None:
        return principal
    return await run_in_threadpool(context.keys.verify, authorization)


async def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A principal with scope ``admin`` (403 otherwise)."""
    principal.require("admin")
    return principal


async def require_deliver(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A principal allowed to deliver tests (``deliver`` or ``admin``)."""
    principal.require("deliver")
    return principal


AnyKey = Annotated[Principal, Depends(get_principal)]
AdminKey = Annotated[Principal, Depends(require_admin)]
DeliverKey = Annotated[Principal, Depends(require_deliver)]
