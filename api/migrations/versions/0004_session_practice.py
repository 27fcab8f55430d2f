"""Practice sessions: ``sessions.practice`` (their responses are never exported).

Revision ID: 0004_practice
Revises: 0003_idempotency
Create Date: 2026-12-01 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_practice"
down_revision = "0003_idempotency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the flag; existing sessions are not practice."""
    # a plain ADD COLUMN (no table copy: on SQLite that would break the responses' keys)
    op.add_column(
        "sessions",
        sa.Column("practice", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    """Drop the flag."""
    op.drop_column("sessions", "practice")
