"""sign-in: users an administrator disabled say when and by whom

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHECK = (
    "(active AND disabled_at IS NULL AND disabled_by IS NULL)"
    " OR (NOT active AND disabled_at IS NOT NULL AND disabled_by IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disabled_by", sa.String(length=64), nullable=True))
    # Nothing could switch a user off before; a user found inactive anyway is recorded as
    # disabled by this upgrade, so the check below holds for every row.
    users = sa.table(
        "users",
        sa.column("active", sa.Boolean),
        sa.column("disabled_at", sa.DateTime(timezone=True)),
        sa.column("disabled_by", sa.String(64)),
    )
    op.execute(
        users.update()
        .where(users.c.active.is_(False))
        .values(disabled_at=sa.func.current_timestamp(), disabled_by="migration 0008")
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_users_disabled_says_when_and_by_whom"), sa.text(CHECK)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_disabled_says_when_and_by_whom"), type_="check")
        batch_op.drop_column("disabled_by")
        batch_op.drop_column("disabled_at")
