"""Sharing a paying finance's budget among a plan's items: rules, rankings, re-checks."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    AllocationPlan,
    Application,
    ApplicationLine,
    Budget,
    LineDecisionState,
    PlanItem,
    PlanItemState,
)
from huiqi.errors import Problem
from huiqi.fulfilment.allocation import Allocation, Item, Rule, allocate
from huiqi.fulfilment.workflow import (
    AppState,
)
from huiqi.policy.model import AmountKind
from huiqi.service.errors import Invalid
from huiqi.service.records import listed_dishonest

RANKINGS = {
    "submitted": ("先申报先安排（按提交时间）", "first submitted first"),
    "amount_desc": ("金额从大到小", "largest amount first"),
    "amount_asc": ("金额从小到大", "smallest amount first"),
}


def _refresh_items(s: Session, plan: AllocationPlan, today: date) -> None:
    """Items whose line was re-reviewed since drafting follow the line: a line no longer
    approved (or whose application is no longer verified) leaves the plan; a changed
    decided amount becomes the item's request; a beneficiary since put on a serious-dishonesty
    list leaves the plan."""
    lines = {
        ln.id: ln
        for ln in s.scalars(
            select(ApplicationLine).where(ApplicationLine.id.in_([i.line_id for i in plan.items]))
        )
    }
    apps = {
        a.id: a
        for a in s.scalars(
            select(Application).where(
                Application.id.in_({ln.application_id for ln in lines.values()})
            )
        )
    }
    for item in plan.items:
        if item.state is not PlanItemState.INCLUDED:
            continue
        line = lines[item.line_id]
        listing = listed_dishonest(s, item.org_id, today)
        if listing is not None:
            item.state, item.granted_fen = PlanItemState.PULLED_BACK, 0
            item.note = f"列入严重失信名单：{listing.source} / on a dishonesty list"
        elif (
            apps[line.application_id].state is not AppState.VERIFIED
            or line.decision is not LineDecisionState.APPROVED
            or not line.decided_fen
        ):
            item.state, item.granted_fen = PlanItemState.PULLED_BACK, 0
            item.note = "申报已重新审核，该项不再列入 / re-reviewed: no longer in the plan"
        elif line.decided_fen != item.requested_fen:
            item.requested_fen = line.decided_fen


def _rank(s: Session, ranking: str, items: list[PlanItem]) -> dict[int, tuple[Any, ...]]:
    if ranking == "amount_desc":
        return {i.id: (-i.requested_fen, i.id) for i in items}
    if ranking == "amount_asc":
        return {i.id: (i.requested_fen, i.id) for i in items}
    submitted = dict(
        s.execute(
            select(ApplicationLine.id, Application.submitted_at)
            .join(Application, Application.id == ApplicationLine.application_id)
            .where(ApplicationLine.id.in_([i.line_id for i in items]))
        ).all()
    )
    return {i.id: (str(submitted.get(i.line_id) or ""), i.id) for i in items}


def _used_elsewhere(s: Session, plan: AllocationPlan, division: str) -> int:
    """What the year's other plans already grant from this paying finance's budget."""
    used = s.scalar(
        select(func.coalesce(func.sum(PlanItem.granted_fen), 0))
        .join(AllocationPlan, AllocationPlan.id == PlanItem.plan_id)
        .where(
            AllocationPlan.award_year == plan.award_year,
            AllocationPlan.id != plan.id,
            PlanItem.division == division,
            PlanItem.state == PlanItemState.INCLUDED,
        )
    )
    return int(used or 0)


def included_by_division(plan: AllocationPlan) -> dict[str, list[PlanItem]]:
    by_division: dict[str, list[PlanItem]] = {}
    for item in plan.items:
        if item.state is PlanItemState.INCLUDED:
            by_division.setdefault(item.division, []).append(item)
    return by_division


def share_budget(
    s: Session,
    plan: AllocationPlan,
    division: str,
    items: list[PlanItem],
    *,
    rule: Rule,
    quota: int | None,
    ranking: str,
) -> tuple[Allocation | None, int, int]:
    """How one paying finance's budget, less what the year's other plans use, would be shared
    among ``items`` by ``rule``: (the allocation, or None with no budget recorded; the budget;
    the amount used elsewhere). Changes nothing, so a page can preview it as well."""
    budget = s.get(Budget, (division, plan.award_year))
    if budget is None:
        return None, 0, 0
    used = _used_elsewhere(s, plan, division)
    ranks = _rank(s, ranking, items)
    result = allocate(
        [Item(str(i.id), AmountKind(i.kind), i.requested_fen, ranks[i.id]) for i in items],
        max(0, budget.amount_fen - used),
        rule,
        quota,
    )
    return result, budget.amount_fen, used


def allocate_plan(s: Session, plan: AllocationPlan, today: date) -> None:
    """Share each paying finance's budget (less what the year's other plans use) among its
    items by the plan's rule; the same inputs always give the same plan."""
    _refresh_items(s, plan, today)
    ranking = plan.factors.get("ranking", "submitted")
    factors: dict[str, Any] = {"excluded": plan.factors.get("excluded", []), "ranking": ranking}
    for division, items in sorted(included_by_division(plan).items()):
        requested = sum(i.requested_fen for i in items)
        result, budget_fen, used = share_budget(
            s, plan, division, items, rule=Rule(plan.rule), quota=plan.quota, ranking=ranking
        )
        if result is None:
            for item in items:
                item.granted_fen = item.requested_fen
            factors[division] = {
                "budget_fen": None,
                "requested_fen": requested,
                "granted_fen": requested,
                "gap_fen": 0,
                "factor": "1",
                "note": "no budget recorded / 未录入预算",
            }
            continue
        for item in items:
            item.granted_fen = result.granted[str(item.id)]
        factors[division] = {
            "budget_fen": budget_fen,
            "used_by_other_plans_fen": used,
            "requested_fen": requested,
            "granted_fen": result.granted_fen,
            "gap_fen": result.gap_fen,
            "factor": str(result.factor),
        }
    plan.factors = factors


def retotal(plan: AllocationPlan) -> None:
    """Keep each division's granted total true after an item leaves the plan."""
    factors = dict(plan.factors)
    for division, figures in factors.items():
        if isinstance(figures, dict):
            figures = dict(figures)
            figures["granted_fen"] = sum(
                i.granted_fen
                for i in plan.items
                if i.division == division and i.state is PlanItemState.INCLUDED
            )
            factors[division] = figures
    plan.factors = factors


def check_rule(rule: str, quota: int | None) -> Rule:
    try:
        value = Rule(rule)
    except ValueError:
        allowed = ", ".join(r.value for r in Rule)
        raise Invalid(
            "分配规则有误",
            "unknown allocation rule",
            [Problem("rule", rule, f"可选：{allowed}", f"one of: {allowed}")],
        ) from None
    if value is Rule.QUOTA and (quota is None or quota < 0):
        raise Invalid(
            "名额分配须给出名额数",
            "a quota needs N",
            [Problem("quota", quota, "须为不小于0的整数", "a whole number ≥ 0")],
        )
    return value


def check_ranking(value: str) -> str:
    if value not in RANKINGS:
        allowed = ", ".join(RANKINGS)
        raise Invalid(
            "排序规则有误",
            "unknown ranking",
            [Problem("ranking", value, f"可选：{allowed}", f"one of: {allowed}")],
        )
    return value
