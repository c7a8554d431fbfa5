"""The columnar evaluator against the single-case engine: no difference, ever.

Thousands of random applicant-years (``tests/factgen.py``: random kinds, sections,
lists, ledgers and award years, values clustered at every threshold ± 0.01), every
threshold of the package one step below, at and above it in every award year, every
policy test case, every switch, and random reforms: per applicant-year and clause the
same eligibility, fen and tier; per listed item the same eligibility, tier, amount and
share; and so the same totals.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from huiqi.engine import evaluate as single
from huiqi.errors import InputError
from huiqi.facts import parse_facts
from huiqi.facts.model import Facts
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import load_package
from huiqi.policy.cases import load_cases, yuan
from huiqi.simulate.convert import to_population
from huiqi.simulate.evaluate import eligible_col, evaluate, fen_col, tier_col
from huiqi.simulate.reform import Change, Reform, Scenario

from .. import factgen
from ..conftest import FIXTURES
from ..test_boundaries import CASES as BOUNDARIES
from ..test_boundaries import build_facts
from .engines import differences

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

#: A batch of applicant-years: most aimed at one clause (its gates hold), some fully random.
BATCH = st.lists(st.one_of(factgen.aimed_facts(), factgen.facts()), min_size=25, max_size=45)


def _same(facts: list[Facts], package_for: Any) -> int:
    found, compared = differences(facts, package_for)
    assert not found, "\n".join(found[:20])
    return compared


@SETTINGS
@given(BATCH)
def test_random_applicant_years_get_the_same_eligibility_fen_tier_and_items_in_both_engines(
    batch: list[Facts],
) -> None:
    assert _same(batch, lambda _year: factgen.package()) > 0


SWITCHES = st.fixed_dictionaries(
    {
        name: st.sampled_from(sorted(spec.options))
        for name, spec in factgen.package().policy.switches.items()
    }
)


@settings(SETTINGS, max_examples=30)
@given(BATCH, SWITCHES)
def test_both_engines_agree_under_every_setting_of_the_switches(
    batch: list[Facts], switches: dict[str, str]
) -> None:
    package = factgen.package().with_switches(switches)
    _same(batch, lambda _year: package)


def _numeric_parameters() -> list[tuple[str | None, str]]:
    pkg = factgen.package()
    found: list[tuple[str | None, str]] = [(None, "usd_cny"), (None, "lpr_1y")]
    for clause in pkg.clauses.values():
        found += [(clause.id, name) for name in clause.parameters]
    return found


@st.composite
def reforms(draw: st.DrawFn) -> Reform:
    """One to three parameter changes (×0.5 … ×2, from a random award year) and maybe a switch."""
    pkg = factgen.package()
    changes = []
    for clause, name in draw(
        st.lists(st.sampled_from(_numeric_parameters()), min_size=1, max_size=3, unique=True)
    ):
        spec = pkg.clauses[clause].parameters[name] if clause else pkg.parameters[name]
        old = spec.values[max(spec.values)]
        factor = draw(st.sampled_from([Decimal("0.5"), Decimal("0.9"), Decimal("1.1"), Decimal(2)]))
        value = (old * factor).quantize(Decimal("0.0001"))
        if spec.unit.value == "count":
            value = value.to_integral_value()
        start = date(draw(st.sampled_from(list(factgen.award_years()))), 1, 1)
        changes.append(Change(name, value, clause, start))
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(pkg.policy.switches)))
        option = draw(st.sampled_from(sorted(pkg.policy.switches[name].options)))
        changes.append(Change(name, option, None, date(2023, 1, 1)))
    return Reform("random", tuple(changes))


@settings(SETTINGS, max_examples=30)
@given(BATCH, reforms())
def test_both_engines_agree_under_random_reforms_of_parameters_and_switches(
    batch: list[Facts], reform: Reform
) -> None:
    try:
        scenario = Scenario(factgen.package(), reform)
    except InputError:
        assume(False)  # e.g. a tier threshold moved past the next tier's: refused, not run
        return
    _same(batch, scenario)


def _boundary_facts() -> list[Facts]:
    out = []
    for case in BOUNDARIES:
        for year in factgen.award_years():
            value = case.value(year)
            if value is not None:
                out.append(build_facts(case, year, value))
    return out


def test_every_threshold_one_step_below_at_and_above_agrees_in_both_engines_in_every_year() -> None:
    facts = _boundary_facts()
    assert len(facts) > 300
    _same(facts, lambda _year: factgen.package())


MINI = FIXTURES / "mini_policy"


@pytest.mark.parametrize("root", [DEFAULT_POLICY, MINI], ids=["chenzhou", "mini_policy"])
def test_every_policy_test_case_gives_its_expected_result_in_the_columnar_evaluator(
    root: Path,
) -> None:
    """The cases written by hand from the policy text (400+ for Chenzhou), as a population;
    the columnar evaluator knows no more of Chenzhou than the engine does."""
    cases = sorted(
        (c for c in load_cases(root) if c.error is None), key=lambda c: sorted(c.switches.items())
    )
    assert len(cases) > (300 if root == DEFAULT_POLICY else 10)
    checked = 0
    for switches, group in groupby(cases, key=lambda c: sorted(c.switches.items())):
        batch = list(group)
        package = load_package(root).with_switches(dict(switches))
        facts = [parse_facts(c.facts).model_copy(update={"award_year": c.year}) for c in batch]
        results = evaluate(to_population(facts), package)
        rows = results.rows.sort("row_id")
        items = results.items
        for i, case in enumerate(batch):
            row = rows.row(i, named=True)
            expect = case.expect
            where = f"{case.id} ({case.clause})"
            if "eligible" in expect:
                assert row[eligible_col(case.clause)] is expect["eligible"], where
            if "amount" in expect:
                wanted = None if expect["amount"] is None else yuan(expect["amount"])
                assert row[fen_col(case.clause)] == wanted, where
            if "tier" in expect:
                assert row.get(tier_col(case.clause)) == expect["tier"], where
            for subject, amount in expect.get("items", {}).items():
                hit = items.filter(
                    (items["row_id"] == i)
                    & (items["clause"] == case.clause)
                    & (items["id"] == str(subject))
                )
                if hit.height == 0:  # an applicant-level clause: its one subject is the row
                    assert amount is not False or not row[eligible_col(case.clause)], where
                    continue
                if amount is False:
                    assert not hit["eligible"][0], where
                else:
                    assert hit["amount_fen"][0] == yuan(amount), where
            # and the single-case engine agrees on the whole row, every clause
            expected = single(package, facts[i], case.year)
            for c in expected.clauses:
                assert row[fen_col(c.clause_id)] == c.amount_fen, f"{where} / {c.clause_id}"
                assert row[eligible_col(c.clause_id)] is c.eligible, f"{where} / {c.clause_id}"
            checked += 1
    assert checked == len(cases)


@settings(SETTINGS, max_examples=15)
@given(
    st.lists(
        st.sampled_from([2024, 2025, 2026]).flatmap(lambda y: factgen.facts(year=y)),
        min_size=20,
        max_size=35,
    )
)
def test_a_second_policy_package_agrees_in_both_engines(batch: list[Facts]) -> None:
    """The fixture package (its own award years 2024–2026, scope, tiers and caps)."""
    package = load_package(MINI)
    _same(batch, lambda _year: package)


def _huge(year: int) -> dict[str, Any]:
    data = factgen.base_facts("cbec_enterprise", year)
    data["trade"] = {"export_usd": Decimal("9999999999999.99")}
    data["loans"] = [
        {
            "id": "L1",
            "cross_border_financial_product": True,
            "principal_cny": Decimal("9999999999999.99"),
            "drawdown_date": date(year, 1, 5),
            "interest_paid_cny": Decimal("9999999999999.99"),
        }
    ]
    data["staff_training"] = {"costs_cny": Decimal("9999999999999.99")}
    data["marketplaces"] = {
        "promotion_fees_cny": Decimal("9999999999999.99"),
        "new_store_annual_fees_cny": Decimal("9999999999999.99"),
    }
    return data


def test_the_largest_amounts_the_schema_allows_stay_exact_in_both_engines() -> None:
    """10¹³ yuan × an LPR × days: beyond Int64 in the middle, so Int128 — and still equal."""
    facts = [Facts.model_validate(_huge(y)) for y in factgen.award_years()]
    _same(facts, lambda _year: factgen.package())


def test_a_loan_drawn_before_the_first_lpr_cannot_be_paid_but_the_others_still_are() -> None:
    data = factgen.base_facts("cbec_enterprise", 2021)
    data["applicant"]["platform_filed"] = True
    loan = {
        "cross_border_financial_product": True,
        "principal_cny": Decimal("1000000.00"),
        "interest_paid_cny": Decimal("50000.00"),
    }
    data["loans"] = [
        {**loan, "id": "OLD", "drawdown_date": date(2019, 6, 1)},
        {**loan, "id": "NEW", "drawdown_date": date(2021, 1, 1)},
    ]
    facts = Facts.model_validate(data)
    _same([facts], lambda _year: factgen.package())
    items = evaluate(to_population([facts]), factgen.package()).items
    old = items.filter(items["id"] == "OLD")
    assert old["eligible"].to_list() == [False]
    # 1,000,000 × 3.85% × 20% × 365/360 = 7,806.94 yuan (the LPR of 2020-04-20 on 2021-01-01)
    new = items.filter(items["id"] == "NEW")
    assert new["amount_fen"].to_list() == [780694]


@pytest.mark.parametrize("year", list(factgen.award_years()))
def test_a_usd_threshold_met_through_cny_at_the_years_rate_is_compared_exactly(year: int) -> None:
    """4.2 at exactly 3000万 USD given only in CNY: 30,000,000 × the year's rate (exact)."""
    rate = factgen.value_on(factgen.package(), None, "usd_cny", year)
    assert rate is not None
    facts = []
    for delta in (Decimal("-0.01"), Decimal(0), Decimal("0.01")):
        data = factgen.base_facts("cbec_enterprise", year)
        data["trade"] = {"export_cny": Decimal(30_000_000) * rate + delta}
        facts.append(Facts.model_validate(data))
    results = evaluate(to_population(facts), factgen.package()).rows.sort("row_id")
    assert results[eligible_col("4.2")].to_list() == [False, True, True]
    _same(facts, lambda _year: factgen.package())


def _overlapped(year: int, other_year: int) -> Facts:
    """A service enterprise with a store, a distribution centre and staff training, each of
    which another policy paid for in ``other_year``."""
    data = factgen.base_facts("service_enterprise", year)
    data["stores"] = [
        {"id": "S1", "kind": "o2o_experience", "area_m2": Decimal("600"), "located_locally": True}
    ]
    data["distribution_centre"] = {"id": "DC1", "main_builder": True}
    data["staff_training"] = {"costs_cny": Decimal("100000.00")}
    award = {"policy": "其他政策", "award_year": other_year}
    data["other_policy_awards"] = [
        {**award, "clause": "4.4a", "subject_id": "S1", "amount_cny": Decimal("200000.00")},
        {**award, "clause": "5.1", "subject_id": "DC1", "amount_cny": Decimal("400000.00")},
        {**award, "clause": "7.1", "amount_cny": Decimal("10000.00")},
    ]
    return Facts.model_validate(data)


def test_another_policys_award_for_a_one_time_subject_counts_in_any_year_in_both_engines() -> None:
    """从优不重复 (interpretations E): a store or a centre another policy paid for in an earlier
    year is paid only the difference; a yearly award (7.1 training) is reduced only by the
    same year's. Both engines, every award year."""
    years = [y for y in factgen.award_years() if y > min(factgen.award_years())]
    facts = [_overlapped(y, y - 1) for y in years] + [_overlapped(y, y) for y in years]
    _same(facts, lambda _year: factgen.package())
    rows = evaluate(to_population(facts), factgen.package()).rows.sort("row_id")
    n = len(years)
    assert rows[fen_col("4.4a")].to_list() == [30_000_000] * (2 * n)
    assert rows[fen_col("5.1")].to_list() == [60_000_000] * (2 * n)
    # training: 30% of 100,000 = 30,000; last year's 10,000 does not count, this year's does
    assert rows[fen_col("7.1")].to_list() == [3_000_000] * n + [2_000_000] * n
