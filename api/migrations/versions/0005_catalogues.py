"""Credential catalogue versions (issue 14: guidance).

Revision ID: 0005_catalogues
Revises: 0004_practice
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_catalogues"
down_revision = "0004_practice"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the catalogue_versions table."""
    op.create_table(
        "catalogue_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("n_credentials", sa.Integer(), nullable=False),
        sa.Column("n_roles", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_versions")),
        sa.UniqueConstraint("tenant", "name", "version",
                            name=op.f("uq_catalogue_versions_tenant")),
    )


def downgrade() -> None:
    """Drop it again."""
    op.drop_table("catalogue_versions")
