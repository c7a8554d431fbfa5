"""The dashboard: charts drawn on the server as SVG, each with its table, in both languages.

The demo's ledger holds the 2024 plan (approved and paid); its 2025 plan is under notice.
Figures worked out from the clauses:
  4.1a  exporter, 168,500 USD exported (破零, under 20万美元)      → 100,000.00
  4.1b  exporter, 50% × 186,400.50 promotion + 50% × 14,200 fees   → 100,300.25
  2.1   park, 14 new tenants (超过10家) and 36.5M USD (达到3000万) → 3,000,000.00
  5.3   logistics, 286,000 orders × 0.5元                         → 143,000.00
  5.4   logistics, the general-trade reward as determined         → 420,000.00
so 苏仙区 (the logistics company) received 143,000 + 420,000 = 563,000.00 in 2024.
"""

from __future__ import annotations

import re
from html import unescape

import pytest

from huiqi.web.pages.charts import Series, bar_chart
from huiqi.web.pages.dashboard import _share
from tests.pages.conftest import Site


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def section(html: str, key: str) -> str:
    found = re.search(rf'<section class="chart" id="{key}".*?</section>', html, re.S)
    assert found is not None, key
    return found.group(0)


def table_rows(html: str) -> dict[str, list[str]]:
    """A chart's table: first cell → the other cells (text)."""
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        cells = [text_of(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        if cells and not row.lstrip().startswith('<th scope="col"'):
            rows[cells[0]] = cells[1:]
    return rows


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(site: Site):
    page = site.visitor().get("/console/dashboard")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/console/dashboard"


@pytest.mark.parametrize("user", ["alice", "admin"])
def test_applicants_and_the_administrator_may_not_see_the_dashboard(site: Site, user):
    assert site.visitor(user).get("/console/dashboard").status_code == 403


def test_awards_by_clause_come_from_the_ledger(site: Site):
    page = site.visitor("shen").get("/console/dashboard")
    assert page.status_code == 200
    rows = table_rows(section(page.text, "by-clause"))
    assert rows["2.1 跨境电商园区新入驻企业奖励"] == ["3,000,000.00元"]
    assert rows["4.1a 跨境电商出口一次性奖励"] == ["100,000.00元"]
    assert rows["4.1b 第三方平台推广费和入驻年费补助"] == ["100,300.25元"]
    assert rows["5.3 跨境电商物流配送补贴"] == ["143,000.00元"]
    assert rows["5.4 国际快件运营企业奖励"] == ["420,000.00元"]
    assert "4.2 跨境电商龙头企业资金支持" not in rows  # 2025's plan is not approved yet


def test_awards_by_county_and_by_year(site: Site):
    page = site.visitor("shen").get("/console/dashboard")
    assert table_rows(section(page.text, "by-division"))["苏仙区"] == ["563,000.00元"]
    by_year = table_rows(section(page.text, "by-year"))
    assert list(by_year) == ["2024"]


def test_applications_by_state(site: Site):
    page = site.visitor("shen").get("/console/dashboard")
    rows = table_rows(section(page.text, "by-state"))
    # Demo: 1, 2, 3 (2024) and 4, 5, 6 (2025) verified; 7 submitted; 8 returned;
    # 9 resubmitted; 10 rejected; 11 a draft.
    assert rows == {
        "草稿": ["1"],
        "已提交": ["1"],
        "已退回": ["1"],
        "已重新提交": ["1"],
        "审核通过": ["6"],
        "不予支持": ["1"],
    }
    assert "<b>11</b>" in page.text


def test_budget_use_defaults_to_the_latest_year_with_budgets(site: Site):
    page = site.visitor("fang").get("/console/dashboard")
    budgets = section(page.text, "budgets")
    assert "2025年度各县市区（园区）预算使用" in budgets
    rows = table_rows(budgets)
    # 嘉禾县: the 2025 plan (under notice, not approved) grants 500,000 + 600,000 of 1,100,000.
    assert rows["嘉禾县"] == ["1,100,000.00元", "0.00元", "1,100,000.00元", "100.0%"]
    assert rows["苏仙区"] == ["800,000.00元", "0.00元", "0.00元", "0.0%"]


def test_a_year_narrows_every_chart(site: Site):
    page = site.visitor("fang", lang="en").get("/console/dashboard?year=2024")
    assert page.status_code == 200
    budgets = section(page.text, "budgets")
    assert "Budget use by paying finance, 2024" in budgets
    # 苏仙区 2024: 563,000 of 800,000 in the approved plan = 70.375% → 70.4%.
    assert table_rows(budgets)["苏仙区"] == [
        "CNY 800,000.00",
        "CNY 563,000.00",
        "CNY 0.00",
        "70.4%",
    ]
    states = table_rows(section(page.text, "by-state"))
    assert states == {"verified": ["3"]}
    # 2024's only plan is approved and paid: what its plan grants is what the ledger awards.
    totals = re.findall(r'<li class="count"><b>([^<]+)</b>', page.text)
    assert totals[0] == totals[1] and totals[2] == "3"


def test_a_year_with_nothing_says_so_instead_of_drawing(site: Site):
    page = site.visitor("shen").get("/console/dashboard?year=2019")
    assert page.status_code == 200
    assert page.text.count("暂无数据。") == 5
    assert "<svg" not in page.text


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "zh",
            [
                "统计看板",
                "按条款的奖补金额",
                "按县市区（园区）的奖补金额",
                "申报按状态统计",
                "金额（万元）",
            ],
        ),
        (
            "en",
            ["Dashboard", "Awards by clause", "Awards by county or zone", "Applications by state"],
        ),
    ],
)
def test_the_dashboard_reads_in_both_languages(site: Site, lang, words):
    page = site.visitor("shen", lang=lang).get("/console/dashboard")
    assert page.status_code == 200
    for word in words:
        assert word in page.text
    if lang == "en":
        assert "统计看板" not in page.text and "Amount (CNY 10,000)" in page.text


def test_every_chart_is_inline_svg_with_a_label_and_a_table(site: Site):
    page = site.visitor("shen").get("/console/dashboard").text
    charts = re.findall(r'<section class="chart".*?</section>', page, re.S)
    assert len(charts) == 5
    for chart in charts:
        svg = re.search(r"<svg [^>]*>", chart)
        assert svg is not None
        assert 'role="img"' in svg.group(0) and 'aria-label="' in svg.group(0)
        assert "<table>" in chart and "<caption>" in chart
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page
    # Text stays text, so the browser draws Chinese in its own fonts.
    assert re.search(r"<text[^>]*>北湖区</text>", page) or "北湖区</text>" in page
    assert "Noto Sans CJK SC" in page
    # Nothing comes from outside.
    assert not re.search(r'(src|href)="https?://', page)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "ids must be unique in the page"


def test_a_chart_draws_the_same_svg_for_the_same_data():
    one = bar_chart("a", "图", ["北湖区", "苏仙区"], [Series("金额", [100, 250])], unit="元")
    two = bar_chart("a", "图", ["北湖区", "苏仙区"], [Series("金额", [100, 250])], unit="元")
    assert one is not None and one == two


def test_a_chart_with_nothing_to_draw_is_none():
    assert bar_chart("a", "图", [], [Series("金额", [])], unit="元") is None
    assert bar_chart("a", "图", ["北湖区"], [Series("金额", [0])], unit="元") is None


def test_two_charts_in_one_page_never_share_an_id():
    first = bar_chart("first", "一", ["甲"], [Series("s", [1])], unit="元")
    second = bar_chart("second", "二", ["甲"], [Series("s", [1])], unit="元")
    assert first is not None and second is not None
    ids_first = set(re.findall(r'\bid="([^"]+)"', first))
    ids_second = set(re.findall(r'\bid="([^"]+)"', second))
    assert ids_first and not ids_first & ids_second
    for ref in re.findall(r"url\(#([^)]+)\)", first):
        assert ref in ids_first


def test_a_label_is_escaped_in_the_svg():
    svg = bar_chart("x", '<b>"图"</b>', ["<甲>"], [Series("s", [1])], unit="元")
    assert svg is not None
    assert "<b>" not in svg and "&lt;甲&gt;" in svg


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [
        (67_069_000, 120_000_000, "55.9%"),  # 55.890…%
        (56_300_000, 80_000_000, "70.4%"),  # 70.375% rounds half up
        (1, 3, "33.3%"),
        (2, 3, "66.7%"),
        (0, 5, "0.0%"),
        (5, 0, "—"),
    ],
)
def test_budget_shares_are_exact_percentages_to_one_decimal(part, whole, shown):
    assert _share(part, whole) == shown
