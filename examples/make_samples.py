"""Writes the sample official files for the demo's organisations (run from the repository root):

    .venv/bin/python examples/make_samples.py

``customs-2025.xlsx`` (and its CSV twin) is laid out as Chenzhou customs hands over its CBEC
statistics: a title row, one row per enterprise and customs mode, amounts in USD, a totals
line. ``logistics-2025.csv`` is a logistics firm's yearly order count. The credit codes are
those of :data:`huiqi.service.demo.ORGS`, so both import after ``huiqi demo``. Running the
script again writes the same bytes.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from huiqi.documents.reproducible import fixed_zip
from huiqi.service.demo import ORGS

HERE = Path(__file__).parent
BY_KEY = {o.key: o for o in ORGS}
TITLE = "2025年度郴州海关跨境电子商务进出口统计（分企业、分监管方式）"
HEADER = [
    "序号",
    "统一社会信用代码",
    "企业名称",
    "年度",
    "监管方式",
    "出口额（美元）",
    "进口额（美元）",
]
#: (organisation, customs mode, export USD, import USD): official figures that differ a little
#: from what some demo applicants declared, as real statistics do.
ROWS = [
    ("exporter", "9610", "312340.00", "18000.00"),
    ("exporter", "9710", "200000.00", "0"),
    ("foundry", "9710", "30850000.00", "0"),
    ("foundry", "1210", "0", "420000.00"),
    ("fruit", "9610", "86000.00", "0"),
    ("tea", "9610", "23450.50", "0"),
]
WHEN = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)


def customs_xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "跨境电商统计"
    sheet.append([TITLE])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(HEADER)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    exports = imports = Decimal(0)
    for number, (key, mode, export, import_) in enumerate(ROWS, start=1):
        org = BY_KEY[key]
        sheet.append([number, org.code, org.name, 2025, mode, Decimal(export), Decimal(import_)])
        exports += Decimal(export)
        imports += Decimal(import_)
    sheet.append([None, None, "合计", None, None, exports, imports])
    for row in sheet.iter_rows(min_row=3, min_col=6, max_col=7):
        for cell in row:
            cell.number_format = "#,##0.00"
    for column, width in zip("ABCDEFG", (6, 22, 40, 8, 10, 18, 18), strict=True):
        sheet.column_dimensions[column].width = width
    book.properties.creator = "郴州海关（示例数据 / sample data）"
    out = io.BytesIO()
    book.save(out)
    return fixed_zip(out.getvalue(), WHEN)


def customs_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for number, (key, mode, export, import_) in enumerate(ROWS, start=1):
        org = BY_KEY[key]
        writer.writerow([number, org.code, org.name, 2025, mode, export, import_])
    return out.getvalue().encode("utf-8")


def logistics_csv() -> bytes:
    org = BY_KEY["logistics"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["统一社会信用代码", "企业名称", "年度", "物流订单量（单）"])
    writer.writerow([org.code, org.name, 2025, 409880])
    return out.getvalue().encode("utf-8")


def main() -> None:
    (HERE / "customs-2025.xlsx").write_bytes(customs_xlsx())
    (HERE / "customs-2025.csv").write_bytes(customs_csv())
    (HERE / "logistics-2025.csv").write_bytes(logistics_csv())


if __name__ == "__main__":
    main()
