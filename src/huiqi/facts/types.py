"""Field types of the facts schema: exact numbers, strict flags, checked codes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict

from huiqi import credit_code


def _exact_number(value: Any) -> Any:
    """Accept int, Decimal or numeric text; refuse binary floats and booleans."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, float):
        raise ValueError("binary floats are not exact; write the number as text or a decimal")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and not value.is_finite():
        # JSON's NaN and Infinity, which Python's json reader lets through.
        raise ValueError("not a finite number / 不是有限的数")
    if isinstance(value, str):
        try:
            number = Decimal(value.strip().replace(",", ""))
        except ArithmeticError as exc:
            raise ValueError("not a number") from exc
        if not number.is_finite():
            raise ValueError("not a finite number / 不是有限的数")
        return number
    return value


def _checked_code(value: str) -> str:
    return credit_code.validate(value)


#: Money in yuan (CNY) or US dollars: ≥ 0, at most two decimals, never a float, and below
#: ten trillion so every amount in fen fits the database's BIGINT.
Money = Annotated[Decimal, BeforeValidator(_exact_number), Field(ge=0, le=10**13, decimal_places=2)]
#: An area in square metres: ≥ 0, at most two decimals.
Area = Annotated[Decimal, BeforeValidator(_exact_number), Field(ge=0, le=10**9, decimal_places=2)]
#: A duration in years: ≥ 0, at most two decimals.
Years = Annotated[Decimal, BeforeValidator(_exact_number), Field(ge=0, le=100, decimal_places=2)]
#: A whole count: ≥ 0, a true integer.
Count = Annotated[int, Strict(), Field(ge=0, le=10**12)]
#: A yes/no fact: only true or false, never "yes" or 1.
Flag = Annotated[bool, Strict()]
#: The document's name for a unified social credit code (GB 32100-2015: 18 characters of
#: 0-9 and A-Y but I, O, S, V, Z, the last a check character of the other 17).
CREDIT_CODE_FORMAT = "gb32100"
#: A unified social credit code with its check character verified.
CreditCode = Annotated[
    str,
    Strict(),
    AfterValidator(_checked_code),
    Field(json_schema_extra={"format": CREDIT_CODE_FORMAT}),
]
#: A short identifier of an item in a list (store, warehouse, loan …).
ItemId = Annotated[str, Strict(), Field(min_length=1, max_length=64, pattern=r"^[^\s/\\]+$")]
#: A calendar year.
Year = Annotated[int, Strict(), Field(ge=1900, le=2200)]
