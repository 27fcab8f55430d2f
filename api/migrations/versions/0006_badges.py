"""Open Badges: tenants' issuer profiles, encrypted signing keys, status lists, badges.

Revision ID: 0006_badges
Revises: 0005_catalogues
Create Date: 2026-12-01 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_badges"
down_revision = "0005_catalogues"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add badge_issuers, badge_keys, status_lists and badges."""
    op.create_table(
        "badge_issuers",
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("tenant", name=op.f("pk_badge_issuers")),
    )
    op.create_table(
        "badge_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("algorithm", sa.String(length=20), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("encrypted_private_key", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("retired_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badge_keys")),
        sa.UniqueConstraint("tenant", "key_id", name=op.f("uq_badge_keys_tenant")),
    )
    op.create_index(op.f("ix_badge_keys_tenant"), "badge_keys", ["tenant"])
    op.create_table(
        "status_lists",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("issuer_id", sa.String(length=500), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("n_used", sa.Integer(), nullable=False),
        sa.Column("encoded", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_lists")),
        sa.UniqueConstraint("url", name=op.f("uq_status_lists_url")),
    )
    op.create_index(op.f("ix_status_lists_tenant"), "status_lists", ["tenant"])
    op.create_table(
        "badges",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("skill_id", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("status_list_id", sa.String(length=36), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("valid_until", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"],
                                name=op.f("fk_badges_session_id_sessions")),
        sa.ForeignKeyConstraint(["status_list_id"], ["status_lists.id"],
                                name=op.f("fk_badges_status_list_id_status_lists")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badges")),
        sa.UniqueConstraint("session_id", "skill_id", name=op.f("uq_badges_session_id")),
        sa.UniqueConstraint("status_list_id", "status_index",
                            name=op.f("uq_badges_status_list_id")),
    )
    op.create_index(op.f("ix_badges_tenant"), "badges", ["tenant"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index(op.f("ix_badges_tenant"), table_name="badges")
    op.drop_table("badges")
    op.drop_index(op.f("ix_status_lists_tenant"), table_name="status_lists")
    op.drop_table("status_lists")
    op.drop_index(op.f("ix_badge_keys_tenant"), table_name="badge_keys")
    op.drop_table("badge_keys")
    op.drop_table("badge_issuers")
