"""The whole fulfilment path on SQLite and PostgreSQL: apply, review, plan, notice, approve, pay."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from huiqi.db.tables import LedgerEntry
from huiqi.fulfilment.decisions import LineDecision
from huiqi.service import applications, plans
from huiqi.service import audit as audit_service
from huiqi.service.errors import Conflict, Invalid, NotFound
from huiqi.service.uow import Services

from .conftest import ORG_A, Cast, Clock

FACTS: dict[str, Any] = {
    "applicant": {
        "credit_code": ORG_A,
        "name": "x",
        "kind": "cbec_enterprise",
        "registered_locally": True,
        "tax_paying_locally": True,
        "independent_legal_person": True,
        "in_customs_cbec_statistics": True,
    },
    "trade": {"export_usd": "250000", "import_usd": "0"},
    "staff_training": {"costs_cny": "40000"},
}


def approve_all(view: applications.ApplicationView) -> list[LineDecision]:
    return [
        LineDecision(ln.clause_id, ln.subject_id, True, ln.engine_fen, "符合政策")
        for ln in view.lines
    ]


def test_an_application_goes_from_draft_to_paid(svc: Services, cast: Cast, clock: Clock) -> None:
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a", "7.1"], facts=FACTS
    )
    assert draft.state == "draft"
    submitted = applications.submit(svc, cast.alice, draft.id)
    assert submitted.state == "submitted"
    assert submitted.line("4.1a").engine_fen == 20_000_000  # 250,000 USD ≥ 20万 → 20万元
    assert submitted.line("7.1").engine_fen == 1_200_000  # 30% × 40,000

    returned = applications.return_for_correction(svc, cast.rui, draft.id, "请补充培训发票")
    assert returned.state == "returned" and returned.return_reason == "请补充培训发票"
    facts = {**FACTS, "staff_training": {"costs_cny": "50000"}}
    applications.update_draft(svc, cast.bob, draft.id, facts=facts)  # bob works with alice
    resubmitted = applications.resubmit(svc, cast.alice, draft.id)
    assert resubmitted.line("7.1").engine_fen == 1_500_000

    verified = applications.verify(svc, cast.rui, draft.id, approve_all(resubmitted))
    assert verified.state == "verified"
    assert {ln.decision for ln in verified.lines} == {"approved"}

    plan = plans.draft(svc, cast.dai, year=2022, title="2022年度跨境电商扶持资金分配方案")
    assert plan.granted_fen == 21_500_000
    plan = plans.open_notice(svc, cast.dai, plan.id, days=5)  # Wednesday 1 March, 17:00 in Beijing
    assert plan.notice_end == date(2023, 3, 8)  # Thu 2, Fri 3, Mon 6, Tue 7, Wed 8
    objection = plans.object_to(svc, plan.id, submitted_by="市民张某", text="请核实出口额")
    with pytest.raises(Conflict):
        plans.close_notice(svc, cast.dai, plan.id)  # the notice has not run its course
    plans.resolve_objection(svc, cast.dai, objection, uphold=False, resolution="经核实无误")
    clock.past(plan.notice_end)
    plans.close_notice(svc, cast.dai, plan.id)
    with pytest.raises(Conflict):
        plans.approve(svc, cast.shi, plan.id)  # neither review yet
    plans.review(svc, cast.ou, plan.id, approve=True)
    plans.review(svc, cast.fang, plan.id, approve=True)
    plan = plans.approve(svc, cast.shi, plan.id)
    assert plan.state == "approved"

    with svc.reading() as s:
        ledger = s.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        assert [(e.clause_id, e.amount_fen) for e in ledger] == [
            ("4.1a", 20_000_000),
            ("7.1", 1_500_000),
        ]

    for item in plan.items:
        plan = plans.disburse(
            svc,
            cast.cai,
            item.id,
            amount_fen=item.granted_fen,
            paid_on=date(2023, 4, 1),
            reference=f"BH-{item.id}",
        )
    assert plans.close(svc, cast.fang, plan.id).state == "closed"

    with svc.reading() as s:
        count, problems = audit_service.verify(s)
    assert problems == [] and count > 20


def test_the_next_year_tops_up_a_one_time_award_from_the_ledger(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    first = applications.create_draft(
        svc,
        cast.alice,
        org_code=ORG_A,
        year=2021,
        clauses=["4.1a"],
        facts={**FACTS, "trade": {"export_usd": 5}},
    )
    view = applications.submit(svc, cast.alice, first.id)
    applications.verify(svc, cast.rui, first.id, approve_all(view))
    plan = plans.draft(svc, cast.dai, year=2021, title="2021")
    clock.past(plans.open_notice(svc, cast.dai, plan.id).notice_end)
    plans.close_notice(svc, cast.dai, plan.id)
    plans.review(svc, cast.fang, plan.id, approve=True)
    plans.review(svc, cast.ou, plan.id, approve=True)
    plans.approve(svc, cast.shi, plan.id)

    second = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a"], facts=FACTS
    )
    view = applications.submit(svc, cast.alice, second.id)
    assert view.line("4.1a").engine_fen == 10_000_000  # 20万 tier less the 10万 already paid


def test_applicants_never_reach_another_organisations_application(
    svc: Services, cast: Cast
) -> None:
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a"], facts=FACTS
    )
    with pytest.raises(NotFound):
        applications.get(svc, cast.charlie, draft.id)
    # Writing is refused the same way as reading: charlie learns nothing of A's records.
    with pytest.raises(NotFound):
        applications.submit(svc, cast.charlie, draft.id)
    with pytest.raises(NotFound):
        applications.create_draft(
            svc, cast.charlie, org_code=ORG_A, year=2022, clauses=["4.1a"], facts=FACTS
        )
    assert applications.list_for(svc, cast.charlie) == []
    assert [a.id for a in applications.list_for(svc, cast.shen)] == [draft.id]  # auditor reads


def test_a_reviewer_cannot_set_a_fixed_amount_or_exceed_a_ceiling(
    svc: Services, cast: Cast
) -> None:
    facts = {**FACTS, "trade": {"export_usd": "31000000"}}
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a", "4.2"], facts=facts
    )
    view = applications.submit(svc, cast.alice, draft.id)
    assert view.line("4.2").engine_fen == 100_000_000  # ceiling 100万
    bad = [
        LineDecision("4.1a", ORG_A, True, 1, "多给一点"),
        LineDecision("4.2", ORG_A, True, 100_000_001, "超过上限"),
    ]
    with pytest.raises(Invalid) as raised:
        applications.verify(svc, cast.rui, draft.id, bad)
    paths = {p.path for p in raised.value.problems}
    assert paths == {f"decisions[4.1a/{ORG_A}].amount", f"decisions[4.2/{ORG_A}].amount"}
    assert applications.get(svc, cast.rui, draft.id).state == "submitted"  # nothing half-written
    no_reason = [
        LineDecision("4.1a", ORG_A, True, None, None),
        LineDecision("4.2", ORG_A, True, 80_000_000, ""),
    ]
    with pytest.raises(Invalid) as raised:
        applications.verify(svc, cast.rui, draft.id, no_reason)
    assert {p.path for p in raised.value.problems} == {f"decisions[4.2/{ORG_A}].reason"}
    ok = [
        LineDecision("4.1a", ORG_A, True, None, None),
        LineDecision("4.2", ORG_A, True, 80_000_000, "按招引协议核定80万元"),
    ]
    assert applications.verify(svc, cast.rui, draft.id, ok).line("4.2").decided_fen == 80_000_000


def test_no_account_both_verifies_for_the_bureau_and_approves_for_the_city(
    svc: Services, cast: Cast
) -> None:
    """The reviewer and the approver are two bodies (保障措施: 市商务局拟定 … 报市人民政府批准):
    one account cannot hold both roles, so nobody approves what they verified themselves.
    (Per-person checks on a plan are in test_duties.py.)"""
    from huiqi.fulfilment.roles import Role
    from huiqi.service import orgs
    from huiqi.service.errors import Invalid

    with pytest.raises(Invalid) as refused:
        orgs.add_user(
            svc,
            cast.admin,
            username="both",
            display_name="兼任",
            roles=[Role.COMMERCE_REVIEWER, Role.CITY_APPROVER],
        )
    assert [p.path for p in refused.value.problems] == ["roles"]
    assert "职责分离" in refused.value.zh and "separation of duties" in refused.value.en
