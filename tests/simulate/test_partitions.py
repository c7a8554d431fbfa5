"""Beyond one machine: evaluated partition by partition and merged, the result is one run's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from huiqi.facts.model import Facts
from huiqi.simulate.compare import totals
from huiqi.simulate.convert import to_facts, to_population
from huiqi.simulate.evaluate import evaluate, fen_col
from huiqi.simulate.files import partitions, read_population, write_population
from huiqi.simulate.population import assemble
from huiqi.simulate.reform import Scenario
from huiqi.simulate.run import merge, run
from huiqi.simulate.synth import synthesise

from .. import factgen
from .engines import diff, single_results


@pytest.mark.parametrize("key", ["county", "award_year"])
def test_partitions_evaluated_apart_and_merged_give_one_runs_rows_and_totals(
    tmp_path: Path, key: str
) -> None:
    pop = synthesise(6_000, 3, factgen.package(), years=(2022, 2023, 2024))
    whole = evaluate(pop, factgen.package())
    write_population(pop, tmp_path, partition_by=key)
    parts = partitions(tmp_path)
    assert len(parts) == (13 if key == "county" else 3)
    merged = merge([evaluate(read_population(tmp_path, p), factgen.package()) for p in parts])
    assert merged.rows.sort("row_id").equals(whole.rows.sort("row_id"))
    assert merged.items.sort("row_id", "clause", "id").equals(
        whole.items.sort("row_id", "clause", "id")
    )
    for by in (("clause",), ("county",), ("award_year", "kind")):
        assert totals(merged, by).equals(totals(whole, by))
    # and the runner does the same over the folder
    by_name, timings = run(tmp_path, [Scenario(factgen.package())])
    assert timings.rows == 6_000
    assert totals(by_name["baseline"], ("clause",)).equals(totals(whole, ("clause",)))


def test_a_ledger_entry_of_a_later_year_is_not_an_earlier_award() -> None:
    """One exporter in 2022 and 2023 (600,000 USD: the 50万 tier of 4.1a); the ledger has
    10万 from 2021 and 40万 from 2023. In 2022 only 2021 counts: 50万 − 10万 = 40万;
    in 2023 both count: 50万 − 50万 = 0."""
    data = factgen.base_facts("cbec_enterprise", 2022)
    data["trade"] = {"export_usd": Decimal(600_000)}
    one = to_population([Facts.model_validate(data)])
    apps = pl.concat(
        [
            one.applicants,
            one.applicants.with_columns(
                row_id=pl.lit(1, pl.Int64), award_year=pl.lit(2023, pl.Int64)
            ),
        ]
    )
    ledger = pl.DataFrame(
        {
            "applicant_id": [0, 0],
            "clause": ["4.1a", "4.1a"],
            "award_year": [2021, 2023],
            "amount_cny": [Decimal(100_000), Decimal(400_000)],
        }
    )
    from huiqi.simulate.files import to_file_form

    pop = assemble(to_file_form(apps, "applicants"), None, ledger)
    rows = evaluate(pop, factgen.package()).rows.sort("row_id")
    assert rows[fen_col("4.1a")].to_list() == [40_000_000, 0]
    facts = [f for _, f in to_facts(pop)]
    assert [len(f.earlier_awards) for f in facts] == [1, 2]
    found = diff(
        evaluate(pop, factgen.package()),
        single_results(facts, lambda _y: factgen.package()),
        lambda _y: factgen.package(),
    )
    assert not found


def test_applicant_years_without_a_county_get_hives_default_partition(tmp_path: Path) -> None:
    pop = synthesise(500, 9, factgen.package())
    apps = pop.applicants.with_columns(
        pl.when(pl.col("row_id") < 50)
        .then(None)
        .otherwise(pl.col("applicant.tax_filing_division"))
        .alias("applicant.tax_filing_division")
    )
    pop = type(pop)(apps, pop.items, pop.ledger, pop.other_awards)
    write_population(pop, tmp_path, partition_by="county")
    assert "county=__HIVE_DEFAULT_PARTITION__" in partitions(tmp_path)
    merged = merge(
        [evaluate(read_population(tmp_path, p), factgen.package()) for p in partitions(tmp_path)]
    )
    assert merged.rows.height == 500
    assert totals(merged, ("clause",)).equals(totals(evaluate(pop, factgen.package()), ("clause",)))
