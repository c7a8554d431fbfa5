"""Allocation plans in the console: drafting, budgets and scaling, public notice and objections,
the reviews of 市财政局 and 领导小组办公室, 市人民政府's approval, payments and closing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from huiqi.db.tables import (
    AllocationPlan,
    Application,
    ApplicationLine,
    Disbursement,
    LineDecisionState,
    Objection,
    OfficeState,
    PlanItem,
    PlanItemState,
)
from huiqi.engine import clause_sort_key
from huiqi.fulfilment.allocation import Rule
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import AppState
from huiqi.service import duties, plans, queries
from huiqi.service.actors import Actor
from huiqi.service.errors import Conflict, Forbidden, Invalid
from huiqi.service.plan_allocation import included_by_division, share_budget
from huiqi.service.plans import RANKINGS, PlanItemView, PlanView
from huiqi.web.deps import User, get_services
from huiqi.web.pages.common import lang_of, redirect, render
from huiqi.web.pages.console_common import (
    FieldError,
    FormErrors,
    current_round,
    login_redirect,
    owner_id,
    page_staff,
    parse_date,
    parse_int,
    parse_yuan,
    refused,
    require_staff,
    yuan_input,
)
from huiqi.web.types import Id

router = APIRouter(include_in_schema=False)

RULES = tuple(r.value for r in Rule)


# -- the plan list and drafting ----------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """Verified lines of a year that no plan holds yet."""

    year: int
    lines: int
    fen: int


def _waiting(request: Request) -> list[Waiting]:
    svc = get_services(request)
    with svc.reading() as s:
        planned = set(
            s.scalars(select(PlanItem.line_id).where(PlanItem.state == PlanItemState.INCLUDED))
        )
        rows = s.execute(
            select(ApplicationLine.id, ApplicationLine.decided_fen, Application.award_year)
            .join(Application, Application.id == ApplicationLine.application_id)
            .where(
                Application.state == AppState.VERIFIED,
                ApplicationLine.decision == LineDecisionState.APPROVED,
                ApplicationLine.decided_fen > 0,
                ApplicationLine.office_state.in_([OfficeState.NOT_NEEDED, OfficeState.APPROVED]),
            )
        ).all()
    by_year: dict[int, list[int]] = {}
    for line_id, fen, year in rows:
        if line_id not in planned:
            by_year.setdefault(year, []).append(int(fen or 0))
    return [Waiting(y, len(f), sum(f)) for y, f in sorted(by_year.items())]


def _list_response(
    request: Request,
    actor: Actor,
    *,
    year: int | None = None,
    status: int = 200,
    errors: FormErrors | None = None,
    entered: dict[str, str] | None = None,
) -> Response:
    svc = get_services(request)
    listed = queries.plan_list(svc, actor, year=year, page=queries.Page(500, 0))
    waiting = _waiting(request)
    default_year = year or (waiting[-1].year if waiting else svc.clock().year - 1)
    defaults = {
        "year": str(default_year),
        "title": f"{default_year}年度跨境电商产业扶持资金分配方案",
        "rule": Rule.PRO_RATA_FLEXIBLE.value,
        "quota": "",
        "ranking": "submitted",
    }
    return render(
        request,
        "console_plans.html",
        status=status,
        plans=listed,
        waiting=waiting,
        year=year,
        can_draft=actor.has(Role.PLAN_DRAFTER),
        form={**defaults, **(entered or {})},
        errors=errors or FormErrors(),
        rules=RULES,
        rankings=RANKINGS,
    )


@router.get("/console/plans")
def plan_list(
    request: Request, year: Annotated[int | None, Query(ge=1900, le=2200)] = None
) -> Response:
    actor = page_staff(request)
    if actor is None:
        return login_redirect(request)
    return _list_response(request, actor, year=year)


@router.post("/console/plans")
def draft_plan(
    request: Request,
    actor: User,
    year: Annotated[str, Form(max_length=8)] = "",
    title: Annotated[str, Form(max_length=200)] = "",
    rule: Annotated[str, Form(max_length=32)] = Rule.PRO_RATA_FLEXIBLE.value,
    quota: Annotated[str, Form(max_length=8)] = "",
    ranking: Annotated[str, Form(max_length=32)] = "submitted",
) -> Response:
    """Draft a plan from every verified line of the year that no plan holds yet."""
    require_staff(actor)
    lang = lang_of(request)
    entered = {"year": year, "title": title, "rule": rule, "quota": quota, "ranking": ranking}
    errors = FormErrors(form="draft")
    award_year = quota_n = None
    try:
        award_year = parse_int(year, 1900, 2200)
        if award_year is None:
            raise FieldError("请填写年度", "enter the award year")
    except FieldError as exc:
        errors.add("draft-year", exc.text(lang))
    try:
        quota_n = parse_int(quota, 0, 100_000)
    except FieldError as exc:
        errors.add("draft-quota", exc.text(lang))
    if not title.strip():
        errors.add("draft-title", "请填写方案名称" if lang == "zh" else "enter a title")
    if errors or award_year is None:
        errors.headline = "方案信息有误" if lang == "zh" else "the plan's details are not valid"
        return _list_response(request, actor, status=422, errors=errors, entered=entered)
    try:
        view = plans.draft(
            get_services(request),
            actor,
            year=award_year,
            title=title.strip(),
            rule=rule,
            quota=quota_n,
            ranking=ranking,
        )
    except (Invalid, Conflict) as exc:
        where = {"rule": "draft-rule", "quota": "draft-quota", "ranking": "draft-ranking"}
        return _list_response(
            request,
            actor,
            status=exc.status,
            errors=refused(exc, lang, "draft", where),
            entered=entered,
        )
    return redirect(f"/console/plans/{view.id}", "saved")


# -- one plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetRow:
    division: str
    budget_fen: int | None
    used_fen: int  # by the year's other plans
    requested_fen: int
    granted_fen: int
    gap_fen: int
    factor: str  # as a percentage
    preview_fen: int | None = None
    preview_factor: str | None = None

    @property
    def demand_fen(self) -> int:
        return self.used_fen + self.requested_fen

    @property
    def over(self) -> bool:
        return self.budget_fen is not None and self.demand_fen > self.budget_fen


@dataclass(frozen=True)
class ClauseGroup:
    clause_id: str
    items: list[PlanItemView]

    @property
    def requested_fen(self) -> int:
        return sum(i.requested_fen for i in self.items if i.state == "included")

    @property
    def granted_fen(self) -> int:
        return sum(i.granted_fen for i in self.items if i.state == "included")


@dataclass(frozen=True)
class DivisionGroup:
    division: str
    clauses: list[ClauseGroup]

    @property
    def granted_fen(self) -> int:
        return sum(c.granted_fen for c in self.clauses)


@dataclass(frozen=True)
class ObjectionRow:
    id: int
    item_id: int | None
    submitted_by: str
    contact: str | None
    text: str
    received_at: datetime
    state: str
    resolution: str | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class PaymentRow:
    id: int
    item_id: int
    amount_fen: int
    division: str
    paid_on: date
    reference: str


@dataclass
class Preview:
    rule: str
    quota: int | None
    ranking: str
    granted: dict[int, int] = field(default_factory=dict)
    factors: dict[str, tuple[int, str]] = field(default_factory=dict)  # division → total, %


def percent(factor: Fraction | str | None) -> str:
    """A scaling factor as a percentage with two decimals (``3/4`` → ``75.00%``)."""
    if factor is None:
        return "—"
    value = Fraction(factor) * 100
    hundredths = (value * 100).numerator * 2 // (value * 100).denominator
    rounded = (hundredths + 1) // 2  # half up
    return f"{rounded // 100}.{rounded % 100:02d}%"


def _preview(request: Request, plan_id: int, rule: str, quota: int | None, ranking: str) -> Preview:
    """What a reallocation with ``rule`` would grant, computed by the same allocation as the
    plan itself, without changing anything (items re-reviewed since drafting are not
    refreshed here; the real reallocation does that)."""
    svc = get_services(request)
    preview = Preview(rule, quota, ranking)
    with svc.reading() as s:
        plan = s.get(AllocationPlan, plan_id)
        if plan is None:
            return preview
        for division, group in sorted(included_by_division(plan).items()):
            result, _, _ = share_budget(
                s, plan, division, group, rule=Rule(rule), quota=quota, ranking=ranking
            )
            if result is None:
                for item in group:
                    preview.granted[item.id] = item.requested_fen
                total = sum(i.requested_fen for i in group)
                preview.factors[division] = (total, percent(Fraction(1)))
                continue
            for item in group:
                preview.granted[item.id] = result.granted[str(item.id)]
            preview.factors[division] = (result.granted_fen, percent(result.factor))
    return preview


def _budget_rows(
    view: PlanView, preview: Preview | None, order: Callable[[str], tuple[int, str]]
) -> list[BudgetRow]:
    """One row per paying finance, in the policy package's order of divisions."""
    rows = []
    for division, figures in sorted(view.factors.items(), key=lambda kv: order(kv[0])):
        if not isinstance(figures, dict):
            continue
        pre = preview.factors.get(division) if preview else None
        rows.append(
            BudgetRow(
                division=division,
                budget_fen=figures.get("budget_fen"),
                used_fen=int(figures.get("used_by_other_plans_fen") or 0),
                requested_fen=int(figures.get("requested_fen") or 0),
                granted_fen=int(figures.get("granted_fen") or 0),
                gap_fen=int(figures.get("gap_fen") or 0),
                factor=percent(figures.get("factor")),
                preview_fen=pre[0] if pre else None,
                preview_factor=pre[1] if pre else None,
            )
        )
    return rows


def _groups(view: PlanView, order: Callable[[str], tuple[int, str]]) -> list[DivisionGroup]:
    """Items by paying finance (in the package's order of divisions), then by clause (in the
    package's clause order)."""
    divisions: dict[str, dict[str, list[PlanItemView]]] = {}
    for item in view.items:
        divisions.setdefault(item.division, {}).setdefault(item.clause_id, []).append(item)
    return [
        DivisionGroup(
            division,
            [
                ClauseGroup(c, items)
                for c, items in sorted(clauses.items(), key=lambda kv: clause_sort_key(kv[0]))
            ],
        )
        for division, clauses in sorted(divisions.items(), key=lambda kv: order(kv[0]))
    ]


def _by_clause(view: PlanView) -> list[tuple[str, int, int, int]]:
    """(clause, items, requested, granted) over the whole plan's included items."""
    totals: dict[str, tuple[int, int, int]] = {}
    for item in view.items:
        if item.state == "included":
            n, requested, granted = totals.get(item.clause_id, (0, 0, 0))
            totals[item.clause_id] = (
                n + 1,
                requested + item.requested_fen,
                granted + item.granted_fen,
            )
    return [(c, *totals[c]) for c in sorted(totals, key=clause_sort_key)]


def plan_response(
    request: Request,
    actor: Actor,
    plan_id: int,
    *,
    status: int = 200,
    errors: FormErrors | None = None,
    entered: dict[str, str] | None = None,
    preview: Preview | None = None,
) -> Response:
    svc = get_services(request)
    view = plans.get(svc, actor, plan_id)
    with svc.reading() as s:
        item_ids = [i.id for i in view.items]
        notes = dict(
            s.execute(select(PlanItem.id, PlanItem.note).where(PlanItem.id.in_(item_ids))).all()
        )
        objections = [
            ObjectionRow(
                o.id,
                o.plan_item_id,
                o.submitted_by,
                o.contact,
                o.text,
                o.received_at,
                o.state.value,
                o.resolution,
                o.resolved_at,
            )
            for o in s.scalars(
                select(Objection).where(Objection.plan_id == plan_id).order_by(Objection.id)
            )
        ]
        payments = [
            PaymentRow(d.id, d.plan_item_id, d.amount_fen, d.division, d.paid_on, d.reference)
            for d in s.scalars(
                select(Disbursement)
                .where(Disbursement.plan_item_id.in_(item_ids))
                .order_by(Disbursement.id)
            )
        ]
    payments_by_item: dict[int, list[PaymentRow]] = {}
    for payment in payments:
        payments_by_item.setdefault(payment.item_id, []).append(payment)
    approved_now = current_round(view.reviews)
    today = svc.clock().date()
    lang = lang_of(request)
    titles = {cid: c.title(lang) for cid, c in svc.package.clauses.items()}
    items_by_id = {i.id: i for i in view.items}
    editable = view.state in ("draft", "returned")
    quota = preview.quota if preview else view.quota
    defaults = {
        "rule": preview.rule if preview else view.rule,
        "quota": "" if quota is None else str(quota),
        "ranking": preview.ranking if preview else str(view.factors.get("ranking", "submitted")),
        "days": str(svc.notice_days),
    }
    return render(
        request,
        "console_plan.html",
        status=status,
        plan=view,
        budgets=_budget_rows(view, preview, svc.package.division_order),
        groups=_groups(view, svc.package.division_order),
        by_clause=_by_clause(view),
        titles=titles,
        notes=notes,
        objections=objections,
        payments=payments,
        payments_by_item=payments_by_item,
        items_by_id=items_by_id,
        approved_now=approved_now,
        excluded=view.factors.get("excluded") or [],
        today=today,
        notice_over=view.notice_over(svc.clock()),
        notice_least=svc.notice_days,
        preview=preview,
        editable=editable,
        is_drafter=actor.has(Role.PLAN_DRAFTER),
        can_resolve=actor.has(Role.PLAN_DRAFTER, Role.COMMERCE_REVIEWER),
        is_finance=actor.has(Role.FINANCE_REVIEWER),
        is_office=actor.has(Role.OFFICE_REVIEWER),
        is_city=actor.has(Role.CITY_APPROVER),
        # Steps this person may not take on this plan (separation of duties), with the reason.
        blocked={
            step: zh if lang == "zh" else en
            for step, (zh, en) in duties.blocked_steps(svc, actor, plan_id).items()
        },
        rules=RULES,
        rankings=RANKINGS,
        form={**defaults, **(entered or {})},
        errors=errors or FormErrors(),
        yuan_input=yuan_input,
    )


@router.get("/console/plans/{plan_id}")
def plan_page(
    plan_id: Id,
    request: Request,
    rule: Annotated[str, Query(max_length=32)] = "",
    quota: Annotated[str, Query(max_length=8)] = "",
    ranking: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """The plan; with ``?rule=…`` (and quota, ranking) a preview of a reallocation beside it."""
    actor = page_staff(request)
    if actor is None:
        return login_redirect(request)
    if not rule:
        return plan_response(request, actor, plan_id)
    lang = lang_of(request)
    errors = FormErrors(form="reallocate")
    entered = {"rule": rule, "quota": quota, "ranking": ranking}
    quota_n = None
    try:
        quota_n = parse_int(quota, 0, 100_000)
    except FieldError as exc:
        errors.add("reallocate-quota", exc.text(lang))
    if rule not in RULES:
        errors.add("reallocate-rule", "请选择分配规则" if lang == "zh" else "choose a rule")
    if rule == Rule.QUOTA.value and quota_n is None:
        errors.add(
            "reallocate-quota", "名额分配须给出名额数" if lang == "zh" else "a quota needs N"
        )
    if ranking not in RANKINGS:
        ranking = "submitted"
    if errors:
        errors.headline = "无法预览" if lang == "zh" else "cannot preview"
        return plan_response(request, actor, plan_id, status=422, errors=errors, entered=entered)
    plans.get(get_services(request), actor, plan_id)  # refused before anything is computed
    preview = _preview(request, plan_id, rule, quota_n, ranking)
    return plan_response(request, actor, plan_id, preview=preview)


def _act(
    request: Request,
    actor: Actor,
    plan_id: int,
    form: str,
    entered: dict[str, str],
    where: dict[str, str],
    action: Any,
    msg: str = "done",
    anchor: str = "",
) -> Response:
    """Run one action on a plan; a refusal shows the plan again with the reasons at the form."""
    require_staff(actor)
    try:
        action()
    except (Invalid, Conflict, Forbidden) as exc:
        errors = refused(exc, lang_of(request), form, where)
        return plan_response(
            request, actor, plan_id, status=exc.status, errors=errors, entered=entered
        )
    return redirect(f"/console/plans/{plan_id}?msg={msg}{anchor}")


@router.post("/console/plans/{plan_id}/reallocate")
def reallocate(
    plan_id: Id,
    request: Request,
    actor: User,
    rule: Annotated[str, Form(max_length=32)] = "",
    quota: Annotated[str, Form(max_length=8)] = "",
    ranking: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    require_staff(actor)
    lang = lang_of(request)
    entered = {"rule": rule, "quota": quota, "ranking": ranking}
    try:
        quota_n = parse_int(quota, 0, 100_000)
    except FieldError as exc:
        errors = FormErrors(form="reallocate", headline=exc.text(lang))
        errors.add("reallocate-quota", exc.text(lang))
        return plan_response(request, actor, plan_id, status=422, errors=errors, entered=entered)
    svc = get_services(request)
    return _act(
        request,
        actor,
        plan_id,
        "reallocate",
        entered,
        {"rule": "reallocate-rule", "quota": "reallocate-quota", "ranking": "reallocate-ranking"},
        lambda: plans.reallocate(
            svc, actor, plan_id, rule=rule, quota=quota_n, ranking=ranking or None
        ),
        "saved",
    )


@router.post("/console/plans/{plan_id}/notice")
def open_notice(
    plan_id: Id,
    request: Request,
    actor: User,
    days: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Publish the plan for public notice (公示) now, for a number of working days."""
    require_staff(actor)
    lang = lang_of(request)
    entered = {"days": days}
    errors = FormErrors(form="notice")
    days_n = None
    try:
        days_n = parse_int(days, 1, 60)
    except FieldError as exc:
        errors.add("notice-days", exc.text(lang))
    if errors:
        errors.headline = "公示信息有误" if lang == "zh" else "the notice's details are not valid"
        return plan_response(request, actor, plan_id, status=422, errors=errors, entered=entered)
    svc = get_services(request)
    return _act(
        request,
        actor,
        plan_id,
        "notice",
        entered,
        {"days": "notice-days"},
        lambda: plans.open_notice(svc, actor, plan_id, days=days_n),
    )


@router.post("/console/objections/{objection_id}/resolve")
def resolve_objection(
    objection_id: Id,
    request: Request,
    actor: User,
    decision: Annotated[str, Form(max_length=16)] = "",
    resolution: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Uphold an objection (the item's application goes back to review) or dismiss it."""
    require_staff(actor)
    svc = get_services(request)
    plan_id = owner_id(svc, Objection, objection_id, lambda o: o.plan_id, "异议", "objection")
    name = f"objection-{objection_id}"
    entered = {f"{name}-decision": decision, f"{name}-resolution": resolution}

    def act() -> None:
        if decision not in ("uphold", "dismiss"):
            raise Invalid("请选择异议成立或不成立", "choose uphold or dismiss")
        plans.resolve_objection(
            svc, actor, objection_id, uphold=decision == "uphold", resolution=resolution
        )

    return _act(
        request,
        actor,
        plan_id,
        name,
        entered,
        {"resolution": f"{name}-resolution"},
        act,
        anchor=f"#{name}",
    )


@router.post("/console/plans/{plan_id}/close-notice")
def close_notice(plan_id: Id, request: Request, actor: User) -> Response:
    svc = get_services(request)
    return _act(
        request,
        actor,
        plan_id,
        "close-notice",
        {},
        {},
        lambda: plans.close_notice(svc, actor, plan_id),
    )


@router.post("/console/plans/{plan_id}/review")
def review(
    plan_id: Id,
    request: Request,
    actor: User,
    decision: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """市财政局 or 领导小组办公室: approve the plan, or return it with reasons."""
    svc = get_services(request)
    entered = {"review-decision": decision, "review-reason": reason}

    def act() -> None:
        if decision not in ("approve", "return"):
            raise Invalid("请选择同意或退回", "choose approve or return")
        plans.review(
            svc, actor, plan_id, approve=decision == "approve", reason=reason.strip() or None
        )

    return _act(
        request,
        actor,
        plan_id,
        "review",
        entered,
        {"reason": "review-reason"},
        act,
        anchor="#review",
    )


@router.post("/console/plans/{plan_id}/approve")
def approve(plan_id: Id, request: Request, actor: User) -> Response:
    """市人民政府 approves: the ledger is written."""
    svc = get_services(request)
    return _act(
        request, actor, plan_id, "approve", {}, {}, lambda: plans.approve(svc, actor, plan_id)
    )


@router.post("/console/plan-items/{item_id}/disbursements")
def disburse(
    item_id: Id,
    request: Request,
    actor: User,
    amount: Annotated[str, Form(max_length=40)] = "",
    paid_on: Annotated[str, Form(max_length=10)] = "",
    reference: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The finance bureau records a payment of one item."""
    require_staff(actor)
    svc = get_services(request)
    plan_id = owner_id(svc, PlanItem, item_id, lambda i: i.plan_id, "方案项目", "plan item")
    lang = lang_of(request)
    name = f"pay-{item_id}"
    entered = {f"{name}-amount": amount, f"{name}-paid_on": paid_on, f"{name}-reference": reference}
    errors = FormErrors(form=name)
    fen = None
    day = None
    try:
        fen = parse_yuan(amount)
        if fen is None:
            raise FieldError("请填写拨付金额", "enter the amount paid")
    except FieldError as exc:
        errors.add(f"{name}-amount", exc.text(lang))
    try:
        day = parse_date(paid_on)
    except FieldError as exc:
        errors.add(f"{name}-paid_on", exc.text(lang))
    if errors or fen is None or day is None:
        errors.headline = "拨付信息有误" if lang == "zh" else "bad disbursement"
        return plan_response(request, actor, plan_id, status=422, errors=errors, entered=entered)
    amount_fen, when = fen, day
    return _act(
        request,
        actor,
        plan_id,
        name,
        entered,
        {"amount_fen": f"{name}-amount", "reference": f"{name}-reference"},
        lambda: plans.disburse(
            svc, actor, item_id, amount_fen=amount_fen, paid_on=when, reference=reference.strip()
        ),
        anchor=f"#pay-{item_id}",
    )


@router.post("/console/plans/{plan_id}/close")
def close(plan_id: Id, request: Request, actor: User) -> Response:
    svc = get_services(request)
    return _act(request, actor, plan_id, "close", {}, {}, lambda: plans.close(svc, actor, plan_id))
