"""Population files: read as strictly as one facts file, written and read back unchanged.

Every refusal names the table, the column and the first offending ``row_id``, as a facts
file names its JSON path.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from huiqi import credit_code
from huiqi.errors import InputError
from huiqi.facts.model import Facts
from huiqi.simulate.checks import code_check_ok
from huiqi.simulate.convert import to_facts, to_population
from huiqi.simulate.evaluate import eligible_col, evaluate, fen_col
from huiqi.simulate.files import read_population, to_file_form, write_population
from huiqi.simulate.population import assemble

from .. import factgen

CODE = credit_code.complete("91431000MA4T00001")


def _apps(**extra: object) -> pl.DataFrame:
    base = {
        "row_id": [0],
        "award_year": [2023],
        "applicant.credit_code": [CODE],
        "applicant.name": ["郴州测试"],
        "applicant.kind": ["cbec_enterprise"],
        "applicant.registered_locally": [True],
        "applicant.tax_paying_locally": [True],
        "applicant.independent_legal_person": [True],
        "applicant.in_customs_cbec_statistics": [True],
    }
    base.update({k: [v] for k, v in extra.items()})
    return pl.DataFrame(base)


def _refused(apps: pl.DataFrame, **tables: pl.DataFrame) -> str:
    with pytest.raises(InputError) as raised:
        assemble(
            apps, {k: v for k, v in tables.items() if k not in ("ledger",)}, tables.get("ledger")
        )
    return " | ".join(p.line("en") for p in raised.value.problems)


def test_an_unknown_column_is_refused_by_name() -> None:
    assert "applicants.trade.exprot_usd" in _refused(_apps(**{"trade.exprot_usd": "5"}))


def test_money_with_more_than_two_decimals_is_refused() -> None:
    message = _refused(_apps(**{"trade.export_usd": "100.005"}))
    assert "applicants[row_id=0].trade.export_usd" in message
    assert "two decimals" in message


def test_a_binary_float_column_is_refused() -> None:
    assert "binary floats" in _refused(_apps(**{"trade.export_usd": 0.1}))


def test_negative_money_is_refused() -> None:
    apps = _apps().with_columns(
        pl.Series("trade.export_usd", [Decimal("-1.00")], dtype=pl.Decimal(18, 2))
    )
    assert "trade.export_usd" in _refused(apps)


def test_a_wrong_check_character_is_refused() -> None:
    bad = CODE[:17] + ("0" if CODE[17] != "0" else "1")
    assert "credit code" in _refused(_apps(**{"applicant.credit_code": bad}))


def test_the_vectorised_check_agrees_with_the_one_code_check() -> None:
    codes = [credit_code.complete(f"91431000MA4T{i:05d}") for i in range(200)]
    broken = [c[:17] + ("1" if c[17] == "0" else "0") for c in codes[:50]]
    ok = code_check_ok(pl.Series(codes + broken + ["SHORT", "91431000MA4T0000I0"]))
    assert ok.tolist() == [True] * 200 + [False] * 52


def test_an_unknown_choice_is_refused_with_the_allowed_ones() -> None:
    assert "cbec_enterprise/" in _refused(_apps(**{"applicant.kind": "factory"}))


def test_a_duplicate_row_id_is_refused() -> None:
    apps = pl.concat([_apps(), _apps()])
    assert "duplicate row_id" in _refused(apps)


def test_an_item_of_no_applicant_year_is_refused() -> None:
    stores = pl.DataFrame({"row_id": [7], "id": ["S1"], "kind": ["community"]})
    assert "stores[row_id=7]" in _refused(_apps(), stores=stores)


def test_usd_and_cny_for_the_same_flow_are_refused() -> None:
    message = _refused(_apps(**{"trade.export_usd": "1.00", "trade.export_cny": "7.00"}))
    assert "not both" in message


def test_a_repayment_before_the_drawdown_is_refused() -> None:
    loans = pl.DataFrame(
        {
            "row_id": [0],
            "id": ["L1"],
            "principal_cny": ["100.00"],
            "drawdown_date": ["2023-05-01"],
            "repaid_date": ["2023-04-01"],
            "interest_paid_cny": ["1"],
        }
    )
    assert "repaid_date" in _refused(_apps(), loans=loans)


def test_defaults_fill_an_item_and_a_present_section_but_not_an_absent_one() -> None:
    """A store's located_locally defaults to true; an absent park stays absent."""
    stores = pl.DataFrame(
        {"row_id": [0], "id": ["S1"], "kind": ["o2o_experience"], "area_m2": ["150.00"]}
    )
    pop = assemble(
        _apps(**{"tenancy.leased_area_m2": "120", "trade.export_usd": "1000"}), {"stores": stores}
    )
    assert pop.items["stores"]["located_locally"].to_list() == [True]
    assert pop.applicants["tenancy.park_recognised"].to_list() == [False]
    assert pop.applicants["park.demonstration_base"].to_list() == [None]
    # 4.4a: an exporter's store of 150 m² (> 100) in the city: the 20万 tier, 200,000 yuan
    rows = evaluate(pop, factgen.package()).rows
    assert rows[fen_col("4.4a")].to_list() == [20_000_000]


def test_a_ledger_by_credit_code_is_linked_to_its_applicant() -> None:
    ledger = pl.DataFrame(
        {
            "credit_code": [CODE.lower()],
            "clause": ["4.1a"],
            "award_year": [2022],
            "amount_cny": ["100000"],
        }
    )
    pop = assemble(_apps(**{"trade.export_usd": "600000"}), None, ledger)
    assert pop.ledger["applicant_id"].to_list() == [0]
    # 4.1a: 600,000 USD reaches the 50万 tier; 100,000 paid in 2022 → top-up of 400,000
    assert evaluate(pop, factgen.package()).rows[fen_col("4.1a")].to_list() == [40_000_000]


def _sample() -> list[Facts]:
    found: list[Facts] = []
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(factgen.aimed_facts())
    def collect(f: Facts) -> None:
        found.append(f)

    collect()
    return found


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_population_written_and_read_back_is_unchanged(tmp_path: Path, fmt: str) -> None:
    pop = to_population(_sample())
    write_population(pop, tmp_path, fmt)
    back = read_population(tmp_path)
    assert back.applicants.equals(pop.applicants)
    for name, table in pop.items.items():
        assert back.items[name].equals(table), name
    assert back.ledger.equals(pop.ledger)
    assert back.other_awards.equals(pop.other_awards)


def test_facts_to_tables_and_back_are_the_same_facts() -> None:
    facts = _sample()
    back = dict(to_facts(to_population(facts)))
    for i, f in enumerate(facts):
        rebuilt = back[i]
        assert rebuilt.applicant == f.applicant
        for name in ("stores", "warehouses", "events", "loans", "talents"):
            assert getattr(rebuilt, name) == getattr(f, name)
        assert sorted(map(repr, rebuilt.earlier_awards)) == sorted(map(repr, f.earlier_awards))


def test_a_nested_parquet_file_is_read_as_companion_tables(tmp_path: Path) -> None:
    pop = to_population(_sample())
    flat = to_file_form(pop.applicants, "applicants")
    stores = to_file_form(pop.table("stores"), "stores")
    nested = flat.join(
        stores.group_by("row_id").agg(pl.struct(pl.exclude("row_id")).alias("stores")),
        on="row_id",
        how="left",
    )
    path = tmp_path / "nested.parquet"
    nested.write_parquet(path)
    back = read_population(path)
    assert (
        back.items["stores"].sort("row_id", "id").equals(pop.table("stores").sort("row_id", "id"))
    )
    one = evaluate(back, factgen.package()).rows.sort("row_id")
    only_stores = type(pop)(pop.applicants, {"stores": pop.table("stores")})
    other = evaluate(only_stores, factgen.package()).rows.sort("row_id")
    for cid in ("4.4a", "4.4b"):
        assert one[fen_col(cid)].equals(other[fen_col(cid)])
        assert one[eligible_col(cid)].equals(other[eligible_col(cid)])


def test_dates_flags_and_choices_are_read_from_csv_text(tmp_path: Path) -> None:
    (tmp_path / "applicants.csv").write_text(
        "row_id,award_year,applicant.credit_code,applicant.name,applicant.kind,"
        "applicant.registered_locally,tenancy.moved_in_date\n"
        f"0,2023,{CODE},郴州测试,cbec_enterprise,true,2023-03-01\n",
        encoding="utf-8",
    )
    pop = read_population(tmp_path)
    assert pop.applicants["tenancy.moved_in_date"].to_list() == [date(2023, 3, 1)]
    assert pop.applicants["applicant.registered_locally"].to_list() == [True]
