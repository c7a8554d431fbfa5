"""the audit chain's head: one row holding the last link

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 16:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_one_head")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The head starts where the log ends now (or at the genesis of an empty log).
    op.execute(
        sa.text(
            "INSERT INTO audit_head (id, seq, prev_hash, hash) "
            "SELECT 1, COALESCE(MAX(seq), 0), :genesis, :genesis FROM audit_log"
        ).bindparams(genesis=GENESIS)
    )
    op.execute(
        "UPDATE audit_head SET prev_hash = (SELECT prev_hash FROM audit_log WHERE seq = "
        "audit_head.seq), hash = (SELECT hash FROM audit_log WHERE seq = audit_head.seq) "
        "WHERE seq > 0"
    )


def downgrade() -> None:
    op.drop_table("audit_head")
