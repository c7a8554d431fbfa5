"""Allocation plans: drafted from verified lines, noticed, reviewed twice, approved, paid.

The approval writes the award ledger. It locks every beneficiary's organisation row
and re-runs the engine against the ledger as it stands, so two approvals at the same
moment can never together break a cap or pay a one-time award twice.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, defer, lazyload

from huiqi.db.tables import (
    AllocationPlan,
    Application,
    ApplicationLine,
    LineDecisionState,
    OfficeState,
    Organisation,
    PlanItem,
    PlanItemState,
)
from huiqi.fulfilment.allocation import Rule
from huiqi.fulfilment.duties import Step
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import (
    AppState,
    PlanState,
)
from huiqi.service import audit
from huiqi.service.actors import Actor, require
from huiqi.service.duties import check_plan_step
from huiqi.service.errors import Conflict, Forbidden
from huiqi.service.plan_allocation import RANKINGS, allocate_plan, check_ranking, check_rule
from huiqi.service.plan_approval import approve, close, disburse, review, set_budget
from huiqi.service.plan_notice import (
    close_notice,
    object_to,
    open_notice,
    open_notices,
    public_notice,
    resolve_objection,
)
from huiqi.service.plan_views import PlanItemView, PlanView, load_plan, view_plan
from huiqi.service.records import listed_dishonest
from huiqi.service.uow import Services

__all__ = [
    "RANKINGS",
    "PlanItemView",
    "PlanView",
    "approve",
    "close",
    "close_notice",
    "disburse",
    "draft",
    "get",
    "object_to",
    "open_notice",
    "open_notices",
    "public_notice",
    "reallocate",
    "resolve_objection",
    "review",
    "set_budget",
]


def _lines_for_plan(s: Session, year: int) -> list[tuple[ApplicationLine, Application]]:
    """Verified, approved lines of the year that no plan holds, in application order; the
    applications' large JSON columns are not loaded."""
    planned = select(PlanItem.line_id).where(PlanItem.state == PlanItemState.INCLUDED)
    rows = s.execute(
        select(ApplicationLine, Application)
        .join(Application, Application.id == ApplicationLine.application_id)
        .options(
            defer(Application.evaluation), defer(Application.facts), lazyload(Application.lines)
        )
        .where(
            Application.award_year == year,
            Application.state == AppState.VERIFIED,
            ApplicationLine.decision == LineDecisionState.APPROVED,
            ApplicationLine.decided_fen > 0,
            ApplicationLine.office_state.in_([OfficeState.NOT_NEEDED, OfficeState.APPROVED]),
            ApplicationLine.id.not_in(planned),
        )
        .order_by(Application.id, ApplicationLine.id)
    ).all()
    return [(line, app) for line, app in rows]


def draft(
    svc: Services,
    actor: Actor,
    *,
    year: int,
    title: str,
    rule: str = Rule.PRO_RATA_FLEXIBLE.value,
    quota: int | None = None,
    ranking: str = "submitted",
) -> PlanView:
    """Draft a plan from every verified, approved line of the award year not yet planned."""
    require(actor, Role.PLAN_DRAFTER)
    ranking = check_ranking(ranking)
    rule_value = check_rule(rule, quota)
    with svc.transaction() as s:
        today = svc.clock().date()
        excluded = []
        plan = AllocationPlan(
            award_year=year,
            title=title,
            state=PlanState.DRAFT,
            rule=rule_value.value,
            quota=quota,
            factors={},
            drafted_by=actor.user_id,
            created_at=svc.clock(),
        )
        for line, app in _lines_for_plan(s, year):
            org = s.get(Organisation, app.org_id)
            assert org is not None
            listing = listed_dishonest(s, org.id, today)
            if listing is not None:
                excluded.append(
                    {
                        "org": org.credit_code,
                        "line": line.id,
                        "reason": f"严重失信名单 {listing.source} / dishonesty list",
                    }
                )
                continue
            plan.items.append(
                PlanItem(
                    line_id=line.id,
                    org_id=org.id,
                    clause_id=line.clause_id,
                    subject_id=line.subject_id,
                    kind=line.kind,
                    division=org.division,
                    requested_fen=line.decided_fen or 0,
                    granted_fen=line.decided_fen or 0,
                )
            )
        if not plan.items:
            raise Conflict(
                f"{year}年度没有可列入方案的已审核项目",
                f"no verified lines of {year} wait for a plan",
            )
        plan.factors = {"excluded": excluded, "ranking": ranking}
        s.add(plan)
        s.flush()
        allocate_plan(s, plan, svc.clock().date())
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="plan.draft",
            object_type="plan",
            object_id=plan.id,
            after={
                "year": year,
                "rule": plan.rule,
                "quota": quota,
                "items": [[i.line_id, i.requested_fen, i.granted_fen] for i in plan.items],
                "factors": plan.factors,
            },
        )
        return view_plan(s, plan)


def reallocate(
    svc: Services,
    actor: Actor,
    plan_id: int,
    *,
    rule: str,
    quota: int | None = None,
    ranking: str | None = None,
) -> PlanView:
    """Re-run the allocation with a rule; the same inputs always give the same plan."""
    require(actor, Role.PLAN_DRAFTER)
    rule_value = check_rule(rule, quota)
    with svc.transaction() as s:
        plan = load_plan(s, plan_id, lock=True)
        check_plan_step(s, plan, Step.DRAFT, actor)
        if plan.state not in (PlanState.DRAFT, PlanState.RETURNED):
            raise Conflict(
                "只有拟定中或退回的方案可以重新分配",
                "only a draft or returned plan can be reallocated",
            )
        before = {"rule": plan.rule, "granted": [i.granted_fen for i in plan.items]}
        plan.rule, plan.quota = rule_value.value, quota
        if ranking is not None:
            plan.factors = {**plan.factors, "ranking": check_ranking(ranking)}
        allocate_plan(s, plan, svc.clock().date())
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="plan.reallocate",
            object_type="plan",
            object_id=plan.id,
            before=before,
            after={
                "rule": plan.rule,
                "quota": quota,
                "granted": [i.granted_fen for i in plan.items],
                "factors": plan.factors,
            },
        )
        return view_plan(s, plan)


def get(svc: Services, actor: Actor, plan_id: int) -> PlanView:
    if actor.roles == {Role.APPLICANT}:
        raise Forbidden("申报单位不能查看分配方案，请查看公示", "applicants see the public notice")
    if actor.roles == {Role.ADMIN}:
        raise Forbidden("管理员不参与资金分配", "administrators take no part in allocations")
    with svc.reading() as s:
        return view_plan(s, load_plan(s, plan_id))
