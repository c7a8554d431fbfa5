"""separation of duties per person: one account one body; no self-review or self-approval

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 15:40:00

- ``users.body`` and ``user_roles.body``: ``user_roles (user_id, body)`` refers to
  ``users (id, body)`` and a CHECK ties each role to its body, so no account holds the roles
  of two bodies (an applicant and a reviewer, a drafter and the finance bureau …).
- ``plan_reviews.drafted_by`` refers to ``allocation_plans (id, drafted_by)`` with a CHECK that
  the reviewer is not the drafter; ``allocation_plans`` checks that the approver is not the
  drafter; ``application_lines`` that the office's approver is not the line's verifier.

A database whose accounts already mix bodies is not migrated: the migration names them, and
an administrator splits them into one account per body first.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Frozen copy of huiqi.fulfilment.duties.ROLE_BODY as of this revision.
ROLE_BODY = {
    "applicant": "applicant",
    "commerce_reviewer": "commerce",
    "plan_drafter": "commerce",
    "office_reviewer": "commerce",
    "finance_reviewer": "finance",
    "city_approver": "city",
    "auditor": "audit",
    "admin": "admin",
}
BODIES = ("admin", "applicant", "audit", "city", "commerce", "finance")
ROLE_BODY_CHECK = " OR ".join(
    f"(body = '{body}' AND role IN ({', '.join(repr(r) for r in sorted(roles))}))"
    for body, roles in sorted(
        {b: [r for r, rb in ROLE_BODY.items() if rb == b] for b in BODIES}.items()
    )
)


def _bodies(bind: sa.engine.Connection) -> dict[int, str]:
    """Each user's body from the roles it holds; refuse a user whose roles mix bodies."""
    held: dict[int, set[str]] = {}
    names: dict[int, str] = {}
    orgs: dict[int, bool] = {}
    for user_id, username, org_id in bind.execute(
        sa.text("SELECT id, username, org_id FROM users")
    ):
        held[user_id], names[user_id], orgs[user_id] = set(), username, org_id is not None
    for user_id, role in bind.execute(sa.text("SELECT user_id, role FROM user_roles")):
        held[user_id].add(ROLE_BODY[role])
    mixed = sorted(names[u] for u, bodies in held.items() if len(bodies) > 1)
    if mixed:
        raise RuntimeError(
            "这些账号同时担任不同机构的角色，违反职责分离，请先拆分为每个机构一个账号："
            f"{', '.join(mixed)} / these accounts hold roles of more than one body; split them "
            "into one account per body before upgrading"
        )
    # A user without roles keeps the body its organisation implies, or the weakest one.
    return {
        u: (bodies.pop() if bodies else "applicant" if orgs[u] else "audit")
        for u, bodies in held.items()
    }


def upgrade() -> None:
    bind = op.get_bind()
    bodies = _bodies(bind)

    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("body", sa.String(length=16), nullable=True))
    for user_id, body in bodies.items():
        bind.execute(sa.text("UPDATE users SET body = :b WHERE id = :u"), {"b": body, "u": user_id})
    with op.batch_alter_table("users") as batch:
        batch.alter_column("body", existing_type=sa.String(length=16), nullable=False)
        batch.create_unique_constraint(op.f("uq_users_id_body"), ["id", "body"])
        batch.create_check_constraint(
            op.f("ck_users_body_known"), "body IN (" + ", ".join(repr(b) for b in BODIES) + ")"
        )
        batch.create_check_constraint(
            op.f("ck_users_org_for_applicants"), "(body = 'applicant') = (org_id IS NOT NULL)"
        )

    with op.batch_alter_table("user_roles") as batch:
        batch.add_column(sa.Column("body", sa.String(length=16), nullable=True))
    bind.execute(
        sa.text("UPDATE user_roles SET body = (SELECT body FROM users WHERE users.id = user_id)")
    )
    with op.batch_alter_table("user_roles") as batch:
        batch.alter_column("body", existing_type=sa.String(length=16), nullable=False)
        batch.create_foreign_key(
            op.f("fk_user_roles_user_body"), "users", ["user_id", "body"], ["id", "body"]
        )
        batch.create_check_constraint(op.f("ck_user_roles_role_of_body"), ROLE_BODY_CHECK)

    with op.batch_alter_table("allocation_plans") as batch:
        batch.create_unique_constraint(op.f("uq_allocation_plans_id_drafter"), ["id", "drafted_by"])
        batch.create_check_constraint(
            op.f("ck_allocation_plans_approver_not_drafter"),
            "approved_by IS NULL OR approved_by <> drafted_by",
        )

    with op.batch_alter_table("plan_reviews") as batch:
        batch.add_column(sa.Column("drafted_by", sa.Integer(), nullable=True))
    bind.execute(
        sa.text(
            "UPDATE plan_reviews SET drafted_by = "
            "(SELECT drafted_by FROM allocation_plans WHERE allocation_plans.id = plan_id)"
        )
    )
    with op.batch_alter_table("plan_reviews") as batch:
        batch.alter_column("drafted_by", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_plan_reviews_plan_drafter"),
            "allocation_plans",
            ["plan_id", "drafted_by"],
            ["id", "drafted_by"],
        )
        batch.create_check_constraint(
            op.f("ck_plan_reviews_reviewer_not_drafter"), "by <> drafted_by"
        )

    with op.batch_alter_table("application_lines") as batch:
        batch.create_check_constraint(
            op.f("ck_application_lines_office_not_verifier"),
            "office_by IS NULL OR decided_by IS NULL OR office_by <> decided_by",
        )


def downgrade() -> None:
    with op.batch_alter_table("application_lines") as batch:
        batch.drop_constraint(op.f("ck_application_lines_office_not_verifier"), type_="check")
    with op.batch_alter_table("plan_reviews") as batch:
        batch.drop_constraint(op.f("ck_plan_reviews_reviewer_not_drafter"), type_="check")
        batch.drop_constraint(op.f("fk_plan_reviews_plan_drafter"), type_="foreignkey")
        batch.drop_column("drafted_by")
    with op.batch_alter_table("allocation_plans") as batch:
        batch.drop_constraint(op.f("ck_allocation_plans_approver_not_drafter"), type_="check")
        batch.drop_constraint(op.f("uq_allocation_plans_id_drafter"), type_="unique")
    with op.batch_alter_table("user_roles") as batch:
        batch.drop_constraint(op.f("ck_user_roles_role_of_body"), type_="check")
        batch.drop_constraint(op.f("fk_user_roles_user_body"), type_="foreignkey")
        batch.drop_column("body")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_org_for_applicants"), type_="check")
        batch.drop_constraint(op.f("ck_users_body_known"), type_="check")
        batch.drop_constraint(op.f("uq_users_id_body"), type_="unique")
        batch.drop_column("body")
