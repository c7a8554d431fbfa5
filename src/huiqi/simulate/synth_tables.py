"""The synthetic tables themselves: applicant-years, their lists, and the two ledgers.

Shares below are per applicant-year; amounts are log-normal (median, spread) in the
column's unit, then partly put on thresholds (:meth:`Synth.clustered`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from huiqi.facts.paths import ITEM_LISTS
from huiqi.simulate.population import empty
from huiqi.simulate.schema import columns
from huiqi.simulate.synth import COUNTIES, KINDS, Synth, _codes, as_column

NAMES = ("湘南", "林邑", "苏仙", "东江", "莽山", "飞天", "南岭", "五岭", "秀峰", "郴江")
TRADES = ("跨境电商有限公司", "国际贸易有限公司", "供应链管理有限公司", "电子商务有限公司")


def _frame(table: str, n: int, cols: dict[str, pl.Series]) -> pl.DataFrame:
    """All columns of ``table``, in schema order; those not drawn are null."""
    spec = columns(table)
    out = [
        cols[name].alias(name)
        if name in cols
        else pl.repeat(None, n, dtype=c.memory_dtype, eager=True).alias(name)
        for name, c in spec.items()
    ]
    return pl.DataFrame(out)


def applicants(s: Synth, years: list[int]) -> pl.DataFrame:
    n, rng = s.n, s.rng
    t = "applicants"
    kind_names = [k for k, _ in KINDS]
    kind_idx = s.index([w for _, w in KINDS])
    county = s.index([w for _, _, w in COUNTIES])
    year = np.asarray(years, dtype=np.int64)[s.index([1.0] * len(years))]
    cbec, service = kind_idx == 0, kind_idx == 1
    park = kind_idx == kind_names.index("park")
    body = kind_idx >= kind_names.index("public_service_body")
    logistics = service & s.flag(0.3)

    def put(name: str, values: Any, mask: np.ndarray | None = None) -> None:
        c[name] = as_column(name, t, values, mask)

    c: dict[str, pl.Series] = {
        "row_id": pl.Series(np.arange(n, dtype=np.int64)),
        "applicant_id": pl.Series(np.arange(n, dtype=np.int64)),
        "award_year": pl.Series(year),
        "applicant.credit_code": _codes(s, county),
        "applicant.kind": as_column("applicant.kind", t, pl.Series(kind_names).gather(kind_idx)),
        "applicant.tax_filing_division": pl.Series([c for c, _, _ in COUNTIES]).gather(county),
        "applicant.registered_locally": pl.Series(s.flag(0.985)),
        "applicant.tax_paying_locally": pl.Series(s.flag(0.975)),
        "applicant.independent_legal_person": pl.Series(s.flag(0.975)),
        "applicant.in_customs_cbec_statistics": pl.Series(s.flag(0.93) & (cbec | s.flag(0.5))),
        "applicant.platform_filed": pl.Series(s.flag(0.6)),
        "applicant.platform_connected": pl.Series(s.flag(0.5) | logistics),
        "applicant.platform_enterprise": pl.Series(cbec & s.flag(0.03)),
    }
    idx = pl.Series(np.arange(n)).cast(pl.String)
    name = s.choice(NAMES, [1.0] * len(NAMES))
    trade = s.choice(TRADES, [1.0] * len(TRADES))
    c["applicant.name"] = pl.select(pl.concat_str([pl.lit("郴州"), name, idx, trade])).to_series()
    # trade: most exporters small, a long tail; some report CNY only; some have not exported
    exporter = (cbec & s.flag(0.88)) | (service & s.flag(0.25))
    in_cny = exporter & s.flag(0.08)
    export = s.clustered(s.money(60_000, 1.9), "usd", 0.06)
    put("trade.export_usd", np.where(exporter, export, 0), ~in_cny & (cbec | service))
    put("trade.export_cny", s.money(400_000, 1.9), in_cny)
    put("trade.import_usd", s.clustered(s.money(40_000, 1.9), "usd", 0.03), exporter & s.flag(0.3))
    has = park
    put("park.recognised_by", s.choice(["province", "city", "none"], [4, 4, 2]), has)
    put("park.demonstration_base", s.flag(0.3), has)
    tenants = s.clustered(rng.poisson(9, n).astype(np.int64), "count", 0.4)
    put("park.new_cbec_tenants", tenants, has)
    new_total = s.clustered(s.money(25_000_000, 0.8), "usd", 0.4)
    put("park.new_tenants_cbec_total_usd", new_total, has)
    put("park.cbec_total_usd", new_total + s.money(30_000_000, 0.8), has)
    has = cbec & s.flag(0.04)
    put("tenancy.park_recognised", s.flag(0.8), has)
    moved = np.where(s.flag(0.75), year, year - 1)
    put("tenancy.moved_in_date", _in_year(s, moved), has)
    put("tenancy.leased_area_m2", s.clustered(s.money(150, 0.8), "m2", 0.2), has)
    put("tenancy.first_year_rent_cny", s.clustered(s.money(80_000, 0.9), "cny", 0.05), has)
    has = (park | body | (service & s.flag(0.1))) & s.flag(0.3)
    for f, med in (
        ("hardware_cny", 300_000),
        ("software_cny", 100_000),
        ("development_cny", 200_000),
        ("infrastructure_cny", 500_000),
    ):
        c[f"platform_construction.{f}"] = as_column(
            f"platform_construction.{f}", t, s.money(med, 1.0) * s.flag(0.7), has
        )
    has = (service | body) & s.flag(0.08)
    put(
        "public_service_platform.entered_date",
        _in_year(s, np.where(s.flag(0.6), year, year - 1)),
        has,
    )
    put("public_service_platform.customs_certified", s.flag(0.7), has)
    put(
        "public_service_platform.cbec_total_usd",
        s.clustered(s.money(15_000_000, 1.2), "usd", 0.3),
        has,
    )
    has = (service | park | body) & s.flag(0.03)
    put("supervision_centre.investment_cny", s.clustered(s.money(900_000, 1.0), "cny", 0.1), has)
    has = cbec & s.flag(0.55)
    put("marketplaces.promotion_fees_cny", s.clustered(s.money(40_000, 1.3), "cny", 0.03), has)
    put("marketplaces.new_store_annual_fees_cny", s.money(20_000, 0.8) * s.flag(0.25), has)
    has = cbec & s.flag(0.015)
    put("belt_and_road.site_opened", s.flag(0.8), has)
    put(
        "belt_and_road.destination_turnover_usd",
        s.clustered(s.money(3_000_000, 1.2), "usd", 0.3),
        has,
    )
    has = (service | park) & s.flag(0.02)
    put("distribution_centre.id", np.full(n, "DC1"), has)
    put("distribution_centre.main_builder", s.flag(0.7), has)
    has = (cbec | service) & s.flag(0.01)
    put(
        "overseas_warehouse_pilot.listed_by",
        s.choice(["ministry", "province", "city", "none"], [1, 3, 4, 2]),
        has,
    )
    orders = s.clustered(
        np.round(rng.lognormal(np.log(60_000), 1.2, n)).astype(np.int64), "count", 0.1
    )
    put("logistics.domestic_orders", orders, logistics)
    has = (cbec | service) & s.flag(0.015)
    put(
        "international_express.general_trade_reward_cny",
        s.clustered(s.money(300_000, 1.0), "cny", 0.1),
        has,
    )
    has = (cbec | service) & s.flag(0.18)
    put("staff_training.costs_cny", s.clustered(s.money(30_000, 1.2), "cny", 0.03), has)
    has = body & s.flag(0.15)
    put("talent_base.id", np.full(n, "TB1"), has)
    put("talent_base.recognised", s.flag(0.8), has)
    put("talent_base.construction_cny", s.money(600_000, 0.8), has)
    put("talent_base.operating_cny", s.clustered(s.money(500_000, 0.8), "cny", 0.1), has)
    return _frame(t, n, c)


def _in_year(s: Synth, years: np.ndarray) -> np.ndarray:
    """A random day of each given year."""
    start = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    days: np.ndarray = start + s.rng.integers(0, 365, years.size).astype("timedelta64[D]")
    return days


def _repeat(s: Synth, chosen: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    """(row index, 1-based number within the row) of 1..most items for each chosen row."""
    rows = np.flatnonzero(chosen)
    counts = s.rng.integers(1, most + 1, rows.size)
    owner = np.repeat(rows, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.arange(owner.size) - starts + 1


def _ids(prefix: str, number: np.ndarray) -> pl.Series:
    return pl.select(pl.concat_str([pl.lit(prefix), pl.Series(number).cast(pl.String)])).to_series()


def items(s: Synth, apps: pl.DataFrame) -> dict[str, pl.DataFrame]:
    kind = apps["applicant.kind"]
    year = apps["award_year"].to_numpy()
    firm = kind.is_in(["cbec_enterprise", "service_enterprise"]).to_numpy()
    body = kind.is_in(["public_service_body", "support_institution"]).to_numpy()
    cbec = (kind == "cbec_enterprise").to_numpy()
    out: dict[str, pl.DataFrame] = {}

    def table(
        name: str, owner: np.ndarray, number: np.ndarray, prefix: str, cols: dict[str, Any]
    ) -> None:
        m = owner.size
        series = {"row_id": pl.Series(owner.astype(np.int64)), "id": _ids(prefix, number)}
        for col, values in cols.items():
            data, mask = values if isinstance(values, tuple) else (values, None)
            series[col] = as_column(col, name, data, mask)
        out[name] = _frame(name, m, series)

    owner, number = _repeat(s, firm & s.flag(0.03), 4)
    m = owner.size
    table(
        "stores",
        owner,
        number,
        "S",
        {
            "kind": s.choice(["o2o_experience", "community"], [65, 35], m),
            "located_locally": s.flag(0.95, m),
            "opened_date": _in_year(s, np.where(s.flag(0.6, m), year[owner], year[owner] - 1)),
            "area_m2": (s.clustered(s.money(300, 0.9, m), "m2", 0.25), s.flag(0.97, m)),
        },
    )
    owner, number = _repeat(s, firm & s.flag(0.02), 3)
    m = owner.size
    table(
        "warehouses",
        owner,
        number,
        "W",
        {
            "area_m2": s.clustered(s.money(1_200, 0.7, m), "m2", 0.2),
            "rent_cny": s.clustered(s.money(400_000, 1.0, m), "cny", 0.1),
        },
    )
    owner, number = _repeat(s, (body & s.flag(0.4)) | (firm & s.flag(0.003)), 6)
    m = owner.size
    refs = pl.select(
        pl.concat_str(
            [
                pl.lit("郴跨综办〔"),
                pl.Series(year[owner]).cast(pl.String),
                pl.lit("〕"),
                pl.Series(number).cast(pl.String),
                pl.lit("号"),
            ]
        )
    ).to_series()
    table(
        "events",
        owner,
        number,
        "E",
        {
            "kind": s.choice(
                ["training", "exhibition", "display", "publicity", "summit", "research"],
                [50, 15, 10, 10, 10, 5],
                m,
            ),
            "office_approval_ref": (refs, s.flag(0.8, m)),
            "participants": s.clustered(s.rng.poisson(120, m).astype(np.int64), "count", 0.3),
            "held_date": _in_year(s, year[owner]),
        },
    )
    owner, number = _repeat(s, cbec & s.flag(0.05), 3)
    m = owner.size
    drawn = _in_year(s, np.where(s.flag(0.6, m), year[owner], year[owner] - 1))
    repaid = drawn + s.rng.integers(30, 720, m).astype("timedelta64[D]")
    principal = s.money(3_000_000, 1.0, m)
    days = (repaid - drawn).astype(np.int64)
    interest = principal * 4 // 100 * np.minimum(days, 365) // 365
    table(
        "loans",
        owner,
        number,
        "L",
        {
            "cross_border_financial_product": s.flag(0.75, m),
            "principal_cny": principal,
            "drawdown_date": drawn,
            "repaid_date": (repaid, s.flag(0.4, m)),
            "interest_paid_cny": np.where(s.flag(0.1, m), interest // 20, interest),
        },
    )
    owner, number = _repeat(s, cbec & s.flag(0.02), 2)
    m = owner.size
    table(
        "talents",
        owner,
        number,
        "T",
        {
            "contract_years": s.clustered(s.money(3, 0.3, m), "years", 0.4),
            "annual_salary_cny": s.clustered(s.money(280_000, 0.4, m), "cny", 0.2),
            "linyi_reward_cny": (s.money(30_000, 0.8, m), s.flag(0.85, m)),
        },
    )
    return {name: out.get(name, empty(name)) for name in ITEM_LISTS}


def ledgers(
    s: Synth, apps: pl.DataFrame, lists: dict[str, pl.DataFrame]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Earlier awards (the ledger) and other policies' awards, as years of the policy leave them."""
    year = apps["award_year"].to_numpy()
    ids = apps["applicant_id"].to_numpy()
    first = 2021
    earlier: list[pl.DataFrame] = []
    others: list[pl.DataFrame] = []

    def add(
        into: list[pl.DataFrame],
        rows: np.ndarray,
        clause: str,
        years: np.ndarray,
        fen: np.ndarray,
        subject: Any = None,
        policy: str | None = None,
    ) -> None:
        m = rows.size
        cols: dict[str, pl.Series] = {
            "applicant_id": pl.Series(ids[rows].astype(np.int64)),
            "clause": pl.Series(np.full(m, clause)),
            "subject_id": pl.Series(
                subject if subject is not None else [None] * m, dtype=pl.String
            ),
            "award_year": pl.Series(years.astype(np.int64)),
            "amount_cny": pl.Series(fen.astype(np.int64)),
        }
        if policy is not None:
            cols["policy"] = pl.Series(np.full(m, policy))
        into.append(_frame("ledger" if policy is None else "other_awards", m, cols))

    exported = (apps["trade.export_usd"].fill_null(0).to_numpy() > 0) & (year > first)
    rows = np.flatnonzero(exported & s.flag(0.3))
    add(
        earlier,
        rows,
        "4.1a",
        year[rows] - 1,
        np.where(s.flag(0.8, rows.size), 100_000_00, 200_000_00),
    )
    big = apps["trade.export_usd"].fill_null(0).to_numpy() >= 30_000_000_00
    rows = np.flatnonzero(big & s.flag(0.05))
    add(earlier, rows, "4.2", year[rows], np.full(rows.size, 1_000_000_00))
    body = apps["applicant.kind"].is_in(["public_service_body", "support_institution"]).to_numpy()
    owner, number = _repeat(s, body & s.flag(0.6) & (year > first), 12)
    add(
        earlier,
        owner,
        "7.4",
        year[owner] - 1,
        np.full(owner.size, 100_000_00),
        _ids("E-old-", number),
    )
    rows = np.flatnonzero(apps["talent_base.id"].is_not_null().to_numpy() & s.flag(0.4))
    add(
        earlier,
        rows,
        "7.2",
        year[rows] - (year[rows] > first),
        s.money(500_000, 0.5, rows.size),
        np.full(rows.size, "TB1"),
    )
    stores = lists["stores"].filter(pl.col("kind") == "o2o_experience")
    pick = s.flag(0.15, stores.height)
    st_rows = stores["row_id"].to_numpy()[pick]
    add(
        earlier,
        st_rows,
        "4.4a",
        year[st_rows],
        np.full(st_rows.size, 200_000_00),
        stores["id"].filter(pl.Series(pick)),
    )
    rows = np.flatnonzero(apps["staff_training.costs_cny"].is_not_null().to_numpy() & s.flag(0.05))
    add(
        others,
        rows,
        "7.1",
        year[rows],
        s.money(20_000, 1.0, rows.size),
        policy="郴政发〔2020〕12号",
    )
    rows = np.flatnonzero(
        apps["marketplaces.promotion_fees_cny"].is_not_null().to_numpy() & s.flag(0.03)
    )
    add(
        others,
        rows,
        "4.1b",
        year[rows],
        s.money(10_000, 1.0, rows.size),
        policy="郴办发〔2019〕5号",
    )
    wh = lists["warehouses"]
    pick = s.flag(0.1, wh.height)
    w_rows = wh["row_id"].to_numpy()[pick]
    add(
        others,
        w_rows,
        "5.2b",
        year[w_rows],
        s.money(50_000, 1.0, w_rows.size),
        wh["id"].filter(pl.Series(pick)),
        policy="郴政发〔2020〕12号",
    )
    return (
        pl.concat(earlier) if earlier else empty("ledger"),
        pl.concat(others) if others else empty("other_awards"),
    )
