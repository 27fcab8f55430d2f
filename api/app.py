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
from api.errors import install_error_handlers
from api.metrics import MetricsMiddleware
from api.routes import assessments, banks, guidance, ims_cat, sessions, system
from api.services.keys import KeyVerifier
from api.settings import Settings

DESCRIPTION = """Delivery API of Zapcat: publish item banks, define assessments (a bank version
plus an engine configuration) and deliver adaptive tests, one item at a time.

Authenticate with `Authorization: Bearer <API key>` (create keys with `zapcat keys create`).
Every error is `{"error": {"code", "message", "details"}}`."""


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
        yield

    app = FastAPI(
        title="Zapcat delivery API", version="1", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.context = ServiceContext(settings=settings, db=db, keys=KeyVerifier(db))
    install_error_handlers(app)
    for module in (system, banks, assessments, sessions, guidance):
        app.include_router(module.router)
    ims_cat.install(app, settings)  # /ims/cat/{version}: the 1EdTech CAT API
    app.add_middleware(MetricsMiddleware)
    return app


def app_from_env() -> FastAPI:
    """The application configured from the environment, without migrating.

    The parent process of ``zapcat serve`` migrates once before starting the workers.
    """
    return create_app(Settings.from_env(), migrate=False)
