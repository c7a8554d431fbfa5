"""Applying at once (create and submit in one request) is the same as the two steps, or nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from huiqi.db.tables import Application, AuditEntry
from huiqi.service import applications, registry
from huiqi.service import audit as audit_service
from huiqi.service.errors import Conflict, Invalid, NotFound
from huiqi.service.uow import Services

from .conftest import ORG_A, ORG_B, Cast
from .test_workflow import FACTS


def _counts(svc: Services) -> tuple[int, int]:
    with svc.reading() as s:
        apps = s.scalar(select(func.count()).select_from(Application))
        entries = s.scalar(select(func.count()).select_from(AuditEntry))
    return int(apps or 0), int(entries or 0)


def test_at_once_gives_what_the_two_steps_give(svc: Services, cast: Cast) -> None:
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a", "5.2b"], facts=FACTS
    )
    stepwise = applications.submit(svc, cast.alice, draft.id)
    at_once = applications.create_draft(
        svc,
        cast.alice,
        org_code=ORG_A,
        year=2023,
        clauses=["4.1a", "5.2b"],
        facts=FACTS,
        submit=True,
    )
    assert at_once.state == stepwise.state == "submitted"
    assert at_once.id != stepwise.id
    shape = [(ln.clause_id, ln.subject_id, ln.eligible, ln.engine_fen) for ln in stepwise.lines]
    # 4.1a is once per enterprise: 2023 tops up nothing the 2022 application already claims
    # only once approved, so both applications show the same engine amounts here.
    assert [(ln.clause_id, ln.subject_id, ln.eligible, ln.engine_fen) for ln in at_once.lines] == (
        shape
    )
    with svc.reading() as s:
        actions = s.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "application", AuditEntry.object_id == str(at_once.id))
            .order_by(AuditEntry.seq)
        ).all()
        assert actions == ["application.create", "application.submit"]
        assert audit_service.verify(s)[1] == []


@pytest.mark.parametrize(
    ("who", "code", "clauses", "error"),
    [
        ("charlie", ORG_A, ["4.1a"], NotFound),  # another organisation's code
        ("alice", ORG_A, ["9.9"], Invalid),  # no such clause
        ("rui", ORG_A, ["4.1a"], Exception),  # staff do not apply
    ],
)
def test_at_once_refused_leaves_nothing_behind(
    svc: Services, cast: Cast, who: str, code: str, clauses: list[str], error: type[Exception]
) -> None:
    before = _counts(svc)
    with pytest.raises(error):
        applications.create_draft(
            svc,
            getattr(cast, who),
            org_code=code,
            year=2022,
            clauses=clauses,
            facts=FACTS,
            submit=True,
        )
    assert _counts(svc) == before


def test_at_once_by_a_listed_organisation_leaves_no_draft(svc: Services, cast: Cast) -> None:
    registry.list_dishonest(svc, cast.rui, ORG_B, "信用中国（湖南）", None, date(2023, 2, 1))
    before = _counts(svc)
    facts = {**FACTS, "applicant": {**FACTS["applicant"], "credit_code": ORG_B}}
    with pytest.raises(Conflict):
        applications.create_draft(
            svc, cast.charlie, org_code=ORG_B, year=2022, clauses=["4.1a"], facts=facts, submit=True
        )
    assert _counts(svc) == before
