"""The public notice (公示): opening it, objections, closing it, what the public sees."""

from __future__ import annotations

from datetime import date, datetime

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
from huiqi.fulfilment.calendar import CalendarNotCovered, end_of_day, local_date, notice_end
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
from huiqi.service.plan_views import PlanView, aware, load_plan, move_plan, view_plan
from huiqi.service.uow import Services

#: The longest notice accepted, in working days (a bound on the count, not a policy rule).
MAX_NOTICE_DAYS = 60


def open_notice(
    svc: Services,
    actor: Actor,
    plan_id: int,
    *,
    start: date | None = None,
    days: int | None = None,
) -> PlanView:
    """Publish the plan for public notice (公示) now, for ``days`` working days.

    The notice starts at the moment it is published (``svc.clock()``), which is recorded; its
    days are counted from the next day by the official holiday calendar (see
    :func:`huiqi.fulfilment.calendar.notice_end`). ``start``, if given, must be the day of
    publication in Beijing time: a past day would shorten the notice, and publication is not
    scheduled ahead. ``days`` is at least the configured period (``HUIQI_NOTICE_DAYS``).
    """
    now = svc.clock()
    days = svc.notice_days if days is None else days
    period = _period(now, start, days, svc.notice_days)
    with svc.transaction() as s:
        plan = load_plan(s, plan_id, lock=True)
        to = move_plan(plan, PlanAction.OPEN_NOTICE, actor)
        before = plan.state.value
        plan.state, plan.notice_days = to, days
        plan.notice_start, plan.notice_end = local_date(now), period
        plan.notice_published_at = now
        s.flush()
        audit.record(
            s,
            at=now,
            actor=actor.username,
            action="plan.open_notice",
            object_type="plan",
            object_id=plan.id,
            before={"state": before},
            after={
                "state": to.value,
                "published_at": now.isoformat(),
                "start": str(plan.notice_start),
                "end": str(plan.notice_end),
                "days": days,
            },
        )
        return view_plan(s, plan)


def _period(now: datetime, start: date | None, days: int, least: int) -> date:
    """The notice's last day, or a refusal naming the field and the value."""
    today = local_date(now)
    if start is not None and start < today:
        raise Invalid(
            "公示不能从过去的日期开始",
            "a notice cannot start in the past",
            [Problem("start", str(start), f"须为发布当日 {today}", f"must be today, {today}")],
        )
    if start is not None and start > today:
        raise Invalid(
            "公示自发布之时开始，不能预约发布",
            "a notice starts when it is published; it cannot be scheduled",
            [Problem("start", str(start), f"须为发布当日 {today}", f"must be today, {today}")],
        )
    if days < least or days > MAX_NOTICE_DAYS:
        raise Invalid(
            "公示期天数不符合规定",
            "the notice period is outside the allowed range",
            [
                Problem(
                    "days",
                    days,
                    f"须为 {least}–{MAX_NOTICE_DAYS} 个工作日（HUIQI_NOTICE_DAYS = {least}）",
                    f"must be {least}–{MAX_NOTICE_DAYS} working days (HUIQI_NOTICE_DAYS = {least})",
                )
            ],
        )
    try:
        return notice_end(now, days)
    except CalendarNotCovered as exc:
        raise Invalid(
            exc.zh, exc.en, [Problem("year", exc.year, "节假日安排未收录", "not in the calendar")]
        ) from None


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
        # Locked, so that an objection and the notice's closing cannot pass each other: the
        # closing either sees this objection or comes first and this one is refused.
        plan = load_plan(s, plan_id, lock=True)
        if not _running(plan, svc.clock()):
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
        if plan.notice_end is None or svc.clock() < end_of_day(plan.notice_end):
            raise Conflict(
                f"公示期至 {plan.notice_end} 24 时（北京时间）结束，尚未期满",
                f"the notice runs until the end of {plan.notice_end} (Beijing time)",
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


def _running(plan: AllocationPlan, now: datetime) -> bool:
    """Under notice at ``now``: published, and its last day not yet over in Beijing time."""
    return (
        plan.state is PlanState.NOTICE
        and plan.notice_published_at is not None
        and plan.notice_end is not None
        and aware(plan.notice_published_at) <= now < end_of_day(plan.notice_end)
    )


def public_notice(svc: Services, plan_id: int) -> PlanView | None:
    """A plan as the public sees it once its notice has opened (None before that)."""
    with svc.reading() as s:
        plan = s.get(AllocationPlan, plan_id)
        if (
            plan is None
            or plan.notice_published_at is None
            or aware(plan.notice_published_at) > svc.clock()
            or plan.state in (PlanState.DRAFT, PlanState.RETURNED)
        ):
            return None
        return view_plan(s, plan)


def open_notices(svc: Services) -> list[PlanView]:
    """Plans under public notice today, for the home page."""
    now = svc.clock()
    with svc.reading() as s:
        rows = s.scalars(
            select(AllocationPlan)
            .where(AllocationPlan.state == PlanState.NOTICE)
            .order_by(AllocationPlan.id)
        ).all()
        return [view_plan(s, p) for p in rows if _running(p, now)]
