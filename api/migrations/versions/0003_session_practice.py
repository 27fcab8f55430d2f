"""Practice sessions: ``sessions.practice`` (their responses are never exported).

Revision ID: 0003_practice
Revises: 0002_ims_cat
Create Date: 2026-12-01 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_practice"
down_revision = "0002_ims_cat"
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
