"""Columnar bank arrays: ``bank_versions.arrays`` (issue 11, defect 7).

The engine's arrays of a published bank (``zapcat-bank-arrays/1``, see
:mod:`item_banks.columns`), stored beside its JSON document so that loading a large bank
needs no parsing and builds no Python object per item. Versions published before this
revision have none and are parsed from their document as before.

Revision ID: 0007_bank_arrays
Revises: 0006_badges
Create Date: 2026-12-01 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_bank_arrays"
down_revision = "0006_badges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable column (a plain ADD COLUMN, no table copy)."""
    op.add_column("bank_versions", sa.Column("arrays", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Drop it again."""
    op.drop_column("bank_versions", "arrays")
