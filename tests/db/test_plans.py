"""Allocation plans beyond the happy path, on SQLite and PostgreSQL.

Budgets per paying finance and the three allocation rules, objections that pull an item
back, returns that restart the reviews, the notice's limits, payments, and the
discretionary lines that wait for the leading group office.

The budget scenario (award year 2022), worked out by hand:

* company A (北湖区, cbec): export 3100万美元 → 4.1a fixed 50万 = 50,000,000 fen;
  4.2 ceiling 100万, approved at 80万 = 80,000,000 fen; 7.1 30% × 40,000 = 1,200,000 fen.
  Requested 131,200,000. Budget 65,600,000 → gap 65,600,000.
* company B (苏仙区, service): 7.1 30% × 100,000 = 3,000,000 fen; O2O stores S1 (600 m²,
  ceiling 50万, approved 50万 = 50,000,000) and S2 (150 m², ceiling 20万, approved 20万 =
  20,000,000). Requested 73,000,000. Budget 36,500,000 → gap 36,500,000.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from huiqi.db.tables import Budget, LedgerEntry, Organisation, PreApproval
from huiqi.fulfilment.decisions import LineDecision
from huiqi.fulfilment.roles import Role
from huiqi.service import applications, orgs, plans
from huiqi.service.actors import Actor, load_actor
from huiqi.service.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from huiqi.service.uow import Services

from .conftest import ORG_A, ORG_B, PARK, Cast, Clock

YEAR = 2022
BEIHU, SUXIAN, HIGHTECH = "北湖区", "苏仙区", "郴州高新区"
ENTITLED = {"fixed", "computed", "external"}

SCOPE: dict[str, Any] = {
    "registered_locally": True,
    "tax_paying_locally": True,
    "independent_legal_person": True,
}
FACTS_A: dict[str, Any] = {
    "applicant": {
        **SCOPE,
        "credit_code": ORG_A,
        "name": "x",
        "kind": "cbec_enterprise",
        "in_customs_cbec_statistics": True,
    },
    "trade": {"export_usd": "31000000", "import_usd": "0"},
    "staff_training": {"costs_cny": "40000"},
}
FACTS_B: dict[str, Any] = {
    "applicant": {**SCOPE, "credit_code": ORG_B, "name": "y", "kind": "service_enterprise"},
    "stores": [
        {"id": "S1", "kind": "o2o_experience", "area_m2": "600"},
        {"id": "S2", "kind": "o2o_experience", "area_m2": "150"},
    ],
    "staff_training": {"costs_cny": "100000"},
}
#: What the reviewer approves for the ceiling lines, with a reason.
CEILINGS_A = {("4.2", ORG_A): 80_000_000}
CEILINGS_B = {("4.4a", "S1"): 50_000_000, ("4.4a", "S2"): 20_000_000}

# ---------------------------------------------------------------------------------------
# helpers (in the style of test_workflow.py)


def decide(
    view: applications.ApplicationView, amounts: dict[tuple[str, str], int] | None = None
) -> list[LineDecision]:
    """Approve every line: entitlements as the engine says, others at the amount given."""
    amounts = amounts or {}
    decisions = []
    for ln in view.lines:
        if ln.kind in ENTITLED:
            decisions.append(LineDecision(ln.clause_id, ln.subject_id, True, None, "符合政策"))
        else:
            amount = amounts[(ln.clause_id, ln.subject_id)]
            decisions.append(
                LineDecision(ln.clause_id, ln.subject_id, True, amount, "按评审意见核定")
            )
    return decisions


def verified(
    svc: Services,
    applicant: Actor,
    reviewer: Actor,
    *,
    org: str,
    clauses: list[str],
    facts: dict[str, Any],
    amounts: dict[tuple[str, str], int] | None = None,
) -> applications.ApplicationView:
    draft = applications.create_draft(
        svc, applicant, org_code=org, year=YEAR, clauses=clauses, facts=facts
    )
    view = applications.submit(svc, applicant, draft.id)
    return applications.verify(svc, reviewer, draft.id, decide(view, amounts))


def two_divisions(svc: Services, cast: Cast, *, budgets: bool = True) -> None:
    """Company A in 北湖区 and company B in 苏仙区, verified, with their budgets."""
    verified(
        svc,
        cast.alice,
        cast.rui,
        org=ORG_A,
        clauses=["4.1a", "4.2", "7.1"],
        facts=FACTS_A,
        amounts=CEILINGS_A,
    )
    verified(
        svc,
        cast.charlie,
        cast.rui,
        org=ORG_B,
        clauses=["7.1", "4.4a"],
        facts=FACTS_B,
        amounts=CEILINGS_B,
    )
    if budgets:
        plans.set_budget(svc, cast.fang, division=BEIHU, year=YEAR, amount_fen=65_600_000)
        plans.set_budget(svc, cast.fang, division=SUXIAN, year=YEAR, amount_fen=36_500_000)


def granted(plan: plans.PlanView) -> dict[tuple[str, str], int]:
    return {(i.clause_id, i.subject_id): i.granted_fen for i in plan.items}


def item_id(plan: plans.PlanView, clause: str, subject: str) -> int:
    return next(i.id for i in plan.items if (i.clause_id, i.subject_id) == (clause, subject))


def today(clock: Clock) -> date:
    return clock().date()


def notice(
    svc: Services, cast: Cast, clock: Clock, plan_id: int, *, by: Actor | None = None
) -> plans.PlanView:
    """Open a notice now for the required period, let it run out, and close it."""
    drafter = by or cast.dai
    clock.past(plans.open_notice(svc, drafter, plan_id).notice_end)
    return plans.close_notice(svc, drafter, plan_id)


def approved(svc: Services, cast: Cast, clock: Clock, plan_id: int) -> plans.PlanView:
    notice(svc, cast, clock, plan_id)
    plans.review(svc, cast.fang, plan_id, approve=True)
    plans.review(svc, cast.ou, plan_id, approve=True)
    return plans.approve(svc, cast.shi, plan_id)


@dataclass(frozen=True)
class Entry:
    plan_id: int | None
    plan_item_id: int | None
    clause_id: str
    subject_id: str
    award_year: int
    amount_fen: int


def ledger(svc: Services) -> list[Entry]:
    with svc.reading() as s:
        return [
            Entry(e.plan_id, e.plan_item_id, e.clause_id, e.subject_id, e.award_year, e.amount_fen)
            for e in s.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        ]


def bilingual(error: ServiceError) -> None:
    assert error.zh and error.en and error.zh != error.en


def add_applicant(svc: Services, cast: Cast, username: str, org: str) -> Actor:
    orgs.add_user(
        svc,
        cast.admin,
        username=username,
        display_name=username,
        roles=[Role.APPLICANT],
        org_code=org,
    )
    with svc.reading() as s:
        return load_actor(s, username)


SIMPLE_FACTS: dict[str, Any] = {  # test_workflow's company A: 4.1a 20万, 7.1 12,000元
    **FACTS_A,
    "trade": {"export_usd": "250000", "import_usd": "0"},
}


def simple_plan(svc: Services, cast: Cast) -> plans.PlanView:
    """4.1a 20,000,000 fen and 7.1 1,200,000 fen for company A, no budget recorded."""
    verified(svc, cast.alice, cast.rui, org=ORG_A, clauses=["4.1a", "7.1"], facts=SIMPLE_FACTS)
    return plans.draft(svc, cast.dai, year=YEAR, title="2022年度分配方案")


# ---------------------------------------------------------------------------------------
# budgets and allocation rules


def test_only_the_finance_bureau_sets_a_budget_and_never_a_negative_one(
    svc: Services, cast: Cast
) -> None:
    # A budget is the finance bureau's decision; the administrator decides nothing (issue 11.2).
    for outsider in (cast.dai, cast.admin):
        with pytest.raises(Forbidden) as refused:
            plans.set_budget(svc, outsider, division=BEIHU, year=YEAR, amount_fen=1)
        bilingual(refused.value)
    with pytest.raises(Invalid) as invalid:
        plans.set_budget(svc, cast.fang, division=BEIHU, year=YEAR, amount_fen=-1)
    assert [p.path for p in invalid.value.problems] == ["amount_fen"]
    with pytest.raises(Invalid):
        plans.set_budget(svc, cast.fang, division=" ", year=YEAR, amount_fen=1)
    plans.set_budget(svc, cast.fang, division=BEIHU, year=YEAR, amount_fen=1)
    plans.set_budget(svc, cast.fang, division=BEIHU, year=YEAR, amount_fen=65_600_000)
    plans.set_budget(svc, cast.fang, division=SUXIAN, year=YEAR, amount_fen=36_500_000)
    plans.set_budget(svc, cast.fang, division=BEIHU, year=2023, amount_fen=0)
    with svc.reading() as s:
        budgets = {(b.division, b.award_year): b.amount_fen for b in s.scalars(select(Budget))}
    assert budgets == {
        (BEIHU, YEAR): 65_600_000,  # set twice: the second figure replaces the first
        (SUXIAN, YEAR): 36_500_000,
        (BEIHU, 2023): 0,
    }


def test_a_plan_over_budget_scales_only_the_ceilings_and_shows_each_finances_gap(
    svc: Services, cast: Cast
) -> None:
    two_divisions(svc, cast)
    plan = plans.draft(svc, cast.dai, year=YEAR, title="2022年度分配方案")
    assert plan.rule == "pro_rata_flexible" and plan.quota is None
    assert {(i.clause_id, i.subject_id): i.requested_fen for i in plan.items} == {
        ("4.1a", ORG_A): 50_000_000,
        ("4.2", ORG_A): 80_000_000,
        ("7.1", ORG_A): 1_200_000,
        ("7.1", ORG_B): 3_000_000,
        ("4.4a", "S1"): 50_000_000,
        ("4.4a", "S2"): 20_000_000,
    }
    # 北湖区: room 65,600,000 − 51,200,000 entitled = 14,400,000 for 4.2's 80,000,000 → 9/50.
    # 苏仙区: room 36,500,000 − 3,000,000 = 33,500,000 for 70,000,000 → 67/140:
    #   S1 50,000,000 × 67/140 = 23,928,571.43, S2 20,000,000 × 67/140 = 9,571,428.57;
    #   floors sum to 33,499,999 and the last fen goes to S2's larger remainder.
    assert granted(plan) == {
        ("4.1a", ORG_A): 50_000_000,
        ("4.2", ORG_A): 14_400_000,
        ("7.1", ORG_A): 1_200_000,
        ("7.1", ORG_B): 3_000_000,
        ("4.4a", "S1"): 23_928_571,
        ("4.4a", "S2"): 9_571_429,
    }
    assert plan.factors[BEIHU] == {
        "budget_fen": 65_600_000,
        "used_by_other_plans_fen": 0,
        "requested_fen": 131_200_000,
        "granted_fen": 65_600_000,
        "gap_fen": 65_600_000,
        "factor": "9/50",
    }
    assert plan.factors[SUXIAN] == {
        "budget_fen": 36_500_000,
        "used_by_other_plans_fen": 0,
        "requested_fen": 73_000_000,
        "granted_fen": 36_500_000,
        "gap_fen": 36_500_000,
        "factor": "67/140",
    }
    assert plan.factors["excluded"] == []
    by_division: dict[str, int] = {}
    for i in plan.items:
        by_division[i.division] = by_division.get(i.division, 0) + i.granted_fen
    assert plan.totals_by_division() == by_division == {BEIHU: 65_600_000, SUXIAN: 36_500_000}
    assert plan.granted_fen == 102_100_000
    assert plans.get(svc, cast.shen, plan.id) == plan  # as stored, read back by the auditor


def test_reallocating_by_each_rule_is_exact_and_running_a_rule_again_gives_the_same_plan(
    svc: Services, cast: Cast
) -> None:
    two_divisions(svc, cast)
    drafted = plans.draft(svc, cast.dai, year=YEAR, title="2022年度分配方案")

    every = plans.reallocate(svc, cast.dai, drafted.id, rule="pro_rata_all")
    # 65,600,000 / 131,200,000 = 36,500,000 / 73,000,000 = 1/2: everything halves.
    assert granted(every) == {
        ("4.1a", ORG_A): 25_000_000,
        ("4.2", ORG_A): 40_000_000,
        ("7.1", ORG_A): 600_000,
        ("7.1", ORG_B): 1_500_000,
        ("4.4a", "S1"): 25_000_000,
        ("4.4a", "S2"): 10_000_000,
    }
    assert every.rule == "pro_rata_all"
    assert every.factors[BEIHU]["factor"] == every.factors[SUXIAN]["factor"] == "1/2"
    assert plans.reallocate(svc, cast.dai, drafted.id, rule="pro_rata_all") == every

    quota = plans.reallocate(svc, cast.dai, drafted.id, rule="quota", quota=1)
    # N = 1 in each paying finance, ranked by item: A's first line (4.1a) and B's (7.1).
    assert granted(quota) == {
        ("4.1a", ORG_A): 50_000_000,
        ("4.2", ORG_A): 0,
        ("7.1", ORG_A): 0,
        ("7.1", ORG_B): 3_000_000,
        ("4.4a", "S1"): 0,
        ("4.4a", "S2"): 0,
    }
    assert (quota.rule, quota.quota) == ("quota", 1)
    assert quota.factors[BEIHU]["factor"] == "125/328"  # 50,000,000 / 131,200,000
    assert quota.factors[SUXIAN]["factor"] == "3/73"  # 3,000,000 / 73,000,000
    assert quota.factors[BEIHU]["gap_fen"] == 65_600_000
    assert quota.totals_by_division() == {BEIHU: 50_000_000, SUXIAN: 3_000_000}
    assert plans.reallocate(svc, cast.dai, drafted.id, rule="quota", quota=1) == quota

    back = plans.reallocate(svc, cast.dai, drafted.id, rule="pro_rata_flexible")
    assert back == drafted  # the same inputs give the same plan, item for item


def test_a_reallocation_needs_a_known_rule_a_quota_number_the_drafter_and_a_draft(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    two_divisions(svc, cast)
    plan = plans.draft(svc, cast.dai, year=YEAR, title="2022")
    with pytest.raises(Invalid) as unknown:
        plans.reallocate(svc, cast.dai, plan.id, rule="lottery")
    assert [p.path for p in unknown.value.problems] == ["rule"]
    with pytest.raises(Invalid) as no_n:
        plans.reallocate(svc, cast.dai, plan.id, rule="quota")
    assert [p.path for p in no_n.value.problems] == ["quota"]
    with pytest.raises(Forbidden):
        plans.reallocate(svc, cast.fang, plan.id, rule="pro_rata_all")
    plans.open_notice(svc, cast.dai, plan.id)
    with pytest.raises(Conflict) as noticed:
        plans.reallocate(svc, cast.dai, plan.id, rule="pro_rata_all")
    bilingual(noticed.value)
    assert granted(plans.get(svc, cast.dai, plan.id)) == granted(plan)


def test_an_approved_plan_writes_the_scaled_amounts_to_the_ledger(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    two_divisions(svc, cast)
    plan = plans.draft(svc, cast.dai, year=YEAR, title="2022年度分配方案")
    approved_plan = approved(svc, cast, clock, plan.id)
    assert approved_plan.state == "approved"
    assert granted(approved_plan) == granted(plan)
    entries = ledger(svc)
    assert {e.plan_item_id: e.amount_fen for e in entries} == {
        i.id: i.granted_fen for i in plan.items
    }
    assert {(e.clause_id, e.subject_id): e.amount_fen for e in entries} == granted(plan)
    assert {e.plan_id for e in entries} == {plan.id}
    assert {e.award_year for e in entries} == {YEAR}
    assert sum(e.amount_fen for e in entries) == 65_600_000 + 36_500_000


def test_an_approved_quota_plan_writes_nothing_for_the_items_left_at_zero(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    two_divisions(svc, cast)
    plan = plans.draft(svc, cast.dai, year=YEAR, title="2022", rule="quota", quota=1)
    approved(svc, cast, clock, plan.id)
    assert sorted((e.clause_id, e.subject_id, e.amount_fen) for e in ledger(svc)) == [
        ("4.1a", ORG_A, 50_000_000),
        ("7.1", ORG_B, 3_000_000),
    ]


# ---------------------------------------------------------------------------------------
# the public notice and objections


def test_an_upheld_objection_pulls_the_item_back_and_reopens_its_application(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    two_divisions(svc, cast)
    plan = plans.draft(svc, cast.dai, year=YEAR, title="2022年度分配方案")
    noticed = plans.open_notice(svc, cast.dai, plan.id)
    target = item_id(plan, "4.2", ORG_A)
    upheld = plans.object_to(
        svc, plan.id, submitted_by="市民张某", text="该企业进出口额有误", item_id=target
    )
    dismissed = plans.object_to(
        svc,
        plan.id,
        submitted_by="市民李某",
        text="请核实门店面积",
        item_id=item_id(plan, "4.4a", "S1"),
    )
    plans.resolve_objection(svc, cast.dai, dismissed, uphold=False, resolution="经核实无误")
    view = plans.resolve_objection(
        svc, cast.rui, upheld, uphold=True, resolution="进出口额待海关数据核实"
    )
    pulled = next(i for i in view.items if i.id == target)
    assert (pulled.state, pulled.granted_fen, pulled.requested_fen) == (
        "pulled_back",
        0,
        80_000_000,
    )
    # The application goes back to review as a whole, so its other items leave with it;
    # company B's items are untouched.
    a_items = {i.id for i in plan.items if i.org_code == ORG_A}
    assert {i.id: (i.state, i.granted_fen) for i in view.items if i.id in a_items} == {
        i: ("pulled_back", 0) for i in a_items
    }
    others = {i.id: (i.state, i.granted_fen) for i in view.items if i.id not in a_items}
    assert others == {i.id: ("included", i.granted_fen) for i in plan.items if i.id not in a_items}
    assert view.totals_by_division() == {SUXIAN: 36_500_000}
    assert view.granted_fen == 36_500_000
    assert view.factors[BEIHU]["granted_fen"] == 0  # the division's figures follow

    app_a = applications.list_for(svc, cast.alice)[0]
    assert app_a.state == "resubmitted"
    assert app_a.return_reason is not None and "进出口额待海关数据核实" in app_a.return_reason
    assert applications.list_for(svc, cast.charlie)[0].state == "verified"  # B untouched
    with pytest.raises(Conflict):
        plans.resolve_objection(svc, cast.dai, upheld, uphold=False, resolution="再议")

    clock.past(noticed.notice_end)
    plans.close_notice(svc, cast.dai, plan.id)
    plans.review(svc, cast.fang, plan.id, approve=True)
    plans.review(svc, cast.ou, plan.id, approve=True)
    plans.approve(svc, cast.shi, plan.id)
    assert {e.subject_id for e in ledger(svc)} & {ORG_A} == set()  # nothing of A is paid

    # Re-reviewed, A's lines wait for the next plan.
    applications.verify(svc, cast.rui, app_a.id, decide(app_a, CEILINGS_A))
    second = plans.draft(svc, cast.dai, year=YEAR, title="2022年度第二批")
    assert {(i.clause_id, i.subject_id) for i in second.items} == {
        ("4.1a", ORG_A),
        ("4.2", ORG_A),
        ("7.1", ORG_A),
    }


def test_an_objection_to_the_whole_plan_pulls_nothing_back(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    plans.open_notice(svc, cast.dai, plan.id)
    objection = plans.object_to(svc, plan.id, submitted_by="市民王某", text="程序有瑕疵")
    view = plans.resolve_objection(svc, cast.dai, objection, uphold=True, resolution="已说明")
    assert (
        granted(view) == granted(plan) == {("4.1a", ORG_A): 20_000_000, ("7.1", ORG_A): 1_200_000}
    )
    assert applications.list_for(svc, cast.alice)[0].state == "verified"


def test_objections_after_the_notice_is_closed_are_refused(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    notice(svc, cast, clock, plan.id)
    clock.now -= timedelta(days=1)  # even on a day inside the period, a closed notice is closed
    with pytest.raises(Conflict):
        plans.object_to(svc, plan.id, submitted_by="市民张某", text="还能提吗")


# ---------------------------------------------------------------------------------------
# reviews by the finance bureau and the leading group office


@pytest.mark.parametrize("returner", ["fang", "ou"])
def test_a_return_by_either_reviewer_needs_both_reviews_afresh(
    svc: Services, cast: Cast, clock: Clock, returner: str
) -> None:
    other = "ou" if returner == "fang" else "fang"
    back, ok = getattr(cast, returner), getattr(cast, other)
    plan = simple_plan(svc, cast)
    notice(svc, cast, clock, plan.id)
    plans.review(svc, ok, plan.id, approve=True)
    with pytest.raises(Invalid) as no_reason:
        plans.review(svc, back, plan.id, approve=False, reason="  ")
    assert [p.path for p in no_reason.value.problems] == ["reason"]

    returned = plans.review(svc, back, plan.id, approve=False, reason="请补充预算来源说明")
    assert returned.state == "returned"
    body = {"fang": "finance", "ou": "office"}
    assert returned.reviews == [
        (body[other], True, None),
        (body[returner], False, "请补充预算来源说明"),
    ]
    with pytest.raises(Conflict):
        plans.approve(svc, cast.shi, plan.id)
    with pytest.raises(Conflict):
        plans.review(svc, ok, plan.id, approve=True)  # nothing to review while returned

    notice(svc, cast, clock, plan.id)  # noticed again after the correction
    with pytest.raises(Conflict) as neither:
        plans.approve(svc, cast.shi, plan.id)  # the approval before the return does not count
    assert "finance" in neither.value.en and "office" in neither.value.en
    plans.review(svc, ok, plan.id, approve=True)
    with pytest.raises(Conflict) as one:
        plans.approve(svc, cast.shi, plan.id)
    assert body[returner] in one.value.en and body[other] not in one.value.en
    plans.review(svc, back, plan.id, approve=True)
    assert plans.approve(svc, cast.shi, plan.id).state == "approved"


def test_a_body_reviews_only_once_in_a_round_and_only_reviewers_review(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    with pytest.raises(Conflict):
        plans.review(svc, cast.fang, plan.id, approve=True)  # still a draft
    notice(svc, cast, clock, plan.id)
    plans.review(svc, cast.fang, plan.id, approve=True)
    with pytest.raises(Conflict) as twice:
        plans.review(svc, cast.fang, plan.id, approve=True)
    bilingual(twice.value)
    for outsider in (cast.dai, cast.rui, cast.shi, cast.shen, cast.admin, cast.alice):
        with pytest.raises(Forbidden):
            plans.review(svc, outsider, plan.id, approve=True)
    assert plans.get(svc, cast.shen, plan.id).reviews == [("finance", True, None)]
    plans.review(svc, cast.ou, plan.id, approve=True)
    assert plans.approve(svc, cast.shi, plan.id).state == "approved"


# ---------------------------------------------------------------------------------------
# payments


def test_disbursements_add_up_and_never_exceed_the_granted_amount(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    award = item_id(plan, "4.1a", ORG_A)
    pay: dict[str, Any] = {"paid_on": date(2023, 4, 1), "reference": "BH-2023-001"}
    notice(svc, cast, clock, plan.id)
    with pytest.raises(Conflict):  # not approved yet
        plans.disburse(svc, cast.cai, award, amount_fen=1, **pay)
    plans.review(svc, cast.fang, plan.id, approve=True)
    plans.review(svc, cast.ou, plan.id, approve=True)
    plans.approve(svc, cast.shi, plan.id)

    with pytest.raises(Invalid) as over:
        plans.disburse(svc, cast.cai, award, amount_fen=20_000_001, **pay)
    assert [p.path for p in over.value.problems] == ["amount_fen"]
    for bad in (0, -1):
        with pytest.raises(Invalid):
            plans.disburse(svc, cast.cai, award, amount_fen=bad, **pay)
    with pytest.raises(Invalid) as no_ref:
        plans.disburse(svc, cast.cai, award, amount_fen=1, paid_on=date(2023, 4, 1), reference="")
    assert [p.path for p in no_ref.value.problems] == ["reference"]
    with pytest.raises(Forbidden):
        plans.disburse(svc, cast.shi, award, amount_fen=1, **pay)
    with pytest.raises(NotFound):
        plans.disburse(svc, cast.cai, 10_000, amount_fen=1, **pay)

    first = plans.disburse(svc, cast.cai, award, amount_fen=15_000_000, **pay)
    assert next(i.paid_fen for i in first.items if i.id == award) == 15_000_000
    with pytest.raises(Invalid):  # 15,000,000 paid + 5,000,001 > 20,000,000
        plans.disburse(svc, cast.cai, award, amount_fen=5_000_001, **pay)
    second = plans.disburse(
        svc, cast.cai, award, amount_fen=5_000_000, paid_on=date(2023, 5, 1), reference="BH-002"
    )
    assert {i.id: i.paid_fen for i in second.items} == {
        award: 20_000_000,
        item_id(plan, "7.1", ORG_A): 0,
    }
    with pytest.raises(Invalid):  # fully paid: not one fen more
        plans.disburse(svc, cast.cai, award, amount_fen=1, **pay)


def test_a_plan_closes_only_when_every_item_is_paid_in_full(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    approved(svc, cast, clock, plan.id)
    award, training = item_id(plan, "4.1a", ORG_A), item_id(plan, "7.1", ORG_A)
    pay: dict[str, Any] = {"paid_on": date(2023, 4, 1), "reference": "BH-2023-001"}
    plans.disburse(svc, cast.cai, award, amount_fen=20_000_000, **pay)
    plans.disburse(svc, cast.cai, training, amount_fen=1_199_999, **pay)
    with pytest.raises(Conflict) as unpaid:
        plans.close(svc, cast.fang, plan.id)
    assert str(training) in unpaid.value.zh and str(award) not in unpaid.value.en
    with pytest.raises(Forbidden):  # the city approves; it does not close
        plans.close(svc, cast.shi, plan.id)
    plans.disburse(svc, cast.cai, training, amount_fen=1, **pay)
    closed = plans.close(svc, cast.dai, plan.id)
    assert closed.state == "closed"
    assert {i.id: i.paid_fen for i in closed.items} == {award: 20_000_000, training: 1_200_000}
    with pytest.raises(Conflict):
        plans.disburse(svc, cast.cai, award, amount_fen=1, **pay)
    with pytest.raises(Conflict):
        plans.close(svc, cast.fang, plan.id)


def test_a_scaled_item_is_paid_up_to_its_scaled_amount_only(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    two_divisions(svc, cast)
    plan = plans.draft(svc, cast.dai, year=YEAR, title="2022")
    approved(svc, cast, clock, plan.id)
    leading = item_id(plan, "4.2", ORG_A)  # 80,000,000 approved, 14,400,000 granted
    pay: dict[str, Any] = {"paid_on": date(2023, 4, 1), "reference": "BH-4.2"}
    with pytest.raises(Invalid):
        plans.disburse(svc, cast.cai, leading, amount_fen=14_400_001, **pay)
    view = plans.disburse(svc, cast.cai, leading, amount_fen=14_400_000, **pay)
    assert next(i.paid_fen for i in view.items if i.id == leading) == 14_400_000


# ---------------------------------------------------------------------------------------
# discretionary lines wait for the leading group office


def test_a_parks_discretionary_line_waits_for_the_office_before_any_plan(
    svc: Services, cast: Cast
) -> None:
    pan = add_applicant(svc, cast, "pan", PARK)
    facts = {
        "applicant": {**SCOPE, "credit_code": PARK, "name": "z", "kind": "park"},
        "platform_construction": {"infrastructure_cny": "3000000"},
    }
    draft = applications.create_draft(
        svc, pan, org_code=PARK, year=YEAR, clauses=["3.1"], facts=facts
    )
    submitted = applications.submit(svc, pan, draft.id)
    line = submitted.line("3.1")
    assert (line.kind, line.engine_fen, line.office_state) == ("discretionary", None, "pending")
    with pytest.raises(Conflict):  # the office decides only on a verified amount
        applications.office_decide(svc, cast.ou, line.id, approve=True, reason="同意")
    view = applications.verify(
        svc, cast.rui, draft.id, decide(submitted, {("3.1", PARK): 50_000_000})
    )
    assert view.line("3.1").decided_fen == 50_000_000
    assert view.line("3.1").office_state == "pending"
    with pytest.raises(Conflict):  # verified, but the office has not approved the amount
        plans.draft(svc, cast.dai, year=YEAR, title="2022")
    with pytest.raises(Forbidden):
        applications.office_decide(svc, cast.rui, line.id, approve=True, reason="同意")
    with pytest.raises(Invalid):
        applications.office_decide(svc, cast.ou, line.id, approve=False, reason=" ")

    decided = applications.office_decide(svc, cast.ou, line.id, approve=True, reason="同意按50万元")
    assert decided.line("3.1").office_state == "approved"
    with pytest.raises(Conflict):  # decided once
        applications.office_decide(svc, cast.ou, line.id, approve=False, reason="改主意")
    plan = plans.draft(svc, cast.dai, year=YEAR, title="2022")
    assert granted(plan) == {("3.1", PARK): 50_000_000}
    # no budget recorded for 郴州高新区: nothing is scaled, and the plan says why
    assert plan.factors[HIGHTECH]["budget_fen"] is None
    assert plan.factors[HIGHTECH]["factor"] == "1"
    assert plan.factors[HIGHTECH]["gap_fen"] == 0


def test_event_lines_need_a_recorded_pre_approval_and_the_offices_approval_of_the_amount(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    events = [
        {
            "id": "E1",
            "kind": "exhibition",
            "office_approval_ref": "郴综试办〔2022〕1号",
            "held_date": "2022-06-01",  # events count in the award year they are held
        },
        {
            "id": "E2",
            "kind": "summit",
            "office_approval_ref": "郴综试办〔2022〕2号",
            "held_date": "2022-09-15",
        },
    ]
    facts = {**SIMPLE_FACTS, "events": events}
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=YEAR, clauses=["4.1a", "6.1"], facts=facts
    )
    with pytest.raises(Invalid) as unrecorded:  # no such approvals on record yet
        applications.submit(svc, cast.alice, draft.id)
    assert {p.path for p in unrecorded.value.problems} == {
        "$.events[0].office_approval_ref",
        "$.events[1].office_approval_ref",
    }
    with svc.transaction() as s:
        org_a = s.scalar(select(Organisation.id).where(Organisation.credit_code == ORG_A))
        assert org_a is not None
        for number, kind in ((1, "exhibition"), (2, "summit")):
            s.add(
                PreApproval(
                    org_id=org_a,
                    reference=f"郴综试办〔2022〕{number}号",
                    event_kind=kind,
                    title=f"活动{number}",
                    approved_on=date(2022, 3, number),
                    approved_by=cast.ou.user_id,
                )
            )
    submitted = applications.submit(svc, cast.alice, draft.id)
    assert {(ln.clause_id, ln.subject_id, ln.office_state) for ln in submitted.lines} == {
        ("4.1a", ORG_A, "not_needed"),
        ("6.1", "E1", "pending"),
        ("6.1", "E2", "pending"),
    }
    view = applications.verify(
        svc,
        cast.rui,
        draft.id,
        decide(submitted, {("6.1", "E1"): 3_000_000, ("6.1", "E2"): 2_000_000}),
    )
    first = plans.draft(svc, cast.dai, year=YEAR, title="2022年度第一批")
    assert granted(first) == {("4.1a", ORG_A): 20_000_000}  # the events wait for the office

    applications.office_decide(
        svc, cast.ou, view.line("6.1", "E1").id, approve=True, reason="同意3万元"
    )
    applications.office_decide(
        svc, cast.ou, view.line("6.1", "E2").id, approve=False, reason="峰会规模不足"
    )
    second = plans.draft(svc, cast.dai, year=YEAR, title="2022年度第二批")
    assert granted(second) == {("6.1", "E1"): 3_000_000}  # E2 was returned by the office
    approved(svc, cast, clock, second.id)
    assert [(e.clause_id, e.subject_id, e.amount_fen) for e in ledger(svc)] == [
        ("6.1", "E1", 3_000_000)
    ]


# ---------------------------------------------------------------------------------------
# bugs found while writing these tests, kept as regression tests


def test_entitlements_alone_over_budget_give_a_plan_that_shows_the_gap(
    svc: Services, cast: Cast
) -> None:
    plans.set_budget(svc, cast.fang, division=BEIHU, year=YEAR, amount_fen=10_000_000)
    plan = simple_plan(svc, cast)  # 4.1a 20,000,000 + 7.1 1,200,000, both entitlements
    assert granted(plan) == {("4.1a", ORG_A): 20_000_000, ("7.1", ORG_A): 1_200_000}
    assert plan.factors[BEIHU]["gap_fen"] == 11_200_000


def test_a_second_plan_of_the_year_shares_only_what_the_first_left_of_the_budget(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plans.set_budget(svc, cast.fang, division=BEIHU, year=YEAR, amount_fen=30_000_000)
    first = simple_plan(svc, cast)  # 21,200,000 of 30,000,000
    approved(svc, cast, clock, first.id)
    verified(
        svc,
        cast.alice,
        cast.rui,
        org=ORG_A,
        clauses=["4.2"],
        facts=FACTS_A,
        amounts=CEILINGS_A,  # 80,000,000 asked; 8,800,000 of the budget is left
    )
    second = plans.draft(svc, cast.dai, year=YEAR, title="2022年度第二批")
    assert granted(second) == {("4.2", ORG_A): 8_800_000}


def test_rejecting_an_application_reopened_by_an_objection_pays_none_of_its_items(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    noticed = plans.open_notice(svc, cast.dai, plan.id)
    objection = plans.object_to(
        svc,
        plan.id,
        submitted_by="市民张某",
        text="出口数据造假",
        item_id=item_id(plan, "4.1a", ORG_A),
    )
    plans.resolve_objection(svc, cast.dai, objection, uphold=True, resolution="数据存疑")
    app = applications.list_for(svc, cast.alice)[0]
    assert applications.reject(svc, cast.rui, app.id, "出口数据不实").state == "rejected"
    clock.past(noticed.notice_end)
    plans.close_notice(svc, cast.dai, plan.id)
    plans.review(svc, cast.fang, plan.id, approve=True)
    plans.review(svc, cast.ou, plan.id, approve=True)
    with suppress(Conflict):  # refusing the approval is a fix as good as leaving items out
        plans.approve(svc, cast.shi, plan.id)
    assert ledger(svc) == []
