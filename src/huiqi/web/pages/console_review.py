"""The review of one application: declared facts beside official figures, the engine's amount
and explanation per line, the commerce bureau's decisions and the office's approvals."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from huiqi.db.tables import Application, ApplicationLine, OfficialFigure, Organisation
from huiqi.fulfilment.decisions import LineDecision
from huiqi.fulfilment.roles import Role
from huiqi.policy.model import AmountKind
from huiqi.service import applications, attachments, registry
from huiqi.service import replay as replay_service
from huiqi.service.actors import Actor
from huiqi.service.applications import ApplicationView, LineView
from huiqi.service.attachments import AttachmentView
from huiqi.service.errors import Conflict, Invalid, NotFound
from huiqi.service.registry import Finding
from huiqi.web.deps import User, get_services
from huiqi.web.pages.common import lang_of, redirect, render
from huiqi.web.pages.console_common import (
    FieldError,
    FormErrors,
    FormFields,
    TreeItem,
    fact_label,
    flatten,
    headline,
    login_redirect,
    node_of,
    owner_id,
    page_staff,
    parse_yuan,
    refused,
    require_staff,
    same_value,
    shown_value,
    tree_items,
    yuan_input,
)
from huiqi.web.types import Id

router = APIRouter(include_in_schema=False)

#: Kinds whose amount is as the policy computes it: review approves or refuses, never edits.
AS_COMPUTED = frozenset(
    {AmountKind.FIXED.value, AmountKind.COMPUTED.value, AmountKind.EXTERNAL.value}
)
REVIEWABLE = frozenset({"submitted", "resubmitted"})
#: An official figure broken down by a part of a declared total (``trade.export_usd[9610]``).
BREAKDOWN = re.compile(r"^[a-z_.]+\[[^\]]+\]$")


@dataclass(frozen=True)
class Official:
    source: str
    value: str
    provenance: str


@dataclass(frozen=True)
class FactRow:
    path: str
    label: tuple[str, str]
    declared: str
    official: list[Official]
    #: agrees / differs / undeclared (only the authority has it) / breakdown (a part of a
    #: declared total, e.g. by customs mode: shown, never compared) / none (no official figure)
    status: str

    @property
    def differs(self) -> bool:
        return self.status in ("differs", "undeclared")


@dataclass(frozen=True)
class LineRow:
    """A line (clause × subject) with what the form shows for it."""

    line: LineView
    office_reason: str | None
    pre_approval_ref: str | None
    decided_at: datetime | None
    approve: str  # "yes" / "no" as the form shows it
    amount: str  # yuan text
    reason: str
    max_yuan: str | None  # the ceiling, for HTML max


@dataclass(frozen=True)
class ClauseBlock:
    clause_id: str
    title: dict[str, str]
    kind: str
    headline: str
    text: str
    tree: list[TreeItem]
    lines: list[LineRow]


@dataclass
class ReviewPage:
    app: ApplicationView
    division: str
    submitted_at: datetime | None
    decided_at: datetime | None
    evaluated: bool
    scope: list[TreeItem]
    facts: list[FactRow]
    officials_count: int
    blocks: list[ClauseBlock]
    files: list[AttachmentView]
    findings: list[Finding] | None
    totals: dict[str, Any] = field(default_factory=dict)


def _officials(rows: Iterable[OfficialFigure]) -> dict[str, list[Official]]:
    found: dict[str, list[Official]] = {}
    for row in rows:
        path = row.field.removeprefix("$.")
        provenance = "; ".join(f"{k}: {v}" for k, v in sorted((row.provenance or {}).items()))
        found.setdefault(path, []).append(Official(row.source, row.value, provenance))
    return found


def _fact_rows(
    facts: dict[str, Any], officials: dict[str, list[Official]], lang: str
) -> list[FactRow]:
    rows = []
    declared = dict(flatten(facts))
    for path in [*declared, *(p for p in officials if p not in declared)]:
        value = declared.get(path)
        figures = officials.get(path, [])
        if not figures:
            status = "none"
        elif path in declared:
            agree = all(same_value(value, f.value) for f in figures)
            status = "agrees" if agree else "differs"
        else:
            status = "breakdown" if BREAKDOWN.match(path) else "undeclared"
        rows.append(FactRow(path, fact_label(path), shown_value(value, lang), figures, status))
    return rows


def _default_line(line: LineView, lang: str) -> tuple[str, str, str]:
    """What the decision form shows for a line before anyone typed anything."""
    if not line.eligible:
        reason = "不符合政策条件" if lang == "zh" else "not eligible under the policy"
        return "no", "", reason
    if line.decision != "pending":
        approve = "yes" if line.decision == "approved" else "no"
        amount = yuan_input(line.decided_fen) if line.kind not in AS_COMPUTED else ""
        return approve, amount, line.reason or ""
    amount = yuan_input(line.engine_fen) if line.kind == AmountKind.CEILING.value else ""
    return "yes", amount, ""


def _load(
    request: Request, actor: Actor, app_id: int, entered: dict[str, str] | None
) -> ReviewPage:
    svc = get_services(request)
    lang = lang_of(request)
    app = applications.get(svc, actor, app_id)  # refuses who may not see it
    with svc.reading() as s:
        row = s.get(Application, app_id)
        org = s.get(Organisation, app.org_id)
        if row is None or org is None:
            raise NotFound(f"申报 {app_id} 不存在", f"no application {app_id}")
        extras = {
            ln.id: (ln.office_reason, ln.pre_approval_ref, ln.decided_at)
            for ln in s.scalars(
                select(ApplicationLine).where(ApplicationLine.application_id == app_id)
            )
        }
        officials = _officials(
            s.scalars(
                select(OfficialFigure)
                .where(
                    OfficialFigure.org_id == app.org_id,
                    OfficialFigure.award_year == app.award_year,
                )
                .order_by(OfficialFigure.field, OfficialFigure.source)
            )
        )
        officials_count = sum(len(v) for v in officials.values())
        facts = dict(row.facts)
        evaluation = row.evaluation or {}
        division, submitted_at, decided_at = org.division, row.submitted_at, row.decided_at
    results = {c["clause"]: c for c in evaluation.get("clauses", [])}
    entered = entered or {}
    blocks = []
    for clause_id in app.clauses:
        clause = svc.package.clauses.get(clause_id)
        result = results.get(clause_id)
        node = node_of(result["explanation"]) if result else None
        rows = []
        for line in (ln for ln in app.lines if ln.clause_id == clause_id):
            approve, amount, reason = _default_line(line, lang)
            name = f"line-{line.id}"
            office_reason, approval_ref, line_decided_at = extras.get(line.id, (None, None, None))
            rows.append(
                LineRow(
                    line,
                    office_reason,
                    approval_ref,
                    line_decided_at,
                    entered.get(f"{name}-approve", approve),
                    entered.get(f"{name}-amount", amount),
                    entered.get(f"{name}-reason", reason),
                    yuan_input(line.engine_fen)
                    if line.kind == AmountKind.CEILING.value and line.engine_fen is not None
                    else None,
                )
            )
        blocks.append(
            ClauseBlock(
                clause_id,
                clause.title.both if clause else {"zh": clause_id, "en": clause_id},
                result["kind"] if result else (clause.kind.value if clause else ""),
                headline(node, lang) if node else "",
                str(node.args.get("text", "")) if node else (clause.text if clause else ""),
                [item for child in node.children for item in tree_items(child, lang)]
                if node
                else [],
                rows,
            )
        )
    scope = tree_items(node_of(evaluation["scope"]), lang) if evaluation.get("scope") else []
    findings = None
    if actor.has(Role.COMMERCE_REVIEWER, Role.AUDITOR):
        try:
            findings = registry.recognition_gaps(svc, actor, app_id)
        except Invalid:
            findings = None
    return ReviewPage(
        app=app,
        division=division,
        submitted_at=submitted_at,
        decided_at=decided_at,
        evaluated=bool(evaluation),
        scope=scope,
        facts=_fact_rows(facts, officials, lang),
        officials_count=officials_count,
        blocks=blocks,
        files=attachments.list_for(svc, actor, app_id),
        findings=findings,
        totals=evaluation.get("totals", {}),
    )


def review_response(
    request: Request,
    actor: Actor,
    app_id: int,
    *,
    status: int = 200,
    errors: FormErrors | None = None,
    entered: dict[str, str] | None = None,
) -> Response:
    page = _load(request, actor, app_id, entered)
    can_review = actor.has(Role.COMMERCE_REVIEWER) and page.app.state in REVIEWABLE
    can_office = actor.has(Role.OFFICE_REVIEWER) and page.app.state == "verified"
    return render(
        request,
        "console_application.html",
        status=status,
        page=page,
        app=page.app,
        can_review=can_review,
        can_office=can_office,
        errors=errors or FormErrors(),
        entered=entered or {},
    )


@router.get("/console/applications/{app_id}")
def review_page(app_id: Id, request: Request) -> Response:
    actor = page_staff(request)
    if actor is None:
        return login_redirect(request)
    return review_response(request, actor, app_id)


@router.get("/console/applications/{app_id}/replay")
def replay_page(app_id: Id, request: Request) -> Response:
    """The decision re-run on what it read then, under the package of then (issue 15.6)."""
    actor = page_staff(request)
    if actor is None:
        return login_redirect(request)
    result = replay_service.replay(get_services(request), actor, app_id)
    return render(request, "console_replay.html", result=result)


def _line_paths(app: ApplicationView) -> dict[str, str]:
    """Where the service's problems about a line go: its amount, reason or the whole line."""
    where: dict[str, str] = {}
    for line in app.lines:
        base = f"decisions[{line.clause_id}/{line.subject_id}]"
        where[base] = f"line-{line.id}"
        where[f"{base}.amount"] = f"line-{line.id}-amount"
        where[f"{base}.reason"] = f"line-{line.id}-reason"
    return where


@router.post("/console/applications/{app_id}/verify")
def verify(app_id: Id, request: Request, actor: User, form: FormFields) -> Response:
    """Verify with a decision per line; amounts typed in yuan, refused ones shown in place."""
    require_staff(actor)
    svc = get_services(request)
    lang = lang_of(request)
    app = applications.get(svc, actor, app_id)
    errors = FormErrors(form="verify")
    decisions = []
    for line in app.lines:
        name = f"line-{line.id}"
        approve = form.get(f"{name}-approve", "yes" if line.eligible else "no") == "yes"
        amount = None
        if approve and line.kind not in AS_COMPUTED:
            try:
                amount = parse_yuan(form.get(f"{name}-amount", ""))
            except FieldError as exc:
                errors.add(f"{name}-amount", exc.text(lang))
        reason = form.get(f"{name}-reason", "").strip()[:2000] or None
        decisions.append(LineDecision(line.clause_id, line.subject_id, approve, amount, reason))
    if errors:
        errors.headline = "审核决定有误，未保存" if lang == "zh" else "the decisions are not valid"
        return review_response(request, actor, app_id, status=422, errors=errors, entered=form)
    try:
        applications.verify(svc, actor, app_id, decisions)
    except (Invalid, Conflict) as exc:
        return review_response(
            request,
            actor,
            app_id,
            status=exc.status,
            errors=refused(exc, lang, "verify", _line_paths(app)),
            entered=form,
        )
    return redirect(f"/console/applications/{app_id}", "verified")


@router.post("/console/applications/{app_id}/return")
def return_for_correction(
    app_id: Id,
    request: Request,
    actor: User,
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Return to the applicant with the questions to answer."""
    require_staff(actor)
    try:
        applications.return_for_correction(get_services(request), actor, app_id, reason)
    except (Invalid, Conflict) as exc:
        errors = refused(exc, lang_of(request), "return", {"reason": "return-reason"})
        entered = {"return-reason": reason}
        return review_response(
            request, actor, app_id, status=exc.status, errors=errors, entered=entered
        )
    return redirect(f"/console/applications/{app_id}", "returned")


@router.post("/console/applications/{app_id}/reject")
def reject(
    app_id: Id,
    request: Request,
    actor: User,
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    require_staff(actor)
    try:
        applications.reject(get_services(request), actor, app_id, reason)
    except (Invalid, Conflict) as exc:
        errors = refused(exc, lang_of(request), "reject", {"reason": "reject-reason"})
        entered = {"reject-reason": reason}
        return review_response(
            request, actor, app_id, status=exc.status, errors=errors, entered=entered
        )
    return redirect(f"/console/applications/{app_id}", "rejected")


@router.post("/console/lines/{line_id}/office-decision")
def office_decision(
    line_id: Id,
    request: Request,
    actor: User,
    decision: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The leading group office approves a discretionary or 7.4 amount, or returns it."""
    require_staff(actor)
    svc = get_services(request)
    app_id = owner_id(
        svc, ApplicationLine, line_id, lambda ln: ln.application_id, "申报明细", "application line"
    )
    applications.get(svc, actor, app_id)  # who may not see the application learns nothing
    name = f"office-{line_id}"
    try:
        if decision not in ("approve", "return"):
            raise Invalid(
                "请选择同意或退回",
                "choose approve or return",
                [],
            )
        applications.office_decide(
            svc, actor, line_id, approve=decision == "approve", reason=reason.strip()
        )
    except (Invalid, Conflict) as exc:
        errors = refused(exc, lang_of(request), name, {"reason": f"{name}-reason"})
        entered = {f"{name}-decision": decision, f"{name}-reason": reason}
        return review_response(
            request, actor, app_id, status=exc.status, errors=errors, entered=entered
        )
    return redirect(f"/console/applications/{app_id}?msg=done#line-{line_id}")
