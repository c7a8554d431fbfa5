"""追回: recovering paid awards, and what the netted ledger then allows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from huiqi.db.tables import AuditEntry, LedgerEntry, Organisation
from huiqi.fulfilment.decisions import LineDecision
from huiqi.service import applications, plans, records, recoveries
from huiqi.service import audit as audit_service
from huiqi.service.errors import Conflict, Forbidden, Invalid
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
}
TIER_2 = 20_000_000  # 4.1a: export ≥ 20万美元 → 20万元


def approve_all(view: applications.ApplicationView) -> list[LineDecision]:
    return [
        LineDecision(ln.clause_id, ln.subject_id, True, ln.engine_fen, "符合政策")
        for ln in view.lines
    ]


def award(
    svc: Services, cast: Cast, clock: Clock, year: int, *, paid_fen: int | None = None
) -> plans.PlanItemView:
    """ORG_A's 4.1a award for ``year``, approved and paid (in full unless ``paid_fen``)."""
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=year, clauses=["4.1a"], facts=FACTS
    )
    view = applications.submit(svc, cast.alice, draft.id)
    applications.verify(svc, cast.rui, draft.id, approve_all(view))
    plan = plans.draft(svc, cast.dai, year=year, title=f"{year}")
    clock.past(plans.open_notice(svc, cast.dai, plan.id).notice_end)
    plans.close_notice(svc, cast.dai, plan.id)
    plans.review(svc, cast.fang, plan.id, approve=True)
    plans.review(svc, cast.ou, plan.id, approve=True)
    [item] = plans.approve(svc, cast.shi, plan.id).items
    amount = item.granted_fen if paid_fen is None else paid_fen
    if amount:
        plan_view = plans.disburse(
            svc, cast.cai, item.id, amount_fen=amount, paid_on=date(2023, 4, 1), reference="P-1"
        )
        [item] = plan_view.items
    return item


def next_year_4_1a(svc: Services, cast: Cast, year: int) -> int | None:
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=year, clauses=["4.1a"], facts=FACTS
    )
    return applications.submit(svc, cast.alice, draft.id).line("4.1a").engine_fen


def netted(svc: Services) -> list[tuple[str, int, int]]:
    with svc.reading() as s:
        org = s.scalars(select(Organisation).where(Organisation.credit_code == ORG_A)).one()
        return [(e.clause_id, e.award_year, e.amount_fen) for e in records.ledger_of(s, org.id)]


def test_after_a_full_recovery_a_later_year_earns_the_full_tier_again(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    item = award(svc, cast, clock, 2021)
    assert (item.granted_fen, item.paid_fen) == (TIER_2, TIER_2)
    assert netted(svc) == [("4.1a", 2021, TIER_2)]

    done = recoveries.recover(svc, cast.rui, item.id, TIER_2, "出口数据不实，全额追回")
    assert (done.amount_fen, done.paid_fen, done.recovered_fen) == (TIER_2, TIER_2, TIER_2)
    assert done.recalculation["corrected"] is False
    assert netted(svc) == []  # the award and its recovery cancel out
    with svc.reading() as s:
        rows = s.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        assert [(r.kind.value, r.amount_fen, r.recovery_id) for r in rows] == [
            ("award", TIER_2, None),
            ("recovery", -TIER_2, done.id),
        ]
    # Without the recovery the top-up would be 0 (20万 tier less 20万 paid); now it is whole.
    assert next_year_4_1a(svc, cast, 2022) == TIER_2


def test_after_a_partial_recovery_a_later_year_tops_up_to_the_tier_from_the_netted_ledger(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    item = award(svc, cast, clock, 2021)
    done = recoveries.recover(svc, cast.rui, item.id, 5_000_000, "部分出口额不实")
    assert done.recovered_fen == 5_000_000
    assert netted(svc) == [("4.1a", 2021, 15_000_000)]
    assert next_year_4_1a(svc, cast, 2022) == 5_000_000  # 20万 tier less the 15万 kept


def test_no_more_than_was_paid_less_what_was_recovered_can_be_recovered(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    item = award(svc, cast, clock, 2021, paid_fen=12_000_000)  # 12万 of 20万 paid so far
    with pytest.raises(Invalid) as raised:
        recoveries.recover(svc, cast.rui, item.id, 12_000_001, "r")
    [problem] = raised.value.problems
    assert (problem.path, problem.value) == ("amount_fen", 12_000_001)
    assert "120,000.00" in problem.en
    recoveries.recover(svc, cast.rui, item.id, 7_000_000, "第一次追回")
    with pytest.raises(Invalid):
        recoveries.recover(svc, cast.rui, item.id, 5_000_001, "r")
    last = recoveries.recover(svc, cast.rui, item.id, 5_000_000, "第二次追回")
    assert last.recovered_fen == 12_000_000
    with pytest.raises(Invalid):
        recoveries.recover(svc, cast.rui, item.id, 1, "r")
    assert [r.amount_fen for r in recoveries.recoveries_of(svc, cast.shen, item.id)] == [
        7_000_000,
        5_000_000,
    ]
    assert netted(svc) == [("4.1a", 2021, 8_000_000)]


def test_an_unpaid_item_has_nothing_to_recover(svc: Services, cast: Cast, clock: Clock) -> None:
    item = award(svc, cast, clock, 2021, paid_fen=0)
    with pytest.raises(Conflict):
        recoveries.recover(svc, cast.rui, item.id, 1, "r")


def test_only_the_commerce_bureau_recovers_and_with_a_reason(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    item = award(svc, cast, clock, 2021)
    for someone in (cast.fang, cast.shi, cast.alice):
        with pytest.raises(Forbidden):
            recoveries.recover(svc, someone, item.id, 1, "r")
    with pytest.raises(Invalid) as raised:
        recoveries.recover(svc, cast.rui, item.id, 0, " ")
    assert {(p.path, p.value) for p in raised.value.problems} == {
        ("amount_fen", 0),
        ("reason", " "),
    }


def test_corrected_facts_are_re_run_and_the_clauses_new_result_is_kept_with_the_policy_hash(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    item = award(svc, cast, clock, 2022)
    corrected = {**FACTS, "trade": {"export_usd": "150000", "import_usd": "0"}}
    with pytest.raises(Invalid) as raised:
        recoveries.recover(
            svc, cast.rui, item.id, 1, "r", corrected_facts={**FACTS, "trade": {"export_usd": -1}}
        )
    assert [p.path for p in raised.value.problems] == ["corrected_facts.trade.export_usd"]

    done = recoveries.recover(
        svc,
        cast.rui,
        item.id,
        10_000_000,
        "实际出口15万美元，只够第一档",
        corrected_facts=corrected,
    )
    calc = done.recalculation
    assert calc["policy_sha256"] == svc.package.sha256
    assert calc["clause"]["clause"] == "4.1a" and calc["clause"]["tier"] == "10万"
    # The award under review does not count against itself: the 10万 tier is what was due.
    assert (calc["engine_fen"], calc["entitled_fen"], calc["overpaid_fen"]) == (
        10_000_000,
        10_000_000,
        10_000_000,
    )
    assert calc["facts"]["trade"]["export_usd"] == "150000"
    assert (calc["paid_fen"], calc["recovered_before_fen"]) == (TIER_2, 0)
    assert netted(svc) == [("4.1a", 2022, 10_000_000)]


def test_the_audit_trail_holds_the_recovery(svc: Services, cast: Cast, clock: Clock) -> None:
    item = award(svc, cast, clock, 2021)
    done = recoveries.recover(svc, cast.rui, item.id, 3_000_000, "核查发现重复申报")
    with svc.reading() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
        content = audit_service.content_of(entry)
        _, problems = audit_service.verify(s)
    assert (content["action"], content["actor"]) == ("award.recover", "rui")
    assert (content["object_id"], content["reason"]) == (str(done.id), "核查发现重复申报")
    assert (content["after"]["amount_fen"], content["after"]["ledger_fen"]) == (
        3_000_000,
        -3_000_000,
    )
    assert content["before"] == {"plan_item": item.id, "paid_fen": TIER_2, "recovered_fen": 0}
    assert problems == []
