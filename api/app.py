"""The FastAPI application of the delivery service.

``create_app(settings)`` builds one; ``uvicorn api.app:app_from_env --factory`` builds one
from the environment (that is what ``zapcat serve`` runs in each worker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from api.db import Database
from api.deps import ServiceContext
from api.docs import install_docs
from api.errors import install_error_handlers
from api.guard import RequestGuard
from api.metrics import MetricsMiddleware
from api.openapi import install_openapi
from api.routes import (
    assessments,
    badge_verify,
    badges,
    banks,
    guidance,
    ims_cat,
    maintenance,
    sessions,
    system,
)
from api.services.keys import KeyVerifier
from api.settings import Settings

DESCRIPTION = """Delivery API of Zapcat: publish item banks, define assessments (a bank version
plus an engine configuration) and deliver adaptive tests, one item at a time.

Authenticate with `Authorization: Bearer <API key>` (create keys with `zapcat keys create`).
Every error is `{"error": {"code", "message", "details"}}`. Integers are strict: a JSON
integer literal, never `1.0`, `1e0`, `"1"` or `true`. Creates accept an `Idempotency-Key`
header; request bodies are limited in size (413); lists are paged (`limit`, `cursor`)."""


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """Build the application.

    Parameters
    ----------
    settings : Settings, optional
        Default :meth:`Settings.from_env`.
    migrate : bool, default True
        Upgrade the database schema to the newest revision first.

    Returns
    -------
    fastapi.FastAPI
    """
    settings = settings or Settings.from_env()
    db = Database(settings)
    if migrate:
        db.migrate()
    threads = settings.threads

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # sync routes run in anyio's thread pool (40 threads by default); with many
        # concurrent requests all those threads fight for the GIL. A few threads keep the
        # database round trips overlapped without the convoy.
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        # publishing banks and creating assessments: one at a time, on a thread of their own
        context.admin_limiter = anyio.CapacityLimiter(1)
        yield

    app = FastAPI(
        title="Zapcat delivery API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs from local assets (works offline)
        redoc_url=None,
    )
    install_docs(app)
    context = ServiceContext(settings=settings, db=db, keys=KeyVerifier(db))
    app.state.context = context
    install_error_handlers(app)
    install_openapi(app)
    modules = (system, banks, maintenance, assessments, sessions, guidance, badges, badge_verify)
    for module in modules:
        app.include_router(module.router)
    ims_cat.install(app, settings)  # /ims/cat/{version}: the 1EdTech CAT API
    app.add_middleware(RequestGuard)
    app.add_middleware(MetricsMiddleware)
    return app


def app_from_env() -> FastAPI:
    """The application configured from the environment, without migrating.

    The parent process of ``zapcat serve`` migrates once before starting the workers.
    """
    return create_app(Settings.from_env(), migrate=False)
