"""The public notice (公示): opening it, objections, closing it, what the public sees."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from huiqi.db.tables import (
    AllocationPlan,
    Application,
    ApplicationLine,
    Objection,
    ObjectionState,
    PlanItem,
    PlanItemState,
)
from huiqi.errors import Problem
from huiqi.fulfilment.calendar import add_working_days
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import (
    APPLICATION,
    AppAction,
    AppState,
    PlanAction,
    PlanState,
    step,
)
from huiqi.service import audit
from huiqi.service.actors import Actor, require
from huiqi.service.errors import Conflict, Invalid, NotFound, require_reason
from huiqi.service.plan_allocation import retotal
from huiqi.service.plan_views import PlanView, load_plan, move_plan, view_plan
from huiqi.service.uow import Services


def open_notice(
    svc: Services, actor: Actor, plan_id: int, *, start: date, days: int | None = None
) -> PlanView:
    """Publish the plan for public notice (公示) for a number of working days."""
    with svc.transaction() as s:
        plan = load_plan(s, plan_id, lock=True)
        to = move_plan(plan, PlanAction.OPEN_NOTICE, actor)
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
        return view_plan(s, plan)


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
        plan = load_plan(s, plan_id)
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
        plan = load_plan(s, objection.plan_id, lock=True)
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
            retotal(plan)
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
        return view_plan(s, plan)


def close_notice(svc: Services, actor: Actor, plan_id: int) -> PlanView:
    """End the notice once its period is over and every objection is resolved."""
    with svc.transaction() as s:
        plan = load_plan(s, plan_id, lock=True)
        to = move_plan(plan, PlanAction.CLOSE_NOTICE, actor)
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
        return view_plan(s, plan)


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
        return view_plan(s, plan)


def open_notices(svc: Services) -> list[PlanView]:
    """Plans under public notice today, for the home page."""
    today = svc.clock().date()
    with svc.reading() as s:
        rows = s.scalars(
            select(AllocationPlan)
            .where(AllocationPlan.state == PlanState.NOTICE)
            .order_by(AllocationPlan.id)
        ).all()
        return [view_plan(s, p) for p in rows if p.notice_end is None or today <= p.notice_end]
