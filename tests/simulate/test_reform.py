"""Reforms: a parameter or switch changed from a date, written in YAML, Excel or options.

Expected amounts are worked out here from the policy text and the reform, by hand.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from openpyxl import Workbook

from huiqi.errors import InputError
from huiqi.facts.model import Facts
from huiqi.simulate.compare import compare, totals
from huiqi.simulate.convert import to_population
from huiqi.simulate.evaluate import eligible_col, evaluate, fen_col, tier_col
from huiqi.simulate.reform import Reform, Scenario, parse_option, read_reform

from .. import factgen
from .engines import differences

WAN = 1_000_000  # 1万元 in fen


def exporter(year: int, export_usd: str, **extra: Any) -> Facts:
    data = factgen.base_facts("cbec_enterprise", year)
    data["trade"] = {"export_usd": Decimal(export_usd), "import_usd": Decimal(0)}
    data.update(extra)
    return Facts.model_validate(data)


def scenario(*options: str) -> Scenario:
    return Scenario(factgen.package(), Reform("test", tuple(parse_option(o) for o in options)))


def run(facts: list[Facts], rules: Any) -> dict[str, list[Any]]:
    rows = evaluate(to_population(facts), rules).rows.sort("row_id")
    return {name: rows[name].to_list() for name in rows.columns}


def test_lowering_the_4_2_threshold_to_20_million_from_2024_changes_who_qualifies() -> None:
    """4.2: 3000万美元以上 → 2000万美元以上 from 2024. 以上 includes the number."""
    facts = [
        exporter(2023, "25000000"),  # 2023 keeps the old rule: not eligible
        exporter(2024, "25000000"),  # 2024: ≥ 2000万 → up to 100万元
        exporter(2024, "20000000"),  # exactly 2000万: included
        exporter(2024, "19999999.99"),  # one cent below: not
        exporter(2024, "35000000"),  # already eligible: unchanged, 100万元
    ]
    base = run(facts, factgen.package())
    reform = run(facts, scenario("4.2:total_1=20000000@2024-01-01"))
    assert base[eligible_col("4.2")] == [False, False, False, False, True]
    assert reform[eligible_col("4.2")] == [False, True, True, False, True]
    assert reform[fen_col("4.2")] == [None, 100 * WAN, 100 * WAN, None, 100 * WAN]
    assert reform[tier_col("4.2")] == [None, "100万", "100万", None, "100万"]
    found, _ = differences(facts, scenario("4.2:total_1=20000000@2024-01-01"))
    assert not found


def test_strict_once_from_2024_pays_nothing_after_a_first_payment_but_2023_still_tops_up() -> None:
    """4.1a: 600,000 USD reaches the 50万 tier; 10万 paid in 2022. Top-up: 50万 − 10万 = 40万."""
    ledger = [{"clause": "4.1a", "award_year": 2022, "amount_cny": Decimal(100_000)}]
    facts = [exporter(y, "600000", earlier_awards=ledger) for y in (2023, 2024)]
    base = run(facts, factgen.package())
    reform = run(facts, scenario("one_time_mode=strict_once@2024-01-01"))
    assert base[fen_col("4.1a")] == [40 * WAN, 40 * WAN]
    assert reform[fen_col("4.1a")] == [40 * WAN, 0]
    assert reform[eligible_col("4.1a")] == [True, True]


def _loan(drawn: date, principal: str = "1000000") -> dict[str, Any]:
    return {
        "id": f"L{drawn.isoformat()}",
        "cross_border_financial_product": True,
        "principal_cny": Decimal(principal),
        "drawdown_date": drawn,
        "interest_paid_cny": Decimal(1_000_000),
    }


def test_an_lpr_reform_applies_to_loans_drawn_from_its_date_only() -> None:
    """6.2 in 2024 with the LPR set to 2.00% from 2024-01-01.

    Drawn 2024-03-01, open: 306 days. Reform: 1,000,000 × 2.00% × 20% × 306/360 = 3,400.00;
    baseline (3.45% since 2023-08-21): 1,000,000 × 3.45% × 20% × 306/360 = 5,865.00.
    Drawn 2023-12-01: the old 3.45% either way, 366 days of 2024: 6,900 × 366/360 = 7,015.00.
    """
    facts = [
        exporter(2024, "150000", loans=[_loan(date(2024, 3, 1))]),
        exporter(2024, "150000", loans=[_loan(date(2023, 12, 1))]),
    ]
    base = run(facts, factgen.package())
    reform = run(facts, scenario("lpr_1y=0.0200@2024-01-01"))
    assert base[fen_col("6.2")] == [586_500, 701_500]
    assert reform[fen_col("6.2")] == [340_000, 701_500]


def _workbook(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "改革方案"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_an_excel_reform_with_chinese_headers_reads_numbers_dates_and_switches(
    tmp_path: Path,
) -> None:
    """The bureau's sheet: clause 4.2 typed as the number 4.2, a date cell, a switch row."""
    path = _workbook(
        tmp_path / "reform.xlsx",
        ["条款", "参数", "新值", "生效日期"],
        [
            [4.2, "total_1", 20000000, date(2024, 1, 1)],
            [None, "day_basis", "act_365", "2025-01-01"],
        ],
    )
    reform = read_reform(path)
    assert reform.name == "改革方案"
    assert [c.describe() for c in reform.changes] == [
        "4.2:total_1=20000000@2024-01-01",
        "day_basis=act_365@2025-01-01",
    ]


def test_the_day_basis_switch_from_2025_turns_360_into_365_days() -> None:
    """6.2 in 2025, 3,650,000 drawn 2025-01-01 at 3.10%: 22,630 a year before the day basis.

    act_360: 22,630 × 365/360 = 22,944.305… → 22,944.31; act_365: 22,630.00.
    """
    facts = [exporter(2025, "150000", loans=[_loan(date(2025, 1, 1), "3650000")])]
    base = run(facts, factgen.package())
    reform = run(facts, scenario("day_basis=act_365@2025-01-01"))
    assert base[fen_col("6.2")] == [2_294_431]
    assert reform[fen_col("6.2")] == [2_263_000]


def test_a_yaml_reform_reads_like_the_excel_one(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "name: 龙头企业门槛降至2000万美元\n"
        "changes:\n"
        "  - {clause: '4.2', parameter: total_1, value: 20000000, from: 2024-01-01}\n"
        "  - {switch: one_time_mode, value: strict_once}\n",
        encoding="utf-8",
    )
    reform = read_reform(path)
    assert reform.name == "龙头企业门槛降至2000万美元"
    assert [c.describe() for c in reform.changes] == [
        "4.2:total_1=20000000@2024-01-01",
        "one_time_mode=strict_once",
    ]


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("9.9:total_1=1", "no clause 9.9"),
        ("4.2:total_9=1", "clause 4.2 has no parameter total_9"),
        ("one_time_mode=twice", "not an option of one_time_mode"),
        ("no_such=1", "no parameter or switch named no_such"),
        ("4.2:total_1=200000000", "tiers out of order"),
        ("7.1:share=1.5", "a rate is between 0 and 1"),
        ("7.1:cap=-5", "cannot be negative"),
        ("4.2:total_1", "expected [CLAUSE:]NAME=VALUE[@FROM]"),
        ("4.2:total_1=5@2024-13-01", "not a date"),
    ],
)
def test_a_reform_that_cannot_apply_is_refused_saying_why(option: str, says: str) -> None:
    with pytest.raises(InputError) as raised:
        scenario(option)
    assert says in " ".join(p.en for p in raised.value.problems)


def test_raising_a_threshold_shows_who_loses_and_who_crosses_it() -> None:
    """4.2 at 4000万 from 2023: the 3500万 exporter loses its 100万元 ceiling; others keep."""
    facts = [exporter(2023, "35000000"), exporter(2023, "10000000"), exporter(2023, "120000000")]
    base = evaluate(to_population(facts), factgen.package())
    reformed = evaluate(to_population(facts), scenario("4.2:total_1=40000000@2023-01-01"))
    result = compare(base, reformed, "4.2 → 4000万")
    gains = {r["direction"]: r for r in result.gains.iter_rows(named=True)}
    assert gains["loss"]["applicant_years"] == 1
    assert gains["loss"]["change_fen"] == -100 * WAN
    assert gains["same"]["applicant_years"] == 2
    crossing = result.crossings.row(0, named=True)
    assert (
        crossing["clause"],
        crossing["from"],
        crossing["to"],
        crossing["direction"],
        crossing["applicant_years"],
    ) == ("4.2", "100万", "—", "down", 1)
    row = result.by_clause.filter(result.by_clause["clause"] == "4.2").row(0, named=True)
    assert (row["cost_base_fen"], row["cost_reform_fen"]) == (300 * WAN, 200 * WAN)


def test_a_package_level_parameter_is_changed_without_a_clause() -> None:
    """usd_cny 2023 set to 7.00: 21,000,000 CNY of exports is exactly 3,000,000 USD."""
    data = factgen.base_facts("cbec_enterprise", 2023)
    data["trade"] = {"export_cny": Decimal(210_000_000)}
    facts = [Facts.model_validate(data)]
    base = run(facts, factgen.package())
    reform = run(facts, scenario("usd_cny=7.00@2023-01-01"))
    # 4.2 needs 3000万 USD: 210,000,000 / 7.0467 < 3000万; / 7.00 = 3000万 exactly → eligible
    assert base[eligible_col("4.2")] == [False]
    assert reform[eligible_col("4.2")] == [True]


def test_totals_add_up_by_clause_county_year_and_kind() -> None:
    """Two exporters of 600,000 USD in 北湖区 (2023, 2024) and one of 250,000 in 苏仙区 (2023).

    4.1a (fixed): 50万 + 50万 + 20万 = 120万元; by county 北湖区 100万, 苏仙区 20万.
    """
    facts = []
    for year, usd, county in (
        (2023, "600000", "北湖区"),
        (2024, "600000", "北湖区"),
        (2023, "250000", "苏仙区"),
    ):
        data = factgen.base_facts("cbec_enterprise", year)
        data["trade"] = {"export_usd": Decimal(usd)}
        data["applicant"]["tax_filing_division"] = county
        facts.append(Facts.model_validate(data))
    results = evaluate(to_population(facts), factgen.package())
    by_clause = totals(results, ("clause", "kind"))
    row = by_clause.filter(by_clause["clause"] == "4.1a").row(0, named=True)
    assert (row["kind"], row["cost_fen"], row["eligible"]) == ("fixed", 120 * WAN, 3)
    by_county = totals(results, ("county", "clause"))
    export = by_county.filter(by_county["clause"] == "4.1a")
    assert dict(zip(export["county"], export["cost_fen"], strict=True)) == {
        "北湖区": 100 * WAN,
        "苏仙区": 20 * WAN,
    }
    by_year = totals(results, ("award_year",))
    assert by_year["award_year"].to_list() == [2023, 2024]
    long = results.long().filter(pl.col("clause") == "4.1a").sort("row_id")
    assert long["amount_fen"].to_list() == [50 * WAN, 50 * WAN, 20 * WAN]
    assert long["kind"].to_list() == ["fixed"] * 3


def test_the_sample_reform_shipped_with_the_package_reads_and_applies() -> None:
    sample = Path(__file__).parents[2] / "src/huiqi/simulate/sample_reform.yaml"
    reform = read_reform(sample)
    assert [c.describe() for c in reform.changes] == [
        "4.2:total_1=20000000@2023-01-01",
        "7.1:share=0.40@2023-01-01",
        "one_time_mode=strict_once@2023-01-01",
    ]
    # 7.1 at 40% from 2023: 100,000 yuan of training costs → 40,000 yuan (30% before: 30,000)
    facts = [
        exporter(y, "150000", staff_training={"costs_cny": Decimal(100_000)}) for y in (2022, 2023)
    ]
    assert run(facts, Scenario(factgen.package(), reform))[fen_col("7.1")] == [
        30_000 * 100,
        40_000 * 100,
    ]
