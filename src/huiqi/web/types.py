"""Request field types that keep every value within what the database can hold.

Ids fit a 32-bit integer, amounts a BIGINT, text the column it goes to, and no text
carries a NUL character (PostgreSQL refuses it): such input is a 422, never a 500.
"""

from __future__ import annotations

from decimal import Decimal
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

MAX_ID = 2_147_483_647
MAX_FEN = 10**15

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
USERNAME = r"^[A-Za-z0-9_.-]+$"
Username = Annotated[str, Path(min_length=1, max_length=64, pattern=USERNAME)]
YearQ = Annotated[int | None, Query(ge=1900, le=2200, description="奖补年度 / award year")]
LimitQ = Annotated[int, Query(ge=1, le=500, description="每页条数 / page size")]
OffsetQ = Annotated[int, Query(ge=0, le=MAX_ID, description="跳过条数 / offset")]
Fen = Annotated[int, Field(ge=0, le=MAX_FEN, description="金额（分） / amount in fen")]


def has_nul(value: Any) -> bool:
    """Does any text inside ``value`` (nested dicts and lists too) carry a NUL?"""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def takes_int(annotation: Any) -> bool:
    """Is ``annotation`` an integer (``int``, ``Annotated[int, …]``, ``int | None``)?"""
    if annotation is int:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return takes_int(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return any(takes_int(a) for a in get_args(annotation))
    return False


class Body(BaseModel):
    """A request body: unknown fields refused, no NUL characters anywhere, and strict
    types: a boolean is ``true`` or ``false`` (never ``0``, ``1`` or ``"yes"``), an integer
    is a JSON integer (never ``"5"``, ``5.0`` or ``true``), text is a JSON string. A field
    whose JSON form is text read as something else (a date, a role) says so with
    ``Field(strict=False)``, and its document states the form (``format: date``, an enum)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any, info: ValidationInfo) -> Any:
        if has_nul(value):
            raise ValueError("NUL characters are not allowed / 不允许包含空字符")
        if (
            isinstance(value, Decimal)
            and value.is_finite()
            and value == value.to_integral_value()
            and info.field_name is not None
            and takes_int(cls.model_fields[info.field_name].annotation)
        ):
            # JSON has one kind of number: 5.0 is the integer 5 (as JSON Schema reads it),
            # decoded as Decimal("5.0") by web.exact; 5.5, NaN or "5" stay refused.
            return int(value)
        return value
