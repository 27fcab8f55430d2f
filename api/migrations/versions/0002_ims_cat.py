"""1EdTech CAT API: sections, service secrets, per-session configuration overrides.

Revision ID: 0002_ims_cat
Revises: 0001
Create Date: 2026-12-01 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ims_cat"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two tables and the sessions column."""
    op.create_table(
        "ims_cat_sections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("configuration", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_ims_cat_sections_assessment_id_assessments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ims_cat_sections")),
        sa.UniqueConstraint("tenant", "digest", name=op.f("uq_ims_cat_sections_tenant")),
    )
    op.create_table(
        "service_secrets",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_secrets")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("config_overrides", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("config_overrides")
    op.drop_table("service_secrets")
    op.drop_table("ims_cat_sections")
