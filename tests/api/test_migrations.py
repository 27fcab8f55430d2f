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


def test_downgrade_below_the_bank_arrays_writes_each_document_back(tmp_path):
    """Versions stored as arrays only (0007) get their JSON document again on downgrade."""
    from sqlalchemy import text

    from api.db import Database
    from api.services import banks
    from api.services.bank_documents import parse_stored
    from item_banks.bank import Item, ItemBank

    url = f"sqlite:///{tmp_path / 'm.db'}"
    db = Database(Settings(url))
    db.migrate()
    bank = ItemBank([Item("a", "2pl", {"a": 1.2, "b": -0.3}, 2, tags=("x",)),
                     Item("g", "grm", {"a": 0.8, "b1": -1.0, "b2": 0.6}, 3)],
                    name="small", description="two items")  # fmt: skip
    version = banks.publish_bank(db, tenant="t", document=bank.to_dict())["version"]
    db.dispose()
    command.downgrade(alembic_config(Settings(url).url), "0006_badges")
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT document FROM bank_versions")).scalar_one()
    engine.dispose()
    back = parse_stored(stored, source="downgraded")
    assert back.version == str(version)
    assert back.to_dict()["items"] == bank.to_dict()["items"]
    assert (back.name, back.description) == ("small", "two items")
