"""Reading documents back: workbook rows, a picture of a workbook, whether a PNG shows anything."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from PIL import Image
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, TableStyle

from huiqi.documents.pdf import esc, styles, table


def sheet_rows(data: bytes, sheet: str) -> list[list[Any]]:
    book = load_workbook(io.BytesIO(data))
    return [list(r) for r in book[sheet].iter_rows(values_only=True)]


def fen(value: Any) -> int:
    """A yuan cell back to fen, exactly (the workbook stores the decimal as written)."""
    return int(Decimal(str(value)) * 100)


def xlsx_picture(data: bytes, sheet: str, pdf: Path) -> Path:
    """Draw a sheet's cells as a ruled table in a PDF (a picture of the workbook's content:
    values as a spreadsheet program shows them, not its colours)."""
    st = styles()
    rows = sheet_rows(data, sheet)
    width = max(len(r) for r in rows)

    def cell(column: int, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, float | int | Decimal) and not isinstance(value, bool):
            shown = str(value) if column == 0 else f"{Decimal(str(value)):,.2f}"
            return Paragraph(shown, st.number)
        return Paragraph(esc(value), st.cell)

    body = [[cell(c, v) for c, v in enumerate(r)] + [""] * (width - len(r)) for r in rows]
    widths = [10, 52, 36, 22, 40, 16, 26, 26, 39][:width]
    doc = SimpleDocTemplate(
        str(pdf), pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm, invariant=1
    )
    grid = table(body, [w * mm for w in widths], header_rows=1)
    banners = [i for i, r in enumerate(rows) if r and r[0] is not None and not any(r[1:])]
    grid.setStyle(TableStyle([("SPAN", (0, i), (-1, i)) for i in banners]))
    doc.build([grid])
    return pdf


def ink(png: Path) -> float:
    """The share of the picture that is not (near) white."""
    image = Image.open(png).convert("L")
    histogram = image.histogram()
    return sum(histogram[:200]) / (image.width * image.height)
