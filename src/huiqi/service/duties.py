"""Who already took which step on a plan or an application line, read from the records, and the
per-person check every deciding service call makes (rules in :mod:`huiqi.fulfilment.duties`).

The calls run inside the transaction that holds the plan's (or the line's) row lock, so two
requests of the same person cannot both pass the check."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    AllocationPlan,
    ApplicationLine,
    AuditEntry,
    Disbursement,
    PlanItem,
    PlanReview,
    ReviewBody,
    User,
)
from huiqi.fulfilment.duties import DutyConflict, Step, Taken, check_step
from huiqi.service.actors import Actor
from huiqi.service.errors import Forbidden
from huiqi.service.uow import Services

#: Audit actions on a plan that are the drafting body's steps (the drafter of record is
#: ``allocation_plans.drafted_by``; whoever reallocated or ran the notice drafted it too).
DRAFT_ACTIONS = ("plan.draft", "plan.reallocate", "plan.open_notice", "plan.close_notice")


def plan_steps(s: Session, plan: AllocationPlan) -> list[Taken]:
    """Every step taken on the plan so far, by whom (all review rounds count)."""
    taken = [Taken(Step.DRAFT, plan.drafted_by)]
    taken += [
        Taken(Step.DRAFT, user_id)
        for user_id in s.scalars(
            select(User.id)
            .join(AuditEntry, AuditEntry.actor == User.username)
            .where(
                AuditEntry.object_type == "plan",
                AuditEntry.object_id == str(plan.id),
                AuditEntry.action.in_(DRAFT_ACTIONS),
            )
            .distinct()
        )
    ]
    for body, by in s.execute(
        select(PlanReview.body, PlanReview.by).where(PlanReview.plan_id == plan.id)
    ):
        step = Step.FINANCE_REVIEW if body is ReviewBody.FINANCE else Step.OFFICE_REVIEW
        taken.append(Taken(step, by))
    if plan.approved_by is not None:
        taken.append(Taken(Step.APPROVE, plan.approved_by))
    taken += [
        Taken(Step.PAY, by)
        for by in s.scalars(
            select(Disbursement.recorded_by)
            .join(PlanItem, PlanItem.id == Disbursement.plan_item_id)
            .where(PlanItem.plan_id == plan.id)
            .distinct()
        )
    ]
    taken += [
        Taken(Step.VERIFY, by)
        for by in s.scalars(
            select(ApplicationLine.decided_by)
            .join(PlanItem, PlanItem.line_id == ApplicationLine.id)
            .where(PlanItem.plan_id == plan.id, ApplicationLine.decided_by.is_not(None))
            .distinct()
        )
        if by is not None
    ]
    return taken


def line_steps(line: ApplicationLine) -> list[Taken]:
    taken = []
    if line.decided_by is not None:
        taken.append(Taken(Step.VERIFY, line.decided_by))
    if line.office_by is not None:
        taken.append(Taken(Step.OFFICE_LINE, line.office_by))
    return taken


def refuse_as_forbidden(step: Step, actor: Actor, taken: list[Taken]) -> None:
    """Check one step against what was taken; a clash is a 403 that says why."""
    try:
        check_step(step, actor.user_id, taken)
    except DutyConflict as exc:
        raise Forbidden(exc.zh, exc.en) from None


def check_plan_step(s: Session, plan: AllocationPlan, step: Step, actor: Actor) -> None:
    refuse_as_forbidden(step, actor, plan_steps(s, plan))


def blocked_steps(svc: Services, actor: Actor, plan_id: int) -> dict[str, tuple[str, str]]:
    """The steps on a plan that this person may not take because of one already taken, each
    with its reason in Chinese and English (for pages to say so instead of offering a form
    that would be refused)."""
    with svc.reading() as s:
        plan = s.get(AllocationPlan, plan_id)
        if plan is None:
            return {}
        taken = plan_steps(s, plan)
    blocked = {}
    for step in Step:
        try:
            check_step(step, actor.user_id, taken)
        except DutyConflict as exc:
            blocked[step.value] = (exc.zh, exc.en)
    return blocked
