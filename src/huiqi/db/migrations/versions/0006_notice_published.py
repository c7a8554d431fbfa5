"""public notice: publication time

The moment a plan's notice was actually published (公示发布时间), time-zone aware. Plans
that were put on notice before this column existed take it from the audit log's
``plan.open_notice`` entry (the latest, for a plan returned and noticed again), or, with no
entry, from the start of their first notice day in Beijing time.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 15:40:00
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "allocation_plans",
        sa.Column("notice_published_at", sa.DateTime(timezone=True), nullable=True),
    )
    conn = op.get_bind()
    plans = sa.table(
        "allocation_plans",
        sa.column("id", sa.Integer()),
        sa.column("notice_start", sa.Date()),
        sa.column("notice_published_at", sa.DateTime(timezone=True)),
    )
    audit = sa.table(
        "audit_log",
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("action", sa.String()),
        sa.column("object_type", sa.String()),
        sa.column("object_id", sa.String()),
    )
    rows = conn.execute(
        sa.select(plans.c.id, plans.c.notice_start).where(plans.c.notice_start.is_not(None))
    ).all()
    for plan_id, start in rows:
        at = conn.scalar(
            sa.select(sa.func.max(audit.c.at)).where(
                audit.c.action == "plan.open_notice",
                audit.c.object_type == "plan",
                audit.c.object_id == str(plan_id),
            )
        )
        if at is None:
            at = _midnight(start)
        conn.execute(sa.update(plans).where(plans.c.id == plan_id).values(notice_published_at=at))


def _midnight(day: date | str) -> datetime:
    if isinstance(day, str):  # SQLite hands back the stored text in a lightweight table
        day = date.fromisoformat(day)
    # Stored in UTC, as every moment is (SQLite keeps no offset).
    return datetime.combine(day, time(0), tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite has it since 3.35): a batch copy of the table would have to
    # drop a table other tables' foreign keys point at.
    op.drop_column("allocation_plans", "notice_published_at")
