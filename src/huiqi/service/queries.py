"""Read-only queries for lists and reports: the ledger, the audit trail, plans, summaries.

Every query checks the actor once here; applicants see only their own organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Select, func, select

from huiqi.db.tables import (
    AllocationPlan,
    Application,
    AuditEntry,
    LedgerEntry,
    Organisation,
    PlanItem,
    PlanItemState,
)
from huiqi.errors import Problem
from huiqi.facts.model import ApplicantKind
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import PlanState
from huiqi.service.actors import STAFF, Actor, require
from huiqi.service.audit import content_of
from huiqi.service.errors import Forbidden, Invalid
from huiqi.service.orgs import OrgView, view_org
from huiqi.service.uow import Services

READERS = tuple(STAFF - {Role.ADMIN})


@dataclass(frozen=True)
class Page:
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class LedgerRow:
    id: int
    org_code: str
    org_name: str
    division: str
    clause_id: str
    subject_id: str
    award_year: int
    amount_fen: int
    kind: str
    plan_id: int | None


@dataclass(frozen=True)
class PlanSummary:
    id: int
    award_year: int
    title: str
    state: str
    items: int
    granted_fen: int


def _own_org_only(actor: Actor) -> int | None:
    """The organisation an applicant is limited to; None for staff who may read everything."""
    if actor.roles & set(READERS):
        return None
    if actor.has(Role.APPLICANT) and actor.org_id is not None:
        return actor.org_id
    raise Forbidden("无权查看", "not allowed to read this")


Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


E = TypeVar("E", bound=StrEnum)


def _choice(cls: type[E], value: str, field: str) -> E:
    """A filter value that must be one of an enum's, or a bilingual 422 naming it."""
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise Invalid(
            "筛选条件有误",
            "unknown filter value",
            [Problem(field, value, f"可选：{allowed}", f"one of: {allowed}")],
        ) from None


def _page(query: Q, page: Page) -> Q:
    return query.limit(max(1, min(page.limit, 500))).offset(max(0, page.offset))


def organisations(
    svc: Services,
    actor: Actor,
    *,
    division: str | None = None,
    kind: str | None = None,
    page: Page = Page(),
) -> list[OrgView]:
    own = _own_org_only(actor) if not actor.has(Role.ADMIN) else None
    query = select(Organisation).order_by(Organisation.id)
    if own is not None:
        query = query.where(Organisation.id == own)
    if division:
        query = query.where(Organisation.division == division)
    if kind:
        query = query.where(Organisation.kind == _choice(ApplicantKind, kind, "kind"))
    with svc.reading() as s:
        return [view_org(o) for o in s.scalars(_page(query, page))]


def ledger(
    svc: Services,
    actor: Actor,
    *,
    year: int | None = None,
    clause: str | None = None,
    division: str | None = None,
    page: Page = Page(),
) -> list[LedgerRow]:
    own = _own_org_only(actor)
    query = (
        select(LedgerEntry, Organisation)
        .join(Organisation, Organisation.id == LedgerEntry.org_id)
        .order_by(LedgerEntry.id)
    )
    if own is not None:
        query = query.where(LedgerEntry.org_id == own)
    if year is not None:
        query = query.where(LedgerEntry.award_year == year)
    if clause:
        query = query.where(LedgerEntry.clause_id == clause)
    if division:
        query = query.where(Organisation.division == division)
    with svc.reading() as s:
        return [
            LedgerRow(
                e.id,
                o.credit_code,
                o.name,
                o.division,
                e.clause_id,
                e.subject_id,
                e.award_year,
                e.amount_fen,
                e.kind.value,
                e.plan_id,
            )
            for e, o in s.execute(_page(query, page)).all()
        ]


def audit_log(
    svc: Services,
    actor: Actor,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    page: Page = Page(),
) -> list[dict[str, Any]]:
    """The audit trail, for auditors and staff (applicants see none of it)."""
    require(actor, *READERS)
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    with svc.reading() as s:
        return [
            {**content_of(e), "hash": e.hash, "prev_hash": e.prev_hash}
            for e in s.scalars(_page(query, page))
        ]


def plan_list(
    svc: Services,
    actor: Actor,
    *,
    year: int | None = None,
    state: str | None = None,
    page: Page = Page(),
) -> list[PlanSummary]:
    require(actor, *READERS)
    query = select(AllocationPlan).order_by(AllocationPlan.id)
    if year is not None:
        query = query.where(AllocationPlan.award_year == year)
    if state:
        query = query.where(AllocationPlan.state == _choice(PlanState, state, "state"))
    with svc.reading() as s:
        return [
            PlanSummary(
                p.id,
                p.award_year,
                p.title,
                p.state.value,
                len(p.items),
                sum(i.granted_fen for i in p.items if i.state is PlanItemState.INCLUDED),
            )
            for p in s.scalars(_page(query, page))
        ]


def summary(svc: Services, actor: Actor, *, year: int | None = None) -> dict[str, Any]:
    """Awards by clause, by paying finance and by year; applications by state."""
    require(actor, *READERS)
    with svc.reading() as s:
        ledger_q = (
            select(
                LedgerEntry.clause_id,
                Organisation.division,
                LedgerEntry.award_year,
                func.sum(LedgerEntry.amount_fen),
            )
            .join(Organisation, Organisation.id == LedgerEntry.org_id)
            .group_by(LedgerEntry.clause_id, Organisation.division, LedgerEntry.award_year)
        )
        apps_q = select(Application.state, func.count()).group_by(Application.state)
        if year is not None:
            ledger_q = ledger_q.where(LedgerEntry.award_year == year)
            apps_q = apps_q.where(Application.award_year == year)
        by_clause: dict[str, int] = {}
        by_division: dict[str, int] = {}
        by_year: dict[str, int] = {}
        for clause_id, division, award_year, total in s.execute(ledger_q).all():
            fen = int(total or 0)
            by_clause[clause_id] = by_clause.get(clause_id, 0) + fen
            by_division[division] = by_division.get(division, 0) + fen
            by_year[str(award_year)] = by_year.get(str(award_year), 0) + fen
        states = {row[0].value: int(row[1]) for row in s.execute(apps_q)}
        planned_q = (
            select(func.coalesce(func.sum(PlanItem.granted_fen), 0))
            .join(AllocationPlan, AllocationPlan.id == PlanItem.plan_id)
            .where(PlanItem.state == PlanItemState.INCLUDED)
        )
        if year is not None:
            planned_q = planned_q.where(AllocationPlan.award_year == year)
        planned = int(s.scalar(planned_q) or 0)
    return {
        "awarded_by_clause_fen": by_clause,
        "awarded_by_division_fen": by_division,
        "awarded_by_year_fen": by_year,
        "applications_by_state": states,
        "planned_fen": planned,
    }
