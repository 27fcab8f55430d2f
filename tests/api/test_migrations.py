"""The Alembic migrations build exactly the schema the models describe, and reverse."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from api.migrations import alembic_config, current_revision, upgrade
from api.models import Base
from api.settings import Settings

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrated_schema_matches_the_models(app):
    db = app.state.context.db  # migrated by create_app
    with db.engine.connect() as conn:
        assert current_revision(conn) == HEAD
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_and_upgrade_round_trip(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        upgrade(conn)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    command.downgrade(alembic_config(Settings(url).url), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    with engine.begin() as conn:
        upgrade(conn)
        assert current_revision(conn) == HEAD
    engine.dispose()
