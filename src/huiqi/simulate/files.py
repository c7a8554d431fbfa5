"""Reading and writing populations: a folder of Parquet or CSV tables, whole or partitioned.

Layout (every table optional except ``applicants``)::

    POP/applicants.parquet  stores.parquet … ledger.parquet  other_awards.parquet
    POP/applicants.csv …                                   (the same columns as CSV)
    POP/applicants/county=%E5%8C%97%E6%B9%96%E5%8C%BA/part-0.parquet …   (partitioned)

A partitioned population is split by ``county`` (the tax-filing county or zone, which
pays: 税收申报缴纳地财政分级负责) or by ``award_year``; each partition holds everything
its applicant-years need — their items, and the ledger entries of their applicants — so
any partition can be evaluated alone, here or by a Spark or Dask worker, and the results
merged. Values are percent-encoded in folder names, as Hive, Spark and Polars expect.

A single Parquet file with list-of-struct columns (``stores``, ``loans`` …,
``earlier_awards``, ``other_policy_awards``) is read as a nested population.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote

import polars as pl

from huiqi.errors import InputError, Problem
from huiqi.facts.paths import ITEM_LISTS
from huiqi.simulate import schema
from huiqi.simulate.population import Population, assemble
from huiqi.simulate.schema import Kind


def partitions(root: Path) -> list[str]:
    """``key=value`` names of a partitioned population, or ``[]`` for a whole one."""
    folder = root / "applicants"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and "=" in p.name)


def partition_label(part: str) -> str:
    """``county=%E5%8C%97…`` → ``county=北湖区``."""
    key, _, value = part.partition("=")
    return f"{key}={unquote(value)}"


def _read_table(root: Path, table: str, part: str | None) -> pl.DataFrame | None:
    folder = root / table
    if part is not None:
        folder = folder / part
    if folder.is_dir():
        files = sorted(folder.rglob("*.parquet"))
        if files:
            return pl.read_parquet(files)
        files = sorted(folder.rglob("*.csv"))
        return pl.concat([_read_csv(f, table) for f in files]) if files else None
    if part is None:
        for suffix, reader in ((".parquet", pl.read_parquet), (".csv", None)):
            path = root / f"{table}{suffix}"
            if path.is_file():
                return reader(path) if reader else _read_csv(path, table)
    return None


def _read_csv(path: Path, table: str) -> pl.DataFrame:
    """Every column as text first: numbers are then checked and made exact, never floats."""
    return pl.read_csv(path, infer_schema=False, encoding="utf8")


def read_population(path: Path, part: str | None = None) -> Population:
    """Read and check a population folder (one partition of it with ``part``) or file."""
    if path.is_file():
        return _nested(pl.read_parquet(path) if path.suffix == ".parquet" else _read_csv(path, ""))
    if not path.is_dir():
        raise InputError([Problem(str(path), None, "找不到人口数据", "no population at this path")])
    if part is None and partitions(path):
        raise InputError(
            [
                Problem(
                    str(path),
                    None,
                    "这是分区数据，请逐个分区读取",
                    "a partitioned population: read it partition by partition",
                )
            ]
        )
    apps = _read_table(path, "applicants", part)
    if apps is None:
        raise InputError(
            [Problem(str(path / "applicants"), None, "缺少 applicants 表", "no applicants table")]
        )
    items = {t: df for t in ITEM_LISTS if (df := _read_table(path, t, part)) is not None}
    return assemble(
        apps, items, _read_table(path, "ledger", part), _read_table(path, "other_awards", part)
    )


def _nested(df: pl.DataFrame) -> Population:
    """Applicants with list columns → companion tables keyed by ``row_id``/``applicant_id``."""
    lists = [c for c in df.columns if c in ITEM_LISTS or c in schema.LEDGERS.values()]
    tables: dict[str, pl.DataFrame] = {}
    for name in lists:
        key = "row_id" if name in ITEM_LISTS else "applicant_id"
        if key == "applicant_id" and "applicant_id" not in df.columns:
            key = "row_id"
        exploded = df.select(key, name).explode(name).drop_nulls(name).unnest(name)
        if key == "row_id" and name not in ITEM_LISTS:
            codes = df.select("row_id", credit_code=pl.col("applicant.credit_code"))
            exploded = exploded.join(codes, on="row_id").drop("row_id")
        tables[name] = exploded
    ledgers = {t: tables.get(name) for t, name in schema.LEDGERS.items()}
    return assemble(
        df.drop(lists),
        {n: t for n, t in tables.items() if n in ITEM_LISTS},
        ledgers["ledger"],
        ledgers["other_awards"],
    )


def to_file_form(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """Memory form → file form: hundredths back to ``Decimal(18, 2)``, choices to text."""
    cols = schema.columns(table)
    exprs = []
    for name in df.columns:
        col = cols.get(name)
        if col is not None and col.kind is Kind.EXACT:
            exact = (pl.col(name).cast(pl.Decimal(20, 2)) / schema.SCALE).cast(schema.FILE_DECIMAL)
            exprs.append(exact.alias(name))
        elif col is not None and col.kind is Kind.CHOICE:
            exprs.append(pl.col(name).cast(pl.String))
        else:
            exprs.append(pl.col(name))
    return df.select(exprs)


def _write(df: pl.DataFrame, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        df.write_csv(path)
    else:
        df.write_parquet(path, statistics=True)


def write_population(
    pop: Population, root: Path, fmt: str = "parquet", partition_by: str | None = None
) -> list[Path]:
    """Write every table; with ``partition_by`` (county or award_year), one folder per value."""
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if partition_by is None:
        for table in ("applicants", *ITEM_LISTS, *schema.LEDGERS):
            path = root / f"{table}.{fmt}"
            _write(to_file_form(pop.table(table), table), path, fmt)
            written.append(path)
        return written
    key = _partition_key(partition_by)
    values = pop.applicants[key].unique().sort().to_list()
    for value in values:
        if value is None:  # Hive's name for a missing key
            part = pop.applicants.filter(pl.col(key).is_null())
            folder = f"{partition_by}=__HIVE_DEFAULT_PARTITION__"
        else:
            part = pop.applicants.filter(pl.col(key) == value)
            folder = f"{partition_by}={quote(str(value), safe='')}"
        rows = part["row_id"].implode()
        ids = part["applicant_id"].implode()
        last_year = part["award_year"].max()
        tables = {"applicants": part}
        for table in ITEM_LISTS:
            tables[table] = pop.table(table).filter(pl.col("row_id").is_in(rows))
        for table in schema.LEDGERS:
            led = pop.table(table)
            tables[table] = led.filter(
                pl.col("applicant_id").is_in(ids) & (pl.col("award_year") <= last_year)
            )
        for table, df in tables.items():
            path = root / table / folder / f"part-0.{fmt}"
            _write(to_file_form(df, table), path, fmt)
            written.append(path)
    return written


def _partition_key(partition_by: str) -> str:
    if partition_by == "county":
        return "applicant.tax_filing_division"
    if partition_by == "award_year":
        return "award_year"
    raise InputError(
        [
            Problem(
                "--partition-by",
                partition_by,
                "只能按 county 或 award_year 分区",
                "partition by county or award_year",
            )
        ]
    )
