"""FastAPI dependencies: the service context and the caller's API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from api.db import Database
from api.services.keys import KeyVerifier, Principal
from api.settings import Settings


@dataclass
class ServiceContext:
    """What every request needs: settings, database and key verifier (one per app)."""

    settings: Settings
    db: Database
    keys: KeyVerifier


async def get_context(request: Request) -> ServiceContext:
    """The app's :class:`ServiceContext`."""
    return request.app.state.context


ContextDep = Annotated[ServiceContext, Depends(get_context)]


async def get_principal(
    context: ContextDep,
    authorization: Annotated[str | None, Header(description="Bearer <API key>")] = None,
) -> Principal:
    """The principal of the request's API key (401 without a valid one).

    Dependencies are ``async`` so that they run on the event loop instead of costing a
    thread hop each; the database is read (in the thread pool) only on a cache miss.
    """
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
