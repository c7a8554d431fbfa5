"""What a plan looks like to those who may see it, and loading it for a change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from huiqi.db.tables import (
    AllocationPlan,
    ApplicationLine,
    Disbursement,
    Organisation,
    PlanItem,
    PlanItemState,
    PlanReview,
)
from huiqi.fulfilment.calendar import ZONE, end_of_day
from huiqi.fulfilment.duties import Step
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import (
    PLAN,
    InvalidTransition,
    PlanAction,
    PlanState,
    step,
)
from huiqi.service.actors import Actor
from huiqi.service.duties import check_plan_step
from huiqi.service.errors import Conflict, Forbidden, NotFound


@dataclass(frozen=True)
class PlanItemView:
    id: int
    org_code: str
    org_name: str
    division: str
    clause_id: str
    subject_id: str
    kind: str
    requested_fen: int
    granted_fen: int
    state: str
    paid_fen: int
    application_id: int


@dataclass(frozen=True)
class PlanView:
    id: int
    award_year: int
    title: str
    state: str
    rule: str
    quota: int | None
    factors: dict[str, Any]
    notice_start: date | None
    notice_end: date | None
    notice_days: int | None
    #: When the notice was published (time-zone aware), None before.
    notice_published_at: datetime | None
    items: list[PlanItemView] = field(default_factory=list)
    reviews: list[tuple[str, bool, str | None]] = field(default_factory=list)

    @property
    def notice_ends_at(self) -> datetime | None:
        """The moment the notice is over: the midnight after its last day, Beijing time."""
        return None if self.notice_end is None else end_of_day(self.notice_end)

    @property
    def notice_published_beijing(self) -> str | None:
        """When the notice was published, in Beijing time (YYYY-MM-DD HH:MM)."""
        if self.notice_published_at is None:
            return None
        return self.notice_published_at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")

    def notice_running(self, now: datetime) -> bool:
        """Under notice at ``now``: objections are received until its last day is over."""
        ends = self.notice_ends_at
        return self.state == PlanState.NOTICE and ends is not None and now < ends

    def notice_over(self, now: datetime) -> bool:
        """The notice's last day is over (whatever the plan's state now)."""
        ends = self.notice_ends_at
        return ends is not None and now >= ends

    @property
    def granted_fen(self) -> int:
        return sum(i.granted_fen for i in self.items if i.state == PlanItemState.INCLUDED)

    def totals_by_division(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for item in self.items:
            if item.state == PlanItemState.INCLUDED:
                totals[item.division] = totals.get(item.division, 0) + item.granted_fen
        return totals


def view_plan(s: Session, plan: AllocationPlan) -> PlanView:
    orgs = {o.id: o for o in s.scalars(select(Organisation))}
    paid: dict[int, int] = {}
    for d in s.scalars(select(Disbursement).join(PlanItem).where(PlanItem.plan_id == plan.id)):
        paid[d.plan_item_id] = paid.get(d.plan_item_id, 0) + d.amount_fen
    lines = {
        ln.id: ln
        for ln in s.scalars(
            select(ApplicationLine).where(ApplicationLine.id.in_([i.line_id for i in plan.items]))
        )
    }
    reviews = s.scalars(
        select(PlanReview).where(PlanReview.plan_id == plan.id).order_by(PlanReview.id)
    ).all()
    return PlanView(
        id=plan.id,
        award_year=plan.award_year,
        title=plan.title,
        state=plan.state.value,
        rule=plan.rule,
        quota=plan.quota,
        factors=dict(plan.factors),
        notice_start=plan.notice_start,
        notice_end=plan.notice_end,
        notice_days=plan.notice_days,
        notice_published_at=(
            None if plan.notice_published_at is None else aware(plan.notice_published_at)
        ),
        items=[
            PlanItemView(
                i.id,
                orgs[i.org_id].credit_code,
                orgs[i.org_id].name,
                i.division,
                i.clause_id,
                i.subject_id,
                i.kind,
                i.requested_fen,
                i.granted_fen,
                i.state.value,
                paid.get(i.id, 0),
                lines[i.line_id].application_id,
            )
            for i in plan.items
        ],
        reviews=[(r.body.value, r.approved, r.reason) for r in reviews],
    )


def aware(moment: datetime) -> datetime:
    """A stored moment with its zone (SQLite keeps none; every moment is stored in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def load_plan(s: Session, plan_id: int, *, lock: bool = False) -> AllocationPlan:
    query = select(AllocationPlan).where(AllocationPlan.id == plan_id)
    plan = s.scalar(query.with_for_update() if lock else query)
    if plan is None:
        raise NotFound(f"分配方案 {plan_id} 不存在", f"no allocation plan {plan_id}")
    return plan


def move_plan(plan: AllocationPlan, action: PlanAction, actor: Actor) -> PlanState:
    """The plan's next state, if the actor's roles allow the action now and the actor took no
    other body's step on this plan (separation of duties, per person)."""
    try:
        to = PlanState(step(PLAN, plan.state, action, actor.roles))
    except InvalidTransition as exc:
        if exc.by_role:
            raise Forbidden(exc.zh, exc.en) from None
        raise Conflict(exc.zh, exc.en) from None
    duty = _plan_step(action, actor)
    if duty is not None:
        session = object_session(plan)
        assert session is not None, "a plan is moved inside its transaction"
        check_plan_step(session, plan, duty, actor)
    return to


def _plan_step(action: PlanAction, actor: Actor) -> Step | None:
    if action in (PlanAction.OPEN_NOTICE, PlanAction.CLOSE_NOTICE):
        return Step.DRAFT
    if action in (PlanAction.REVIEW, PlanAction.RETURN):
        return Step.FINANCE_REVIEW if actor.has(Role.FINANCE_REVIEWER) else Step.OFFICE_REVIEW
    if action is PlanAction.APPROVE:
        return Step.APPROVE
    return None  # closing a fully paid plan is housekeeping, not a decision
