"""Idempotency keys: the first reply of each create sent with an ``Idempotency-Key``.

Revision ID: 0003_idempotency
Revises: 0002_ims_cat
Create Date: 2026-12-01 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_idempotency"
down_revision = "0002_ims_cat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ``idempotency_keys`` table."""
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("reply", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("tenant", "key", name=op.f("uq_idempotency_keys_tenant")),
    )


def downgrade() -> None:
    """Drop the ``idempotency_keys`` table."""
    op.drop_table("idempotency_keys")
