"""The system of record's tables. Money is BIGINT fen; states are enums stored as text.

Rows are changed only by the service layer, inside one transaction per call; the
workflow's transition tables (:mod:`huiqi.fulfilment.workflow`) decide states.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from huiqi.facts.model import ApplicantKind
from huiqi.fulfilment.duties import ROLE_BODY, Body
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import AppState, PlanState

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def enum(cls: type[StrEnum], name: str) -> Enum:
    """An enum stored as its value in a VARCHAR with a CHECK, the same on SQLite and PostgreSQL."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class LineDecisionState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class OfficeState(StrEnum):
    NOT_NEEDED = "not_needed"
    PENDING = "pending"
    APPROVED = "approved"
    RETURNED = "returned"


class PlanItemState(StrEnum):
    INCLUDED = "included"
    PULLED_BACK = "pulled_back"


class ReviewBody(StrEnum):
    FINANCE = "finance"  # 市财政局
    OFFICE = "office"  # 领导小组办公室


class ObjectionState(StrEnum):
    RECORDED = "recorded"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class LedgerKind(StrEnum):
    AWARD = "award"
    RECOVERY = "recovery"


class RecognitionKind(StrEnum):
    PARK_PROVINCE = "park_province"  # 省商务部门认定的跨境电商产业园区
    PARK_CITY = "park_city"  # 市商务部门认定的跨境电商产业园区
    DEMONSTRATION_BASE = "demonstration_base"  # 省级电子商务示范基地
    CUSTOMS_CERTIFICATION = "customs_certification"  # 海关特殊监管区域或场所认证
    OVERSEAS_WAREHOUSE_PILOT = "overseas_warehouse_pilot"  # 公共海外仓建设试点
    TALENT_BASE = "talent_base"  # 人才培养输出基地授牌


class MemberChangeState(StrEnum):
    PROPOSED = "proposed"  # 成员单位提出
    CHECKED = "checked"  # 领导小组办公室审核
    APPROVED = "approved"  # 组长批准
    FILED = "filed"  # 报市政府办公室备案
    RETURNED = "returned"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ApplicantKind] = mapped_column(enum(ApplicantKind, "applicant_kind"))
    division: Mapped[str] = mapped_column(String(100))  # 税收申报缴纳地：县市区或园区
    platform_filed: Mapped[bool] = mapped_column(Boolean, default=False)
    platform_connected: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


#: The CHECK on ``user_roles`` that ties each role to its body (:data:`ROLE_BODY`).
ROLE_BODY_CHECK = " OR ".join(
    f"(body = '{body.value}' AND role IN ({', '.join(repr(r.value) for r in roles)}))"
    for body, roles in sorted(
        {
            b: sorted(r for r, rb in ROLE_BODY.items() if rb is b) for b in set(ROLE_BODY.values())
        }.items()
    )
)


class User(Base):
    """An account. It works for one body (:mod:`huiqi.fulfilment.duties`): an applicant's
    account belongs to its organisation and holds no staff role; staff accounts hold no
    organisation. The database holds this too: ``user_roles`` refers to (id, body)."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("id", "body", name="uq_users_id_body"),
        CheckConstraint(
            "body IN (" + ", ".join(repr(b.value) for b in Body) + ")", name="body_known"
        ),
        CheckConstraint("(body = 'applicant') = (org_id IS NOT NULL)", name="org_for_applicants"),
        CheckConstraint(
            "(active AND disabled_at IS NULL AND disabled_by IS NULL)"
            " OR (NOT active AND disabled_at IS NOT NULL AND disabled_by IS NOT NULL)",
            name="disabled_says_when_and_by_whom",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    #: False while an administrator has disabled the user (then ``disabled_at``/``_by`` say
    #: when and who): its sessions and tokens stop working and it cannot sign in.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None]
    disabled_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(String(16))  # a duties.Body value
    roles: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", foreign_keys="UserRole.user_id"
    )


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (
        # The role's body is the user's body: one account cannot hold two bodies' roles.
        ForeignKeyConstraint(
            ["user_id", "body"], ["users.id", "users.body"], name="fk_user_roles_user_body"
        ),
        CheckConstraint(ROLE_BODY_CHECK, name="role_of_body"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[Role] = mapped_column(enum(Role, "role"), primary_key=True)
    body: Mapped[str] = mapped_column(String(16))


class AwardYear(Base):
    """An award year the bureau has opened for applications."""

    __tablename__ = "award_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)


class OfficialFigure(Base):
    """A figure from an authority (customs statistics, platform records) with its provenance."""

    __tablename__ = "official_figures"
    __table_args__ = (UniqueConstraint("org_id", "award_year", "source", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    award_year: Mapped[int]
    source: Mapped[str] = mapped_column(String(32))  # customs, platform, logistics …
    field: Mapped[str] = mapped_column(String(100))  # a fact path, e.g. trade.export_usd
    value: Mapped[str] = mapped_column(String(64))  # exact decimal text
    provenance: Mapped[dict[str, Any]]
    recorded_at: Mapped[datetime]


class PolicySnapshot(Base):
    """Every policy package a decision was made under, kept whole so it can be replayed."""

    __tablename__ = "policy_snapshots"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    files: Mapped[dict[str, Any]]  # relative path → text
    recorded_at: Mapped[datetime]


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    award_year: Mapped[int] = mapped_column(index=True)
    state: Mapped[AppState] = mapped_column(enum(AppState, "app_state"), index=True)
    clauses: Mapped[list[Any]]  # clause ids applied for
    facts: Mapped[dict[str, Any]]  # as declared by the applicant (facts schema v1)
    policy_sha256: Mapped[str | None] = mapped_column(String(64))
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the engine's full result
    # What that evaluation read (facts, master data, ledger, other awards), for replay.
    evaluated_input: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    return_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lines: Mapped[list[ApplicationLine]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ApplicationLine.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ApplicationLine(Base):
    """One clause × subject of an application: the engine's amount and the reviewer's decision."""

    __tablename__ = "application_lines"
    __table_args__ = (
        UniqueConstraint("application_id", "clause_id", "subject_id"),
        # An office pre-approval pays at most once: one line that is not refused may cite it.
        Index(
            "uq_application_lines_pre_approval_ref",
            "pre_approval_ref",
            unique=True,
            sqlite_where=text("pre_approval_ref IS NOT NULL AND decision <> 'refused'"),
            postgresql_where=text("pre_approval_ref IS NOT NULL AND decision <> 'refused'"),
        ),
        # The office's approval of a line is another person's than the bureau's verification.
        CheckConstraint(
            "office_by IS NULL OR decided_by IS NULL OR office_by <> decided_by",
            name="office_not_verifier",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    clause_id: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # AmountKind value
    eligible: Mapped[bool] = mapped_column(Boolean)
    engine_fen: Mapped[int | None] = mapped_column(BigInteger)  # owed, or the ceiling
    decision: Mapped[LineDecisionState] = mapped_column(
        enum(LineDecisionState, "line_decision"), default=LineDecisionState.PENDING
    )
    decided_fen: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    office_state: Mapped[OfficeState] = mapped_column(
        enum(OfficeState, "office_state"), default=OfficeState.NOT_NEEDED
    )
    office_reason: Mapped[str | None] = mapped_column(Text)
    office_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    office_at: Mapped[datetime | None]
    pre_approval_ref: Mapped[str | None] = mapped_column(String(100))


class OpenClaim(Base):
    """The application that holds the open claim of an organisation on a clause's subject for
    an award year: submitted and not yet refused, rejected or settled by an approved plan.
    The key is the primary key, so a second open claim of the same thing cannot be written."""

    __tablename__ = "open_claims"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    clause_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    award_year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime]


class AllocationPlan(Base):
    __tablename__ = "allocation_plans"
    __table_args__ = (
        # Separation of duties: the city's approver did not draft the plan, and the reviews
        # refer to (id, drafted_by) so that a reviewer is not the drafter either.
        UniqueConstraint("id", "drafted_by", name="uq_allocation_plans_id_drafter"),
        CheckConstraint(
            "approved_by IS NULL OR approved_by <> drafted_by",
            name="approver_not_drafter",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    award_year: Mapped[int] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[PlanState] = mapped_column(enum(PlanState, "plan_state"))
    rule: Mapped[str] = mapped_column(String(32))  # allocation.Rule value
    quota: Mapped[int | None]
    factors: Mapped[dict[str, Any]]  # per paying finance: factor, budget, requested, gap
    notice_days: Mapped[int | None]
    notice_start: Mapped[date | None] = mapped_column(Date)
    notice_end: Mapped[date | None] = mapped_column(Date)
    #: The moment the notice was published (公示发布时间): its period is counted from then.
    notice_published_at: Mapped[datetime | None]
    drafted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    items: Mapped[list[PlanItem]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="PlanItem.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PlanItem(Base):
    __tablename__ = "plan_items"
    __table_args__ = (
        UniqueConstraint("plan_id", "line_id"),
        # A line is in at most one plan at a time: two drafts racing cannot both take it.
        Index(
            "uq_plan_items_line_included",
            "line_id",
            unique=True,
            sqlite_where=text("state = 'included'"),
            postgresql_where=text("state = 'included'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("allocation_plans.id"))
    line_id: Mapped[int] = mapped_column(ForeignKey("application_lines.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    clause_id: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    division: Mapped[str] = mapped_column(String(100))  # the paying finance
    requested_fen: Mapped[int] = mapped_column(BigInteger)  # the decided amount
    granted_fen: Mapped[int] = mapped_column(BigInteger)  # after budget allocation
    state: Mapped[PlanItemState] = mapped_column(
        enum(PlanItemState, "plan_item_state"), default=PlanItemState.INCLUDED
    )
    note: Mapped[str | None] = mapped_column(Text)


class PlanReview(Base):
    __tablename__ = "plan_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("allocation_plans.id"), index=True)
    round: Mapped[int]  # review rounds restart when a returned plan is noticed again
    body: Mapped[ReviewBody] = mapped_column(enum(ReviewBody, "review_body"))
    approved: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]
    drafted_by: Mapped[int]  # the plan's drafter, so the database can refuse a self-review

    __table_args__ = (
        ForeignKeyConstraint(
            ["plan_id", "drafted_by"],
            ["allocation_plans.id", "allocation_plans.drafted_by"],
            name="fk_plan_reviews_plan_drafter",
        ),
        CheckConstraint("by <> drafted_by", name="reviewer_not_drafter"),
    )


class Objection(Base):
    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("allocation_plans.id"), index=True)
    plan_item_id: Mapped[int | None] = mapped_column(ForeignKey("plan_items.id"))
    submitted_by: Mapped[str] = mapped_column(String(100))
    contact: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    state: Mapped[ObjectionState] = mapped_column(enum(ObjectionState, "objection_state"))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]


class Disbursement(Base):
    __tablename__ = "disbursements"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_items.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    division: Mapped[str] = mapped_column(String(100))
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(100))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


class LedgerEntry(Base):
    """An approved sum (or, negative, a recovery): what one-time rules and caps read."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    clause_id: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(64))
    award_year: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[LedgerKind] = mapped_column(enum(LedgerKind, "ledger_kind"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("allocation_plans.id"))
    plan_item_id: Mapped[int | None] = mapped_column(ForeignKey("plan_items.id"))
    recovery_id: Mapped[int | None] = mapped_column(ForeignKey("recoveries.id"))
    recorded_at: Mapped[datetime]


class Recovery(Base):
    """追回: a paid award found wrongly paid, with the recalculation kept."""

    __tablename__ = "recoveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_items.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    recalculation: Mapped[dict[str, Any]]
    decided_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime]


class OtherPolicyAward(Base):
    __tablename__ = "other_policy_awards"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    policy: Mapped[str] = mapped_column(String(200))
    clause_id: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    award_year: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    provenance: Mapped[dict[str, Any]]
    recorded_at: Mapped[datetime]


class Budget(Base):
    """What a paying finance (county, district or zone) has for an award year."""

    __tablename__ = "budgets"

    division: Mapped[str] = mapped_column(String(100), primary_key=True)
    award_year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class Recognition(Base):
    __tablename__ = "recognitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[RecognitionKind] = mapped_column(enum(RecognitionKind, "recognition_kind"))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(String(100))  # the recognising body
    document_no: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime]


class PreApproval(Base):
    """The leading group office's prior approval of an exhibition, research or training event."""

    __tablename__ = "pre_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)  # 文号
    event_kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    approved_on: Mapped[date] = mapped_column(Date)
    approved_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class LeadingGroupMember(Base):
    __tablename__ = "leading_group_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit: Mapped[str] = mapped_column(String(100))
    position: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(50))
    group_role: Mapped[str] = mapped_column(String(32))  # 组长、副组长、成员
    active_from: Mapped[date] = mapped_column(Date)
    active_to: Mapped[date | None] = mapped_column(Date)


class MemberChange(Base):
    """A change of the leading group: proposed by the unit, checked, approved, filed."""

    __tablename__ = "member_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("leading_group_members.id"))
    unit: Mapped[str] = mapped_column(String(100))
    proposal: Mapped[dict[str, Any]]
    state: Mapped[MemberChangeState] = mapped_column(enum(MemberChangeState, "member_change"))
    reason: Mapped[str | None] = mapped_column(Text)
    filed_ref: Mapped[str | None] = mapped_column(String(100))
    history: Mapped[list[Any]]  # [{state, by, at, note}]


class DishonestyListing(Base):
    """失信: an organisation on a serious-dishonesty list is excluded while listed."""

    __tablename__ = "dishonesty_listings"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    source: Mapped[str] = mapped_column(String(200))
    document_no: Mapped[str | None] = mapped_column(String(100))
    listed_on: Mapped[date] = mapped_column(Date)
    removed_on: Mapped[date | None] = mapped_column(Date)


class AuditEntry(Base):
    """Append-only; each entry's hash covers its content and its predecessor's hash."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(200), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's last link (one row): appends move it forward in the same transaction, so
    its row lock serialises them on PostgreSQL, and an entry cut off the end of the log
    shows as a log that stops short of its head."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="one_head"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class WebSession(Base):
    """A signed-in browser: the cookie holds a random token; only its hash is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token for a machine client; revocable; only its hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginFailure(Base):
    """A sign-in attempt not (yet) known to be right, counted per user name and address for
    the lock-out, per user name for the slowdown and per address (see ``service.auth``)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime]
