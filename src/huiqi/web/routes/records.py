"""The ledger, the audit trail and reports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from huiqi.service import audit as audit_service
from huiqi.service import queries
from huiqi.service.actors import require
from huiqi.service.queries import READERS, LedgerRow
from huiqi.web.deps import Svc, User
from huiqi.web.exact import ExactRoute
from huiqi.web.types import LimitQ, OffsetQ, YearQ

router = APIRouter(tags=["records 台账与审计"], route_class=ExactRoute)


@router.get("/ledger", summary="奖补台账 / the award ledger")
def ledger(
    svc: Svc,
    actor: User,
    year: YearQ = None,
    clause: Annotated[str | None, Query(max_length=16)] = None,
    division: Annotated[str | None, Query(max_length=100)] = None,
    limit: LimitQ = 50,
    offset: OffsetQ = 0,
) -> list[LedgerRow]:
    return queries.ledger(
        svc, actor, year=year, clause=clause, division=division, page=queries.Page(limit, offset)
    )


@router.get("/audit", summary="审计记录 / the audit trail")
def audit(
    svc: Svc,
    actor: User,
    object_type: Annotated[str | None, Query(max_length=32)] = None,
    object_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: LimitQ = 50,
    offset: OffsetQ = 0,
) -> list[dict[str, Any]]:
    return queries.audit_log(
        svc, actor, object_type=object_type, object_id=object_id, page=queries.Page(limit, offset)
    )


@router.get("/audit/verify", summary="检查审计链 / verify the audit chain")
def verify(svc: Svc, actor: User) -> dict[str, Any]:
    require(actor, *READERS)
    with svc.reading() as s:
        count, problems = audit_service.verify(s)
    return {"entries": count, "intact": not problems, "problems": problems}


@router.get("/reports/summary", summary="汇总报表 / summary report")
def summary(svc: Svc, actor: User, year: YearQ = None) -> dict[str, Any]:
    return queries.summary(svc, actor, year=year)
