"""The annual report: what an award year's plans grant, by clause, by county or zone, across
years, and how much of each paying finance's budget is used — as PNG charts and a PDF.

Approved amounts are the items of approved or closed plans; proposed ones, the items of
plans still in drafting, notice or review; paid, the disbursements; the yearly series is the
award ledger net of recoveries. Charts are drawn with Matplotlib's object API (no global
state) in the project's CJK font; PNGs carry no timestamp, so the same data gives the same
bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from matplotlib import rc_context
from matplotlib.figure import Figure
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image, KeepTogether, Paragraph, Spacer
from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    AllocationPlan,
    Budget,
    Disbursement,
    LedgerEntry,
    PlanItemState,
)
from huiqi.documents.citation import Citation, cite
from huiqi.documents.data import READERS, clause_title, plan_reference, state_label
from huiqi.documents.fonts import chart_font
from huiqi.documents.pdf import esc, render, styles, table, wrap_footer
from huiqi.engine import clause_sort_key
from huiqi.fulfilment.workflow import PlanState
from huiqi.money import format_yuan
from huiqi.service.actors import Actor, require
from huiqi.service.uow import Services

APPROVED_STATES = (PlanState.APPROVED, PlanState.CLOSED)
ISSUER = ("郴州市商务局", "Chenzhou Municipal Bureau of Commerce")


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    approved_fen: int = 0
    proposed_fen: int = 0
    paid_fen: int = 0
    budget_fen: int | None = None
    items: int = 0


@dataclass(frozen=True)
class ReportData:
    year: int
    by_clause: list[Bar]
    by_division: list[Bar]
    by_year: list[Bar]
    plans: list[tuple[str, str, str, int]]  # reference, title, state, granted
    citation: Citation

    @property
    def approved_fen(self) -> int:
        return sum(b.approved_fen for b in self.by_division)

    @property
    def proposed_fen(self) -> int:
        return sum(b.proposed_fen for b in self.by_division)

    @property
    def paid_fen(self) -> int:
        return sum(b.paid_fen for b in self.by_division)

    @property
    def budget_fen(self) -> int:
        return sum(b.budget_fen or 0 for b in self.by_division)


def _add(bars: dict[str, dict[str, int]], key: str, field: str, fen: int) -> None:
    bar = bars.setdefault(key, {"approved_fen": 0, "proposed_fen": 0, "paid_fen": 0, "items": 0})
    bar[field] += fen


def _report_data(s: Session, svc: Services, year: int) -> ReportData:
    plans = list(
        s.scalars(
            select(AllocationPlan)
            .where(AllocationPlan.award_year == year)
            .order_by(AllocationPlan.id)
        )
    )
    clauses: dict[str, dict[str, int]] = {}
    divisions: dict[str, dict[str, int]] = {}
    plan_rows: list[tuple[str, str, str, int]] = []
    item_ids: list[int] = []
    for plan in plans:
        field = "approved_fen" if plan.state in APPROVED_STATES else "proposed_fen"
        included = [i for i in plan.items if i.state is PlanItemState.INCLUDED]
        for item in included:
            _add(clauses, item.clause_id, field, item.granted_fen)
            _add(clauses, item.clause_id, "items", 1)
            _add(divisions, item.division, field, item.granted_fen)
            _add(divisions, item.division, "items", 1)
            item_ids.append(item.id)
        plan_rows.append(
            (
                plan_reference(plan.id, plan.award_year),
                plan.title,
                plan.state.value,
                sum(i.granted_fen for i in included),
            )
        )
    for pay in s.scalars(select(Disbursement).where(Disbursement.plan_item_id.in_(item_ids))):
        _add(divisions, pay.division, "paid_fen", pay.amount_fen)
    budgets = {
        b.division: b.amount_fen for b in s.scalars(select(Budget).where(Budget.award_year == year))
    }
    for division in budgets:
        divisions.setdefault(
            division, {"approved_fen": 0, "proposed_fen": 0, "paid_fen": 0, "items": 0}
        )
    years: dict[int, int] = {}
    for entry in s.scalars(select(LedgerEntry)):
        years[entry.award_year] = years.get(entry.award_year, 0) + entry.amount_fen
    years.setdefault(year, 0)
    by_year = [
        Bar(
            str(y),
            f"{y}",
            approved_fen=fen,
            proposed_fen=sum(b["proposed_fen"] for b in divisions.values()) if y == year else 0,
        )
        for y, fen in sorted(years.items())
    ]
    return ReportData(
        year=year,
        by_clause=[
            Bar(c, f"{c} {clause_title(svc.package, c)}", **clauses[c])
            for c in sorted(clauses, key=clause_sort_key)
        ],
        by_division=[
            Bar(d, d, budget_fen=budgets.get(d), **divisions[d])
            for d in sorted(divisions, key=svc.package.division_order)
        ],
        by_year=by_year,
        plans=plan_rows,
        citation=cite(s, svc.package, clauses),
    )


def load_report(svc: Services, actor: Actor, year: int) -> ReportData:
    require(actor, *READERS)
    with svc.reading() as s:
        return _report_data(s, svc, year)


# -- charts -----------------------------------------------------------------------------------


def _rc() -> dict[Any, Any]:
    # The CJK font comes in one weight (500); asking for it avoids Matplotlib's fallback notice.
    weight = 500
    return {
        "font.family": chart_font(),
        "font.weight": weight,
        "axes.titleweight": weight,
        "axes.labelweight": weight,
        "axes.unicode_minus": False,
    }


def _wan(fen: int) -> float:
    """Fen to 万元 for a chart's geometry (labels print the exact amounts)."""
    return fen / 1_000_000


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=110, metadata={"Software": None})
    return out.getvalue()


def _bars(title: str, bars: list[Bar], *, horizontal: bool) -> bytes:
    with rc_context(_rc()):
        height = max(3.0, 0.5 * len(bars) + 1.5) if horizontal else 4.0
        figure = Figure(figsize=(8.0, height))
        axes = figure.subplots()
        labels = [b.label for b in bars] or ["—"]
        approved = [_wan(b.approved_fen) for b in bars] or [0.0]
        proposed = [_wan(b.proposed_fen) for b in bars] or [0.0]
        draw = axes.barh if horizontal else axes.bar
        draw(labels, approved, color="#2f6f9f", label="已批准 approved")
        if horizontal:
            axes.barh(labels, proposed, left=approved, color="#9cc3e0", label="拟安排 proposed")
            axes.invert_yaxis()
            axes.set_xlabel("万元 (10k CNY)")
        else:
            axes.bar(labels, proposed, bottom=approved, color="#9cc3e0", label="拟安排 proposed")
            axes.set_ylabel("万元 (10k CNY)")
        for index, bar in enumerate(bars):
            total = bar.approved_fen + bar.proposed_fen
            value = _wan(total)
            text = format_yuan(total).removesuffix("元")
            if horizontal:
                axes.text(value, index, f" {text}", va="center", fontsize=8)
            else:
                axes.text(index, value, text, ha="center", va="bottom", fontsize=8)
        axes.set_title(title)
        axes.legend(loc="best", fontsize=8)
        axes.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        return _png(figure)


def _budget_chart(data: ReportData) -> bytes:
    with rc_context(_rc()):
        figure = Figure(figsize=(8.0, 4.2))
        axes = figure.subplots()
        bars = data.by_division or [Bar("—", "—")]
        positions = list(range(len(bars)))
        width = 0.27
        axes.bar(
            [p - width for p in positions],
            [_wan(b.budget_fen or 0) for b in bars],
            width,
            color="#bbbbbb",
            label="预算 budget",
        )
        axes.bar(
            positions,
            [_wan(b.approved_fen + b.proposed_fen) for b in bars],
            width,
            color="#2f6f9f",
            label="安排 granted",
        )
        axes.bar(
            [p + width for p in positions],
            [_wan(b.paid_fen) for b in bars],
            width,
            color="#e39b3c",
            label="已拨付 paid",
        )
        axes.set_xticks(positions, [b.label for b in bars])
        axes.set_ylabel("万元 (10k CNY)")
        axes.set_title(f"{data.year}年度预算使用 Budget use by paying finance")
        axes.legend(fontsize=8)
        axes.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        return _png(figure)


def report_charts(data: ReportData) -> dict[str, bytes]:
    """Chart name → PNG bytes."""
    return {
        "by-clause": _bars(f"{data.year}年度按条款 By clause", data.by_clause, horizontal=True),
        "by-division": _bars(
            f"{data.year}年度按县市区/园区 By county or zone",
            [b for b in data.by_division if b.approved_fen or b.proposed_fen],
            horizontal=False,
        ),
        "by-year": _bars(
            "历年奖补（台账） Awards by year (ledger)", data.by_year, horizontal=False
        ),
        "budget": _budget_chart(data),
    }


# -- the PDF ----------------------------------------------------------------------------------


def _money(fen: int | None) -> str:
    return "—" if fen is None else format_yuan(fen).removesuffix("元")


def report_pdf(data: ReportData, charts: dict[str, bytes]) -> bytes:
    st = styles()
    title = f"{data.year}年度跨境电商产业扶持资金年度报告"
    story: list[Flowable] = [
        Paragraph(title, st.title),
        Paragraph(f"Annual report on CBEC support, award year {data.year}", st.small),
        Spacer(1, 3 * mm),
        Paragraph(
            esc(
                f"　　{data.year}年度共有{len(data.plans)}个分配方案。"
                f"已批准{_money(data.approved_fen)}元，"
                f"拟安排（尚在拟定、公示或审核中）{_money(data.proposed_fen)}元，"
                f"已拨付{_money(data.paid_fen)}元；各支付财政预算合计{_money(data.budget_fen)}元。"
            ),
            st.body,
        ),
    ]
    plan_rows: list[list[object]] = [
        [Paragraph(h, st.cell) for h in ("方案编号", "名称", "状态", "安排金额（元）")]
    ]
    for reference, plan_title, state, granted in data.plans:
        plan_rows.append(
            [
                reference,
                Paragraph(esc(plan_title), st.cell),
                state_label(state),
                Paragraph(_money(granted), st.number),
            ]
        )
    story += [table(plan_rows, [w * mm for w in (30, 90, 25, 35)]), Spacer(1, 3 * mm)]
    story.append(Paragraph("一、按条款 By clause", st.heading))
    rows: list[list[object]] = [
        [Paragraph(h, st.cell) for h in ("条款", "项目数", "已批准（元）", "拟安排（元）")]
    ]
    for bar in data.by_clause:
        rows.append(
            [
                Paragraph(esc(bar.label), st.cell),
                str(bar.items),
                Paragraph(_money(bar.approved_fen), st.number),
                Paragraph(_money(bar.proposed_fen), st.number),
            ]
        )
    story += [table(rows, [w * mm for w in (90, 20, 35, 35)]), _image(charts["by-clause"])]
    story.append(Paragraph("二、按县市区/园区与预算使用 By county or zone, budget use", st.heading))
    rows = [
        [
            Paragraph(h, st.cell)
            for h in (
                "县市区/园区",
                "预算（元）",
                "已批准（元）",
                "拟安排（元）",
                "已拨付（元）",
                "使用率",
            )
        ]
    ]
    for bar in data.by_division:
        used = bar.approved_fen + bar.proposed_fen
        rate = f"{used * 100 / bar.budget_fen:.1f}%" if bar.budget_fen else "—"
        rows.append(
            [
                Paragraph(esc(bar.label), st.cell),
                Paragraph(_money(bar.budget_fen), st.number),
                Paragraph(_money(bar.approved_fen), st.number),
                Paragraph(_money(bar.proposed_fen), st.number),
                Paragraph(_money(bar.paid_fen), st.number),
                rate,
            ]
        )
    story += [
        table(rows, [w * mm for w in (40, 30, 30, 30, 30, 20)]),
        _image(charts["by-division"]),
        _image(charts["budget"]),
        KeepTogether([Paragraph("三、历年情况 By year", st.heading), _image(charts["by-year"])]),
    ]
    footer = wrap_footer(data.citation.zh()) + wrap_footer(data.citation.en())
    return render(story, title=title, footer=footer, author=ISSUER[0])


def _image(png: bytes) -> Image:
    image = Image(io.BytesIO(png))
    scale = 170 * mm / image.drawWidth
    image.drawWidth *= scale
    image.drawHeight *= scale
    return image
