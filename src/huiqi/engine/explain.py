"""The explanation tree: data first, rendered later in Chinese or English.

A :class:`Node` names a message (``key``), carries the values that message
shows (``args``), says whether its step held (``ok``) and holds the steps
beneath it. Argument values are plain JSON-ready data with a little typing:
``{"fen": n}`` is money, ``{"num": "1.5", "unit": "usd"}`` a quantity,
``{"zh": …, "en": …}`` a label in both languages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from huiqi.money import format_decimal


# Not frozen: an evaluation makes a couple of hundred nodes, and a frozen dataclass takes about
# three times as long to build. Nothing changes a node once it is made.
@dataclass(slots=True)
class Node:
    key: str
    args: dict[str, Any] = field(default_factory=dict)
    ok: bool | None = None
    children: tuple[Node, ...] = ()

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, key: str) -> list[Node]:
        return [n for n in self.walk() if n.key == key]

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"key": self.key, "args": self.args}
        if self.ok is not None:
            data["ok"] = self.ok
        if self.children:
            data["children"] = [c.as_dict() for c in self.children]
        return data


def money(fen: int) -> dict[str, int]:
    return {"fen": fen}


def qty(value: Decimal | Fraction | int | None, unit: str | None = None) -> dict[str, Any]:
    if value is None:
        return {"num": None, "unit": unit}
    if isinstance(value, Fraction) and value.denominator == 1:
        return {"num": str(value.numerator), "unit": unit}  # a whole number: just its digits
    return {"num": format_decimal(value).replace(",", ""), "unit": unit}


def text(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}
