"""The staff console: work queues, review, plans, disbursements, audit.

``/console`` is each role's work queue with counts; the review of an application lives in
:mod:`console_review`, plans, notices, reviews, approval and payments in :mod:`console_plans`,
the audit trail of any object here. Every page is for staff only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from huiqi.db.tables import (
    AllocationPlan,
    Application,
    ApplicationLine,
    Disbursement,
    LineDecisionState,
    Objection,
    ObjectionState,
    OfficeState,
    Organisation,
    PlanItem,
    PlanItemState,
    PlanReview,
)
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import AppState, PlanState
from huiqi.service import audit, queries
from huiqi.service.actors import Actor, require
from huiqi.web.deps import get_services
from huiqi.web.pages import console_plans, console_review, console_users
from huiqi.web.pages.common import lang_of, render
from huiqi.web.pages.console_common import READERS, login_redirect, page_staff
from huiqi.web.types import MAX_ID

router = APIRouter(include_in_schema=False)
router.include_router(console_review.router)
router.include_router(console_plans.router)
router.include_router(console_users.router)


@dataclass(frozen=True)
class QueueItem:
    href: str
    label: str
    note: str = ""
    fen: int | None = None
    state: str | None = None  # an application's or plan's state, shown in words


@dataclass
class Queue:
    """One kind of work waiting for a role: a heading, the items, and who it is for."""

    key: str
    roles: frozenset[Role]
    items: list[QueueItem] = field(default_factory=list)


_R = Role
#: Which queues each role sees; auditors see every queue, read-only.
QUEUES: dict[str, frozenset[Role]] = {
    "review": frozenset({_R.COMMERCE_REVIEWER}),
    "office_lines": frozenset({_R.OFFICE_REVIEWER}),
    "unplanned": frozenset({_R.PLAN_DRAFTER}),
    "plans_drafting": frozenset({_R.PLAN_DRAFTER}),
    "plans_notice": frozenset({_R.PLAN_DRAFTER, _R.COMMERCE_REVIEWER}),
    "objections": frozenset({_R.PLAN_DRAFTER, _R.COMMERCE_REVIEWER}),
    "plans_finance": frozenset({_R.FINANCE_REVIEWER}),
    "plans_office": frozenset({_R.OFFICE_REVIEWER}),
    "plans_city": frozenset({_R.CITY_APPROVER}),
    "payments": frozenset({_R.FINANCE_REVIEWER}),
    "plans_close": frozenset({_R.PLAN_DRAFTER, _R.FINANCE_REVIEWER}),
}


def _approved_this_round(reviews: list[PlanReview]) -> set[str]:
    approved: set[str] = set()
    for review in reviews:
        approved = approved | {review.body.value} if review.approved else set()
    return approved


def _queues(request: Request, actor: Actor) -> list[Queue]:
    """The work waiting for the actor's roles, read in one go."""
    svc = get_services(request)
    lang = lang_of(request)
    wanted = [
        Queue(key, roles)
        for key, roles in QUEUES.items()
        if actor.roles & roles or actor.has(Role.AUDITOR)
    ]
    if not wanted:
        return []
    found: dict[str, list[QueueItem]] = {key: [] for key in QUEUES}
    titles = {cid: c.title(lang) for cid, c in svc.package.clauses.items()}
    with svc.reading() as s:
        orgs = {o.id: o for o in s.scalars(select(Organisation))}
        apps = {a.id: a for a in s.scalars(select(Application).order_by(Application.id))}
        for app in apps.values():
            if app.state in (AppState.SUBMITTED, AppState.RESUBMITTED):
                found["review"].append(
                    QueueItem(
                        f"/console/applications/{app.id}",
                        f"#{app.id} {orgs[app.org_id].name}",
                        str(app.award_year),
                        state=app.state.value,
                    )
                )
        lines = list(s.scalars(select(ApplicationLine).order_by(ApplicationLine.id)))
        planned = set(
            s.scalars(select(PlanItem.line_id).where(PlanItem.state == PlanItemState.INCLUDED))
        )
        unplanned: dict[int, list[int]] = {}
        for line in lines:
            app = apps[line.application_id]
            if app.state is not AppState.VERIFIED:
                continue
            if line.office_state is OfficeState.PENDING:
                found["office_lines"].append(
                    QueueItem(
                        f"/console/applications/{app.id}#line-{line.id}",
                        f"#{app.id} {orgs[app.org_id].name}",
                        f"{line.clause_id} {titles.get(line.clause_id, '')} · {line.subject_id}",
                        line.decided_fen,
                    )
                )
            if (
                line.decision is LineDecisionState.APPROVED
                and (line.decided_fen or 0) > 0
                and line.office_state in (OfficeState.NOT_NEEDED, OfficeState.APPROVED)
                and line.id not in planned
            ):
                unplanned.setdefault(app.award_year, []).append(line.decided_fen or 0)
        for year, amounts in sorted(unplanned.items()):
            found["unplanned"].append(
                QueueItem(
                    f"/console/plans?year={year}#draft", str(year), str(len(amounts)), sum(amounts)
                )
            )
        plans = list(s.scalars(select(AllocationPlan).order_by(AllocationPlan.id)))
        reviews: dict[int, list[PlanReview]] = {}
        for review in s.scalars(select(PlanReview).order_by(PlanReview.id)):
            reviews.setdefault(review.plan_id, []).append(review)
        paid: dict[int, int] = {}
        for d in s.scalars(select(Disbursement)):
            paid[d.plan_item_id] = paid.get(d.plan_item_id, 0) + d.amount_fen
        objections = list(
            s.scalars(
                select(Objection)
                .where(Objection.state == ObjectionState.RECORDED)
                .order_by(Objection.id)
            )
        )
        open_by_plan: dict[int, int] = {}
        for objection in objections:
            open_by_plan[objection.plan_id] = open_by_plan.get(objection.plan_id, 0) + 1
            found["objections"].append(
                QueueItem(
                    f"/console/plans/{objection.plan_id}#objection-{objection.id}",
                    f"#{objection.id} {objection.submitted_by}",
                    objection.text[:60],
                )
            )
        for plan in plans:
            href = f"/console/plans/{plan.id}"
            included = [i for i in plan.items if i.state is PlanItemState.INCLUDED]
            total = sum(i.granted_fen for i in included)
            label = f"#{plan.id} {plan.title}"
            if plan.state in (PlanState.DRAFT, PlanState.RETURNED):
                found["plans_drafting"].append(QueueItem(href, label, "", total, plan.state.value))
            elif plan.state is PlanState.NOTICE:
                note = f"{plan.notice_start} — {plan.notice_end}"
                found["plans_notice"].append(QueueItem(href, label, note, total))
            elif plan.state is PlanState.REVIEW:
                done = _approved_this_round(reviews.get(plan.id, []))
                if "finance" not in done:
                    found["plans_finance"].append(QueueItem(href + "#review", label, "", total))
                if "office" not in done:
                    found["plans_office"].append(QueueItem(href + "#review", label, "", total))
                if {"finance", "office"} <= done:
                    found["plans_city"].append(QueueItem(href + "#approve", label, "", total))
            elif plan.state is PlanState.APPROVED:
                owing = [i for i in included if paid.get(i.id, 0) < i.granted_fen]
                for item in owing:
                    found["payments"].append(
                        QueueItem(
                            f"{href}#pay-{item.id}",
                            f"#{plan.id} {orgs[item.org_id].name}",
                            f"{item.clause_id} · {item.division}",
                            item.granted_fen - paid.get(item.id, 0),
                        )
                    )
                if not owing:
                    found["plans_close"].append(QueueItem(href + "#close", label, "", total))
    for queue in wanted:
        queue.items = found[queue.key]
    return wanted


@router.get("/console")
def work_queue(request: Request) -> Response:
    actor = page_staff(request)
    if actor is None:
        return login_redirect(request)
    queues = _queues(request, actor)
    roles = [r for r in Role if r in actor.roles]
    return render(
        request,
        "console.html",
        queues=queues,
        roles=roles,
        read_only=actor.has(Role.AUDITOR) and not actor.roles & (READERS - {Role.AUDITOR}),
        is_reader=bool(actor.roles & READERS),
        is_admin=actor.has(Role.ADMIN),
    )


#: Object types the audit trail records (for the filter's suggestions).
OBJECT_TYPES = (
    "application",
    "application_line",
    "plan",
    "plan_item",
    "objection",
    "budget",
    "organisation",
    "user",
)


def object_link(object_type: str, object_id: str) -> str | None:
    """Where the console shows an audited object, if it has a page."""
    if not object_id.isdigit():
        return None
    if object_type == "application":
        return f"/console/applications/{object_id}"
    if object_type == "plan":
        return f"/console/plans/{object_id}"
    return None


@router.get("/console/audit")
def audit_trail(
    request: Request,
    object_type: Annotated[str, Query(max_length=32)] = "",
    object_id: Annotated[str, Query(max_length=64)] = "",
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Response:
    """The audit trail of any object (or all of it), and whether the hash chain is intact."""
    actor = page_staff(request)
    if actor is None:
        return login_redirect(request)
    require(actor, *READERS)
    svc = get_services(request)
    limit = 100
    entries = queries.audit_log(
        svc,
        actor,
        object_type=object_type.strip() or None,
        object_id=object_id.strip() or None,
        page=queries.Page(limit, offset),
    )
    with svc.reading() as s:
        checked, problems = audit.verify(s)
    return render(
        request,
        "console_audit.html",
        entries=entries,
        object_type=object_type.strip(),
        object_id=object_id.strip(),
        offset=offset,
        limit=limit,
        more=len(entries) == limit,
        checked=checked,
        problems=problems,
        object_types=OBJECT_TYPES,
        object_link=object_link,
        pretty=pretty,
    )


def pretty(value: object) -> str:
    """A recorded before/after as indented JSON, Chinese left readable (escaped by the page)."""
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)
