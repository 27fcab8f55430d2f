"""Alembic revisions of the service database (one module per revision)."""
