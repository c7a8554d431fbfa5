"""Evaluating a whole population at once: every clause, every applicant-year, no per-row Python.

Per award year (parameters and switches are the year's, as for the single-case
engine), the applicant-year table is evaluated in one lazy Polars query: scope, then
every clause's gate, subject test, tier, raw amount, caps, one-time rule and overlaps.
Clauses over a list (stores, warehouses, loans, events, talents) run on the list's own
table — their applicant-level gate gathered in by position — and are summed back per
applicant-year. The result has, per applicant-year and clause, eligibility and the
amount in fen (null where not eligible or where review sets the amount), the tier
chosen, and per listed item its own amount and its share of the clause's amount.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from huiqi.engine.evaluate import check_year, clause_sort_key
from huiqi.policy.model import Clause, PolicyPackage
from huiqi.simulate import ledger as led
from huiqi.simulate.clauses import (
    ClausePlan,
    clause_amount,
    ledger_scopes,
    plan,
    subject_amount,
)
from huiqi.simulate.compile import YearRules, conditions
from huiqi.simulate.population import Population

SCOPE = "__scope"
PackageFor = Callable[[int], PolicyPackage]


def eligible_col(cid: str) -> str:
    return f"eligible:{cid}"


def fen_col(cid: str) -> str:
    return f"fen:{cid}"


def tier_col(cid: str) -> str:
    return f"tier:{cid}"


@dataclass
class Results:
    """Per applicant-year (``rows``) and per listed item (``items``) results."""

    rows: pl.DataFrame
    items: pl.DataFrame
    kinds: dict[str, str]  # clause id → kind of amount
    tiers: dict[str, list[str]] = field(default_factory=dict)  # clause id → tier ids, lowest first

    @property
    def clause_ids(self) -> list[str]:
        return list(self.kinds)

    def long(self) -> pl.DataFrame:
        """One row per applicant-year and clause: kind of amount, eligibility, fen, tier."""
        parts = [
            self.rows.select(
                "row_id",
                "award_year",
                "county",
                pl.lit(cid).alias("clause"),
                pl.lit(kind).alias("kind"),
                pl.col(eligible_col(cid)).alias("eligible"),
                pl.col(fen_col(cid)).alias("amount_fen"),
                (
                    pl.col(tier_col(cid))
                    if tier_col(cid) in self.rows.columns
                    else pl.lit(None, pl.String)
                ).alias("tier"),
            )
            for cid, kind in self.kinds.items()
        ]
        return pl.concat(parts)


ROW_KEYS = {
    "row_id": pl.Int64,
    "applicant_id": pl.Int64,
    "award_year": pl.Int64,
    "county": pl.String,
    "kind": pl.String,
}
ITEM_SCHEMA = {
    "row_id": pl.Int64,
    "clause": pl.String,
    "list": pl.String,
    "id": pl.String,
    "eligible": pl.Boolean,
    "tier": pl.String,
    "amount_fen": pl.Int64,
    "allocated_fen": pl.Int64,
}


def evaluate(pop: Population, rules: PolicyPackage | PackageFor) -> Results:
    """Evaluate every applicant-year of ``pop`` (a package, or one package per award year)."""
    package_for = rules if callable(rules) else (lambda _year: rules)
    years = pop.years
    for year in years:
        check_year(package_for(year), year)
    maxima = pop.column_maxima()
    if not years:
        return Results(pl.DataFrame(schema=ROW_KEYS), pl.DataFrame(schema=ITEM_SCHEMA), {})
    parts = [(years[0], pop)] if len(years) == 1 else [(y, _slice(pop, y)) for y in years]
    rows, items = [], []
    kinds: dict[str, str] = {}
    tiers: dict[str, list[str]] = {}
    for year, part in parts:
        package = package_for(year)
        kinds.update({c.id: c.kind.value for c in _clauses(package)})
        tiers.update({c.id: [t.id for t in c.tiers] for c in _clauses(package) if c.tiers})
        r, i = _year(package, year, part, maxima)
        rows.append(r)
        items.append(i)
    return Results(pl.concat(rows, how="diagonal_relaxed"), pl.concat(items), kinds, tiers)


def _clauses(package: PolicyPackage) -> list[Clause]:
    return [package.clauses[c] for c in sorted(package.clauses, key=clause_sort_key)]


def _slice(pop: Population, year: int) -> Population:
    apps = pop.applicants.filter(pl.col("award_year") == year)
    rows = apps["row_id"].implode()
    items = {n: df.filter(pl.col("row_id").is_in(rows)) for n, df in pop.items.items()}
    return Population(apps, items, pop.ledger, pop.other_awards, pop.maxima)


def _subject(apps: pl.DataFrame, clause: Clause) -> pl.Series | None:
    """The clause's subject column (e.g. the centre's id); None: the applicant itself."""
    if clause.subject == "applicant":
        return None
    return apps[clause.subject].cast(pl.String)


def _year(
    package: PolicyPackage, year: int, pop: Population, maxima: dict[str, int]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    rules = YearRules(package, year, maxima)
    apps = pop.applicants
    n = apps.height
    # A clause one of whose parameters a null value ended is not in force this year: not
    # eligible, no amount, no items (as the single-case engine says it).
    last_day = date(year, 12, 31)
    ended = {
        c.id
        for c in _clauses(package)
        if any(spec.ended_on(last_day) is not None for spec in c.parameters.values())
    }
    every = _clauses(package)
    clauses = [c for c in every if c.id not in ended]
    scope = conditions(rules, package.policy.scope.conditions)
    plans = {c.id: plan(rules, c, pl.col(SCOPE)) for c in clauses}
    rows_index = led.RowIndex(apps["row_id"])
    entries = led.link(apps, led.RowIndex(apps["applicant_id"]), pop.ledger, pop.other_awards, year)
    ledger_cols = _ledger_columns(apps, clauses, entries)
    tests: list[pl.Expr] = []
    amounts: list[pl.Expr] = []
    for c in clauses:
        p = plans[c.id]
        if c.for_each is not None:
            tests.append(p.gate.alias(f"__gate|{c.id}"))
            continue
        test, amount = _row_clause(rules, p, set(ledger_cols))
        tests += test
        amounts += amount
    frame = apps.hstack(list(ledger_cols.values())) if ledger_cols else apps
    # stages: shared sums and conversions → scope → each clause's tests → its amount
    out = (
        frame.lazy()
        .with_columns(list(rules.shared.values()))
        .with_columns(scope.alias(SCOPE))
        .with_columns(tests)
        .with_columns(amounts)
        .collect()
    )
    item_rows: list[pl.DataFrame] = []
    extra: dict[str, pl.Series] = {}
    item_tables = {name: _positioned(df, rows_index) for name, df in pop.items.items()}
    for c in clauses:
        if c.for_each is None:
            continue
        table = item_tables.get(c.for_each)
        eligible, fen, items = _item_clause(rules, plans[c.id], table, out, entries, n)
        extra[eligible_col(c.id)] = eligible
        extra[fen_col(c.id)] = fen
        item_rows.append(items)
    keys = [
        pl.col("row_id"),
        pl.col("applicant_id"),
        pl.col("award_year"),
        pl.col("applicant.tax_filing_division").alias("county"),
        pl.col("applicant.kind").alias("kind"),
    ]
    result_cols: list[pl.Expr | pl.Series] = []
    for c in every:
        if c.id in ended:
            result_cols += [
                pl.lit(False).alias(eligible_col(c.id)),
                pl.lit(None, pl.Int64).alias(fen_col(c.id)),
            ]
            if c.tiers is not None:
                result_cols.append(pl.lit(None, pl.String).alias(tier_col(c.id)))
        elif c.for_each is None:
            result_cols += [pl.col(eligible_col(c.id)), pl.col(fen_col(c.id))]
            if plans[c.id].tier is not None:
                result_cols.append(pl.col(tier_col(c.id)))
        else:
            result_cols += [
                extra[eligible_col(c.id)].alias(eligible_col(c.id)),
                extra[fen_col(c.id)].alias(fen_col(c.id)),
            ]
    rows = out.select(*keys, *result_cols)
    items = pl.concat(item_rows) if item_rows else pl.DataFrame(schema=ITEM_SCHEMA)
    return rows, items


def _ledger_columns(
    apps: pl.DataFrame, clauses: list[Clause], entries: led.Entries
) -> dict[str, pl.Series]:
    """Applicant-level clauses' sums of earlier and other-policy awards, where there are any."""
    with_entries = entries.clauses()
    out: dict[str, pl.Series] = {}
    for c in clauses:
        if c.for_each is not None or c.id not in with_entries:
            continue
        subject, applicant = ledger_scopes(c)
        scopes = {f"subject_{s}" for s in subject} | {f"all_{s}" for s in applicant}
        if c.overlap:
            scopes.add("others_subject")
        sums = led.row_sums(entries, c, _subject(apps, c), scopes, apps.height)
        for scope, series in sums.items():
            out[f"__L|{c.id}|{scope}"] = series.alias(f"__L|{c.id}|{scope}")
    return out


def _row_clause(
    rules: YearRules, p: ClausePlan, available: set[str]
) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """(tests, amount) of an applicant-level clause: the amount reads the tests' columns."""
    c = p.clause

    def ledger(scope: str) -> pl.Expr | None:
        name = f"__L|{c.id}|{scope}"
        return pl.col(name) if name in available else None

    tests = [p.eligible(p.gate).alias(eligible_col(c.id))]
    if p.tier is not None:
        tests.append(p.tier.alias(tier_col(c.id)))
    if p.discretionary or p.raw.fen is None:
        return tests, [pl.lit(None, pl.Int64).alias(fen_col(c.id))]
    raw = f"__raw|{c.id}"
    tests.append(p.raw.fen.alias(raw))
    amount = subject_amount(rules, c, pl.col(raw), ledger)
    amount = clause_amount(rules, c, amount, ledger)
    fen = pl.when(pl.col(eligible_col(c.id))).then(amount).cast(pl.Int64)
    return tests, [fen.alias(fen_col(c.id))]


def _positioned(items: pl.DataFrame, index: led.RowIndex) -> pl.DataFrame:
    """A list's table with each item's applicant-year position (``pos``), in list order."""
    pos = index(items["row_id"])
    renamed = items.rename({c: f"item.{c}" for c in items.columns if c != "row_id"})
    table = renamed.with_columns(pos=pos)
    return table if pos.is_sorted() else table.sort("pos", maintain_order=True)


def _scatter(n: int, pos: pl.Series, values: pl.Series, default: object) -> pl.Series:
    if values.dtype == pl.Boolean:
        flags = np.zeros(n, dtype=bool)
        flags[pos.to_numpy()] = values.to_numpy()
        return pl.Series(flags)
    data = np.zeros(n, dtype=np.int64)
    valid = np.zeros(n, dtype=bool)
    data[pos.to_numpy()] = values.fill_null(0).to_numpy()
    valid[pos.to_numpy()] = values.is_not_null().to_numpy()
    return pl.select(pl.when(pl.Series(valid)).then(pl.Series(data))).to_series()


def _item_clause(
    rules: YearRules,
    p: ClausePlan,
    table: pl.DataFrame | None,
    rows: pl.DataFrame,
    entries: led.Entries,
    n: int,
) -> tuple[pl.Series, pl.Series, pl.DataFrame]:
    """A clause over a list: per item, then summed per applicant-year (items sorted by it)."""
    c = p.clause
    t = None
    if table is not None and table.height:
        pos = table["pos"]
        gathered = [rows[path].gather(pos).alias(path) for path in sorted(p.row_paths)]
        t = table.with_columns(*gathered, rows[f"__gate|{c.id}"].gather(pos).alias("__gate"))
        if p.where is not None:
            t = t.filter(p.where)
    if t is None or not t.height:
        nobody = pl.Series(np.zeros(n, dtype=bool))
        none = pl.repeat(None, n, dtype=pl.Int64, eager=True)
        return nobody, none, pl.DataFrame(schema=ITEM_SCHEMA)
    sums = led.item_sums(entries, c, t)
    if sums:
        t = t.with_columns(series.alias(scope) for scope, series in sums.items())

    def item_ledger(scope: str) -> pl.Expr | None:
        return pl.col(scope) if scope in sums else None

    amount: pl.Expr = pl.lit(None, pl.Int64)
    if not p.discretionary and p.raw.fen is not None:
        amount = pl.when(pl.col("__elig")).then(subject_amount(rules, c, p.raw.fen, item_ledger))
    tier = p.tier if p.tier is not None else pl.lit(None, pl.String)
    t = (
        t.lazy()
        .with_columns(p.eligible(pl.col("__gate")).alias("__elig"), tier.alias("__tier"))
        .with_columns(amount.cast(pl.Int64).alias("__amt"))
        .collect()
    )
    # per applicant-year: segments of equal positions (the table is sorted by position)
    where = t["pos"].to_numpy()
    starts = np.flatnonzero(np.r_[True, where[1:] != where[:-1]])
    segment = np.cumsum(np.r_[True, where[1:] != where[:-1]]) - 1
    eligible = t["__elig"].to_numpy()
    paid = np.where(eligible, t["__amt"].fill_null(0).to_numpy(), 0)
    owners = where[starts]
    per_row = pl.DataFrame(
        {
            "pos": owners,
            "elig": np.logical_or.reduceat(eligible, starts),
            "total": np.add.reduceat(paid, starts),
        }
    )
    app_sums = led.applicant_sums(entries, c, owners)
    if app_sums:
        per_row = per_row.with_columns(s.alias(k) for k, s in app_sums.items())

    def app_ledger(scope: str) -> pl.Expr | None:
        return pl.col(scope) if scope in app_sums else None

    final: pl.Expr = pl.lit(None, pl.Int64)
    if not p.discretionary:
        final = pl.when(pl.col("elig")).then(clause_amount(rules, c, pl.col("total"), app_ledger))
    fen = per_row.with_columns(final.cast(pl.Int64).alias("fen"))["fen"]
    # Shares in list order (the engine's _allocate): what earlier items of the same
    # applicant-year took is the running sum less its value where the segment starts.
    running = np.cumsum(paid) - paid
    before = running - running[starts][segment]
    clause_fen = fen.gather(pl.Series(segment))
    allocated = pl.select(
        pl.when(pl.Series(eligible) & clause_fen.is_not_null()).then(
            pl.min_horizontal(pl.Series(paid), (clause_fen - pl.Series(before)).clip(lower_bound=0))
        )
    ).to_series()
    items = t.select(
        pl.col("row_id"),
        pl.lit(c.id).alias("clause"),
        pl.lit(c.for_each).alias("list"),
        pl.col("item.id").alias("id"),
        pl.col("__elig").alias("eligible"),
        pl.col("__tier").alias("tier"),
        pl.col("__amt").alias("amount_fen"),
        allocated.cast(pl.Int64).alias("allocated_fen"),
    )
    return (
        _scatter(n, per_row["pos"], per_row["elig"], False),
        _scatter(n, per_row["pos"], fen, None),
        items,
    )
