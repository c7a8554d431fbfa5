"""Dotted fact paths (``trade.export_usd``, ``item.area_m2``): what they name and in which unit.

The policy loader checks every path a clause uses against the facts schema, so a
misspelt fact is refused when the package loads, not when an applicant is wrong.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from huiqi.facts.model import Facts

#: Lists in the facts whose elements a clause can evaluate one by one (``for_each``).
ITEM_LISTS = ("stores", "warehouses", "events", "loans", "talents")

_UNIT_BY_SUFFIX = {"_cny": "cny", "_usd": "usd", "_m2": "m2", "_years": "years"}


@dataclass(frozen=True)
class FactInfo:
    """What a fact path names: its labels, value type and unit."""

    path: str
    zh: str
    en: str
    value_type: type
    unit: str | None
    enum: type[StrEnum] | None


def _unwrap(annotation: Any) -> Any:
    """Strip ``Optional``/``Annotated`` to the underlying type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        else:
            return annotation


def _list_element(annotation: Any) -> Any:
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) is list:
        return _unwrap(typing.get_args(annotation)[0])
    return None


def _unit(name: str, value_type: type) -> str | None:
    for suffix, unit in _UNIT_BY_SUFFIX.items():
        if name.endswith(suffix):
            return unit
    if value_type is int:
        return "count"
    return None


@cache
def fact_info(path: str, item_list: str | None = None) -> FactInfo:
    """Describe a path, or raise ``KeyError`` naming the part that does not exist.

    ``item.x`` paths resolve against the element model of ``item_list``.
    """
    parts = path.split(".")
    model: type[BaseModel] = Facts
    if parts[0] == "item":
        if item_list is None:
            raise KeyError("'item.' paths need 'for_each'")
        element = _list_element(Facts.model_fields[item_list].annotation)
        assert isinstance(element, type) and issubclass(element, BaseModel)
        model, parts = element, parts[1:]
    field: FieldInfo | None = None
    for i, part in enumerate(parts):
        if part not in model.model_fields:
            raise KeyError(".".join(parts[: i + 1]))
        field = model.model_fields[part]
        target = _unwrap(field.annotation)
        if i < len(parts) - 1:
            if not (isinstance(target, type) and issubclass(target, BaseModel)):
                raise KeyError(".".join(parts[: i + 2]))
            model = target
    assert field is not None
    value_type = _unwrap(field.annotation)
    enum = value_type if isinstance(value_type, type) and issubclass(value_type, StrEnum) else None
    return FactInfo(
        path=path,
        zh=field.title or parts[-1],
        en=field.description or parts[-1],
        value_type=value_type,
        unit=_unit(parts[-1], value_type),
        enum=enum,
    )


def is_number(info: FactInfo) -> bool:
    return info.value_type in (int, Decimal)


def is_date(info: FactInfo) -> bool:
    return info.value_type is date
