"""The synthetic population: the shape the issue asks for, valid, reproducible."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl

from huiqi.simulate.checks import code_check_ok
from huiqi.simulate.evaluate import evaluate, fen_col
from huiqi.simulate.files import read_population, write_population
from huiqi.simulate.population import Population
from huiqi.simulate.synth import synthesise
from huiqi.simulate.thresholds import thresholds

from .. import factgen

N = 40_000


@cache
def population() -> Population:
    return synthesise(N, 11, factgen.package())


def test_the_same_seed_gives_the_same_population_and_another_seed_another() -> None:
    again = synthesise(2_000, 5, factgen.package())
    twice = synthesise(2_000, 5, factgen.package())
    other = synthesise(2_000, 6, factgen.package())
    assert again.applicants.equals(twice.applicants)
    assert again.ledger.equals(twice.ledger)
    assert not again.applicants.equals(other.applicants)


def test_most_applicants_are_small_cbec_enterprises_with_a_long_tail_of_large_ones() -> None:
    apps = population().applicants
    kinds = apps["applicant.kind"].value_counts(normalize=True)
    share = dict(zip(kinds["applicant.kind"].cast(pl.String), kinds["proportion"], strict=True))
    assert share["cbec_enterprise"] > 0.85
    exports = apps.filter(pl.col("trade.export_usd") > 0)["trade.export_usd"]  # cents
    median, top = exports.median(), exports.max()
    assert isinstance(median, float) and isinstance(top, int)
    assert median < 200_000 * 100  # most are small: the median exporter is below 20万 USD
    assert top > 1_000 * median  # and a long tail: the largest a thousand times that


def test_there_are_a_few_parks_logistics_firms_and_training_bodies() -> None:
    pop = population()
    apps = pop.applicants
    parks = apps.filter(pl.col("applicant.kind") == "park").height
    logistics = apps.filter(pl.col("logistics.domestic_orders").is_not_null()).height
    events = pop.items["events"].filter(pl.col("kind") == "training")
    trainers = events["row_id"].n_unique()
    for count in (parks, logistics, trainers):
        assert 0 < count < 0.05 * N


def test_values_sit_on_every_usd_and_area_threshold_and_one_step_either_side() -> None:
    pop = population()
    edges = thresholds(factgen.package())
    usd = pl.concat(
        [
            pop.applicants[c]
            for c in (
                "trade.export_usd",
                "trade.import_usd",
                "park.new_tenants_cbec_total_usd",
                "public_service_platform.cbec_total_usd",
                "belt_and_road.destination_turnover_usd",
            )
        ]
    )
    hit = set(usd.drop_nulls().to_list()) & set(edges["usd"])
    assert len(hit) > 0.8 * len(edges["usd"])
    area = pl.concat(
        [
            pop.applicants["tenancy.leased_area_m2"],
            pop.items["stores"]["area_m2"],
            pop.items["warehouses"]["area_m2"],
        ]
    )
    assert set(edges["m2"]) <= set(area.drop_nulls().to_list())


def test_every_credit_code_is_valid_and_unique() -> None:
    codes = population().applicants["applicant.credit_code"]
    assert code_check_ok(codes).all()
    assert codes.n_unique() == N


def test_the_ledger_holds_top_ups_lifetime_caps_and_same_year_awards() -> None:
    pop = population()
    clauses = set(pop.ledger["clause"].to_list())
    assert {"4.1a", "7.4", "7.2", "4.4a"} <= clauses
    # 7.4's lifetime cap of 100万 per institution bites for some training bodies
    rows = evaluate(pop, factgen.package()).rows
    assert rows.filter(pl.col(fen_col("7.4")) == 0).height > 0


def test_a_synthetic_population_passes_the_same_checks_as_any_file(tmp_path: Path) -> None:
    pop = synthesise(3_000, 2, factgen.package(), years=(2022, 2023, 2024))
    write_population(pop, tmp_path)
    back = read_population(tmp_path)
    assert back.applicants.equals(pop.applicants)
    assert sorted(back.years) == [2022, 2023, 2024]
