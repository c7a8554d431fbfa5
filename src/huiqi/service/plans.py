"""Allocation plans: drafted from verified lines, noticed, reviewed twice, approved, paid.

The approval writes the award ledger. It locks every beneficiary's organisation row
and re-runs the engine against the ledger as it stands, so two approvals at the same
moment can never together break a cap or pay a one-time award twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, lazyload

from huiqi.db.tables import (
    AllocationPlan,
    Application,
    ApplicationLine,
    Budget,
    Disbursement,
    LedgerEntry,
    LedgerKind,
    LineDecisionState,
    Objection,
    ObjectionState,
    OfficeState,
    Organisation,
    PlanItem,
    PlanItemState,
    PlanReview,
    ReviewBody,
)
from huiqi.errors import Problem
from huiqi.fulfilment.allocation import Item, Rule, allocate
from huiqi.fulfilment.calendar import add_working_days
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import (
    APPLICATION,
    PLAN,
    AppAction,
    AppState,
    InvalidTransition,
    PlanAction,
    PlanState,
    step,
)
from huiqi.money import format_yuan
from huiqi.policy.model import AmountKind
from huiqi.service import audit
from huiqi.service.actors import Actor, require
from huiqi.service.errors import Conflict, Forbidden, Invalid, NotFound, require_reason
from huiqi.service.records import evaluate_application, listed_dishonest
from huiqi.service.uow import Services


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
    items: list[PlanItemView] = field(default_factory=list)
    reviews: list[tuple[str, bool, str | None]] = field(default_factory=list)

    @property
    def granted_fen(self) -> int:
        return sum(i.granted_fen for i in self.items if i.state == PlanItemState.INCLUDED)

    def totals_by_division(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for item in self.items:
            if item.state == PlanItemState.INCLUDED:
                totals[item.division] = totals.get(item.division, 0) + item.granted_fen
        return totals


def _view(s: Session, plan: AllocationPlan) -> PlanView:
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


def _load(s: Session, plan_id: int, *, lock: bool = False) -> AllocationPlan:
    query = select(AllocationPlan).where(AllocationPlan.id == plan_id)
    plan = s.scalar(query.with_for_update() if lock else query)
    if plan is None:
        raise NotFound(f"分配方案 {plan_id} 不存在", f"no allocation plan {plan_id}")
    return plan


def _move(plan: AllocationPlan, action: PlanAction, actor: Actor) -> PlanState:
    try:
        return PlanState(step(PLAN, plan.state, action, actor.roles))
    except InvalidTransition as exc:
        if exc.by_role:
            raise Forbidden(exc.zh, exc.en) from None
        raise Conflict(exc.zh, exc.en) from None


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


RANKINGS = {
    "submitted": ("先申报先安排（按提交时间）", "first submitted first"),
    "amount_desc": ("金额从大到小", "largest amount first"),
    "amount_asc": ("金额从小到大", "smallest amount first"),
}


def _refresh_items(s: Session, plan: AllocationPlan, today: date) -> None:
    """Items whose line was re-reviewed since drafting follow the line: a line no longer
    approved (or whose application is no longer verified) leaves the plan; a changed
    decided amount becomes the item's request; a beneficiary since put on a serious-dishonesty
    list leaves the plan."""
    lines = {
        ln.id: ln
        for ln in s.scalars(
            select(ApplicationLine).where(ApplicationLine.id.in_([i.line_id for i in plan.items]))
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
    for item in plan.items:
        if item.state is not PlanItemState.INCLUDED:
            continue
        line = lines[item.line_id]
        listing = listed_dishonest(s, item.org_id, today)
        if listing is not None:
            item.state, item.granted_fen = PlanItemState.PULLED_BACK, 0
            item.note = f"列入严重失信名单：{listing.source} / on a dishonesty list"
        elif (
            apps[line.application_id].state is not AppState.VERIFIED
            or line.decision is not LineDecisionState.APPROVED
            or not line.decided_fen
        ):
            item.state, item.granted_fen = PlanItemState.PULLED_BACK, 0
            item.note = "申报已重新审核，该项不再列入 / re-reviewed: no longer in the plan"
        elif line.decided_fen != item.requested_fen:
            item.requested_fen = line.decided_fen


def _rank(s: Session, plan: AllocationPlan, items: list[PlanItem]) -> dict[int, tuple[Any, ...]]:
    ranking = plan.factors.get("ranking", "submitted")
    if ranking == "amount_desc":
        return {i.id: (-i.requested_fen, i.id) for i in items}
    if ranking == "amount_asc":
        return {i.id: (i.requested_fen, i.id) for i in items}
    submitted = dict(
        s.execute(
            select(ApplicationLine.id, Application.submitted_at)
            .join(Application, Application.id == ApplicationLine.application_id)
            .where(ApplicationLine.id.in_([i.line_id for i in items]))
        ).all()
    )
    return {i.id: (str(submitted.get(i.line_id) or ""), i.id) for i in items}


def _used_elsewhere(s: Session, plan: AllocationPlan, division: str) -> int:
    """What the year's other plans already grant from this paying finance's budget."""
    used = s.scalar(
        select(func.coalesce(func.sum(PlanItem.granted_fen), 0))
        .join(AllocationPlan, AllocationPlan.id == PlanItem.plan_id)
        .where(
            AllocationPlan.award_year == plan.award_year,
            AllocationPlan.id != plan.id,
            PlanItem.division == division,
            PlanItem.state == PlanItemState.INCLUDED,
        )
    )
    return int(used or 0)


def _allocate(s: Session, plan: AllocationPlan, today: date) -> None:
    """Share each paying finance's budget (less what the year's other plans use) among its
    items by the plan's rule; the same inputs always give the same plan."""
    _refresh_items(s, plan, today)
    by_division: dict[str, list[PlanItem]] = {}
    for item in plan.items:
        if item.state is PlanItemState.INCLUDED:
            by_division.setdefault(item.division, []).append(item)
    factors: dict[str, Any] = {
        "excluded": plan.factors.get("excluded", []),
        "ranking": plan.factors.get("ranking", "submitted"),
    }
    for division, items in sorted(by_division.items()):
        budget = s.get(Budget, (division, plan.award_year))
        requested = sum(i.requested_fen for i in items)
        if budget is None:
            for item in items:
                item.granted_fen = item.requested_fen
            factors[division] = {
                "budget_fen": None,
                "requested_fen": requested,
                "granted_fen": requested,
                "gap_fen": 0,
                "factor": "1",
                "note": "no budget recorded / 未录入预算",
            }
            continue
        used = _used_elsewhere(s, plan, division)
        ranks = _rank(s, plan, items)
        result = allocate(
            [Item(str(i.id), AmountKind(i.kind), i.requested_fen, ranks[i.id]) for i in items],
            max(0, budget.amount_fen - used),
            Rule(plan.rule),
            plan.quota,
        )
        for item in items:
            item.granted_fen = result.granted[str(item.id)]
        factors[division] = {
            "budget_fen": budget.amount_fen,
            "used_by_other_plans_fen": used,
            "requested_fen": requested,
            "granted_fen": result.granted_fen,
            "gap_fen": result.gap_fen,
            "factor": str(result.factor),
        }
    plan.factors = factors


def _retotal(plan: AllocationPlan) -> None:
    """Keep each division's granted total true after an item leaves the plan."""
    factors = dict(plan.factors)
    for division, figures in factors.items():
        if isinstance(figures, dict):
            figures = dict(figures)
            figures["granted_fen"] = sum(
                i.granted_fen
                for i in plan.items
                if i.division == division and i.state is PlanItemState.INCLUDED
            )
            factors[division] = figures
    plan.factors = factors


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
    ranking = _ranking(ranking)
    rule_value = _rule(rule, quota)
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
        _allocate(s, plan, svc.clock().date())
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
        return _view(s, plan)


def _rule(rule: str, quota: int | None) -> Rule:
    try:
        value = Rule(rule)
    except ValueError:
        allowed = ", ".join(r.value for r in Rule)
        raise Invalid(
            "分配规则有误",
            "unknown allocation rule",
            [Problem("rule", rule, f"可选：{allowed}", f"one of: {allowed}")],
        ) from None
    if value is Rule.QUOTA and (quota is None or quota < 0):
        raise Invalid(
            "名额分配须给出名额数",
            "a quota needs N",
            [Problem("quota", quota, "须为不小于0的整数", "a whole number ≥ 0")],
        )
    return value


def _ranking(value: str) -> str:
    if value not in RANKINGS:
        allowed = ", ".join(RANKINGS)
        raise Invalid(
            "排序规则有误",
            "unknown ranking",
            [Problem("ranking", value, f"可选：{allowed}", f"one of: {allowed}")],
        )
    return value


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
    rule_value = _rule(rule, quota)
    with svc.transaction() as s:
        plan = _load(s, plan_id, lock=True)
        if plan.state not in (PlanState.DRAFT, PlanState.RETURNED):
            raise Conflict(
                "只有拟定中或退回的方案可以重新分配",
                "only a draft or returned plan can be reallocated",
            )
        before = {"rule": plan.rule, "granted": [i.granted_fen for i in plan.items]}
        plan.rule, plan.quota = rule_value.value, quota
        if ranking is not None:
            plan.factors = {**plan.factors, "ranking": _ranking(ranking)}
        _allocate(s, plan, svc.clock().date())
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
        return _view(s, plan)


def open_notice(
    svc: Services, actor: Actor, plan_id: int, *, start: date, days: int | None = None
) -> PlanView:
    """Publish the plan for public notice (公示) for a number of working days."""
    with svc.transaction() as s:
        plan = _load(s, plan_id, lock=True)
        to = _move(plan, PlanAction.OPEN_NOTICE, actor)
        days = days or svc.notice_days
        before = plan.state.value
        plan.state, plan.notice_days = to, days
        plan.notice_start, plan.notice_end = start, add_working_days(start, days)
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="plan.open_notice",
            object_type="plan",
            object_id=plan.id,
            before={"state": before},
            after={
                "state": to.value,
                "start": str(start),
                "end": str(plan.notice_end),
                "days": days,
            },
        )
        return _view(s, plan)


def object_to(
    svc: Services,
    plan_id: int,
    *,
    submitted_by: str,
    text: str,
    contact: str | None = None,
    item_id: int | None = None,
) -> int:
    """Anyone may object during the notice; the objection is recorded as received."""
    problems = []
    if not submitted_by.strip():
        problems.append(Problem("submitted_by", submitted_by, "请留下姓名或单位", "name needed"))
    if not text.strip():
        problems.append(Problem("text", text, "请写明异议内容", "the objection is empty"))
    if problems:
        raise Invalid("异议内容不完整", "the objection is incomplete", problems)
    with svc.transaction() as s:
        plan = _load(s, plan_id)
        today = svc.clock().date()
        if plan.state is not PlanState.NOTICE or (plan.notice_end and today > plan.notice_end):
            raise Conflict("该方案不在公示期内", "the plan is not under public notice")
        if item_id is not None and not any(i.id == item_id for i in plan.items):
            raise NotFound(f"方案中没有第 {item_id} 项", f"no item {item_id} in the plan")
        objection = Objection(
            plan_id=plan.id,
            plan_item_id=item_id,
            submitted_by=submitted_by,
            contact=contact,
            text=text,
            received_at=svc.clock(),
            state=ObjectionState.RECORDED,
        )
        s.add(objection)
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=f"public:{submitted_by}"[:64],
            action="plan.objection",
            object_type="objection",
            object_id=objection.id,
            after={"plan": plan.id, "item": item_id, "text": text},
        )
        return objection.id


def resolve_objection(
    svc: Services, actor: Actor, objection_id: int, *, uphold: bool, resolution: str
) -> PlanView:
    """Dismiss an objection, or uphold it: the item leaves the plan and goes back to review."""
    require(actor, Role.PLAN_DRAFTER, Role.COMMERCE_REVIEWER)
    resolution = require_reason(
        resolution, "须写明处理意见", "a resolution is needed", field="resolution"
    )
    with svc.transaction() as s:
        objection = s.get(Objection, objection_id)
        if objection is None:
            raise NotFound(f"异议 {objection_id} 不存在", f"no objection {objection_id}")
        plan = _load(s, objection.plan_id, lock=True)
        if objection.state is not ObjectionState.RECORDED:
            raise Conflict("该异议已处理", "this objection is already resolved")
        if plan.state not in (PlanState.NOTICE, PlanState.REVIEW):
            raise Conflict(
                "方案已审批，异议须按追回程序处理",
                "the plan is past review; use a recovery instead",
            )
        objection.state = ObjectionState.UPHELD if uphold else ObjectionState.DISMISSED
        objection.resolution = resolution
        objection.resolved_by, objection.resolved_at = actor.user_id, svc.clock()
        if uphold and objection.plan_item_id is not None:
            item = s.get(PlanItem, objection.plan_item_id)
            assert item is not None
            line = s.get(ApplicationLine, item.line_id)
            assert line is not None
            app = s.get(Application, line.application_id)
            assert app is not None
            app.state = AppState(step(APPLICATION, app.state, AppAction.REOPEN, actor.roles))
            app.return_reason = f"公示异议成立：{resolution}"
            # The application goes back to review as a whole, so all its items leave the plan:
            # an application's lines are planned only while it stands verified.
            siblings = {ln.id for ln in app.lines}
            for other in plan.items:
                if other.line_id in siblings and other.state is PlanItemState.INCLUDED:
                    other.state, other.granted_fen = PlanItemState.PULLED_BACK, 0
                    other.note = (
                        f"异议成立，退回重审 / objection upheld: {resolution}"
                        if other.id == item.id
                        else "随同申报退回重审 / pulled back with its application"
                    )
            _retotal(plan)
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="plan.resolve_objection",
            object_type="objection",
            object_id=objection.id,
            after={"state": objection.state.value, "item": objection.plan_item_id},
            reason=resolution,
        )
        return _view(s, plan)


def close_notice(svc: Services, actor: Actor, plan_id: int) -> PlanView:
    """End the notice once its period is over and every objection is resolved."""
    with svc.transaction() as s:
        plan = _load(s, plan_id, lock=True)
        to = _move(plan, PlanAction.CLOSE_NOTICE, actor)
        today = svc.clock().date()
        if plan.notice_end is not None and today <= plan.notice_end:
            raise Conflict(
                f"公示期至 {plan.notice_end} 结束，尚未期满",
                f"the notice runs until {plan.notice_end}",
            )
        open_objections = s.scalars(
            select(Objection).where(
                Objection.plan_id == plan.id, Objection.state == ObjectionState.RECORDED
            )
        ).all()
        if open_objections:
            ids = ", ".join(str(o.id) for o in open_objections)
            raise Conflict(f"还有未处理的异议：{ids}", f"objections still open: {ids}")
        plan.state = to
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="plan.close_notice",
            object_type="plan",
            object_id=plan.id,
            before={"state": "notice"},
            after={"state": to.value},
        )
        return _view(s, plan)


def _round(s: Session, plan: AllocationPlan) -> list[PlanReview]:
    """The reviews since the plan last came back from a return."""
    reviews = s.scalars(
        select(PlanReview).where(PlanReview.plan_id == plan.id).order_by(PlanReview.id)
    ).all()
    current: list[PlanReview] = []
    for review in reviews:
        current.append(review)
        if not review.approved:
            current = []
    return current


def review(
    svc: Services, actor: Actor, plan_id: int, *, approve: bool, reason: str | None = None
) -> PlanView:
    """市财政局 or 领导小组办公室 approve the plan, or return it with reasons."""
    body = (
        ReviewBody.FINANCE
        if actor.has(Role.FINANCE_REVIEWER)
        else ReviewBody.OFFICE
        if actor.has(Role.OFFICE_REVIEWER)
        else None
    )
    if body is None:
        raise Forbidden(
            "须由市财政局或领导小组办公室审核",
            "the finance bureau or the leading group office reviews plans",
        )
    with svc.transaction() as s:
        plan = _load(s, plan_id, lock=True)
        action = PlanAction.REVIEW if approve else PlanAction.RETURN
        to = _move(plan, action, actor)
        if not approve and not (reason or "").strip():
            raise Invalid(
                "退回须写明理由",
                "a return needs reasons",
                [Problem("reason", reason, "不能为空", "empty")],
            )
        if approve and any(r.body is body for r in _round(s, plan)):
            raise Conflict("本轮已审核", "this body has already approved this round")
        s.add(
            PlanReview(
                plan_id=plan.id,
                round=1,
                body=body,
                approved=approve,
                reason=reason,
                by=actor.user_id,
                at=svc.clock(),
            )
        )
        plan.state = to
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action=f"plan.{'review' if approve else 'return'}.{body.value}",
            object_type="plan",
            object_id=plan.id,
            before={"state": "review"},
            after={"state": to.value},
            reason=reason,
        )
        return _view(s, plan)


def approve(svc: Services, actor: Actor, plan_id: int) -> PlanView:
    """市人民政府 approves; the ledger is written under locks, caps re-checked by the engine."""
    with svc.transaction() as s:
        plan = _load(s, plan_id, lock=True)
        to = _move(plan, PlanAction.APPROVE, actor)
        bodies = {r.body for r in _round(s, plan) if r.approved}
        missing = {ReviewBody.FINANCE, ReviewBody.OFFICE} - bodies
        if missing:
            names = "、".join(
                "市财政局" if b is ReviewBody.FINANCE else "领导小组办公室" for b in sorted(missing)
            )
            raise Conflict(f"尚待{names}审核同意", f"still awaiting: {', '.join(sorted(missing))}")
        items = [i for i in plan.items if i.state is PlanItemState.INCLUDED and i.granted_fen > 0]
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
        stale = [
            i.id
            for i in items
            if apps[lines[i.line_id].application_id].state is not AppState.VERIFIED
            or lines[i.line_id].decision is not LineDecisionState.APPROVED
            or lines[i.line_id].decided_fen != i.requested_fen
        ]
        if stale:
            raise Conflict(
                f"方案项目 {stale} 的申报已重新审核，须退回方案重新分配后再批准",
                f"items {stale} were re-reviewed since drafting: return the plan and reallocate",
            )
        listed = sorted(
            {
                org.credit_code
                for org in s.scalars(
                    select(Organisation).where(Organisation.id.in_({i.org_id for i in items}))
                )
                if listed_dishonest(s, org.id, svc.clock().date()) is not None
            }
        )
        if listed:
            raise Conflict(
                f"方案中的单位 {listed} 已列入严重失信名单，须退回方案重新拟定",
                f"{listed} are on a serious-dishonesty list: return and redraft the plan",
            )
        verifiers = {a.decided_by for a in apps.values()} | {ln.decided_by for ln in lines.values()}
        if actor.user_id in verifiers:
            raise Forbidden(
                "审核过其中申报的人员不能批准该方案（职责分离）",
                "whoever verified an application in the plan cannot approve it "
                "(separation of duties)",
            )
        _write_ledger(svc, s, plan, items, lines, apps)
        plan.state, plan.approved_by, plan.approved_at = to, actor.user_id, svc.clock()
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="plan.approve",
            object_type="plan",
            object_id=plan.id,
            before={"state": "review"},
            after={
                "state": to.value,
                "ledger": [[i.org_id, i.clause_id, i.subject_id, i.granted_fen] for i in items],
            },
        )
        return _view(s, plan)


def _write_ledger(
    svc: Services,
    s: Session,
    plan: AllocationPlan,
    items: list[PlanItem],
    lines: dict[int, ApplicationLine],
    apps: dict[int, Application],
) -> None:
    org_ids = sorted({i.org_id for i in items})
    # Lock the beneficiaries in one order, so concurrent approvals queue instead of deadlocking.
    orgs = {
        o.id: o
        for o in s.scalars(
            select(Organisation)
            .where(Organisation.id.in_(org_ids))
            .order_by(Organisation.id)
            .with_for_update()
        )
    }
    by_app: dict[int, list[PlanItem]] = {}
    for item in items:
        by_app.setdefault(lines[item.line_id].application_id, []).append(item)
    problems: list[Problem] = []
    for app_id in sorted(by_app, key=lambda a: (apps[a].org_id, a)):
        app = apps[app_id]
        _, evaluation = evaluate_application(s, svc.package, app, orgs[app.org_id])
        for item in by_app[app_id]:
            result = evaluation.clause(item.clause_id)
            allowed = next(
                (
                    i.allocated_fen or 0
                    for i in result.items
                    if i.subject == item.subject_id and i.eligible
                ),
                0,
            )
            if AmountKind(item.kind) is AmountKind.DISCRETIONARY:
                allowed = item.granted_fen if result.eligible else 0
            if item.granted_fen > allowed:
                problems.append(
                    Problem(
                        f"items[{item.id}]",
                        item.granted_fen,
                        f"第{item.clause_id}条 {item.subject_id}："
                        f"按现有台账最多 {format_yuan(allowed)}",
                        f"clause {item.clause_id} {item.subject_id}: at most "
                        f"{format_yuan(allowed, 'en')} given the ledger now",
                    )
                )
                continue
            s.add(
                LedgerEntry(
                    org_id=item.org_id,
                    clause_id=item.clause_id,
                    subject_id=item.subject_id,
                    award_year=plan.award_year,
                    amount_fen=item.granted_fen,
                    kind=LedgerKind.AWARD,
                    plan_id=plan.id,
                    plan_item_id=item.id,
                    recorded_at=svc.clock(),
                )
            )
        s.flush()
    if problems:
        raise Conflict(
            "批准会突破上限或重复兑现一次性奖补，未批准",
            "approving would break a cap or pay a one-time award twice; not approved",
            problems,
        )


def disburse(
    svc: Services, actor: Actor, item_id: int, *, amount_fen: int, paid_on: date, reference: str
) -> PlanView:
    """The finance bureau records a payment of an approved item by its paying finance."""
    require(actor, Role.FINANCE_REVIEWER)
    with svc.transaction() as s:
        item = s.get(PlanItem, item_id)
        if item is None:
            raise NotFound(f"方案项目 {item_id} 不存在", f"no plan item {item_id}")
        plan = _load(s, item.plan_id, lock=True)
        if plan.state is not PlanState.APPROVED:
            raise Conflict("方案未获批准，不能拨付", "the plan is not approved")
        listing = listed_dishonest(s, item.org_id, paid_on)
        if listing is not None:
            raise Conflict(
                f"该单位已列入严重失信名单（{listing.source}），暂停拨付",
                f"the beneficiary is on a serious-dishonesty list ({listing.source}); "
                "payment is stopped",
            )
        paid = sum(
            d.amount_fen
            for d in s.scalars(select(Disbursement).where(Disbursement.plan_item_id == item.id))
        )
        problems = []
        if amount_fen <= 0 or paid + amount_fen > item.granted_fen:
            problems.append(
                Problem(
                    "amount_fen",
                    amount_fen,
                    f"拨付金额须大于零且累计不超过核定金额 {format_yuan(item.granted_fen)}"
                    f"（已拨付 {format_yuan(paid)}）",
                    f"must be above zero and bring the total to at most "
                    f"{format_yuan(item.granted_fen, 'en')} "
                    f"({format_yuan(paid, 'en')} paid)",
                )
            )
        if not reference.strip():
            problems.append(Problem("reference", reference, "须填写拨付凭证号", "reference needed"))
        if problems:
            raise Invalid("拨付信息有误", "bad disbursement", problems)
        s.add(
            Disbursement(
                plan_item_id=item.id,
                amount_fen=amount_fen,
                division=item.division,
                paid_on=paid_on,
                reference=reference,
                recorded_by=actor.user_id,
                recorded_at=svc.clock(),
            )
        )
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="plan.disburse",
            object_type="plan_item",
            object_id=item.id,
            after={
                "amount_fen": amount_fen,
                "division": item.division,
                "paid_on": str(paid_on),
                "reference": reference,
            },
        )
        return _view(s, plan)


def close(svc: Services, actor: Actor, plan_id: int) -> PlanView:
    """Close a plan once every approved item is paid in full."""
    with svc.transaction() as s:
        plan = _load(s, plan_id, lock=True)
        to = _move(plan, PlanAction.CLOSE, actor)
        view = _view(s, plan)
        unpaid = [
            i.id
            for i in view.items
            if i.state == PlanItemState.INCLUDED and i.paid_fen < i.granted_fen
        ]
        if unpaid:
            raise Conflict(f"尚有未拨付完毕的项目：{unpaid}", f"items not fully paid: {unpaid}")
        plan.state = to
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="plan.close",
            object_type="plan",
            object_id=plan.id,
            before={"state": "approved"},
            after={"state": to.value},
        )
        return _view(s, plan)


def get(svc: Services, actor: Actor, plan_id: int) -> PlanView:
    if actor.roles == {Role.APPLICANT}:
        raise Forbidden("申报单位不能查看分配方案，请查看公示", "applicants see the public notice")
    if actor.roles == {Role.ADMIN}:
        raise Forbidden("管理员不参与资金分配", "administrators take no part in allocations")
    with svc.reading() as s:
        return _view(s, _load(s, plan_id))


def set_budget(svc: Services, actor: Actor, *, division: str, year: int, amount_fen: int) -> None:
    """The finance bureau records what a paying finance has for an award year."""
    require(actor, Role.FINANCE_REVIEWER, Role.ADMIN)
    if amount_fen < 0 or not division.strip():
        raise Invalid(
            "预算信息有误",
            "bad budget",
            [
                Problem(
                    "amount_fen",
                    amount_fen,
                    "预算不能为负，须指明县市区",
                    "a budget is ≥ 0 and names its division",
                )
            ],
        )
    with svc.transaction() as s:
        budget = s.get(Budget, (division, year))
        before = None if budget is None else {"amount_fen": budget.amount_fen}
        if budget is None:
            s.add(Budget(division=division, award_year=year, amount_fen=amount_fen))
        else:
            budget.amount_fen = amount_fen
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="budget.set",
            object_type="budget",
            object_id=f"{division}/{year}",
            before=before,
            after={"amount_fen": amount_fen},
        )


def public_notice(svc: Services, plan_id: int) -> PlanView | None:
    """A plan as the public sees it once its notice has opened (None before that)."""
    with svc.reading() as s:
        plan = s.get(AllocationPlan, plan_id)
        if (
            plan is None
            or plan.notice_start is None
            or plan.state
            in (
                PlanState.DRAFT,
                PlanState.RETURNED,
            )
        ):
            return None
        return _view(s, plan)


def open_notices(svc: Services) -> list[PlanView]:
    """Plans under public notice today, for the home page."""
    today = svc.clock().date()
    with svc.reading() as s:
        rows = s.scalars(
            select(AllocationPlan)
            .where(AllocationPlan.state == PlanState.NOTICE)
            .order_by(AllocationPlan.id)
        ).all()
        return [_view(s, p) for p in rows if p.notice_end is None or today <= p.notice_end]
