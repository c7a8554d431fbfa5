"""What the documents print, read from the records in one read-only session.

Nothing here computes an amount: every figure is a stored one (plan items, decided lines,
budgets, ledger, disbursements), so a document says what the records say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    AllocationPlan,
    Application,
    ApplicationLine,
    Budget,
    Organisation,
    PlanItem,
    PlanItemState,
)
from huiqi.documents.citation import Citation, cite
from huiqi.engine import clause_sort_key
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import STATE_LABELS, PlanState
from huiqi.policy import PolicyPackage
from huiqi.service.actors import STAFF, Actor, require
from huiqi.service.errors import NotFound
from huiqi.service.plan_views import aware
from huiqi.service.uow import Services

#: Staff who may read plans and reports (the administrator makes no decisions, reads none).
READERS = tuple(STAFF - {Role.ADMIN})
KIND_LABELS = {
    "fixed": ("定额", "fixed"),
    "computed": ("按标准计算", "computed"),
    "external": ("按其他政策核定", "external"),
    "ceiling": ("限额内核定", "within a ceiling"),
    "discretionary": ("综合评定", "discretionary"),
}


def clause_title(package: PolicyPackage, clause_id: str, lang: str = "zh") -> str:
    clause = package.clauses.get(clause_id)
    if clause is None:
        return clause_id
    return clause.title.zh if lang == "zh" else clause.title.en


def state_label(value: str, lang: str = "zh") -> str:
    zh, en = STATE_LABELS.get(value, (value, value))
    return zh if lang == "zh" else en


def plan_reference(plan_id: int, year: int) -> str:
    """The plan's number on paper."""
    return f"HQ-{year}-P{plan_id:03d}"


@dataclass(frozen=True)
class PlanRow:
    item_id: int
    org_code: str
    org_name: str
    division: str
    clause_id: str
    clause_zh: str
    clause_en: str
    subject_id: str
    kind: str
    requested_fen: int
    granted_fen: int
    included: bool
    note: str | None
    application_id: int
    reason: str | None


@dataclass(frozen=True)
class PlanData:
    id: int
    reference: str
    award_year: int
    title: str
    state: str
    rule: str
    factors: dict[str, Any]
    notice_start: date | None
    notice_end: date | None
    notice_days: int | None
    #: When the notice was published (time-zone aware), None before.
    notice_published_at: datetime | None
    created_at: datetime
    approved_at: datetime | None
    rows: list[PlanRow]
    budgets: dict[str, int]
    citation: Citation
    issuer: tuple[str, str] = ("郴州市商务局", "Chenzhou Municipal Bureau of Commerce")
    reviews: list[tuple[str, bool, str | None]] = field(default_factory=list)

    @property
    def included(self) -> list[PlanRow]:
        return [r for r in self.rows if r.included]

    @property
    def granted_fen(self) -> int:
        return sum(r.granted_fen for r in self.included)

    @property
    def requested_fen(self) -> int:
        return sum(r.requested_fen for r in self.included)

    @property
    def stamp(self) -> datetime:
        """The time a document of this plan carries: its approval, else its drafting."""
        return self.approved_at or self.created_at


def _sort_key(row: PlanRow) -> tuple[Any, ...]:
    return (row.division, clause_sort_key(row.clause_id), row.org_code, row.subject_id, row.item_id)


def _plan_data(s: Session, package: PolicyPackage, plan: AllocationPlan) -> PlanData:
    items: list[PlanItem] = list(plan.items)
    orgs = {o.id: o for o in s.scalars(select(Organisation))}
    lines = {
        ln.id: ln
        for ln in s.scalars(
            select(ApplicationLine).where(ApplicationLine.id.in_([i.line_id for i in items]))
        )
    }
    apps = {
        a.id: a
        for a in s.scalars(
            select(Application).where(
                Application.id.in_({ln.application_id for ln in lines.values()})
            )
        )
    }
    rows = sorted(
        (
            PlanRow(
                item_id=i.id,
                org_code=orgs[i.org_id].credit_code,
                org_name=orgs[i.org_id].name,
                division=i.division,
                clause_id=i.clause_id,
                clause_zh=clause_title(package, i.clause_id, "zh"),
                clause_en=clause_title(package, i.clause_id, "en"),
                subject_id=i.subject_id,
                kind=i.kind,
                requested_fen=i.requested_fen,
                granted_fen=i.granted_fen,
                included=i.state is PlanItemState.INCLUDED,
                note=i.note,
                application_id=lines[i.line_id].application_id,
                reason=lines[i.line_id].reason,
            )
            for i in items
        ),
        key=_sort_key,
    )
    budgets = {
        b.division: b.amount_fen
        for b in s.scalars(select(Budget).where(Budget.award_year == plan.award_year))
    }
    hashes = {apps[lines[i.line_id].application_id].policy_sha256 for i in items}
    return PlanData(
        id=plan.id,
        reference=plan_reference(plan.id, plan.award_year),
        award_year=plan.award_year,
        title=plan.title,
        state=plan.state.value,
        rule=plan.rule,
        factors=dict(plan.factors),
        notice_start=plan.notice_start,
        notice_end=plan.notice_end,
        notice_days=plan.notice_days,
        notice_published_at=(
            None if plan.notice_published_at is None else aware(plan.notice_published_at)
        ),
        created_at=plan.created_at,
        approved_at=plan.approved_at,
        rows=rows,
        budgets=budgets,
        citation=cite(s, package, {r.clause_id for r in rows if r.included}, hashes),
    )


def load_plan(svc: Services, actor: Actor, plan_id: int) -> PlanData:
    """A plan as staff see it."""
    require(actor, *READERS)
    with svc.reading() as s:
        plan = s.get(AllocationPlan, plan_id)
        if plan is None:
            raise NotFound(f"分配方案 {plan_id} 不存在", f"no allocation plan {plan_id}")
        return _plan_data(s, svc.package, plan)


def load_public_plan(svc: Services, plan_id: int) -> PlanData:
    """A plan as the public sees it: only once its notice has opened."""
    with svc.reading() as s:
        plan = s.get(AllocationPlan, plan_id)
        if (
            plan is None
            or plan.notice_published_at is None
            or aware(plan.notice_published_at) > svc.clock()
            or plan.state in (PlanState.DRAFT, PlanState.RETURNED)
        ):
            raise NotFound(
                f"分配方案 {plan_id} 未公示", f"allocation plan {plan_id} is not publicly noticed"
            )
        return _plan_data(s, svc.package, plan)
