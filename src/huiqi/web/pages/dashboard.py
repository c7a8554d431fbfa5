"""The staff dashboard: awards by clause, by county or zone and by year; each paying finance's
budget against what plans grant; applications by state. Every chart comes with its table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import func, select

from huiqi.db.tables import AllocationPlan, Budget, PlanItem, PlanItemState
from huiqi.engine import clause_sort_key
from huiqi.fulfilment.workflow import STATE_LABELS, AppState, PlanState
from huiqi.money import format_yuan
from huiqi.service import queries
from huiqi.web.deps import get_services
from huiqi.web.pages.charts import Series, bar_chart
from huiqi.web.pages.common import lang_of, render
from huiqi.web.pages.console_common import login_redirect, page_staff

router = APIRouter(include_in_schema=False)

WAN = 1_000_000  # fen in 1万元
DONE = (PlanState.APPROVED, PlanState.CLOSED)


@dataclass(frozen=True)
class Chart:
    """One chart: its heading, the SVG (None when there is nothing to draw) and its table."""

    key: str
    title: str
    svg: Markup | None
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]


@dataclass(frozen=True)
class BudgetUse:
    division: str
    budget_fen: int | None
    approved_fen: int  # in approved or closed plans
    pending_fen: int  # in plans not yet approved

    @property
    def granted_fen(self) -> int:
        return self.approved_fen + self.pending_fen


def _budget_use(request: Request, year: int | None) -> tuple[int | None, list[BudgetUse]]:
    """Each paying finance's budget for the year and what that year's plans grant from it
    (the latest year with budgets when none is chosen)."""
    svc = get_services(request)
    with svc.reading() as s:
        if year is None:
            year = s.scalar(select(func.max(Budget.award_year)))
        if year is None:
            return None, []
        budgets = {
            b.division: b.amount_fen
            for b in s.scalars(select(Budget).where(Budget.award_year == year))
        }
        rows = s.execute(
            select(PlanItem.division, AllocationPlan.state, func.sum(PlanItem.granted_fen))
            .join(AllocationPlan, AllocationPlan.id == PlanItem.plan_id)
            .where(AllocationPlan.award_year == year, PlanItem.state == PlanItemState.INCLUDED)
            .group_by(PlanItem.division, AllocationPlan.state)
        ).all()
    approved: dict[str, int] = {}
    pending: dict[str, int] = {}
    for division, state, total in rows:
        target = approved if state in DONE else pending
        target[division] = target.get(division, 0) + int(total or 0)
    divisions = sorted(set(budgets) | set(approved) | set(pending), key=svc.package.division_order)
    return year, [
        BudgetUse(d, budgets.get(d), approved.get(d, 0), pending.get(d, 0)) for d in divisions
    ]


def _clause_order(clause_id: str) -> tuple[object, ...]:
    return clause_sort_key(clause_id)


@router.get("/console/dashboard")
def dashboard(
    request: Request, year: Annotated[int | None, Query(ge=1900, le=2200)] = None
) -> Response:
    actor = page_staff(request)
    if actor is None:
        return login_redirect(request)
    svc = get_services(request)
    lang = lang_of(request)
    zh = lang == "zh"
    summary = queries.summary(svc, actor, year=year)
    budget_year, budgets = _budget_use(request, year)

    def money(fen: int | None) -> str:
        return "—" if fen is None else format_yuan(fen, lang)

    unit = "金额（万元）" if zh else "Amount (CNY 10,000)"
    amount_col = "金额" if zh else "Amount"
    titles = {cid: c.title(lang) for cid, c in svc.package.clauses.items()}
    charts: list[Chart] = []

    by_clause = sorted(
        summary["awarded_by_clause_fen"].items(), key=lambda kv: _clause_order(kv[0])
    )
    names = [f"{c} {titles.get(c, '')}".strip() for c, _ in by_clause]
    fen = [v for _, v in by_clause]
    charts.append(
        Chart(
            "by-clause",
            "按条款的奖补金额" if zh else "Awards by clause",
            bar_chart(
                "by-clause",
                "按条款的奖补金额" if zh else "Awards by clause",
                names,
                [Series(amount_col, fen)],
                unit=unit,
                scale=WAN,
                shown=[[money(v) for v in fen]],
            ),
            ["条款" if zh else "Clause", amount_col],
            [[n, money(v)] for n, v in zip(names, fen, strict=True)],
            [False, True],
        )
    )

    by_division = sorted(
        summary["awarded_by_division_fen"].items(),
        key=lambda kv: svc.package.division_order(kv[0]),
    )
    charts.append(
        Chart(
            "by-division",
            "按县市区（园区）的奖补金额" if zh else "Awards by county or zone",
            bar_chart(
                "by-division",
                "按县市区（园区）的奖补金额" if zh else "Awards by county or zone",
                [d for d, _ in by_division],
                [Series(amount_col, [v for _, v in by_division])],
                unit=unit,
                scale=WAN,
                shown=[[money(v) for _, v in by_division]],
            ),
            ["县市区（园区）" if zh else "County or zone", amount_col],
            [[d, money(v)] for d, v in by_division],
            [False, True],
        )
    )

    by_year = sorted(summary["awarded_by_year_fen"].items())
    charts.append(
        Chart(
            "by-year",
            "按年度的奖补金额" if zh else "Awards by year",
            bar_chart(
                "by-year",
                "按年度的奖补金额" if zh else "Awards by year",
                [y for y, _ in by_year],
                [Series(amount_col, [v for _, v in by_year])],
                unit=unit,
                scale=WAN,
                shown=[[money(v) for _, v in by_year]],
            ),
            ["年度" if zh else "Award year", amount_col],
            [[y, money(v)] for y, v in by_year],
            [False, True],
        )
    )

    budget_title = (
        f"{budget_year}年度各县市区（园区）预算使用"
        if zh
        else f"Budget use by paying finance, {budget_year}"
    )
    budget_label, granted_label = ("预算", "已安排") if zh else ("Budget", "Granted")
    charts.append(
        Chart(
            "budgets",
            budget_title,
            bar_chart(
                "budgets",
                budget_title,
                [b.division for b in budgets],
                [
                    Series(budget_label, [b.budget_fen or 0 for b in budgets]),
                    Series(granted_label, [b.granted_fen for b in budgets]),
                ],
                unit=unit,
                scale=WAN,
                shown=[
                    [money(b.budget_fen) for b in budgets],
                    [money(b.granted_fen) for b in budgets],
                ],
            )
            if budget_year is not None
            else None,
            [
                "县市区（园区）" if zh else "Paying finance",
                budget_label,
                "已批准方案" if zh else "In approved plans",
                "待批准方案" if zh else "In plans not yet approved",
                "使用率" if zh else "Used",
            ],
            [
                [
                    b.division,
                    money(b.budget_fen),
                    money(b.approved_fen),
                    money(b.pending_fen),
                    _share(b.granted_fen, b.budget_fen),
                ]
                for b in budgets
            ],
            [False, True, True, True, True],
        )
    )

    order = [s.value for s in AppState]
    states = sorted(
        summary["applications_by_state"].items(),
        key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order),
    )
    state_names = [STATE_LABELS.get(s, (s, s))[0 if zh else 1] for s, _ in states]
    counts = [n for _, n in states]
    charts.append(
        Chart(
            "by-state",
            "申报按状态统计" if zh else "Applications by state",
            bar_chart(
                "by-state",
                "申报按状态统计" if zh else "Applications by state",
                state_names,
                [Series("件数" if zh else "Applications", counts)],
                unit="件数" if zh else "Applications",
                shown=[[str(n) for n in counts]],
            ),
            ["状态" if zh else "State", "件数" if zh else "Applications"],
            [[name, str(n)] for name, n in zip(state_names, counts, strict=True)],
            [False, True],
        )
    )
    return render(
        request,
        "dashboard.html",
        charts=charts,
        year=year,
        budget_year=budget_year,
        awarded_fen=sum(summary["awarded_by_year_fen"].values()),
        # The summary's planned total spans every year; for one year, that year's plans.
        planned_fen=summary["planned_fen"] if year is None else sum(b.granted_fen for b in budgets),
        applications=sum(counts),
    )


def _share(part: int, whole: int | None) -> str:
    """``part`` of ``whole`` as a percentage with one decimal, exact (half up)."""
    if not whole:
        return "—"
    tenths = (part * 2000 + whole) // (2 * whole)
    return f"{tenths // 10}.{tenths % 10}%"
