"""The population tables' columns, derived from the facts schema (never listed by hand).

One applicant-year is one row of ``applicants``; its columns are the fact paths of
``huiqi schema`` (``trade.export_usd``, ``park.recognised_by`` …), so a clause's YAML,
the facts schema and the table use the same names. The lists (stores, warehouses,
events, loans, talents) are companion tables keyed by ``row_id``; the award ledger and
other policies' awards are keyed by ``applicant_id`` (one id per applicant, stable
across years). A new facts field is a new column without editing this module.

Exact numbers (money, areas, years: at most two decimals) are ``Decimal(18, 2)`` in the
files and ``Int64`` hundredths (fen, cents, 0.01 m²) in memory: exact, and as fast as
any integer column.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum, StrEnum
from functools import cache
from typing import Any

import polars as pl
from annotated_types import Ge, Le
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from huiqi.facts.model import Facts
from huiqi.facts.paths import ITEM_LISTS


class Kind(Enum):
    """How a column is stored: in files and in memory."""

    EXACT = "exact"  # Decimal(18, 2) on disk, Int64 hundredths in memory
    INT = "int"
    FLAG = "flag"
    DATE = "date"
    TEXT = "text"
    CHOICE = "choice"


#: Hundredths per unit of an exact column (fen per yuan, cents per dollar).
SCALE = 100
FILE_DECIMAL = pl.Decimal(18, 2)


@dataclass(frozen=True)
class Column:
    """One column: its name, kind, bounds and default, and whether a row must give it."""

    name: str
    kind: Kind
    required: bool = False
    default: Any = None
    lower: int | None = None  # in memory units (hundredths for EXACT)
    upper: int | None = None
    choices: tuple[str, ...] = ()
    section: str | None = None  # the facts section a column belongs to

    @property
    def memory_dtype(self) -> pl.DataType:
        if self.kind is Kind.CHOICE:
            return pl.Enum(list(self.choices))
        return _MEMORY[self.kind]

    @property
    def file_dtype(self) -> pl.DataType:
        return FILE_DECIMAL if self.kind is Kind.EXACT else _FILE[self.kind]


_MEMORY: dict[Kind, pl.DataType] = {
    Kind.EXACT: pl.Int64(),
    Kind.INT: pl.Int64(),
    Kind.FLAG: pl.Boolean(),
    Kind.DATE: pl.Date(),
    Kind.TEXT: pl.String(),
}
_FILE: dict[Kind, pl.DataType] = {**_MEMORY, Kind.CHOICE: pl.String()}


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation


def _column(name: str, field: FieldInfo, section: str | None) -> Column | None:
    kind_type = _unwrap(field.annotation)
    scale = 1
    if kind_type is Decimal:
        kind, scale = Kind.EXACT, SCALE
    elif kind_type is bool:
        kind = Kind.FLAG
    elif kind_type is int:
        kind = Kind.INT
    elif kind_type is date:
        kind = Kind.DATE
    elif isinstance(kind_type, type) and issubclass(kind_type, StrEnum):
        kind = Kind.CHOICE
    elif kind_type is str:
        kind = Kind.TEXT
    else:
        return None  # e.g. the facts_version literal
    lower = upper = None
    for meta in _metadata(field.annotation, list(field.metadata)):
        if isinstance(meta, Ge):
            lower = int(Decimal(str(meta.ge)) * scale)
        if isinstance(meta, Le):
            upper = int(Decimal(str(meta.le)) * scale)
    default = None if field.is_required() else field.default
    if isinstance(default, StrEnum):
        default = default.value
    elif isinstance(default, Decimal):
        default = int(default * scale)
    choices = tuple(m.value for m in kind_type) if kind is Kind.CHOICE else ()
    return Column(name, kind, field.is_required(), default, lower, upper, choices, section)


def _metadata(annotation: Any, found: list[Any]) -> list[Any]:
    """Constraints of a field, also those inside ``Optional[Annotated[…]]``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        for extra in typing.get_args(annotation)[1:]:
            found.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
        _metadata(typing.get_args(annotation)[0], found)
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            _metadata(arg, found)
    return found


def _model(annotation: Any) -> type[BaseModel]:
    model = _unwrap(annotation)
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


def _fields(model: type[BaseModel], prefix: str, section: str | None) -> list[Column]:
    out = []
    for name, field in model.model_fields.items():
        column = _column(prefix + name, field, section)
        if column is not None:
            out.append(column)
    return out


ROW_ID = Column("row_id", Kind.INT, required=True, lower=0)
APPLICANT_ID = Column("applicant_id", Kind.INT, lower=0)
AWARD_YEAR = Column("award_year", Kind.INT, required=True, lower=1900, upper=2200)
#: Tables a population may have, besides ``applicants``: the lists, then the two ledgers.
LEDGERS = {"ledger": "earlier_awards", "other_awards": "other_policy_awards"}
TABLES = ("applicants", *ITEM_LISTS, *LEDGERS)
#: Partition keys a writer may add to every table (``county=…``/``award_year=…`` folders).
PARTITION_KEYS = ("county", "award_year")


@cache
def sections() -> tuple[str, ...]:
    """Top-level facts sections that are single objects (applicant, trade, park …)."""
    return tuple(
        name
        for name, field in Facts.model_fields.items()
        if name not in ITEM_LISTS
        and name not in LEDGERS.values()
        and isinstance(_unwrap(field.annotation), type)
        and issubclass(_unwrap(field.annotation), BaseModel)
    )


@cache
def columns(table: str) -> dict[str, Column]:
    """Every column ``table`` may have, by name."""
    if table == "applicants":
        cols = [ROW_ID, APPLICANT_ID, AWARD_YEAR]
        for section in sections():
            model = _model(Facts.model_fields[section].annotation)
            cols += _fields(model, f"{section}.", section)
    elif table in ITEM_LISTS:
        cols = [ROW_ID, *_fields(_model(Facts.model_fields[table].annotation), "", None)]
    elif table in LEDGERS:
        model = _model(Facts.model_fields[LEDGERS[table]].annotation)
        cols = [Column("applicant_id", Kind.INT, required=True, lower=0), *_fields(model, "", None)]
    else:
        raise KeyError(table)
    return {c.name: c for c in cols}


def section_columns(section: str) -> list[Column]:
    return [c for c in columns("applicants").values() if c.section == section]


def required_section(section: str) -> bool:
    """Sections every applicant-year has (``applicant``)."""
    return Facts.model_fields[section].is_required()
