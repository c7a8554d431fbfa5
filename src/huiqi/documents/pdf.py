"""PDF pages with ReportLab: A4, the CJK font embedded, the citation in every page's footer,
and no creation date or random id, so the same data gives the same bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, SimpleDocTemplate, Table, TableStyle
from reportlab.platypus.doctemplate import BaseDocTemplate

from huiqi.documents.fonts import pdf_font


@dataclass(frozen=True)
class Styles:
    title: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    number: ParagraphStyle
    right: ParagraphStyle
    code: ParagraphStyle


def styles() -> Styles:
    font = pdf_font()

    def style(name: str, size: float, **extra: Any) -> ParagraphStyle:
        return ParagraphStyle(
            name, fontName=font, fontSize=size, leading=size * 1.45, wordWrap="CJK", **extra
        )

    return Styles(
        title=style("title", 16, alignment=TA_CENTER, spaceAfter=4 * mm),
        heading=style("heading", 12, spaceBefore=3 * mm, spaceAfter=2 * mm),
        body=style("body", 10.5, spaceAfter=2 * mm),
        small=style("small", 8, textColor=colors.HexColor("#444444")),
        cell=style("cell", 8.5),
        number=style("number", 8.5, alignment=TA_RIGHT),
        right=style("right", 10.5, alignment=TA_RIGHT),
        code=style("code", 7.5),
    )


def esc(text: object) -> str:
    """Text for a Paragraph (which reads a little XML)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def table(rows: Sequence[Sequence[Any]], widths: Sequence[float], *, header_rows: int = 1) -> Table:
    """A ruled table; the header rows shaded and repeated on every page."""
    result = Table([list(r) for r in rows], colWidths=list(widths), repeatRows=header_rows)
    result.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), pdf_font()),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#777777")),
                ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#E8EEF4")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return result


def render(story: list[Flowable], *, title: str, footer: Sequence[str], author: str) -> bytes:
    """Lay out ``story`` on A4 pages; ``footer`` lines (the citation) on every page."""
    font = pdf_font()
    buffer = io.BytesIO()

    def on_page(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(font, 6.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        y = 10 * mm + 3.2 * mm * (len(footer) - 1)
        for line in footer:
            canvas.drawString(15 * mm, y, line)
            y -= 3.2 * mm
        canvas.drawRightString(A4[0] - 15 * mm, 5 * mm, f"— {doc.page} —")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=12 * mm + 3.2 * mm * len(footer),
        title=title,
        author=author,
        creator="huiqi",
        subject=title,
        invariant=1,
        lang="zh-CN",
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


def wrap_footer(text: str, width: int = 118) -> list[str]:
    """Split a long citation into footer lines (by characters; CJK counts double)."""
    lines: list[str] = []
    current = ""
    size = 0
    for ch in text:
        weight = 2 if ord(ch) > 0x2E80 else 1
        if size + weight > width:
            lines.append(current)
            current, size = "", 0
        current += ch
        size += weight
    if current:
        lines.append(current)
    return lines
