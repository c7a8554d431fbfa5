"""Allocation plans: drafting, public notice and objections, reviews, approval, payment."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from huiqi.fulfilment.workflow import PlanState
from huiqi.service import plans, queries
from huiqi.service.plans import PlanView
from huiqi.service.queries import PlanSummary
from huiqi.web.deps import Svc, User
from huiqi.web.exact import ExactRoute
from huiqi.web.throttle import limit_objection
from huiqi.web.types import Body, Fen, Id, LimitQ, OffsetQ, YearQ

router = APIRouter(tags=["plans 分配方案"], route_class=ExactRoute)

Rule = Annotated[str, Field(pattern="^(none|pro_rata_flexible|pro_rata_all|quota)$")]
Ranking = Annotated[str, Field(pattern="^(submitted|amount_desc|amount_asc)$")]


class NewPlan(Body):
    award_year: int = Field(ge=1900, le=2200)
    title: str = Field(min_length=1, max_length=200)
    rule: Rule = "pro_rata_flexible"
    quota: int | None = Field(default=None, ge=0, le=100_000)
    ranking: Ranking = "submitted"


class Reallocation(Body):
    rule: Rule
    quota: int | None = Field(default=None, ge=0, le=100_000)
    ranking: Ranking | None = None


class Notice(Body):
    """The notice starts when it is published; ``start``, if sent, must be that day (Beijing
    time). ``days``: working days, at least the configured period (the default)."""

    start: date | None = Field(default=None, strict=False)  # JSON text, format: date
    days: int | None = Field(default=None, ge=1, le=60)


class NewObjection(Body):
    submitted_by: str = Field(min_length=1, max_length=100)
    contact: str | None = Field(default=None, max_length=100)
    text: str = Field(min_length=1, max_length=5000)
    item_id: int | None = Field(default=None, ge=1, le=2_147_483_647)


class Resolution(Body):
    uphold: bool
    resolution: str = Field(min_length=1, max_length=2000)


class Review(Body):
    approve: bool
    reason: str | None = Field(default=None, max_length=2000)


class Payment(Body):
    amount_fen: Fen
    paid_on: date = Field(strict=False)  # JSON text, format: date
    reference: str = Field(min_length=1, max_length=100)


class BudgetBody(Body):
    amount_fen: Fen


@router.get("/plans", summary="方案列表 / plans")
def list_plans(
    svc: Svc,
    actor: User,
    year: YearQ = None,
    state: Annotated[PlanState | None, Query(description="方案状态 / state")] = None,
    limit: LimitQ = 50,
    offset: OffsetQ = 0,
) -> list[PlanSummary]:
    return queries.plan_list(svc, actor, year=year, state=state, page=queries.Page(limit, offset))


@router.post("/plans", summary="拟定方案 / draft a plan", status_code=201)
def draft(body: NewPlan, svc: Svc, actor: User) -> PlanView:
    return plans.draft(
        svc,
        actor,
        year=body.award_year,
        title=body.title,
        rule=body.rule,
        quota=body.quota,
        ranking=body.ranking,
    )


@router.get("/plans/{plan_id}", summary="查看方案 / one plan")
def get(plan_id: Id, svc: Svc, actor: User) -> PlanView:
    return plans.get(svc, actor, plan_id)


@router.post("/plans/{plan_id}/reallocate", summary="重新分配 / reallocate")
def reallocate(plan_id: Id, body: Reallocation, svc: Svc, actor: User) -> PlanView:
    return plans.reallocate(
        svc, actor, plan_id, rule=body.rule, quota=body.quota, ranking=body.ranking
    )


@router.post("/plans/{plan_id}/notice", summary="开始公示 / open the notice")
def notice(plan_id: Id, body: Notice, svc: Svc, actor: User) -> PlanView:
    return plans.open_notice(svc, actor, plan_id, start=body.start, days=body.days)


@router.post(
    "/plans/{plan_id}/objections",
    summary="公示期内提出异议（无需登录） / object",
    status_code=201,
    dependencies=[Depends(limit_objection)],
)
def object_to(plan_id: Id, body: NewObjection, svc: Svc) -> dict[str, int]:
    objection = plans.object_to(
        svc,
        plan_id,
        submitted_by=body.submitted_by,
        text=body.text,
        contact=body.contact,
        item_id=body.item_id,
    )
    return {"id": objection}


@router.post("/objections/{objection_id}/resolve", summary="处理异议 / resolve an objection")
def resolve(objection_id: Id, body: Resolution, svc: Svc, actor: User) -> PlanView:
    return plans.resolve_objection(
        svc, actor, objection_id, uphold=body.uphold, resolution=body.resolution
    )


@router.post("/plans/{plan_id}/close-notice", summary="结束公示 / end the notice")
def close_notice(plan_id: Id, svc: Svc, actor: User) -> PlanView:
    return plans.close_notice(svc, actor, plan_id)


@router.post("/plans/{plan_id}/review", summary="财政局或办公室审核 / review")
def review(plan_id: Id, body: Review, svc: Svc, actor: User) -> PlanView:
    return plans.review(svc, actor, plan_id, approve=body.approve, reason=body.reason)


@router.post("/plans/{plan_id}/approve", summary="市政府批准 / approve")
def approve(plan_id: Id, svc: Svc, actor: User) -> PlanView:
    return plans.approve(svc, actor, plan_id)


@router.post(
    "/plan-items/{item_id}/disbursements", summary="登记拨付 / record a payment", status_code=201
)
def disburse(item_id: Id, body: Payment, svc: Svc, actor: User) -> PlanView:
    return plans.disburse(
        svc,
        actor,
        item_id,
        amount_fen=body.amount_fen,
        paid_on=body.paid_on,
        reference=body.reference,
    )


@router.post("/plans/{plan_id}/close", summary="关闭方案 / close")
def close(plan_id: Id, svc: Svc, actor: User) -> PlanView:
    return plans.close(svc, actor, plan_id)


@router.put("/budgets/{division}/{year}", summary="登记预算 / set a budget")
def set_budget(
    division: Annotated[str, Field(min_length=1, max_length=100)],
    year: Annotated[int, Field(ge=1900, le=2200)],
    body: BudgetBody,
    svc: Svc,
    actor: User,
) -> dict[str, Any]:
    plans.set_budget(svc, actor, division=division, year=year, amount_fen=body.amount_fen)
    return {"division": division, "award_year": year, "amount_fen": body.amount_fen}
