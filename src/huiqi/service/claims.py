"""One open claim per organisation, clause, subject and award year; one line per pre-approval.

A line of an application is an *open claim* from its submission until it is refused (a line
refused at verification, or the whole application rejected) or settled (its plan item is in a
plan that 市人民政府 approved: the ledger records the award, and from then on the engine,
reading the ledger, decides what any later claim may still get — nothing for a one-time
subject already paid, the room left under a yearly cap). A returned, resubmitted or reopened
application keeps its claims.

The table ``open_claims`` holds, for each claimed thing, the application whose claim is open;
its key is the primary key, so two open claims of the same thing cannot both be written, however
many requests arrive at once. The service keeps it in the transaction that changes a line or
an application's state (:func:`hold`, :func:`settle`). A second claim is refused with the
number of the application holding the first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    AllocationPlan,
    Application,
    ApplicationLine,
    LineDecisionState,
    OpenClaim,
    Organisation,
    PlanItem,
    PlanItemState,
    PreApproval,
)
from huiqi.errors import Problem
from huiqi.fulfilment.workflow import STATE_LABELS, AppState, PlanState
from huiqi.service.errors import Conflict

#: The states in which an application's lines are claims that are open.
OPEN_STATES = frozenset(
    {AppState.SUBMITTED, AppState.RETURNED, AppState.RESUBMITTED, AppState.VERIFIED}
)
_SETTLED_BY = (PlanState.APPROVED, PlanState.CLOSED)


@dataclass(frozen=True)
class OtherClaim:
    """Another application's line claiming the same organisation, clause, subject and year."""

    application_id: int
    state: str
    clause_id: str
    subject_id: str
    decision: str
    #: Whether this is the claim that is open now (the one that refuses a second).
    open: bool


def _settled(s: Session, line_ids: list[int]) -> set[int]:
    """The lines among ``line_ids`` whose plan item is in an approved (or closed) plan."""
    if not line_ids:
        return set()
    return set(
        s.scalars(
            select(PlanItem.line_id)
            .join(AllocationPlan, AllocationPlan.id == PlanItem.plan_id)
            .where(
                PlanItem.line_id.in_(line_ids),
                PlanItem.state == PlanItemState.INCLUDED,
                AllocationPlan.state.in_(_SETTLED_BY),
            )
        )
    )


def hold(s: Session, app: Application, org: Organisation) -> None:
    """Make ``open_claims`` say what ``app``'s lines claim now (after a submission, a
    verification or a rejection, in its transaction); refuse (409) a claim another
    application holds open, naming it. The application and its lines must be flushed."""
    wanted: set[tuple[str, str]] = set()
    if app.state in OPEN_STATES:
        settled = _settled(s, [ln.id for ln in app.lines])
        wanted = {
            (ln.clause_id, ln.subject_id)
            for ln in app.lines
            if ln.decision is not LineDecisionState.REFUSED and ln.id not in settled
        }
    mine = {
        (c.clause_id, c.subject_id): c
        for c in s.scalars(select(OpenClaim).where(OpenClaim.application_id == app.id))
    }
    for key, claim in mine.items():
        if key not in wanted:
            s.delete(claim)
    insert = postgresql_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    clashes = []
    # In one order, so two submissions claiming several things at once queue, never deadlock.
    # On PostgreSQL an insert meeting a claim another transaction is writing waits for it to
    # commit (then does nothing: the claim is taken) or to roll back (then takes it).
    for clause_id, subject_id in sorted(wanted - mine.keys()):
        values = {
            "org_id": org.id,
            "clause_id": clause_id,
            "subject_id": subject_id,
            "award_year": app.award_year,
            "application_id": app.id,
        }
        taken = insert(OpenClaim).values(**values).on_conflict_do_nothing()
        if s.execute(taken.returning(OpenClaim.application_id)).first() is None:
            clashes.append((clause_id, subject_id))
    if clashes:
        raise _refusal(s, app, org, clashes)


def _refusal(
    s: Session, app: Application, org: Organisation, clashes: list[tuple[str, str]]
) -> Conflict:
    holders = s.execute(
        select(OpenClaim.clause_id, OpenClaim.subject_id, Application.id, Application.state)
        .join(Application, Application.id == OpenClaim.application_id)
        .where(
            OpenClaim.org_id == org.id,
            OpenClaim.award_year == app.award_year,
            OpenClaim.clause_id.in_({c for c, _ in clashes}),
        )
        .order_by(Application.id)
    ).all()
    problems = []
    numbers: list[int] = []
    for clause_id, subject_id, holder, state in holders:
        if (clause_id, subject_id) not in clashes:
            continue
        numbers.append(holder)
        zh_state, en_state = STATE_LABELS.get(state.value, (state.value, state.value))
        problems.append(
            Problem(
                "clauses",
                clause_id,
                f"第{clause_id}条 {subject_id} {app.award_year}年度已在申报 #{holder}"
                f"（{zh_state}）中申请，尚未办结",
                f"clause {clause_id} for {subject_id} in {app.award_year} is claimed by "
                f"application #{holder} ({en_state}), still open",
            )
        )
    refs = "、".join(f"#{n}" for n in dict.fromkeys(numbers)) or "?"
    refs_en = ", ".join(f"#{n}" for n in dict.fromkeys(numbers)) or "?"
    return Conflict(
        f"同一事项已有未办结的申报 {refs}，不能重复申报",
        f"application {refs_en} already claims the same and is still open; "
        "a second claim is refused",
        problems,
    )


def settle(s: Session, lines: Iterable[ApplicationLine]) -> None:
    """The plan holding ``lines`` is approved: their claims are settled, no longer open."""
    for line in lines:
        s.execute(
            delete(OpenClaim).where(
                OpenClaim.application_id == line.application_id,
                OpenClaim.clause_id == line.clause_id,
                OpenClaim.subject_id == line.subject_id,
            )
        )


def others(s: Session, app: Application) -> list[OtherClaim]:
    """Every other application's line (any state) claiming what ``app``'s lines claim, for the
    reviewer to see next to the application."""
    keys = {(ln.clause_id, ln.subject_id) for ln in app.lines}
    if not keys:
        return []
    holding = {
        (c.application_id, c.clause_id, c.subject_id)
        for c in s.scalars(
            select(OpenClaim).where(
                OpenClaim.org_id == app.org_id,
                OpenClaim.award_year == app.award_year,
                OpenClaim.application_id != app.id,
            )
        )
    }
    rows = s.execute(
        select(ApplicationLine, Application.state)
        .join(Application, Application.id == ApplicationLine.application_id)
        .where(
            Application.org_id == app.org_id,
            Application.award_year == app.award_year,
            Application.id != app.id,
            ApplicationLine.clause_id.in_({c for c, _ in keys}),
        )
        .order_by(Application.id, ApplicationLine.id)
    ).all()
    return [
        OtherClaim(
            ln.application_id,
            state.value,
            ln.clause_id,
            ln.subject_id,
            ln.decision.value,
            (ln.application_id, ln.clause_id, ln.subject_id) in holding,
        )
        for ln, state in rows
        if (ln.clause_id, ln.subject_id) in keys
    ]


def lock_pre_approvals(s: Session, refs: Iterable[str]) -> dict[str, PreApproval]:
    """The pre-approvals cited, their rows locked (in one order) until the commit, so that two
    applications citing one at the same moment are checked one after the other."""
    wanted = sorted({r for r in refs if r})
    if not wanted:
        return {}
    rows = s.scalars(
        select(PreApproval)
        .where(PreApproval.reference.in_(wanted))
        .order_by(PreApproval.reference)
        .with_for_update()
    )
    return {row.reference: row for row in rows}


def cited_elsewhere(s: Session, ref: str, app_id: int) -> int | None:
    """The application (not ``app_id``, not rejected) with a line not refused citing ``ref``."""
    return s.scalar(
        select(ApplicationLine.application_id)
        .join(Application, Application.id == ApplicationLine.application_id)
        .where(
            ApplicationLine.pre_approval_ref == ref,
            ApplicationLine.decision != LineDecisionState.REFUSED,
            Application.id != app_id,
            Application.state != AppState.REJECTED,
        )
        .order_by(Application.id)
        .limit(1)
    )
