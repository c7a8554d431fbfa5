"""Reviews by 财政局 and 领导小组办公室, approval by 市人民政府 (writing the ledger under locks),
payments, closing, and budgets."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    AllocationPlan,
    Application,
    ApplicationLine,
    Budget,
    Disbursement,
    LedgerEntry,
    LedgerKind,
    LineDecisionState,
    Organisation,
    PlanItem,
    PlanItemState,
    PlanReview,
    ReviewBody,
)
from huiqi.errors import Problem
from huiqi.fulfilment.duties import Step
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import (
    AppState,
    PlanAction,
    PlanState,
)
from huiqi.money import format_yuan
from huiqi.policy.model import AmountKind
from huiqi.service import anchors, audit, audit_ledger, budgets, claims, divisions
from huiqi.service.actors import Actor, require
from huiqi.service.duties import check_plan_step
from huiqi.service.errors import Conflict, Forbidden, Invalid, NotFound
from huiqi.service.plan_views import PlanView, load_plan, move_plan, view_plan
from huiqi.service.records import evaluate_application, listed_dishonest
from huiqi.service.uow import Services


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
        plan = load_plan(s, plan_id, lock=True)
        action = PlanAction.REVIEW if approve else PlanAction.RETURN
        to = move_plan(plan, action, actor)
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
                drafted_by=plan.drafted_by,
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
        return view_plan(s, plan)


def approve(svc: Services, actor: Actor, plan_id: int) -> PlanView:
    """市人民政府 approves; the ledger is written under locks, caps re-checked by the engine."""
    with svc.transaction() as s:
        plan = load_plan(s, plan_id, lock=True)
        to = move_plan(plan, PlanAction.APPROVE, actor)
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
        budgets.check_plan(s, plan)  # under the budget rows' locks, with the ledger written
        _check_pre_approvals(s, lines.values())
        included = [i.line_id for i in plan.items if i.state is PlanItemState.INCLUDED]
        settled = s.scalars(select(ApplicationLine).where(ApplicationLine.id.in_(included)))
        claims.settle(s, settled.all())  # their claims are no longer open
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
                **audit_ledger.approval_facts(plan, items),
            },
        )
        anchors.on_commit(s)  # a keyed checkpoint outside the database, once committed
        return view_plan(s, plan)


def _check_pre_approvals(s: Session, lines: Iterable[ApplicationLine]) -> None:
    """Checked once more before paying: each pre-approval a paid line cites (its row locked)
    is cited by no other line still standing."""
    cited = {ln.pre_approval_ref: ln for ln in lines if ln.pre_approval_ref}
    claims.lock_pre_approvals(s, cited)
    problems = []
    for ref, line in sorted(cited.items()):
        other = claims.cited_elsewhere(s, ref, line.application_id)
        if other is not None:
            problems.append(
                Problem(
                    f"lines[{line.id}]",
                    ref,
                    f"批准文号 {ref} 也被申报 #{other} 引用",
                    f"the approval {ref} is cited by application #{other} as well",
                )
            )
    if problems:
        raise Conflict(
            "同一事先批准只能兑现一次，未批准",
            "one prior approval is paid once only; not approved",
            problems,
        )


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
        plan = load_plan(s, item.plan_id, lock=True)
        check_plan_step(s, plan, Step.PAY, actor)
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
        return view_plan(s, plan)


def close(svc: Services, actor: Actor, plan_id: int) -> PlanView:
    """Close a plan once every approved item is paid in full."""
    with svc.transaction() as s:
        plan = load_plan(s, plan_id, lock=True)
        to = move_plan(plan, PlanAction.CLOSE, actor)
        view = view_plan(s, plan)
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
        return view_plan(s, plan)


def set_budget(svc: Services, actor: Actor, *, division: str, year: int, amount_fen: int) -> None:
    """The finance bureau records what a paying finance has for an award year."""
    require(actor, Role.FINANCE_REVIEWER)  # a budget is the finance bureau's decision
    problems = []
    if amount_fen < 0:
        problems.append(Problem("amount_fen", amount_fen, "预算不能为负", "a budget is ≥ 0"))
    if (wrong := divisions.problem(svc.package, division)) is not None:
        problems.append(wrong)
    if problems:
        raise Invalid("预算信息有误", "bad budget", problems)
    with svc.transaction() as s:
        budget = budgets.lock_for_change(s, division, year)
        budgets.check_change(s, division, year, amount_fen)
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
