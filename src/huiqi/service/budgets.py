"""A paying finance's budget is never exceeded by the plans approved against it.

Drafts and reallocations share a budget optimistically (each reads what the year's other plans
hold; two at the same moment may each count on the same room). The gate is the approval: in
the transaction that writes the ledger it locks the budget rows of every paying finance the
plan draws on, in one order, adds up what the approved plans of that finance and year already
commit, and refuses (409) a plan that would take the total over the budget. Setting a budget
takes the same lock, and refuses a budget below what is already approved against it.

What a plan commits is what it grants (its included items), whatever is paid out or recovered
later: a recovery does not free budget for another plan.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huiqi.db.tables import AllocationPlan, Budget, PlanItem, PlanItemState
from huiqi.errors import Problem
from huiqi.fulfilment.workflow import PlanState
from huiqi.money import format_yuan
from huiqi.service.errors import Conflict

_COMMITTED_BY = (PlanState.APPROVED, PlanState.CLOSED)


def committed(s: Session, division: str, year: int) -> int:
    """What the approved (and closed) plans of ``year`` grant from ``division``'s budget."""
    total = s.scalar(
        select(func.coalesce(func.sum(PlanItem.granted_fen), 0))
        .join(AllocationPlan, AllocationPlan.id == PlanItem.plan_id)
        .where(
            AllocationPlan.award_year == year,
            AllocationPlan.state.in_(_COMMITTED_BY),
            PlanItem.division == division,
            PlanItem.state == PlanItemState.INCLUDED,
        )
    )
    return int(total or 0)


def lock(s: Session, divisions: set[str], year: int) -> dict[str, Budget]:
    """The budget rows of ``divisions`` for ``year`` (those recorded), locked until the commit
    in one order; SQLite's writers are serialised already (BEGIN IMMEDIATE)."""
    if not divisions:
        return {}
    rows = s.scalars(
        select(Budget)
        .where(Budget.division.in_(sorted(divisions)), Budget.award_year == year)
        .order_by(Budget.division)
        .with_for_update()
    )
    return {b.division: b for b in rows}


def check_plan(s: Session, plan: AllocationPlan) -> None:
    """Refuse approving ``plan`` if, with the plans already approved, it would take any paying
    finance over its budget. A finance with no budget recorded has no limit to check (the
    plan says so: "no budget recorded"); its budget, once recorded, cannot be set below what
    is approved."""
    wanted: dict[str, int] = {}
    for item in plan.items:
        if item.state is PlanItemState.INCLUDED and item.granted_fen > 0:
            wanted[item.division] = wanted.get(item.division, 0) + item.granted_fen
    problems, over = [], []
    for division, budget in sorted(lock(s, set(wanted), plan.award_year).items()):
        already = committed(s, division, plan.award_year)
        if already + wanted[division] > budget.amount_fen:
            over.append(division)
            problems.append(
                Problem(
                    f"budgets[{division}/{plan.award_year}]",
                    budget.amount_fen,
                    f"{division} {plan.award_year}年度预算 {format_yuan(budget.amount_fen)}，"
                    f"已批准 {format_yuan(already)}，本方案 {format_yuan(wanted[division])}",
                    f"{division} budget for {plan.award_year} "
                    f"{format_yuan(budget.amount_fen, 'en')}, approved "
                    f"{format_yuan(already, 'en')}, this plan "
                    f"{format_yuan(wanted[division], 'en')}",
                )
            )
    if problems:
        raise Conflict(
            f"批准会超出{'、'.join(over)}的预算，未批准；须退回方案重新分配",
            f"approving would exceed the budget of {', '.join(over)}; not approved: "
            "return the plan and reallocate",
            problems,
        )


def lock_for_change(s: Session, division: str, year: int) -> Budget | None:
    """Before changing a budget: wait for the year's approvals under way (their plans' rows),
    then lock the budget row itself, so what is approved cannot change meanwhile."""
    s.execute(
        select(AllocationPlan.id)
        .where(AllocationPlan.award_year == year, AllocationPlan.state == PlanState.REVIEW)
        .order_by(AllocationPlan.id)
        .with_for_update()
    ).all()
    return lock(s, {division}, year).get(division)


def check_change(s: Session, division: str, year: int, amount_fen: int) -> None:
    """Refuse a budget below what the year's approved plans already commit from it."""
    already = committed(s, division, year)
    if amount_fen < already:
        raise Conflict(
            f"{division} {year}年度已批准 {format_yuan(already)}，预算不能低于此数",
            f"{format_yuan(already, 'en')} of {division}'s {year} budget is approved already; "
            "the budget cannot be set below it",
            [
                Problem(
                    "amount_fen",
                    amount_fen,
                    f"不能低于已批准的 {format_yuan(already)}",
                    f"at least the {format_yuan(already, 'en')} approved",
                )
            ],
        )
