"""Applications: draft → submitted → returned ⇄ resubmitted → verified or rejected.

Every change goes through :func:`huiqi.fulfilment.workflow.step`, is written in one
transaction with its audit entry, and keeps the facts, the engine's full result and
the policy package's hash it was decided under.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, defer, joinedload

from huiqi.db.tables import (
    Application,
    ApplicationLine,
    LineDecisionState,
    OfficeState,
    Organisation,
    PolicySnapshot,
)
from huiqi.engine import Evaluation, check_year
from huiqi.errors import InputError, Problem
from huiqi.facts import parse_facts
from huiqi.fulfilment.decisions import LineDecision, check_decision, decided_amount
from huiqi.fulfilment.duties import Step
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import APPLICATION, AppAction, AppState, InvalidTransition, step
from huiqi.policy import PolicyPackage
from huiqi.policy.model import AmountKind
from huiqi.service import audit, claims
from huiqi.service.actors import Actor, require, require_org, unknown_org
from huiqi.service.duties import line_steps, refuse_as_forbidden
from huiqi.service.errors import Conflict, Forbidden, Invalid, NotFound, require_reason
from huiqi.service.records import (
    evaluate_document,
    facts_document,
    listed_dishonest,
)
from huiqi.service.uow import Services

#: Clauses whose amounts the leading group's office approves as well (interpretations E).
OFFICE_CLAUSES = frozenset({"3.1", "6.1", "7.4"})


@dataclass(frozen=True)
class LineView:
    id: int
    clause_id: str
    subject_id: str
    kind: str
    eligible: bool
    engine_fen: int | None
    decision: str
    decided_fen: int | None
    reason: str | None
    office_state: str


@dataclass(frozen=True)
class ApplicationView:
    id: int
    org_id: int
    credit_code: str
    org_name: str
    award_year: int
    state: str
    clauses: list[str]
    return_reason: str | None
    policy_sha256: str | None
    lines: list[LineView]
    version: int
    #: Other applications' lines claiming the same organisation, clause, subject and year
    #: (any state), shown to the reviewer; filled when one application is read.
    other_claims: list[claims.OtherClaim] = field(default_factory=list)

    def line(self, clause_id: str, subject_id: str | None = None) -> LineView:
        for line in self.lines:
            if line.clause_id == clause_id and subject_id in (None, line.subject_id):
                return line
        raise KeyError((clause_id, subject_id))


def view(
    app: Application, org: Organisation, other_claims: list[claims.OtherClaim] | None = None
) -> ApplicationView:
    return ApplicationView(
        id=app.id,
        org_id=org.id,
        credit_code=org.credit_code,
        org_name=org.name,
        award_year=app.award_year,
        state=app.state.value,
        clauses=list(app.clauses),
        return_reason=app.return_reason,
        policy_sha256=app.policy_sha256,
        lines=[
            LineView(
                ln.id,
                ln.clause_id,
                ln.subject_id,
                ln.kind,
                ln.eligible,
                ln.engine_fen,
                ln.decision.value,
                ln.decided_fen,
                ln.reason,
                ln.office_state.value,
            )
            for ln in app.lines
        ],
        version=app.version,
        other_claims=other_claims or [],
    )


_LOAD = (
    select(Application, Organisation)
    .join(Organisation, Organisation.id == Application.org_id)
    .where(Application.id == bindparam("app_id"))
    .options(defer(Application.evaluation), joinedload(Application.lines))
)
_ORG_BY_CODE = select(Organisation).where(Organisation.credit_code == bindparam("code"))


def _load(s: Session, app_id: int) -> tuple[Application, Organisation]:
    """The application with its lines and its organisation, in one query; the stored
    evaluation (large, and rewritten whole when it changes) is not read."""
    found = s.execute(_LOAD, {"app_id": app_id}).unique().first()
    if found is None:
        raise NotFound("未找到该记录", "not found")
    return found[0], found[1]


def _move(app: Application, action: AppAction, actor: Actor) -> AppState:
    try:
        return AppState(step(APPLICATION, app.state, action, actor.roles))
    except InvalidTransition as exc:
        if exc.by_role:
            raise Forbidden(exc.zh, exc.en) from None
        raise Conflict(exc.zh, exc.en) from None


def _check_input(
    package: PolicyPackage, facts: dict[str, Any], year: int, clauses: list[str]
) -> None:
    problems: list[Problem] = []
    try:
        check_year(package, year)
    except InputError as exc:
        problems += exc.problems
    unknown = [c for c in clauses if c not in package.clauses]
    if unknown or not clauses:
        ids = ", ".join(sorted(package.clauses))
        problems.append(
            Problem(
                "clauses",
                unknown or clauses,
                f"请选择本政策的条款：{ids}",
                f"choose clauses of this policy: {ids}",
            )
        )
    try:
        parse_facts({**facts, "award_year": year})
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise Invalid("申报内容有误", "the application is not valid", problems)


def create_draft(
    svc: Services,
    actor: Actor,
    *,
    org_code: str,
    year: int,
    clauses: list[str],
    facts: dict[str, Any],
    submit: bool = False,
) -> ApplicationView:
    """An applicant starts an application for one award year and the clauses it applies for.

    With ``submit``, it is submitted at once, in the same transaction: what a machine client
    that has all its facts does (the same checks and the same two audit entries as a draft
    created, then submitted; nothing is left behind if the submission is refused)."""
    require(actor, Role.APPLICANT)
    _check_input(svc.package, facts, year, clauses)
    with svc.transaction() as s:
        app, org = _new_draft(s, svc, actor, org_code, year, clauses, facts)
        if not submit:
            s.flush()
            _audit_created(s, actor, app, org)
            return view(app, org)
        with s.no_autoflush:  # one INSERT of the application, already submitted, at the end
            submitted = _submit_in(s, svc, actor, app, org, AppAction.SUBMIT)
        _audit_created(s, actor, app, org)
        audit.record(s, **submitted)
        return view(app, org)


def _new_draft(
    s: Session,
    svc: Services,
    actor: Actor,
    org_code: str,
    year: int,
    clauses: list[str],
    facts: dict[str, Any],
) -> tuple[Application, Organisation]:
    org = s.scalar(_ORG_BY_CODE, {"code": org_code})
    if org is None:
        raise unknown_org(actor, org_code)
    require_org(actor, org.id, write=True)
    app = Application(
        org_id=org.id,
        award_year=year,
        state=AppState.DRAFT,
        clauses=list(dict.fromkeys(clauses)),
        facts=facts,
        created_by=actor.user_id,
        created_at=svc.clock(),
        lines=[],  # a new draft has none: no query to find that out
    )
    s.add(app)
    return app, org


def _audit_created(s: Session, actor: Actor, app: Application, org: Organisation) -> None:
    audit.record(
        s,
        at=app.created_at,
        actor=actor.username,
        action="application.create",
        object_type="application",
        object_id=app.id,
        after={"org": org.credit_code, "year": app.award_year, "clauses": app.clauses},
    )


def update_draft(
    svc: Services,
    actor: Actor,
    app_id: int,
    *,
    clauses: list[str] | None = None,
    facts: dict[str, Any] | None = None,
) -> ApplicationView:
    """Change the facts or clauses of a draft, or of one returned for correction."""
    with svc.transaction() as s:
        app, org = _load(s, app_id)
        require_org(actor, org.id, write=True)
        if app.state not in (AppState.DRAFT, AppState.RETURNED):
            raise Conflict(
                "只有草稿或退回补正的申报可以修改",
                "only a draft or a returned application can be changed",
            )
        new_clauses = clauses if clauses is not None else list(app.clauses)
        new_facts = facts if facts is not None else dict(app.facts)
        _check_input(svc.package, new_facts, app.award_year, new_clauses)
        before = {"clauses": list(app.clauses), "facts": app.facts}
        app.clauses, app.facts = list(dict.fromkeys(new_clauses)), new_facts
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="application.update",
            object_type="application",
            object_id=app.id,
            before=before,
            after={"clauses": app.clauses, "facts": app.facts},
        )
        return view(app, org)


def _pre_approvals(s: Session, app: Application, org: Organisation) -> list[Problem]:
    """Events must reference a prior approval the office gave this organisation, each approval
    used for one event only (in this application or any other's line not refused), and given
    before the event was held. The approvals' rows stay locked until the commit, so two
    applications citing one at the same moment are checked one after the other (and a unique
    index on the lines refuses the second in any case)."""
    problems = []
    seen: dict[str, int] = {}
    events = app.facts.get("events") or []
    approvals = claims.lock_pre_approvals(s, (e.get("office_approval_ref") for e in events))
    for i, event in enumerate(events):
        ref = event.get("office_approval_ref")
        if not ref:
            continue
        where = f"$.events[{i}].office_approval_ref"
        found = approvals.get(ref)
        if found is None or found.org_id != org.id:
            problems.append(
                Problem(
                    where,
                    ref,
                    "未找到领导小组办公室给予本单位的该批准文号",
                    "no prior approval of the office with this reference for this organisation",
                )
            )
            continue
        if ref in seen:
            problems.append(
                Problem(
                    where,
                    ref,
                    f"该批准文号已用于第 {seen[ref] + 1} 项活动",
                    f"this approval is already used by event {seen[ref] + 1}",
                )
            )
        seen[ref] = i
        used = claims.cited_elsewhere(s, ref, app.id)
        if used is not None:
            problems.append(
                Problem(
                    where,
                    ref,
                    f"该批准文号已在申报 #{used} 中使用",
                    f"this approval is already claimed by application #{used}",
                )
            )
        if (found.event_kind == "training") != (event.get("kind") == "training"):
            problems.append(
                Problem(
                    f"$.events[{i}].kind",
                    event.get("kind"),
                    f"与批准文号的活动类型（{found.event_kind}）不符",
                    f"does not match the approved kind ({found.event_kind})",
                )
            )
        held = event.get("held_date")
        if held and str(held) < found.approved_on.isoformat():
            problems.append(
                Problem(
                    f"$.events[{i}].held_date",
                    held,
                    f"活动早于批准日期（{found.approved_on}），须事先批准",
                    f"held before the approval ({found.approved_on}); approval must come first",
                )
            )
    return problems


def _refresh_lines(s: Session, svc: Services, app: Application, org: Organisation) -> Evaluation:
    """Evaluate as the records stand now and set one line per clause × subject applied for."""
    document, _, evaluation = evaluate_document(svc.package, facts_document(s, app, org))
    wanted: dict[tuple[str, str], tuple[str, bool, int | None]] = {}
    for clause_id in app.clauses:
        result = evaluation.clause(clause_id)
        kind = result.kind.value
        eligible_items = [i for i in result.items if i.eligible]
        if not result.eligible or not eligible_items:
            wanted[(clause_id, org.credit_code)] = (kind, False, None)
            continue
        for item in eligible_items:
            engine = None if result.kind is AmountKind.DISCRETIONARY else item.allocated_fen
            wanted[(clause_id, item.subject)] = (kind, True, engine)
    existing = {(ln.clause_id, ln.subject_id): ln for ln in app.lines}
    refs = {str(e.get("id")): e.get("office_approval_ref") for e in app.facts.get("events") or []}
    gone = [line for key, line in existing.items() if key not in wanted]
    for line in gone:
        app.lines.remove(line)
    if gone:  # deleted before any line takes up a pre-approval one of them cited
        s.flush()
    for (clause_id, subject), (kind, eligible, engine) in wanted.items():
        found = existing.get((clause_id, subject))
        if found is None:
            found = ApplicationLine(
                clause_id=clause_id,
                subject_id=subject,
                kind=kind,
                eligible=eligible,
                engine_fen=engine,
            )
            app.lines.append(found)
        line = found
        line.kind, line.eligible, line.engine_fen = kind, eligible, engine
        line.pre_approval_ref = refs.get(subject)
        line.decision, line.decided_fen, line.reason = LineDecisionState.PENDING, None, None
        needs_office = (
            clause_id in OFFICE_CLAUSES or svc.package.clauses[clause_id].needs_office_approval
        )
        line.office_state = (
            OfficeState.PENDING if needs_office and eligible else OfficeState.NOT_NEEDED
        )
    app.policy_sha256 = evaluation.policy.sha256
    # What the engine said, kept with the application: its policy, scope and totals, and the
    # clauses applied for with their explanations (the others are not this application's;
    # storing all of them would write ~50 KB per submission for nothing read back).
    app.evaluation = evaluation.as_dict(clauses=app.clauses)
    app.evaluated_input = document  # so the decision can be replayed (huiqi replay)
    snapshot_policy(s, svc)
    return evaluation


def snapshot_policy(s: Session, svc: Services) -> None:
    """Keep the whole policy package a decision rests on, once per content hash."""
    package = svc.package
    if package.sha256 in svc.stored_snapshots:
        return
    if s.scalar(select(PolicySnapshot.sha256).where(PolicySnapshot.sha256 == package.sha256)):
        svc.stored_snapshots.add(package.sha256)  # committed by someone: no need to ask again
        return
    root = Path(package.root)
    files = {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".yaml", ".md") and "tests" not in p.relative_to(root).parts
    }
    values = {
        "sha256": package.sha256,
        "policy_id": package.id,
        "version": package.version,
        "files": files,
        "recorded_at": svc.clock(),
    }
    # Another submission may store the same snapshot at the same moment: the same hash is the
    # same content, so whichever lands first is kept and the other does nothing.
    dialect = s.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    s.execute(insert(PolicySnapshot).values(**values).on_conflict_do_nothing())


def _submit(svc: Services, actor: Actor, app_id: int, action: AppAction) -> ApplicationView:
    with svc.transaction() as s:
        app, org = _load(s, app_id)
        audit.record(s, **_submit_in(s, svc, actor, app, org, action))
        return view(app, org)


def _submit_in(
    s: Session, svc: Services, actor: Actor, app: Application, org: Organisation, action: AppAction
) -> dict[str, Any]:
    """Submit (or resubmit) ``app`` in the open transaction; returns its audit entry, for the
    caller to record last (appending to the audit log makes other writers wait until the
    commit)."""
    require_org(actor, org.id, write=True)
    to = _move(app, action, actor)
    now = svc.clock()
    listing = listed_dishonest(s, org.id, now.date())
    if listing is not None:
        raise Conflict(
            f"该单位列入严重失信名单（{listing.source}，{listing.listed_on}起），不能申报",
            f"the organisation is on a serious-dishonesty list ({listing.source} "
            f"since {listing.listed_on}) and cannot apply",
        )
    problems = _pre_approvals(s, app, org)
    if problems:
        raise Invalid("活动批准文号有误", "event approvals do not match", problems)
    before = app.state.value
    app.state, app.submitted_at, app.return_reason = to, now, None
    with s.no_autoflush:  # one UPDATE of the application, not one per query in between
        _refresh_lines(s, svc, app, org)
    s.flush()
    claims.hold(s, app, org)  # a second open claim of the same thing is refused (409)
    return {
        "at": now,
        "actor": actor.username,
        "action": f"application.{action.value}",
        "object_type": "application",
        "object_id": app.id,
        "before": {"state": before},
        "after": {
            "state": to.value,
            "policy_sha256": app.policy_sha256,
            "lines": [[ln.clause_id, ln.subject_id, ln.engine_fen] for ln in app.lines],
        },
    }


def submit(svc: Services, actor: Actor, app_id: int) -> ApplicationView:
    return _submit(svc, actor, app_id, AppAction.SUBMIT)


def resubmit(svc: Services, actor: Actor, app_id: int) -> ApplicationView:
    return _submit(svc, actor, app_id, AppAction.RESUBMIT)


def return_for_correction(svc: Services, actor: Actor, app_id: int, reason: str) -> ApplicationView:
    """The commerce bureau returns an application with its questions."""
    reason = require_reason(
        reason, "退回须写明需补正的内容", "a return needs the questions to answer"
    )
    with svc.transaction() as s:
        app, org = _load(s, app_id)
        to = _move(app, AppAction.RETURN, actor)
        before = app.state.value
        app.state, app.return_reason = to, reason.strip()
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="application.return",
            object_type="application",
            object_id=app.id,
            before={"state": before},
            after={"state": to.value},
            reason=reason.strip(),
        )
        return view(app, org)


def reject(svc: Services, actor: Actor, app_id: int, reason: str) -> ApplicationView:
    reason = require_reason(reason, "不予支持须写明理由", "a rejection needs reasons")
    with svc.transaction() as s:
        app, org = _load(s, app_id)
        to = _move(app, AppAction.REJECT, actor)
        before = app.state.value
        app.state, app.decided_at, app.decided_by = to, svc.clock(), actor.user_id
        for line in app.lines:
            line.decision, line.decided_fen, line.reason = LineDecisionState.REFUSED, 0, reason
        s.flush()
        claims.hold(s, app, org)  # a rejected application's claims are closed
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="application.reject",
            object_type="application",
            object_id=app.id,
            before={"state": before},
            after={"state": to.value},
            reason=reason.strip(),
        )
        return view(app, org)


def verify(
    svc: Services, actor: Actor, app_id: int, decisions: list[LineDecision]
) -> ApplicationView:
    """The commerce bureau verifies: a decision for every line, amounts within the policy."""
    with svc.transaction() as s:
        app, org = _load(s, app_id)
        to = _move(app, AppAction.VERIFY, actor)
        for line in app.lines:
            refuse_as_forbidden(Step.VERIFY, actor, line_steps(line))
        cited = _pre_approvals(s, app, org)  # checked again, under the approvals' row locks
        if cited:
            raise Invalid("活动批准文号有误", "event approvals do not match", cited)
        evaluation = _refresh_lines(s, svc, app, org)
        by_key = {(d.clause_id, d.subject_id): d for d in decisions}
        problems: list[Problem] = []
        for line in app.lines:
            where = f"decisions[{line.clause_id}/{line.subject_id}]"
            decision = by_key.pop((line.clause_id, line.subject_id), None)
            if decision is None:
                problems.append(
                    Problem(where, None, "缺少对该项的审核决定", "no decision for this line")
                )
                continue
            if decision.approve and not line.eligible:
                problems.append(
                    Problem(
                        where,
                        None,
                        "该项不符合政策条件，只能不予支持",
                        "this line is not eligible and can only be refused",
                    )
                )
                continue
            kind = AmountKind(line.kind)
            problems += check_decision(kind, line.engine_fen, decision, where)
            if not problems:
                line.decided_fen = decided_amount(kind, line.engine_fen, decision)
                line.decision = (
                    LineDecisionState.APPROVED if decision.approve else LineDecisionState.REFUSED
                )
                line.reason = decision.reason
                line.decided_by, line.decided_at = actor.user_id, svc.clock()
                if not decision.approve:
                    line.office_state = OfficeState.NOT_NEEDED
        for clause_id, subject in by_key:
            problems.append(
                Problem(
                    f"decisions[{clause_id}/{subject}]",
                    None,
                    "申报中没有该项",
                    "no such line in the application",
                )
            )
        if problems:
            raise Invalid(
                "审核决定有误，未保存", "the decisions are not valid; nothing was saved", problems
            )
        before = app.state.value
        app.state, app.decided_at, app.decided_by = to, svc.clock(), actor.user_id
        s.flush()
        claims.hold(s, app, org)  # refused lines' claims close; the others stay open
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="application.verify",
            object_type="application",
            object_id=app.id,
            before={"state": before},
            after={
                "state": to.value,
                "policy_sha256": evaluation.policy.sha256,
                "decisions": [
                    [ln.clause_id, ln.subject_id, ln.decision.value, ln.decided_fen, ln.reason]
                    for ln in app.lines
                ],
            },
        )
        return view(app, org)


def office_decide(
    svc: Services, actor: Actor, line_id: int, *, approve: bool, reason: str
) -> ApplicationView:
    """The leading group's office approves (or returns) a discretionary or 7.4 amount."""
    require(actor, Role.OFFICE_REVIEWER)
    with svc.transaction() as s:
        line = s.get(ApplicationLine, line_id)
        if line is None:
            raise NotFound(f"申报明细 {line_id} 不存在", f"no application line {line_id}")
        app, org = _load(s, line.application_id)
        refuse_as_forbidden(Step.OFFICE_LINE, actor, line_steps(line))
        if app.state is not AppState.VERIFIED or line.office_state is not OfficeState.PENDING:
            raise Conflict(
                "该项不在待领导小组办公室批准的状态",
                "this line is not awaiting the office's approval",
            )
        if not approve and not reason.strip():
            raise Invalid(
                "退回须写明理由",
                "a return needs a reason",
                [Problem("reason", reason, "不能为空", "empty")],
            )
        line.office_state = OfficeState.APPROVED if approve else OfficeState.RETURNED
        line.office_reason, line.office_by, line.office_at = reason, actor.user_id, svc.clock()
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="line.office_decide",
            object_type="application_line",
            object_id=line.id,
            before={"office_state": "pending"},
            after={"office_state": line.office_state.value, "amount": line.decided_fen},
            reason=reason,
        )
        return view(app, org)


def get(svc: Services, actor: Actor, app_id: int) -> ApplicationView:
    """One application, with every other claim of the same things (for its reviewer)."""
    with svc.reading() as s:
        app, org = _load(s, app_id)
        require_org(actor, org.id)
        return view(app, org, claims.others(s, app))


def list_for(
    svc: Services,
    actor: Actor,
    *,
    year: int | None = None,
    state: str | None = None,
    clause: str | None = None,
    division: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[ApplicationView]:
    """Applications the actor may see: its own organisation's, or all for staff."""
    with svc.reading() as s:
        query = (
            select(Application, Organisation)
            .join(Organisation, Organisation.id == Application.org_id)
            .order_by(Application.id)
        )
        if actor.has(Role.APPLICANT) and not actor.roles - {Role.APPLICANT}:
            query = query.where(Application.org_id == actor.org_id)
        elif actor.roles == {Role.ADMIN}:
            return []
        if year is not None:
            query = query.where(Application.award_year == year)
        if state is not None:
            try:
                query = query.where(Application.state == AppState(state))
            except ValueError:
                allowed = ", ".join(a.value for a in AppState)
                raise Invalid(
                    "状态有误",
                    "unknown state",
                    [Problem("state", state, f"可选：{allowed}", f"one of: {allowed}")],
                ) from None
        if division is not None:
            query = query.where(Organisation.division == division)
        rows = s.execute(query).all()
        views = [view(app, org) for app, org in rows]
        if clause is not None:
            views = [v for v in views if clause in v.clauses]
        return views[max(0, offset) : max(0, offset) + max(1, min(limit, 500))]
