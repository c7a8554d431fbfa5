"""Baseline against a reform: what it costs, where, who gains, who loses, who crosses.

Both runs cover the same applicant-years, so every comparison is row by row: the cost
by clause and by county or zone (the county's finance pays: 税收申报缴纳地财政分级负责),
the applicant-years whose total rises or falls, and per clause how many move between
"not eligible" and each tier. Money stays integer fen; only the report shows yuan.

"Cost" adds what is owed (fixed, computed, external amounts) and the most review may
approve (ceilings); the tables keep the two apart by kind. Discretionary clauses have
no amount and are counted by eligibility only.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from huiqi.engine.evaluate import clause_sort_key
from huiqi.simulate.evaluate import Results, eligible_col, fen_col, tier_col

NOT_ELIGIBLE = "—"


def row_totals(results: Results) -> pl.Expr:
    return pl.sum_horizontal(pl.col(fen_col(c)).fill_null(0) for c in results.clause_ids)


def totals(results: Results, by: tuple[str, ...] = ("clause",)) -> pl.DataFrame:
    """Cost (fen) and eligible applicant-years by any of clause, kind, county, award_year."""
    groups = [g for g in ("county", "award_year") if g in by]
    aggs = [
        e
        for c in results.clause_ids
        for e in (
            pl.col(fen_col(c)).sum().alias(f"cost_fen|{c}"),
            pl.col(eligible_col(c)).sum().cast(pl.Int64).alias(f"eligible|{c}"),
        )
    ]
    wide = results.rows.group_by(groups).agg(aggs) if groups else results.rows.select(aggs)
    long = (
        wide.unpivot(index=groups, variable_name="key")
        .with_columns(
            pl.col("key").str.split_exact("|", 1).struct.rename_fields(["what", "clause"])
        )
        .unnest("key")
        .pivot(on="what", index=[*groups, "clause"], values="value")
        .with_columns(kind=pl.col("clause").replace_strict(results.kinds, return_dtype=pl.String))
    )
    out = long.group_by(list(by)).agg(pl.col("cost_fen").sum(), pl.col("eligible").sum())
    if "clause" not in by:
        return out.sort(list(by))
    order = {c: i for i, c in enumerate(sorted(results.kinds, key=clause_sort_key))}
    rank = pl.col("clause").replace_strict(order, return_dtype=pl.Int64)
    return out.sort([*(k for k in by if k != "clause"), rank])


@dataclass
class Comparison:
    name: str
    by_clause: pl.DataFrame
    by_county: pl.DataFrame
    by_kind: pl.DataFrame
    gains: pl.DataFrame  # direction, applicant-years, total change (fen)
    crossings: pl.DataFrame  # clause, from, to, direction (up/down), applicant-years
    movers: pl.DataFrame  # the largest gains and losses, row by row


def _state(results: Results, cid: str) -> pl.Expr:
    """'—' when not eligible, else the tier (or '符合/eligible' when the clause has none)."""
    eligible = pl.col(eligible_col(cid))
    tier = pl.col(tier_col(cid)) if tier_col(cid) in results.rows.columns else pl.lit("✓")
    return pl.when(eligible).then(tier.fill_null("✓")).otherwise(pl.lit(NOT_ELIGIBLE))


def compare(base: Results, reform: Results, name: str, top: int = 10) -> Comparison:
    """Row-by-row comparison of two evaluations of the same population."""
    if base.rows.height != reform.rows.height:
        raise ValueError("the two runs cover different applicant-years")
    b, r = base.rows, reform.rows
    if not (b["row_id"].is_sorted() and r["row_id"].is_sorted()):
        b, r = b.sort("row_id"), r.sort("row_id")
    clauses = sorted(set(base.clause_ids) | set(reform.clause_ids), key=clause_sort_key)
    base_cost = b.select(pl.col(fen_col(c)).sum().alias(c) for c in clauses).row(0)
    reform_cost = r.select(pl.col(fen_col(c)).sum().alias(c) for c in clauses).row(0)
    base_n = b.select(pl.col(eligible_col(c)).sum().alias(c) for c in clauses).row(0)
    reform_n = r.select(pl.col(eligible_col(c)).sum().alias(c) for c in clauses).row(0)
    by_clause = pl.DataFrame(
        {
            "clause": clauses,
            "kind": [base.kinds[c] for c in clauses],
            "eligible_base": [int(v) for v in base_n],
            "eligible_reform": [int(v) for v in reform_n],
            "cost_base_fen": [int(v) for v in base_cost],
            "cost_reform_fen": [int(v) for v in reform_cost],
        }
    ).with_columns(change_fen=pl.col("cost_reform_fen") - pl.col("cost_base_fen"))
    by_kind = (
        by_clause.group_by("kind")
        .agg(pl.col("cost_base_fen", "cost_reform_fen", "change_fen").sum())
        .sort("kind")
    )
    rows = b.select("row_id", "county", "award_year", base_total=row_totals(base)).with_columns(
        reform_total=r.select(row_totals(reform)).to_series()
    )
    rows = rows.with_columns(change=pl.col("reform_total") - pl.col("base_total"))
    by_county = (
        rows.group_by("county")
        .agg(cost_base_fen=pl.col("base_total").sum(), cost_reform_fen=pl.col("reform_total").sum())
        .with_columns(change_fen=pl.col("cost_reform_fen") - pl.col("cost_base_fen"))
        .sort("county")
    )
    direction = (
        pl.when(pl.col("change") > 0)
        .then(pl.lit("gain"))
        .when(pl.col("change") < 0)
        .then(pl.lit("loss"))
        .otherwise(pl.lit("same"))
    )
    gains = (
        rows.group_by(direction.alias("direction"))
        .agg(applicant_years=pl.len().cast(pl.Int64), change_fen=pl.col("change").sum())
        .sort("direction")
    )
    movers = pl.concat(
        [
            rows.filter(pl.col("change") > 0).sort("change", descending=True).head(top),
            rows.filter(pl.col("change") < 0).sort("change").head(top),
        ]
    )
    crossings = _crossings(base, reform, b, r, clauses)
    return Comparison(name, by_clause, by_county, by_kind, gains, crossings, movers)


def _moved(b: pl.DataFrame, r: pl.DataFrame, cid: str) -> pl.Series:
    """Applicant-years whose state in a clause differs (eligibility, or the tier met)."""
    be, re_ = b[eligible_col(cid)], r[eligible_col(cid)]
    moved = be != re_
    name = tier_col(cid)
    if name in b.columns and name in r.columns:
        moved = moved | (be & re_ & b[name].ne_missing(r[name]))
    return moved


def _crossings(
    base: Results, reform: Results, b: pl.DataFrame, r: pl.DataFrame, clauses: list[str]
) -> pl.DataFrame:
    """Per clause, how many applicant-years move from one state (— or a tier) to another."""
    frames = []
    for cid in clauses:
        moved = _moved(b, r, cid)
        if not moved.any():
            continue
        states = pl.DataFrame(
            {
                "from": b.filter(moved).select(_state(base, cid)).to_series(),
                "to": r.filter(moved).select(_state(reform, cid)).to_series(),
            }
        )
        rank = {NOT_ELIGIBLE: -1, "✓": 0} | {
            t: i for i, t in enumerate(base.tiers.get(cid, []), start=1)
        }
        up = pl.col("to").replace_strict(rank, default=0) > pl.col("from").replace_strict(
            rank, default=0
        )
        frames.append(
            states.group_by("from", "to")
            .agg(applicant_years=pl.len().cast(pl.Int64))
            .with_columns(
                clause=pl.lit(cid),
                direction=pl.when(up).then(pl.lit("up")).otherwise(pl.lit("down")),
            )
            .select("clause", "from", "to", "direction", "applicant_years")
            .sort("from", "to")
        )
    if not frames:
        return pl.DataFrame(
            schema={
                "clause": pl.String,
                "from": pl.String,
                "to": pl.String,
                "direction": pl.String,
                "applicant_years": pl.Int64,
            }
        )
    return pl.concat(frames)
