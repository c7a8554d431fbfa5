"""The allocation plan as a workbook a finance bureau accepts.

Sheet 分配方案: a title row with the plan's title, a row with the policy document number,
award year, plan number and state; the columns 序号, 单位名称, 统一社会信用代码,
所属县市区/园区, 支持项目, 依据条款, 申请金额, 核定金额, 备注; items grouped by paying
finance and clause with a subtotal after each clause and each paying finance, and the total.
Sheet 汇总: per paying finance (budget, requested, granted, gap, factor) and per clause, with
the citation. Sheet 未列入: items pulled back. Amounts are yuan with two decimals, written
as exact numbers (no formulas, so every reader sees the same figures); every cell goes
through :func:`huiqi.contents.cells.put`, so text from users (a title, a name) that looks
like a formula is written as text.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from huiqi.contents.cells import put
from huiqi.documents.data import KIND_LABELS, PlanData, PlanRow, state_label
from huiqi.documents.reproducible import fixed_zip
from huiqi.engine import clause_sort_key
from huiqi.fulfilment.calendar import ZONE
from huiqi.money import fen_to_yuan

HEADERS = (
    "序号",
    "单位名称",
    "统一社会信用代码",
    "所属县市区/园区",
    "支持项目",
    "依据条款",
    "申请金额（元）",
    "核定金额（元）",
    "备注",
)
WIDTHS = (6, 38, 22, 16, 30, 10, 17, 17, 40)
MONEY = "#,##0.00"
RULES = {
    "none": "预算充足，按核定金额安排",
    "pro_rata_flexible": "限额类、综合评定类项目按预算同比例核减，定额与计算类不变",
    "pro_rata_all": "全部项目按预算同比例核减",
    "quota": "按排序安排前N项，全额支持",
}
_THIN = Side(style="thin", color="808080")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_BOLD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DCE6F1")
_CLAUSE_FILL = PatternFill("solid", fgColor="F2F2F2")
_DIVISION_FILL = PatternFill("solid", fgColor="E2EFDA")
_TOTAL_FILL = PatternFill("solid", fgColor="FFF2CC")


def yuan(fen: int) -> Decimal:
    return fen_to_yuan(fen)


def plan_xlsx(plan: PlanData) -> bytes:
    """The workbook's bytes; the same plan gives the same bytes."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "分配方案"
    _items_sheet(sheet, plan)
    _summary_sheet(book.create_sheet("汇总"), plan)
    pulled = [r for r in plan.rows if not r.included]
    if pulled:
        _pulled_sheet(book.create_sheet("未列入"), plan, pulled)
    book.properties.creator = "huiqi"
    book.properties.title = plan.title
    book.properties.subject = plan.citation.zh()
    book.properties.identifier = plan.reference
    out = io.BytesIO()
    book.save(out)
    return fixed_zip(out.getvalue(), plan.stamp)


def _banner(sheet: Worksheet, row: int, text: str, *, size: int = 11, bold: bool = False) -> None:
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(HEADERS))
    cell = put(sheet, row, 1, text)
    cell.font = Font(bold=bold, size=size)
    cell.alignment = Alignment(horizontal="center" if bold else "left", wrap_text=True)


def _title(sheet: Worksheet, plan: PlanData) -> None:
    _banner(sheet, 1, plan.title, size=16, bold=True)
    sheet.row_dimensions[1].height = 30
    _banner(
        sheet,
        2,
        f"文号/依据：{plan.citation.document_no}    奖补年度：{plan.award_year}年度    "
        f"方案编号：{plan.reference}    状态：{state_label(plan.state)}    金额单位：元",
    )


def _header(sheet: Worksheet, row: int, headers: Iterable[str]) -> None:
    for column, text in enumerate(headers, start=1):
        cell = put(sheet, row, column, text)
        cell.font = _BOLD
        cell.fill = _HEAD_FILL
        cell.border = _BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _write_row(
    sheet: Worksheet,
    row: int,
    values: list[Any],
    *,
    money_columns: Iterable[int] = (7, 8),
    fill: PatternFill | None = None,
    bold: bool = False,
) -> None:
    money = set(money_columns)
    for column, value in enumerate(values, start=1):
        cell = put(sheet, row, column, value)
        cell.border = _BOX
        cell.alignment = Alignment(vertical="center", wrap_text=column not in money)
        if column in money:
            cell.number_format = MONEY
        if fill is not None:
            cell.fill = fill
        if bold:
            cell.font = _BOLD


def _remark(row: PlanRow) -> str:
    parts: list[str] = []
    if row.subject_id != row.org_code:
        parts.append(f"对象：{row.subject_id}")
    if row.kind in ("ceiling", "discretionary"):
        parts.append(KIND_LABELS[row.kind][0])
    if row.granted_fen < row.requested_fen:
        parts.append("按预算核减")
    if row.note:
        parts.append(row.note)
    return "；".join(parts)


def _items_sheet(sheet: Worksheet, plan: PlanData) -> None:
    _title(sheet, plan)
    _header(sheet, 3, HEADERS)
    row = 4
    number = 0
    by_division: dict[str, dict[str, list[PlanRow]]] = {}
    for item in plan.included:
        by_division.setdefault(item.division, {}).setdefault(item.clause_id, []).append(item)
    for division, clauses in by_division.items():
        for clause_id in sorted(clauses, key=clause_sort_key):
            items = clauses[clause_id]
            for item in items:
                number += 1
                _write_row(
                    sheet,
                    row,
                    [
                        number,
                        item.org_name,
                        item.org_code,
                        item.division,
                        item.clause_zh,
                        f"第{item.clause_id}条",
                        yuan(item.requested_fen),
                        yuan(item.granted_fen),
                        _remark(item),
                    ],
                )
                row += 1
            _write_row(
                sheet,
                row,
                [
                    None,
                    f"小计：{division} · 第{clause_id}条 {items[0].clause_zh}",
                    None,
                    division,
                    None,
                    f"第{clause_id}条",
                    yuan(sum(i.requested_fen for i in items)),
                    yuan(sum(i.granted_fen for i in items)),
                    f"{len(items)}项",
                ],
                fill=_CLAUSE_FILL,
            )
            row += 1
        everything = [i for items in clauses.values() for i in items]
        _write_row(
            sheet,
            row,
            [
                None,
                f"{division}小计（支付财政：{division}）",
                None,
                division,
                None,
                None,
                yuan(sum(i.requested_fen for i in everything)),
                yuan(sum(i.granted_fen for i in everything)),
                f"{len(everything)}项",
            ],
            fill=_DIVISION_FILL,
            bold=True,
        )
        row += 1
    _write_row(
        sheet,
        row,
        [
            None,
            "合计",
            None,
            None,
            None,
            None,
            yuan(plan.requested_fen),
            yuan(plan.granted_fen),
            f"{len(plan.included)}项",
        ],
        fill=_TOTAL_FILL,
        bold=True,
    )
    row += 2
    for text in (plan.citation.zh(), plan.citation.en()):
        _banner(sheet, row, text, size=9)
        sheet.row_dimensions[row].height = 30
        row += 1
    for column, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A4"
    sheet.print_title_rows = "3:3"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)


def _summary_sheet(sheet: Worksheet, plan: PlanData) -> None:
    _title(sheet, plan)
    heads = ("所属县市区/园区（支付财政）", "项目数", "预算（元）", "申请金额（元）")
    _header(sheet, 3, (*heads, "核定金额（元）", "预算缺口（元）", "分配系数"))
    row = 4
    divisions = sorted({r.division for r in plan.included})
    for division in divisions:
        items = [r for r in plan.included if r.division == division]
        figures = plan.factors.get(division) or {}
        budget = plan.budgets.get(division)
        gap = figures.get("gap_fen", 0) if isinstance(figures, dict) else 0
        factor = figures.get("factor", "1") if isinstance(figures, dict) else "1"
        _write_row(
            sheet,
            row,
            [
                division,
                len(items),
                None if budget is None else yuan(budget),
                yuan(sum(i.requested_fen for i in items)),
                yuan(sum(i.granted_fen for i in items)),
                yuan(int(gap)),
                str(factor),
            ],
            money_columns=(3, 4, 5, 6),
        )
        row += 1
    _write_row(
        sheet,
        row,
        [
            "合计",
            len(plan.included),
            yuan(sum(plan.budgets.get(d, 0) for d in divisions)),
            yuan(plan.requested_fen),
            yuan(plan.granted_fen),
            None,
            None,
        ],
        money_columns=(3, 4, 5, 6),
        fill=_TOTAL_FILL,
        bold=True,
    )
    row += 2
    _header(sheet, row, ("依据条款", "支持项目", "项目数", "申请金额（元）", "核定金额（元）"))
    row += 1
    for clause_id in sorted({r.clause_id for r in plan.included}, key=clause_sort_key):
        items = [r for r in plan.included if r.clause_id == clause_id]
        _write_row(
            sheet,
            row,
            [
                f"第{clause_id}条",
                items[0].clause_zh,
                len(items),
                yuan(sum(i.requested_fen for i in items)),
                yuan(sum(i.granted_fen for i in items)),
            ],
            money_columns=(4, 5),
        )
        row += 1
    _write_row(
        sheet,
        row,
        ["合计", None, len(plan.included), yuan(plan.requested_fen), yuan(plan.granted_fen)],
        money_columns=(4, 5),
        fill=_TOTAL_FILL,
        bold=True,
    )
    row += 2
    notice = (
        f"{plan.notice_published_at.astimezone(ZONE):%Y-%m-%d %H:%M}（北京时间）发布，"
        f"{plan.notice_days} 个工作日，至 {plan.notice_end.isoformat()} 24 时止"
        if plan.notice_published_at and plan.notice_end
        else "尚未公示"
    )
    for label, value in (
        ("分配规则", RULES.get(plan.rule, plan.rule)),
        ("公示期", notice),
        ("政策依据", plan.citation.zh()),
        ("Basis", plan.citation.en()),
    ):
        put(sheet, row, 1, label).font = _BOLD
        sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=7)
        cell = put(sheet, row, 2, value)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.row_dimensions[row].height = 32 if len(value) > 60 else 16
        row += 1
    for column, width in enumerate((28, 10, 18, 18, 18, 18, 12), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4


def _pulled_sheet(sheet: Worksheet, plan: PlanData, rows: list[PlanRow]) -> None:
    _title(sheet, plan)
    heads = ("单位名称", "统一社会信用代码", "所属县市区/园区", "依据条款", "申请金额（元）")
    _header(sheet, 3, (*heads, "原因"))
    for offset, item in enumerate(rows):
        _write_row(
            sheet,
            4 + offset,
            [
                item.org_name,
                item.org_code,
                item.division,
                f"第{item.clause_id}条",
                yuan(item.requested_fen),
                item.note or "",
            ],
            money_columns=(5,),
        )
    for column, width in enumerate((38, 22, 16, 10, 17, 50), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
