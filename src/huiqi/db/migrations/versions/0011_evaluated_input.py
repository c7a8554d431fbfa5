"""replay: each application keeps the input its last evaluation read

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:40:00

``applications.evaluated_input`` is the whole facts document the engine read when the
application was last evaluated (declared facts, the organisation's master data, its ledger
and other policies' awards as they stood then), so ``huiqi replay`` can re-run that decision
byte for byte years later. Applications evaluated before this revision have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place on both databases (SQLite has ADD and DROP COLUMN): no table copy.
    op.add_column("applications", sa.Column("evaluated_input", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("applications", "evaluated_input")
