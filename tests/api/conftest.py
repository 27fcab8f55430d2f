"""Fixtures of the API tests: the service on SQLite and on a real PostgreSQL server.

``backend`` is parametrised over ``sqlite`` (a file in a temporary folder) and
``postgres`` (a fresh database created for this test run on the server named by
``ZAPCAT_TEST_POSTGRES_URL``, dropped at the end). Without that variable, or when the
server does not answer, the PostgreSQL cases are skipped with the reason shown by ``-ra``.
Every test gets its own tenant, so tests sharing a database never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.services.keys import create_key
from api.settings import Settings

POSTGRES_ENV = "ZAPCAT_TEST_POSTGRES_URL"


def _postgres_server() -> tuple[str | None, str]:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        return None, f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against"
    try:
        engine = create_engine(Settings(url).url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # the reason is reported, never swallowed silently
        return None, f"PostgreSQL at {POSTGRES_ENV} does not answer: {exc.__class__.__name__}"
    return url, ""


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh database on the test server (created now, dropped at the end)."""
    server, reason = _postgres_server()
    if server is None:
        pytest.skip(reason)
    admin = create_engine(Settings(server).url, isolation_level="AUTOCOMMIT")
    name = f"zapcat_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(Settings(server).url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'zapcat.db'}"


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def app(database_url: str):
    application = create_app(Settings(database_url))
    yield application
    application.state.context.db.dispose()


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class Tenant:
    """A tenant with one admin and one delivery key, and request headers for each."""

    name: str
    admin_key: str
    deliver_key: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    @property
    def deliver(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.deliver_key}"}


def make_tenant(app, prefix: str = "t") -> Tenant:
    db = app.state.context.db
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    admin, _ = create_key(db, tenant=name, scope="admin")
    deliver, _ = create_key(db, tenant=name, scope="deliver")
    return Tenant(name, admin, deliver)


@pytest.fixture
def tenant(app) -> Tenant:
    return make_tenant(app)


@pytest.fixture
def other_tenant(app) -> Tenant:
    return make_tenant(app, "other")


@pytest.fixture(scope="session")
def badge_app(database_url: str):
    """The service with a badge secret (ZAPCAT_SECRET_KEY) on the same database."""
    from badge_helpers import SECRET

    application = create_app(Settings(database_url, secret_key=SECRET))
    yield application
    application.state.context.db.dispose()


@pytest.fixture(scope="session")
def badge_client(badge_app) -> Iterator[TestClient]:
    with TestClient(badge_app) as test_client:
        yield test_client
