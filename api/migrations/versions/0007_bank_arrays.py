"""Columnar bank arrays: ``bank_versions.arrays`` (issue 11, defect 7).

The engine's arrays of a published bank (``zapcat-bank-arrays/1``, see
:mod:`item_banks.columns`), stored instead of its JSON document so that loading a large
bank needs no parsing and builds no Python object per item, and publishing writes 6 MB
instead of 32 MB (100,000 items) in SQLite's one write transaction. The arrays hold the
whole document (header and each item's record), so ``bank_versions.document`` is the
empty string for versions published from now on (kept NOT NULL: changing that would copy
the table on SQLite). Versions published before this revision keep their document and
are parsed from it as before.

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
    """Write the documents of versions stored as arrays only, then drop the arrays."""
    from item_banks.columns import bank_from_arrays
    from item_banks.io import bank_to_json

    bind = op.get_bind()
    table = sa.table("bank_versions", sa.column("id", sa.Integer()),
                     sa.column("version", sa.Integer()), sa.column("document", sa.Text()),
                     sa.column("arrays", sa.LargeBinary()))  # fmt: skip
    rows = bind.execute(sa.select(table.c.id, table.c.version, table.c.arrays)
                        .where(table.c.document == "")).all()  # fmt: skip
    for row_id, version, blob in rows:
        text = bank_to_json(bank_from_arrays(blob, version=str(version)), indent=None)
        bind.execute(table.update().where(table.c.id == row_id).values(document=text))
    op.drop_column("bank_versions", "arrays")
