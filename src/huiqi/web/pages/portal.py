"""The enterprise portal (applicant role): the organisation, its applications, and each
application from the first draft to the payment.

``/portal`` shows the organisation's registration and its applications; ``/portal/new``
starts one for an award year (empty, or from the calculator's answers); an application's
page shows its state, the reviewer's questions when it was returned, the decided amounts
with their reasons, the office's approval, the public notice and the payments; its facts
are edited per clause with the generated form, its attachments uploaded, and it is
submitted (or resubmitted after correction) from there.

Every lookup goes through the service layer first, so an applicant asking for another
organisation's application gets the service's NotFound (a 404 page), never the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from huiqi.db.tables import Application, Organisation
from huiqi.engine import clause_sort_key
from huiqi.engine.explain import Node
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import AppState
from huiqi.service import applications, attachments, plans, queries, records
from huiqi.service.actors import Actor
from huiqi.service.applications import ApplicationView
from huiqi.service.errors import Conflict, Forbidden, Invalid, ServiceError
from huiqi.service.orgs import OrgView
from huiqi.service.plans import PlanItemView
from huiqi.service.uow import Services
from huiqi.web.deps import MaybeUser, get_services, get_settings
from huiqi.web.pages import factsform
from huiqi.web.pages.calculator import CARRY_COOKIE, facts_from_json, unpack, years
from huiqi.web.pages.common import page_user, redirect, render
from huiqi.web.types import Id

router = APIRouter(include_in_schema=False)

#: What the records hold of the applicant (its registration): shown, never asked.
FROM_RECORDS = frozenset(
    {
        "applicant.credit_code",
        "applicant.name",
        "applicant.kind",
        "applicant.tax_filing_division",
        "applicant.platform_filed",
        "applicant.platform_connected",
    }
)
#: Lists an applicant may add to whatever the clauses: awards for the same thing under
#: other policies (从优不重复), declared honestly.
DECLARED = ("other_policy_awards",)
#: States in which the applicant may still change the facts and attachments.
EDITABLE = frozenset({AppState.DRAFT.value, AppState.RETURNED.value})


def _login(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)


def _applicant(actor: Actor) -> int:
    """The actor's organisation; the portal is for applicants only."""
    if not actor.has(Role.APPLICANT) or actor.org_id is None:
        raise Forbidden(
            "企业申报页面仅供申报单位使用，工作人员请使用工作台",
            "the enterprise portal is for applicants; staff use the console",
        )
    return actor.org_id


def _org(svc: Services, actor: Actor) -> OrgView:
    org_id = _applicant(actor)
    found = [o for o in queries.organisations(svc, actor) if o.id == org_id]
    if not found:
        raise Forbidden("未找到本单位的登记信息", "your organisation's registration is missing")
    return found[0]


def _identity(org: OrgView) -> dict[str, str]:
    return {"credit_code": org.credit_code, "name": org.name, "kind": org.kind}


# -- reading an application ----------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """An application as its page shows it.

    ``facts`` are the facts as declared; ``decided`` the engine's result kept on the last
    submission; ``now`` the engine's result on the records as they stand today (what a
    submission would compute), None if the facts cannot be read."""

    view: ApplicationView
    facts: dict[str, Any]
    decided: dict[str, Any] | None
    now: dict[str, Any] | None


def read_application(svc: Services, actor: Actor, app_id: int) -> Stored:
    """The application's view through the service (NotFound for another organisation's),
    then its declared facts and evaluations, which the views do not carry.

    A small read the service layer lacks (``ApplicationView`` has no facts): reported; it
    reads only after :func:`applications.get` has allowed the actor to see the application.
    """
    view = applications.get(svc, actor, app_id)
    with svc.reading() as s:
        app = s.get(Application, app_id)
        org = s.get(Organisation, view.org_id)
        assert app is not None and org is not None
        facts = dict(app.facts)
        decided = dict(app.evaluation) if app.evaluation else None
        try:
            _, evaluation = records.evaluate_application(s, svc.package, app, org)
            now: dict[str, Any] | None = evaluation.as_dict()
        except (Invalid, ServiceError):
            now = None
    return Stored(view, facts, decided, now)


@dataclass(frozen=True)
class ClauseExplained:
    clause_id: str
    eligible: bool
    kind: str
    amount_fen: int | None
    explanation: Node


def explained(evaluation: Mapping[str, Any] | None, clause_ids: list[str]) -> list[ClauseExplained]:
    """The chosen clauses of a stored evaluation, with their explanation trees."""
    if not evaluation:
        return []
    by_id = {c["clause"]: c for c in evaluation.get("clauses", [])}
    return [
        ClauseExplained(
            cid,
            bool(by_id[cid]["eligible"]),
            str(by_id[cid]["kind"]),
            by_id[cid].get("amount_fen"),
            factsform.node_from_dict(by_id[cid]["explanation"]),
        )
        for cid in clause_ids
        if cid in by_id
    ]


@dataclass(frozen=True)
class PlanShare:
    """This application's part of an allocation plan the public may see."""

    plan_id: int
    title: str
    state: str
    notice_start: date | None
    notice_end: date | None
    notice_open: bool
    items: list[PlanItemView]

    @property
    def granted_fen(self) -> int:
        return sum(i.granted_fen for i in self.items if i.state == "included")

    @property
    def paid_fen(self) -> int:
        return sum(i.paid_fen for i in self.items if i.state == "included")


def plan_shares(svc: Services, actor: Actor, view: ApplicationView) -> list[PlanShare]:
    """The plans this application is in, from views the public and the applicant may read:
    plans under notice today, and plans whose approval wrote the organisation's ledger."""
    now = svc.clock()
    found = {p.id: p for p in plans.open_notices(svc)}
    for row in queries.ledger(svc, actor, year=view.award_year, page=queries.Page(limit=500)):
        if row.plan_id is not None and row.plan_id not in found:
            plan = plans.public_notice(svc, row.plan_id)
            if plan is not None:
                found[plan.id] = plan
    shares = []
    for plan in sorted(found.values(), key=lambda p: p.id):
        items = [i for i in plan.items if i.application_id == view.id]
        if items:
            shares.append(
                PlanShare(
                    plan.id,
                    plan.title,
                    plan.state,
                    plan.notice_start,
                    plan.notice_end,
                    plan.notice_running(now),
                    items,
                )
            )
    return shares


def progress(view: ApplicationView, shares: list[PlanShare]) -> list[tuple[str, str]]:
    """The steps of an application and where each stands: ``done``, ``current`` or ``todo``
    (``refused`` for a rejection)."""
    state = view.state
    noticed = any(s.notice_start is not None for s in shares)
    approved = any(s.state in ("approved", "closed") for s in shares)
    paid = any(s.paid_fen > 0 for s in shares) and all(s.paid_fen >= s.granted_fen for s in shares)
    reached = {
        "draft": True,
        "submitted": state not in ("draft", "returned"),
        "verified": state == "verified",
        "notice": noticed,
        "approved": approved,
        "paid": paid,
    }
    steps: list[tuple[str, str]] = []
    current_set = False
    for key, done in reached.items():
        if state == "rejected" and key == "verified":
            steps.append((key, "refused"))
            current_set = True
            continue
        if done:
            steps.append((key, "done"))
        elif not current_set and state != "rejected":
            steps.append((key, "current"))
            current_set = True
        else:
            steps.append((key, "todo"))
    return steps


# -- pages -------------------------------------------------------------------------------------


@router.get("/portal", response_class=HTMLResponse, response_model=None)
def portal(request: Request) -> Response:
    """The organisation's registration, its applications, and a way to start one."""
    actor, _ = page_user(request)
    if actor is None:
        return _login(request)
    svc = get_services(request)
    org = _org(svc, actor)
    apps = applications.list_for(svc, actor, limit=500)
    return render(
        request,
        "portal.html",
        org=org,
        kind_label=svc.package.policy.applicant_kinds[org.kind].both
        if org.kind in svc.package.policy.applicant_kinds
        else {"zh": org.kind, "en": org.kind},
        apps=sorted(apps, key=lambda a: (-a.award_year, -a.id)),
        titles={cid: c.title.both for cid, c in svc.package.clauses.items()},
        years=years(svc.package),
    )


def _clause_choices(svc: Services, kind: str) -> list[tuple[str, dict[str, str], bool]]:
    """Every clause with its title and whether the organisation's kind may apply for it."""
    package = svc.package
    return [
        (cid, package.clauses[cid].title.both, kind in package.clauses[cid].applicants)
        for cid in sorted(package.clauses, key=clause_sort_key)
    ]


def _sections(svc: Services, clauses: list[str], kind: str) -> list[factsform.Section]:
    needs = factsform.needed_facts(svc.package, clauses, kind)
    return factsform.sections(svc.package, needs, leave_out=FROM_RECORDS, extra=DECLARED)


def _valid_clauses(svc: Services, wanted: list[str], kind: str) -> list[str]:
    package = svc.package
    return [
        c
        for c in sorted(package.clauses, key=clause_sort_key)
        if c in wanted and kind in package.clauses[c].applicants
    ]


def _form_page(
    request: Request,
    *,
    org: OrgView,
    mode: str,
    year: int,
    clauses: list[str],
    facts: dict[str, Any],
    problems: list[Any] | None = None,
    add_row: str | None = None,
    status: int = 200,
    notice: str | None = None,
    view: ApplicationView | None = None,
) -> HTMLResponse:
    svc = get_services(request)
    built = _sections(svc, clauses, org.kind)
    form = factsform.build_form(
        built,
        facts,
        problems or [],
        add_row=add_row,
        min_rows={k: 0 for k in DECLARED},
    )
    return render(
        request,
        "portal_form.html",
        status=status,
        org=org,
        mode=mode,
        year=year,
        years=years(svc.package),
        chosen=set(clauses),
        choices=_clause_choices(svc, org.kind),
        shown=",".join(clauses),
        form=form,
        facts_json=json.dumps(facts, ensure_ascii=False, default=str, separators=(",", ":")),
        notice=notice,
        view=view,
    )


def _carried(request: Request) -> dict[str, Any] | None:
    return unpack(request.cookies.get(CARRY_COOKIE, ""))


@router.get("/portal/new", response_class=HTMLResponse, response_model=None)
def new_form(request: Request) -> Response:
    """Start an application for a year: empty, or with the calculator's answers."""
    actor, _ = page_user(request)
    if actor is None:
        return _login(request)
    svc = get_services(request)
    org = _org(svc, actor)
    allowed = years(svc.package)
    asked = request.query_params.get("year", "")
    year = int(asked) if asked.isdigit() and int(asked) in allowed else allowed[0]
    clauses: list[str] = []
    facts: dict[str, Any] = {}
    notice = None
    if request.query_params.get("from") == "calculator":
        carried = _carried(request)
        if carried is None:
            notice = "portal.carry_missing"
        else:
            if carried.get("year") in allowed:
                year = int(carried["year"])
            wanted = [str(c) for c in carried.get("clauses") or []]
            clauses = _valid_clauses(svc, wanted, org.kind)
            given = carried.get("facts")
            facts = factsform.clean(given) if isinstance(given, dict) else {}
            notice = "portal.carry_too_big" if carried.get("too_big") else "portal.carried"
            if len(clauses) < len(wanted):
                notice = "portal.carry_dropped"
    facts["applicant"] = {**dict(facts.get("applicant") or {}), **_identity(org)}
    return _form_page(
        request, org=org, mode="new", year=year, clauses=clauses, facts=facts, notice=notice
    )


@dataclass(frozen=True)
class Posted:
    """A posted application form: what it asks for and the facts it now says."""

    action: str
    clauses: list[str]
    facts: dict[str, Any]
    complete: bool  # the form on the page showed every section the chosen clauses need


def _read_posted(posted: FormData, svc: Services, org: OrgView) -> Posted:
    fields = {k: v for k, v in posted.multi_items() if isinstance(v, str)}
    clauses = _valid_clauses(svc, [str(c) for c in posted.getlist("clause")], org.kind)
    shown = _valid_clauses(svc, fields.get("_shown", "").split(","), org.kind)
    base = facts_from_json(fields.get("_facts", "")) or {}
    facts = factsform.read_form(fields, _sections(svc, shown, org.kind), base)
    facts["applicant"] = {**dict(facts.get("applicant") or {}), **_identity(org)}
    needed = {s.key for s in _sections(svc, clauses, org.kind)}
    had = {s.key for s in _sections(svc, shown, org.kind)}
    return Posted(fields.get("_action", "save"), clauses, facts, needed <= had)


def _only_needed(
    svc: Services, facts: dict[str, Any], clauses: list[str], kind: str
) -> dict[str, Any]:
    """The facts the chosen clauses read (and declared awards); a clause left out takes its
    facts with it."""
    keep = {s.key for s in _sections(svc, clauses, kind)} | {"applicant", "trade"}
    return {k: v for k, v in facts.items() if k in keep}


def _row_action(action: str, facts: dict[str, Any]) -> str | None:
    """Apply "remove a row"; return the list to add a row to, if that was asked."""
    if action.startswith("remove:"):
        factsform.remove_row(facts, action.removeprefix("remove:"))
    return action.removeprefix("add:") if action.startswith("add:") else None


@router.post("/portal/new", response_model=None)
async def new_post(request: Request, actor: MaybeUser) -> Response:
    """Rows, a refreshed form for other clauses, or the draft saved."""
    if actor is None:
        return _login(request)
    # Database work on a request thread, not the event loop; who may post checked first.
    org = await run_in_threadpool(_org, get_services(request), actor)
    form = await request.form()
    return await run_in_threadpool(_new_post, request, actor, org, form)


def _new_post(request: Request, actor: Actor, org: OrgView, form: FormData) -> Response:
    svc = get_services(request)
    posted = _read_posted(form, svc, org)
    asked = str(form.get("year", ""))
    allowed = years(svc.package)
    year = int(asked) if asked.isdigit() and int(asked) in allowed else allowed[0]
    page = partial(_form_page, request, org=org, mode="new", year=year, clauses=posted.clauses)
    if posted.action != "save" or not posted.complete:
        add = _row_action(posted.action, posted.facts)
        notice = None if posted.action != "save" else "portal.refreshed"
        return page(facts=posted.facts, add_row=add, notice=notice)
    facts = _only_needed(svc, posted.facts, posted.clauses, org.kind)
    try:
        created = applications.create_draft(
            svc, actor, org_code=org.credit_code, year=year, clauses=posted.clauses, facts=facts
        )
    except Invalid as exc:
        return page(facts=facts, problems=exc.problems, status=422)
    response = redirect(f"/portal/applications/{created.id}", "saved")
    response.delete_cookie(CARRY_COOKIE, path="/")
    return response


@router.get("/portal/applications/{app_id}", response_class=HTMLResponse, response_model=None)
def application(app_id: Id, request: Request) -> Response:
    actor, _ = page_user(request)
    if actor is None:
        return _login(request)
    return _application_page(request, actor, app_id)


def _application_page(
    request: Request, actor: Actor, app_id: int, refusal: ServiceError | None = None
) -> HTMLResponse:
    svc = get_services(request)
    _applicant(actor)
    stored = read_application(svc, actor, app_id)
    view = stored.view
    shares = plan_shares(svc, actor, view)
    editable = view.state in EDITABLE
    evaluation = stored.now if editable or stored.decided is None else stored.decided
    package = svc.package
    needs = factsform.needed_facts(package, view.clauses, None)
    shown = factsform.sections(package, needs, leave_out=FROM_RECORDS, extra=DECLARED)
    refused_reason = next((ln.reason for ln in view.lines if ln.decision == "refused"), None)
    return render(
        request,
        "portal_application.html",
        status=refusal.status if refusal else 200,
        app=view,
        editable=editable,
        steps=progress(view, shares),
        shares=shares,
        explained=explained(evaluation, view.clauses),
        estimate=editable,
        titles={cid: c.title.both for cid, c in package.clauses.items()},
        attachments=attachments.list_for(svc, actor, app_id),
        declared=factsform.build_form(shown, stored.facts, min_rows=0),
        refusal=refusal,
        refused_reason=refused_reason if view.state == "rejected" else None,
        max_mb=get_settings(request).max_upload_bytes // (1024 * 1024),
    )


@router.get("/portal/applications/{app_id}/edit", response_class=HTMLResponse, response_model=None)
def edit_form(app_id: Id, request: Request) -> Response:
    actor, _ = page_user(request)
    if actor is None:
        return _login(request)
    svc = get_services(request)
    org = _org(svc, actor)
    stored = read_application(svc, actor, app_id)
    _check_editable(stored.view)
    facts = dict(stored.facts)
    facts["applicant"] = {**dict(facts.get("applicant") or {}), **_identity(org)}
    return _form_page(
        request,
        org=org,
        mode="edit",
        year=stored.view.award_year,
        clauses=list(stored.view.clauses),
        facts=facts,
        view=stored.view,
    )


def _check_editable(view: ApplicationView) -> None:
    if view.state not in EDITABLE:
        raise Conflict(
            "只有草稿或退回补正的申报可以修改",
            "only a draft or a returned application can be changed",
        )


@router.post("/portal/applications/{app_id}/edit", response_model=None)
async def edit_post(app_id: Id, request: Request, actor: MaybeUser) -> Response:
    if actor is None:
        return _login(request)
    # Database work on a request thread, not the event loop; who may post checked first.
    org, view = await run_in_threadpool(_editable, get_services(request), actor, app_id)
    form = await request.form()
    return await run_in_threadpool(_edit_post, request, actor, org, view, form)


def _editable(svc: Services, actor: Actor, app_id: int) -> tuple[OrgView, ApplicationView]:
    org = _org(svc, actor)
    view = applications.get(svc, actor, app_id)  # NotFound for another organisation's
    _check_editable(view)
    return org, view


def _edit_post(
    request: Request, actor: Actor, org: OrgView, view: ApplicationView, form: FormData
) -> Response:
    svc = get_services(request)
    app_id = view.id
    posted = _read_posted(form, svc, org)
    page = partial(
        _form_page,
        request,
        org=org,
        mode="edit",
        year=view.award_year,
        clauses=posted.clauses,
        view=view,
    )
    if posted.action != "save" or not posted.complete:
        add = _row_action(posted.action, posted.facts)
        notice = None if posted.action != "save" else "portal.refreshed"
        return page(facts=posted.facts, add_row=add, notice=notice)
    facts = _only_needed(svc, posted.facts, posted.clauses, org.kind)
    try:
        applications.update_draft(svc, actor, app_id, clauses=posted.clauses, facts=facts)
    except Invalid as exc:
        return page(facts=facts, problems=exc.problems, status=422)
    return redirect(f"/portal/applications/{app_id}", "saved")


@router.post("/portal/applications/{app_id}/submit", response_model=None)
def submit(app_id: Id, request: Request, actor: MaybeUser) -> Response:
    """Submit a draft, or resubmit one corrected after a return."""
    if actor is None:
        return _login(request)
    svc = get_services(request)
    _applicant(actor)
    view = applications.get(svc, actor, app_id)  # NotFound for another organisation's
    try:
        if view.state == AppState.RETURNED.value:
            applications.resubmit(svc, actor, app_id)
        else:
            applications.submit(svc, actor, app_id)
    except (Invalid, Conflict) as exc:
        return _application_page(request, actor, app_id, refusal=exc)
    return redirect(f"/portal/applications/{app_id}", "submitted")


#: Uploads: their own router, so that the app gives them a body limit of their own.
uploads = APIRouter(include_in_schema=False)


@uploads.post("/portal/applications/{app_id}/attachments", response_model=None)
async def upload(app_id: Id, request: Request, actor: MaybeUser) -> Response:
    """Attach a file (multipart form); the service checks what it really is."""
    if actor is None:
        return _login(request)
    svc = get_services(request)
    _applicant(actor)
    # Checked before the body is read; the database work on a request thread, not the loop.
    await run_in_threadpool(applications.get, svc, actor, app_id)  # NotFound if not ours
    settings = get_settings(request)
    form = await request.form(max_files=1, max_fields=10)
    sent = form.get("file")
    content = b""
    filename = ""
    if isinstance(sent, UploadFile):
        content = await sent.read(settings.max_upload_bytes + 1)
        filename = sent.filename or ""

    def store() -> Response:
        try:
            attachments.upload(
                svc,
                actor,
                app_id,
                filename=filename,
                content=content,
                data_dir=settings.data_dir,
                max_bytes=settings.max_upload_bytes,
                limits=settings.content_limits(),
            )
        except (Invalid, Conflict) as exc:
            return _application_page(request, actor, app_id, refusal=exc)
        return redirect(f"/portal/applications/{app_id}", "uploaded")

    return await run_in_threadpool(store)
