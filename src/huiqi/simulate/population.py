"""A population in memory: the applicant-year table, its companion tables and the ledgers.

:func:`assemble` checks tables in file form (:mod:`huiqi.simulate.checks`) and links
them: lists to their applicant-years by ``row_id``, ledgers to applicants by
``applicant_id`` (or by credit code, mapped here). Each applicant has one row a year.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from huiqi.errors import InputError, Problem
from huiqi.simulate import schema
from huiqi.simulate.checks import Problems, normalise
from huiqi.simulate.schema import Kind


@dataclass
class Population:
    """Checked tables, numbers as Int64 hundredths, choices as ``pl.Enum``."""

    applicants: pl.DataFrame
    items: dict[str, pl.DataFrame] = field(default_factory=dict)
    ledger: pl.DataFrame = field(default_factory=lambda: empty("ledger"))
    other_awards: pl.DataFrame = field(default_factory=lambda: empty("other_awards"))
    #: The largest value of each integer column (``section.field``, ``list.field``).
    maxima: dict[str, int] | None = None

    def __len__(self) -> int:
        return self.applicants.height

    def table(self, name: str) -> pl.DataFrame:
        if name == "applicants":
            return self.applicants
        if name == "ledger":
            return self.ledger
        if name == "other_awards":
            return self.other_awards
        return self.items.get(name, empty(name))

    @property
    def years(self) -> list[int]:
        return sorted(self.applicants["award_year"].unique().to_list())

    def column_maxima(self) -> dict[str, int]:
        """Per integer column, its largest value: where Int64 products could overflow.

        Computed once (on reading, or on first use) and kept.
        """
        if self.maxima is None:
            found: dict[str, int] = {}
            for table, prefix in [("applicants", ""), *((t, f"{t}.") for t in self.items)]:
                df = self.table(table)
                ints = [
                    c.name
                    for c in schema.columns(table).values()
                    if c.kind in (Kind.EXACT, Kind.INT)
                ]
                if df.height:
                    maxes = df.select(pl.col(ints).max().fill_null(0)).row(0)
                    found.update({prefix + n: int(v) for n, v in zip(ints, maxes, strict=True)})
            self.maxima = found
        return self.maxima


def empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema={c.name: c.memory_dtype for c in schema.columns(table).values()})


def assemble(
    applicants: pl.DataFrame,
    items: dict[str, pl.DataFrame] | None = None,
    ledger: pl.DataFrame | None = None,
    other_awards: pl.DataFrame | None = None,
) -> Population:
    """Check and link tables (in file form) into a :class:`Population`."""
    apps = normalise(applicants, "applicants")
    apps = _with_applicant_ids(apps)
    lists = {name: normalise(df, name) for name, df in (items or {}).items()}
    for name, df in lists.items():
        unknown = df.filter(~pl.col("row_id").is_in(apps["row_id"].implode()))
        if unknown.height:
            raise InputError(
                [
                    Problem(
                        f"{name}[row_id={unknown['row_id'][0]}]",
                        unknown["row_id"][0],
                        "申报行中没有该 row_id",
                        "no applicant-year has this row_id",
                    )
                ]
            )
    pop = Population(
        apps,
        lists,
        _ledger(ledger, "ledger", apps),
        _ledger(other_awards, "other_awards", apps),
    )
    pop.column_maxima()
    return pop


def _with_applicant_ids(apps: pl.DataFrame) -> pl.DataFrame:
    """Missing ids are derived from the credit code (the same code, the same id)."""
    code = pl.col("applicant.credit_code")
    if apps["applicant_id"].null_count() == apps.height:
        apps = apps.with_columns(applicant_id=code.rank("dense").cast(pl.Int64) - 1)
    problems = Problems()
    problems.check(
        apps,
        "applicants",
        "applicant_id",
        pl.col("applicant_id").is_null(),
        "缺少 applicant_id",
        "applicant_id is missing",
    )
    problems.check(
        apps,
        "applicants",
        "applicant_id",
        pl.struct("applicant_id", "award_year").is_duplicated(),
        "同一申报主体同一年度出现多行",
        "one applicant has several rows in a year",
        # one integer key (award years are below 10,000): a cheap "any?" test
        quick=(pl.col("applicant_id") * 10_000 + pl.col("award_year")).n_unique() < pl.len(),
    )
    problems.raise_if_any()
    return apps


def _ledger(df: pl.DataFrame | None, table: str, apps: pl.DataFrame) -> pl.DataFrame:
    """A ledger keyed by ``applicant_id``, or by ``credit_code`` (mapped through ``apps``)."""
    if df is None:
        return empty(table)
    if "credit_code" in df.columns and "applicant_id" not in df.columns:
        ids = apps.select(
            credit_code=pl.col("applicant.credit_code"), applicant_id=pl.col("applicant_id")
        ).unique()
        df = df.with_columns(
            pl.col("credit_code").cast(pl.String).str.strip_chars().str.to_uppercase()
        )
        df = df.join(ids, on="credit_code", how="inner").drop("credit_code")
    return normalise(df, table)
