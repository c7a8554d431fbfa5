"""Between one-case facts and population tables, both ways.

``to_population`` turns validated ``Facts`` into tables (one applicant-year per facts,
its earlier and other-policy awards into the ledgers); ``to_facts`` rebuilds each
applicant-year's ``Facts`` from tables, with the ledger entries of its applicant up to
its award year. The differential test and the benchmark use them to run the
single-case engine on exactly what the columnar evaluator reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from enum import Enum
from typing import Any

import polars as pl

from huiqi.facts.model import Facts
from huiqi.facts.paths import ITEM_LISTS
from huiqi.simulate import schema
from huiqi.simulate.files import to_file_form
from huiqi.simulate.population import Population, assemble


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _file_frame(records: list[dict[str, Any]], table: str) -> pl.DataFrame:
    cols = schema.columns(table)
    data = {name: [r.get(name) for r in records] for name in cols}
    return pl.DataFrame(data, schema={c.name: c.file_dtype for c in cols.values()})


def to_population(all_facts: Iterable[Facts], year: int | None = None) -> Population:
    """One row per facts (``row_id`` = ``applicant_id`` = its position)."""
    apps: list[dict[str, Any]] = []
    lists: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ledgers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i, facts in enumerate(all_facts):
        row: dict[str, Any] = {"row_id": i, "applicant_id": i}
        row["award_year"] = year if year is not None else facts.award_year
        for section in schema.sections():
            value = getattr(facts, section)
            if value is None:
                continue
            for name in type(value).model_fields:
                row[f"{section}.{name}"] = _plain(getattr(value, name))
        apps.append(row)
        for name in ITEM_LISTS:
            for item in getattr(facts, name):
                lists[name].append({"row_id": i, **{k: _plain(v) for k, v in item}})
        for table, field in schema.LEDGERS.items():
            for award in getattr(facts, field):
                ledgers[table].append({"applicant_id": i, **dict(award)})
    return assemble(
        _file_frame(apps, "applicants"),
        {name: _file_frame(rows, name) for name, rows in lists.items()},
        _file_frame(ledgers["ledger"], "ledger"),
        _file_frame(ledgers["other_awards"], "other_awards"),
    )


def _section(row: dict[str, Any], section: str) -> dict[str, Any] | None:
    prefix = f"{section}."
    values = {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}
    present = {k: v for k, v in values.items() if v is not None}
    return present if present or schema.required_section(section) else None


def to_facts(pop: Population, limit: int | None = None) -> Iterator[tuple[int, Facts]]:
    """``(row_id, Facts)`` of each applicant-year (the first ``limit`` ones)."""
    apps = pop.applicants if limit is None else pop.applicants.head(limit)
    rows = apps["row_id"].implode()
    ids = apps["applicant_id"].implode()
    grouped: dict[str, dict[Any, list[dict[str, Any]]]] = {}
    for name in ITEM_LISTS:
        table = to_file_form(pop.table(name).filter(pl.col("row_id").is_in(rows)), name)
        by_row: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for item in table.iter_rows(named=True):
            key = item.pop("row_id")
            by_row[key].append({k: v for k, v in item.items() if v is not None})
        grouped[name] = by_row
    for ledger in schema.LEDGERS:
        entries = to_file_form(pop.table(ledger).filter(pl.col("applicant_id").is_in(ids)), ledger)
        by_id: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for entry in entries.iter_rows(named=True):
            by_id[entry.pop("applicant_id")].append(entry)
        grouped[ledger] = by_id
    for row in to_file_form(apps, "applicants").iter_rows(named=True):
        year = row["award_year"]
        data: dict[str, Any] = {"award_year": year}
        for section in schema.sections():
            values = _section(row, section)
            if values is not None:
                data[section] = values
        for name in ITEM_LISTS:
            data[name] = grouped[name].get(row["row_id"], [])
        earlier = grouped["ledger"].get(row["applicant_id"], [])
        data["earlier_awards"] = [_award(e) for e in earlier if e["award_year"] <= year]
        others = grouped["other_awards"].get(row["applicant_id"], [])
        data["other_policy_awards"] = [_award(e) for e in others]
        yield row["row_id"], Facts.model_validate(data)


def _award(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v is not None}
