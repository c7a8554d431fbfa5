"""Text written into a spreadsheet or a CSV file stays text.

A spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or
a carriage return before one) as a formula: ``=HYPERLINK(…)`` in an organisation's name or a
plan's title would become a live link or worse in the reviewer's Excel. openpyxl itself
writes any string starting with ``=`` as a formula. So, one rule for every writer:

- XLSX: the value is kept exactly, typed as a string and styled with Excel's "quote
  prefix" (what typing an apostrophe first does): it shows as written and stays text when
  edited;
- CSV (which has no types): an apostrophe is put before it, as OWASP advises.

Only strings are touched: numbers stay numbers, and a string that is just a number
(``-12.00``, what the yuan columns hold) reads as that number, not a formula.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

#: The first characters that make a spreadsheet program read a cell as a formula.
FORMULA_START = r"^[=+\-@\t\r]"
#: A plain number, which no spreadsheet runs (digits, thousands commas, one decimal point).
PLAIN_NUMBER = r"^[+-]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)$"
_START = re.compile(FORMULA_START)
_NUMBER = re.compile(PLAIN_NUMBER)


def formula_like(value: Any) -> bool:
    """Whether a spreadsheet would take this value for a formula (only strings can be)."""
    return isinstance(value, str) and bool(_START.match(value)) and not _NUMBER.match(value)


def csv_field(value: Any) -> Any:
    """The value to hand to :mod:`csv`: an apostrophe before anything formula-like."""
    return "'" + value if formula_like(value) else value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_field(v) for v in values]


def put(sheet: Worksheet, row: int, column: int, value: Any) -> Cell:
    """Write one cell; formula-like text is kept as typed and shown as text."""
    cell: Cell = sheet.cell(row=row, column=column, value=value)
    if formula_like(value):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell
