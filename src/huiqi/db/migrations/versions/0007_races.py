"""races: one payment per pre-approval, one open claim

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 15:40:00

- ``open_claims``: the application holding the open claim of an organisation on a clause's
  subject for an award year, its key the primary key. Filled from the applications standing
  now: where several claim the same thing (possible before this version), the earliest holds
  it and the later ones stay as they are, shown to the reviewer as other claims of the same.
- ``uq_application_lines_pre_approval_ref``: a pre-approval is cited by at most one line that is
  not refused. Two lines already citing one are a double payment waiting to happen, which no
  migration may settle alone: the upgrade stops, naming them, until a reviewer refuses one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CITED = "pre_approval_ref IS NOT NULL AND decision <> 'refused'"

OPEN_NOW = """
INSERT INTO open_claims (org_id, clause_id, subject_id, award_year, application_id)
SELECT a.org_id, l.clause_id, l.subject_id, a.award_year, MIN(a.id)
FROM application_lines l JOIN applications a ON a.id = l.application_id
WHERE a.state IN ('submitted', 'returned', 'resubmitted', 'verified')
  AND l.decision <> 'refused'
  AND NOT EXISTS (
    SELECT 1 FROM plan_items i JOIN allocation_plans p ON p.id = i.plan_id
    WHERE i.line_id = l.id AND i.state = 'included' AND p.state IN ('approved', 'closed'))
GROUP BY a.org_id, l.clause_id, l.subject_id, a.award_year
"""


def upgrade() -> None:
    twice = (
        op.get_bind()
        .execute(
            sa.text(
                f"SELECT pre_approval_ref, MIN(application_id), MAX(application_id) "
                f"FROM application_lines WHERE {CITED} "
                f"GROUP BY pre_approval_ref HAVING COUNT(*) > 1"
            )
        )
        .all()
    )
    if twice:
        listed = "; ".join(f"{ref}: #{a}, #{b}" for ref, a, b in twice)
        raise RuntimeError(
            f"以下批准文号被多项未否决的申报明细引用，须先由审核人员否决其一：{listed} / "
            f"these pre-approvals are cited by more than one line not refused; a reviewer "
            f"must refuse all but one first: {listed}"
        )
    op.create_table(
        "open_claims",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("clause_id", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("award_year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_open_claims_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_open_claims_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint(
            "org_id", "clause_id", "subject_id", "award_year", name=op.f("pk_open_claims")
        ),
    )
    with op.batch_alter_table("open_claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open_claims_application_id"), ["application_id"], unique=False
        )
    op.execute(OPEN_NOW)
    with op.batch_alter_table("application_lines", schema=None) as batch_op:
        batch_op.create_index(
            "uq_application_lines_pre_approval_ref",
            ["pre_approval_ref"],
            unique=True,
            sqlite_where=sa.text(CITED),
            postgresql_where=sa.text(CITED),
        )


def downgrade() -> None:
    with op.batch_alter_table("application_lines", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_application_lines_pre_approval_ref",
            sqlite_where=sa.text(CITED),
            postgresql_where=sa.text(CITED),
        )
    with op.batch_alter_table("open_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open_claims_application_id"))
    op.drop_table("open_claims")
