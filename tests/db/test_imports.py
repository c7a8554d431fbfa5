"""Official figures in: imports checked row by row, written whole or not at all, idempotent,
with provenance; declared versus official; proactive matching (免申即享). Both databases."""

from __future__ import annotations

import csv
import io
import tracemalloc
import zipfile
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from huiqi.contents import ContentLimits
from huiqi.credit_code import complete
from huiqi.db.tables import AuditEntry, OfficialFigure, Organisation, OtherPolicyAward
from huiqi.service import applications, imports, matching, official, registry
from huiqi.service.errors import Forbidden, Invalid
from huiqi.service.uow import Services

from .conftest import ORG_A, ORG_B, PARK, Cast

NAME_A, NAME_B, NAME_PARK = "郴州甲跨境电商有限公司", "郴州乙跨境物流有限公司", "郴州跨境电商产业园"
CUSTOMS_HEADER = [
    "统一社会信用代码",
    "企业名称",
    "年度",
    "监管方式",
    "出口额（美元）",
    "进口额（美元）",
]
SCOPE = {
    "registered_locally": True,
    "tax_paying_locally": True,
    "independent_legal_person": True,
    "in_customs_cbec_statistics": True,
}


def xlsx(rows: list[Any], title: str = "Sheet") -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[Any], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode(encoding)


def run(svc: Services, cast: Cast, data: bytes, kind: str, **kw: Any) -> imports.ImportReport:
    return imports.import_file(svc, cast.rui, data=data, file_name="f.csv", kind=kind, **kw)


def figures(svc: Services) -> dict[tuple[str, int, str], OfficialFigure]:
    with svc.reading() as s:
        orgs = {o.id: o.credit_code for o in s.scalars(select(Organisation))}
        out = {
            (orgs[f.org_id], f.award_year, f.field): f for f in s.scalars(select(OfficialFigure))
        }
        s.expunge_all()  # keep what was loaded when the reading session rolls back
        return out


def last_audit(svc: Services) -> AuditEntry | None:
    with svc.reading() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        s.expunge_all()
        return entry


def audit_count(svc: Services) -> int:
    with svc.reading() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


CUSTOMS_2022 = [
    ["2022年度郴州海关跨境电商统计（分企业、分监管方式）"],
    ["序号", *CUSTOMS_HEADER],
    [1, ORG_A, NAME_A, 2022, "9610", 120000.50, 3000],
    [2, ORG_A, NAME_A, 2022, 9710, 80000, None],
    [3, PARK, NAME_PARK, "2022年", "1210（保税电商）", None, "45,000"],
    [None, None, "合计", None, None, 200000.50, 48000],
]


# -- customs ---------------------------------------------------------------------------------


def test_a_dry_run_reports_every_row_and_writes_nothing(svc: Services, cast: Cast) -> None:
    before = audit_count(svc)
    report = imports.import_file(
        svc, cast.rui, data=xlsx(CUSTOMS_2022), file_name="海关.xlsx", kind="customs", dry_run=True
    )
    assert report.ok and report.dry_run and report.header_row == 2
    assert [(a.row, a.credit_code, a.year) for a in report.accepted] == [
        (3, ORG_A, 2022),
        (4, ORG_A, 2022),
        (5, PARK, 2022),
    ]
    assert report.accepted[0].values["export_usd"] == "120000.50"  # a float cell, read exactly
    assert report.accepted[2].values == {
        "name": NAME_PARK,
        "mode": "1210",
        "import_usd": "45000",
    }
    assert report.skipped == [(6, "合计行 / totals line")]
    assert report.columns["export_usd"] == "出口额（美元）"  # as the file spells it
    assert figures(svc) == {} and audit_count(svc) == before


def test_an_import_stores_each_figure_with_its_provenance(svc: Services, cast: Cast) -> None:
    data = xlsx(CUSTOMS_2022, title="统计")
    report = imports.import_file(svc, cast.rui, data=data, file_name="海关.xlsx", kind="customs")
    stored = {k: f.value for k, f in figures(svc).items()}
    assert stored == {
        (ORG_A, 2022, "applicant.in_customs_cbec_statistics"): "true",
        (ORG_A, 2022, "trade.export_usd"): "200000.50",  # 120,000.50 (9610) + 80,000 (9710)
        (ORG_A, 2022, "trade.export_usd[9610]"): "120000.50",
        (ORG_A, 2022, "trade.export_usd[9710]"): "80000",
        (ORG_A, 2022, "trade.import_usd"): "3000",
        (ORG_A, 2022, "trade.import_usd[9610]"): "3000",
        (PARK, 2022, "applicant.in_customs_cbec_statistics"): "true",
        (PARK, 2022, "trade.import_usd"): "45000",
        (PARK, 2022, "trade.import_usd[1210]"): "45000",
    }
    total = figures(svc)[(ORG_A, 2022, "trade.export_usd")]
    assert total.source == "customs"
    assert total.provenance == {
        "file": "海关.xlsx",
        "sha256": imports.checksum(data),
        "sheet": "统计",
        "import_kind": "customs",
        "by": "rui",
        "at": "2023-03-01T09:00:00+00:00",
        "row": 3,
        "rows": [3, 4],
        "columns": ["出口额（美元）"],
    }
    assert len(report.changes) == 9 and all(c.before is None for c in report.changes)
    entry = last_audit(svc)
    assert entry is not None and entry.action == "official.import"
    assert entry.object_id == imports.checksum(data) and entry.actor == "rui"
    assert entry.after is not None and entry.after["created"] == 9
    assert {"target": "figure", "org_code": ORG_A, "year": 2022} | {
        "field": "customs:trade.export_usd",
        "before": None,
        "after": "200000.50",
        "rows": [3, 4],
    } in entry.after["changes"]


def test_a_file_imported_twice_changes_nothing(svc: Services, cast: Cast) -> None:
    data = xlsx(CUSTOMS_2022)
    run(svc, cast, data, "customs")
    first = {k: (f.value, f.recorded_at, f.provenance) for k, f in figures(svc).items()}
    entries = audit_count(svc)
    again = run(svc, cast, data, "customs")
    assert again.already_imported and again.changes == []
    assert {k: (f.value, f.recorded_at, f.provenance) for k, f in figures(svc).items()} == first
    assert audit_count(svc) == entries


def test_the_same_figures_in_another_file_change_no_figure(svc: Services, cast: Cast) -> None:
    imports.import_file(
        svc, cast.rui, data=xlsx(CUSTOMS_2022), file_name="海关.xlsx", kind="customs"
    )
    twin = csv_bytes(
        [
            CUSTOMS_HEADER,
            [ORG_A, NAME_A, 2022, "9610", "120,000.50", "3000.00"],
            [ORG_A, NAME_A, 2022, "9710", "80000.00", ""],
            [PARK, NAME_PARK, 2022, "1210", "", "45000"],
        ]
    )
    report = run(svc, cast, twin, "customs")
    assert not report.already_imported
    assert report.changes == [] and report.unchanged == 9
    provenance = figures(svc)[(ORG_A, 2022, "trade.export_usd")].provenance
    assert (provenance["file"], provenance["sheet"]) == ("海关.xlsx", "Sheet")  # the first file's


def test_a_corrected_figure_is_updated_and_the_audit_says_from_what_to_what(
    svc: Services, cast: Cast
) -> None:
    run(svc, cast, csv_bytes([CUSTOMS_HEADER, [ORG_A, NAME_A, 2022, "", "150000", "0"]]), "customs")
    fixed = csv_bytes([CUSTOMS_HEADER, [ORG_A, NAME_A, 2022, "", "151000", "0"]])
    report = run(svc, cast, fixed, "customs")
    assert [(c.field, c.before, c.after) for c in report.changes] == [
        ("customs:trade.export_usd", "150000", "151000")
    ]
    assert report.unchanged == 2  # in_customs_cbec_statistics and import_usd
    assert figures(svc)[(ORG_A, 2022, "trade.export_usd")].value == "151000"
    entry = last_audit(svc)
    assert entry is not None and entry.after is not None
    assert entry.after["changes"][0]["before"] == "150000"


BAD_ROWS = [
    CUSTOMS_HEADER,
    [ORG_A, NAME_A, 2022, "9610", "1000", ""],  # row 2: good
    ["91431000MA4T123452", NAME_A, 2022, "9610", "1000", ""],  # 3: wrong check character
    [complete("91431000MA4T99999"), "丁", 2022, "9610", "1000", ""],  # 4: not registered
    [ORG_A, NAME_A, 2019, "9710", "1000", ""],  # 5: outside the policy's award years
    [ORG_B, NAME_B, 2022, "9610", "-5", ""],  # 6: negative
    [ORG_B, NAME_B, 2022, "9710", "12.345", ""],  # 7: three decimals
    [PARK, NAME_PARK, 2022, "9610", "abc", ""],  # 8: not a number
    [PARK, NAME_PARK, 2022, "9999", "100", ""],  # 9: no such customs mode
    ["", "丙", 2022, "9610", "100", ""],  # 10: no credit code
    [PARK, NAME_PARK, 2022, "9810", "", ""],  # 11: neither export nor import
]


def test_bad_rows_are_reported_with_row_column_and_reason(svc: Services, cast: Cast) -> None:
    report = run(svc, cast, csv_bytes(BAD_ROWS), "customs", dry_run=True)
    assert [a.row for a in report.accepted] == [2]
    assert {(i.row, i.column) for i in report.rejected} == {
        (3, "统一社会信用代码"),
        (4, "统一社会信用代码"),
        (5, "年度"),
        (6, "出口额（美元）"),
        (7, "出口额（美元）"),
        (8, "出口额（美元）"),
        (9, "监管方式"),
        (10, "统一社会信用代码"),
        (11, "出口额（美元）、进口额（美元）"),
    }
    by_row = {i.row: i for i in report.rejected}
    assert "校验位错误：应为 1，实际为 2" in by_row[3].zh
    assert "wrong check character" in by_row[3].en
    assert "未在本系统登记" in by_row[4].zh and "registered" in by_row[4].en
    assert "2019" in by_row[5].zh and "2021–2025" in by_row[5].en
    assert by_row[6].value == "-5" and by_row[6].zh == "不能为负数"
    assert by_row[7].en == "at most two decimals (to the cent)"
    assert by_row[8].zh == "应为数字"


def test_a_file_with_a_bad_row_imports_nothing(svc: Services, cast: Cast) -> None:
    before = audit_count(svc)
    with pytest.raises(imports.ImportRejected) as raised:
        run(svc, cast, csv_bytes(BAD_ROWS), "customs")
    assert raised.value.report.rejected_rows == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert raised.value.problems[0].path == "第3行·统一社会信用代码 / row 3"
    assert "9 行未通过校验" in raised.value.zh
    assert figures(svc) == {} and audit_count(svc) == before


def test_duplicate_rows_are_rejected_naming_the_first(svc: Services, cast: Cast) -> None:
    data = csv_bytes(
        [
            CUSTOMS_HEADER,
            [ORG_A, NAME_A, 2022, "9610", "100", ""],
            [ORG_A, NAME_A, 2022, "9610", "200", ""],  # the same organisation, year and mode
            [ORG_B, NAME_B, 2022, "", "300", ""],  # a total …
            [ORG_B, NAME_B, 2022, "9610", "400", ""],  # … then a mode: ambiguous
        ]
    )
    report = run(svc, cast, data, "customs", dry_run=True)
    assert report.rejected_rows == [3, 5]
    by_row = {i.row: i for i in report.rejected}
    assert "与第2行重复" in by_row[3].zh and "duplicates row 2" in by_row[3].en
    assert "row 4" in by_row[5].en and "不能混用" in by_row[5].zh


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (["代码", "名称", "出口额（美元）"], "未找到“统一社会信用代码”列"),
        (["统一社会信用代码", "企业名称", "年度", "备注"], "表头有误"),
        (["统一社会信用代码", "信用代码", "出口额（美元）"], "表头有误"),
    ],
)
def test_wrong_headers_are_refused_before_any_row(
    svc: Services, cast: Cast, header: list[str], words: str
) -> None:
    data = csv_bytes([header, [ORG_A, ORG_A, "1"]])
    with pytest.raises(Invalid) as raised:
        run(svc, cast, data, "customs", dry_run=True)
    assert words in raised.value.zh
    assert "统一社会信用代码" in raised.value.zh and "credit code" in raised.value.en


def test_a_duplicate_header_is_named(svc: Services, cast: Cast) -> None:
    data = csv_bytes([["统一社会信用代码", "信用代码", "出口额（美元）"], [ORG_A, ORG_A, "1"]])
    with pytest.raises(Invalid) as raised:
        run(svc, cast, data, "customs")
    [problem] = raised.value.problems
    assert problem.value == "信用代码" and "列名重复" in problem.zh and "duplicate" in problem.en


def test_a_logistics_file_without_an_order_column_is_refused(svc: Services, cast: Cast) -> None:
    with pytest.raises(Invalid) as raised:
        run(svc, cast, csv_bytes([["统一社会信用代码", "年度"], [ORG_B, 2022]]), "logistics")
    assert any("物流订单量" in p.zh for p in raised.value.problems)


def test_amounts_in_ten_thousand_dollars_are_scaled_exactly(svc: Services, cast: Cast) -> None:
    data = csv_bytes([["统一社会信用代码", "年度", "出口额（万美元）"], [ORG_A, 2022, "12.3456"]])
    run(svc, cast, data, "customs")
    assert figures(svc)[(ORG_A, 2022, "trade.export_usd")].value == "123456"


def test_a_file_without_a_year_column_takes_the_year_given(svc: Services, cast: Cast) -> None:
    data = csv_bytes([["统一社会信用代码", "出口额（美元）"], [ORG_A, "1000"]])
    missing = run(svc, cast, data, "customs", dry_run=True)
    assert [(i.row, i.column) for i in missing.rejected] == [(2, "年度 / year")]
    run(svc, cast, data, "customs", year=2022)
    assert figures(svc)[(ORG_A, 2022, "trade.export_usd")].value == "1000"


def test_a_gb18030_csv_reads_as_well_as_utf8(svc: Services, cast: Cast) -> None:
    rows = [CUSTOMS_HEADER, [ORG_A, NAME_A, 2022, "9610", "1000", ""]]
    report = run(svc, cast, csv_bytes(rows, "gb18030"), "customs")
    assert report.accepted[0].org_name == NAME_A and not report.warnings


def test_a_name_other_than_the_registered_one_is_a_warning(svc: Services, cast: Cast) -> None:
    rows = [CUSTOMS_HEADER, [ORG_A, "郴州甲公司", 2022, "9610", "1000", ""]]
    report = run(svc, cast, csv_bytes(rows), "customs")
    assert report.ok and [(w.row, w.column, w.value) for w in report.warnings] == [
        (2, "企业名称", "郴州甲公司")
    ]


def test_a_file_with_no_data_rows_is_refused(svc: Services, cast: Cast) -> None:
    with pytest.raises(Invalid) as raised:
        run(svc, cast, csv_bytes([CUSTOMS_HEADER, [], ["", "合计", "", "", "0", "0"]]), "customs")
    assert "没有数据行" in raised.value.zh and "no data rows" in raised.value.en


@pytest.mark.parametrize("data", [b"\x00\x01\x02binary", b"PK\x03\x04not a workbook"])
def test_an_unreadable_file_is_refused(svc: Services, cast: Cast, data: bytes) -> None:
    with pytest.raises(Invalid) as raised:
        run(svc, cast, data, "customs", dry_run=True)
    assert "XLSX" in raised.value.zh


# -- files read within limits ----------------------------------------------------------------------


def refused(svc: Services, cast: Cast, data: bytes, name: str, **kw: Any) -> Invalid:
    with pytest.raises(Invalid) as raised:
        imports.import_file(
            svc, cast.rui, data=data, file_name=name, kind="customs", dry_run=True, **kw
        )
    return raised.value


def test_a_cell_far_to_the_right_is_refused_naming_the_file_sheet_row_and_column(
    svc: Services, cast: Cast
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "海关数据"
    sheet.append(CUSTOMS_HEADER)
    sheet.append([ORG_A, NAME_A, 2022, "9610", "1000", ""])
    sheet.cell(row=2, column=16_384, value="x")  # column XFD: every row padded to 16,384 cells
    out = io.BytesIO()
    book.save(out)
    error = refused(svc, cast, out.getvalue(), "海关.xlsx")
    assert "列数过多" in error.zh and "too many columns" in error.en
    [problem] = error.problems
    assert "海关.xlsx › 海关数据 · 第2行XFD列" in problem.zh and "row 2 column XFD" in problem.en


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def raw_xlsx(sheet_xml: str, strings: list[str], dimension: str = "A1") -> bytes:
    """A workbook written by hand (openpyxl would not write what an attacker can): one sheet
    whose ``<sheetData>`` is ``sheet_xml``, its ``<dimension>``, a shared-string table."""
    shared = "".join(f"<si><t>{text}</t></si>" for text in strings)
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
        'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/sharedStrings.'
        'xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        'sharedStrings+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" '
        f'Type="{DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{DOC_RELS}"><sheets>'
        '<sheet name="数据" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{RELS}">'
        f'<Relationship Id="rId1" Type="{DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{DOC_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>",
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><dimension ref="{dimension}"/>'
        f"<sheetData>{sheet_xml}</sheetData></worksheet>",
        "xl/sharedStrings.xml": f'<sst xmlns="{MAIN}">{shared}</sst>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text.encode())
    return out.getvalue()


def customs_rows(count: int) -> str:
    """A header and ``count`` data rows in shared strings 0–5 and numbers."""
    head = "".join(f'<c t="s"><v>{i}</v></c>' for i in range(6))
    body = "".join(
        f'<row r="{r}"><c t="s"><v>6</v></c><c t="s"><v>7</v></c><c><v>2022</v></c>'
        f"<c/><c><v>1000</v></c><c/></row>"
        for r in range(2, count + 2)
    )
    return f'<row r="1">{head}</row>{body}'


def test_an_over_long_shared_string_is_refused_before_the_sheet_is_read(
    svc: Services, cast: Cast
) -> None:
    long = "".join(chr(0x4E00 + (i * 7919) % 20_000) for i in range(40_000))  # compresses badly
    data = raw_xlsx(customs_rows(1), [*CUSTOMS_HEADER, ORG_A, long])
    error = refused(svc, cast, data, "a.xlsx")
    assert "第 8 个共享字符串过长（最多 32767 字）" in error.zh
    assert "shared string 8 is too long" in error.en
    assert "a.xlsx › xl/sharedStrings.xml" in error.problems[0].zh


def test_a_sheet_claiming_the_whole_grid_is_read_only_as_far_as_its_cells_go(
    svc: Services, cast: Cast
) -> None:
    """Its ``<dimension>`` says XFD1048576: read-only openpyxl would pad every row to 16,384
    cells (2,000 rows: a quarter of a gigabyte); measured first, it is read 6 columns wide."""
    data = raw_xlsx(customs_rows(2_000), [*CUSTOMS_HEADER, ORG_A, NAME_A], "A1:XFD1048576")
    tracemalloc.start()
    try:
        report = imports.import_file(
            svc, cast.rui, data=data, file_name="a.xlsx", kind="customs", dry_run=True
        )
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(report.accepted) + len(report.rejected) == 2_000
    assert peak < 40 * 1024 * 1024, f"{peak / 1024 / 1024:.0f} MB"


def test_a_workbook_over_the_cell_limit_is_refused(svc: Services, cast: Cast) -> None:
    limits = ContentLimits(import_max_cells=100)
    dense = [CUSTOMS_HEADER, *([ORG_A, NAME_A, 2022, "9610", "1", "2"] for _ in range(20))]
    error = refused(svc, cast, xlsx(dense), "a.xlsx", limits=limits)
    assert "单元格过多（最多 100 个）" in error.zh and "too many cells" in error.en
    assert "a.xlsx › Sheet · 第17行" in error.problems[0].zh  # the 101st cell
    # Few cells, but openpyxl would build the whole grid: 61 rows of 6 columns.
    sparse = [CUSTOMS_HEADER, *([ORG_A] for _ in range(60))]
    error = refused(svc, cast, xlsx(sparse), "a.xlsx", limits=limits)
    assert "单元格过多（61 行 × 6 列，最多 100 个）" in error.zh
    report = imports.import_file(
        svc, cast.rui, data=xlsx(dense), file_name="a.xlsx", kind="customs", dry_run=True
    )
    assert len(report.accepted) + len(report.rejected) == 20  # read whole under the default


def test_a_huge_csv_field_is_refused_naming_its_row(svc: Services, cast: Cast) -> None:
    data = csv_bytes([CUSTOMS_HEADER, [ORG_A, NAME_A, 2022, "", "1", ""]])
    data += f"{ORG_A},{'甲' * (19 * 1024 * 1024 // 3)},2022,,1,\n".encode()  # 19 MB
    error = refused(svc, cast, data, "big.csv")
    assert "字段过长（最多 32767 字）" in error.zh and "(row 3)" in error.en
    assert error.problems[0].path == "big.csv · 第3行 / row 3"


def test_the_sms_file_writes_a_formula_like_name_as_text(svc: Services, cast: Cast) -> None:
    matching_world(svc, cast)
    report = matching.match(svc, cast.dai, year=2022)
    trap = '=HYPERLINK("http://evil.example","点击领取")'
    report = replace(report, candidates=tuple(replace(c, name=trap) for c in report.candidates))
    text = matching.sms_csv(report).decode("utf-8").removeprefix("\ufeff")
    [[name, code, _phone, _message]] = list(csv.reader(io.StringIO(text)))[1:]
    assert name == "'" + trap and code == ORG_A


def test_only_the_commerce_bureau_imports(svc: Services, cast: Cast) -> None:
    data = csv_bytes([CUSTOMS_HEADER, [ORG_A, NAME_A, 2022, "9610", "1000", ""]])
    for who in (cast.alice, cast.fang, cast.admin):
        with pytest.raises(Forbidden):
            imports.import_file(svc, who, data=data, file_name="x.csv", kind="customs")
    assert imports.import_file(svc, cast.dai, data=data, file_name="x.csv", kind="customs").ok


# -- platform, logistics, other awards --------------------------------------------------------

PLATFORM_HEADER = ["统一社会信用代码", "企业名称", "年度", "是否备案", "是否对接"]


def org_flags(svc: Services, code: str) -> tuple[bool, bool]:
    with svc.reading() as s:
        org = s.scalar(select(Organisation).where(Organisation.credit_code == code))
        assert org is not None
        return org.platform_filed, org.platform_connected


def test_a_platform_list_sets_the_register_and_keeps_the_figures(svc: Services, cast: Cast) -> None:
    assert org_flags(svc, PARK) == (False, False)
    data = csv_bytes(
        [
            PLATFORM_HEADER,
            [PARK, NAME_PARK, 2023, "是", "已对接"],
            [ORG_A, NAME_A, 2023, "是", "否"],
        ]
    )
    report = run(svc, cast, data, "platform")
    assert org_flags(svc, PARK) == (True, True)
    assert org_flags(svc, ORG_A) == (True, False)
    assert [(c.target, c.org_code, c.field, c.before, c.after) for c in report.changes][-3:] == [
        ("organisation", PARK, "platform_filed", "false", "true"),
        ("organisation", PARK, "platform_connected", "false", "true"),
        ("organisation", ORG_A, "platform_connected", "true", "false"),
    ]
    assert figures(svc)[(PARK, 2023, "applicant.platform_connected")].value == "true"


def test_an_older_platform_list_does_not_undo_a_newer_one(svc: Services, cast: Cast) -> None:
    run(svc, cast, csv_bytes([PLATFORM_HEADER, [PARK, NAME_PARK, 2023, "是", "是"]]), "platform")
    older = csv_bytes([PLATFORM_HEADER, [PARK, NAME_PARK, 2022, "否", "否"]])
    report = run(svc, cast, older, "platform")
    assert org_flags(svc, PARK) == (True, True)
    assert {c.target for c in report.changes} == {"figure"}
    assert figures(svc)[(PARK, 2022, "applicant.platform_filed")].value == "false"


def test_logistics_orders_are_whole_numbers(svc: Services, cast: Cast) -> None:
    header = ["统一社会信用代码", "企业名称", "年度", "物流订单量（单）"]
    bad = run(
        svc,
        cast,
        csv_bytes([header, [ORG_B, NAME_B, 2022, "412,350"], [ORG_A, NAME_A, 2022, "12.5"]]),
        "logistics",
        dry_run=True,
    )
    assert [(i.row, i.zh) for i in bad.rejected] == [(3, "应为不小于零的整数")]
    run(svc, cast, csv_bytes([header, [ORG_B, NAME_B, 2022, "412,350"]]), "logistics")
    assert figures(svc)[(ORG_B, 2022, "logistics.domestic_orders")].value == "412350"


AWARD_HEADER = [
    "统一社会信用代码",
    "企业名称",
    "年度",
    "政策名称",
    "对应条款",
    "金额（元）",
    "文号",
]
POLICY = "北湖区促进外贸发展若干措施"


def test_other_policy_awards_import_once_and_the_engine_pays_the_difference(
    svc: Services, cast: Cast
) -> None:
    rows = [AWARD_HEADER, [ORG_A, NAME_A, 2022, POLICY, "7.1", "5000", "北湖商发〔2022〕3号"]]
    run(svc, cast, csv_bytes(rows), "other-awards")
    twin = [AWARD_HEADER, [ORG_A, NAME_A, 2022, POLICY, "7.1", "5,000.00", "北湖商发〔2022〕3号"]]
    again = run(svc, cast, csv_bytes(twin), "other-awards")
    assert again.changes == [] and again.unchanged == 1
    with svc.reading() as s:
        [award] = s.scalars(select(OtherPolicyAward)).all()
        s.expunge_all()
    assert (award.policy, award.clause_id, award.award_year, award.amount_fen) == (
        POLICY,
        "7.1",
        2022,
        500_000,
    )
    assert award.provenance["document_no"] == "北湖商发〔2022〕3号"
    assert award.provenance["row"] == 2 and award.provenance["by"] == "rui"
    facts = {
        "applicant": {"credit_code": ORG_A, "name": NAME_A, "kind": "cbec_enterprise", **SCOPE},
        "trade": {"export_usd": "250000"},
        "staff_training": {"costs_cny": "40000"},
    }
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["7.1"], facts=facts
    )
    view = applications.submit(svc, cast.alice, draft.id)
    assert view.line("7.1").engine_fen == 700_000  # 30% × 40,000 = 12,000, less 5,000 already paid


@pytest.mark.parametrize(
    ("clause", "amount", "words"),
    [
        ("9.9", "100", "应为本政策的条款"),
        ("5.4", "100", "不适用从优不重复"),
        ("7.1", "0", "大于零"),
    ],
)
def test_other_awards_need_a_clause_that_overlaps_and_an_amount(
    svc: Services, cast: Cast, clause: str, amount: str, words: str
) -> None:
    rows = [AWARD_HEADER, [ORG_A, NAME_A, 2022, POLICY, clause, amount, "北湖商发〔2022〕3号"]]
    report = run(svc, cast, csv_bytes(rows), "other-awards", dry_run=True)
    [issue] = report.rejected
    assert issue.row == 2 and words in issue.zh


# -- declared versus official ----------------------------------------------------------------

FACTS_A: dict[str, Any] = {
    "applicant": {"credit_code": ORG_A, "name": NAME_A, "kind": "cbec_enterprise", **SCOPE},
    "trade": {"export_usd": "250000", "import_usd": "0"},
}


def test_reviewers_see_declared_and_official_figures_with_the_difference(
    svc: Services, cast: Cast
) -> None:
    run(
        svc,
        cast,
        csv_bytes([CUSTOMS_HEADER, [ORG_A, NAME_A, 2022, "", "180000.25", "0"]]),
        "customs",
    )
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a"], facts=FACTS_A
    )
    applications.submit(svc, cast.alice, draft.id)
    comparison = official.compare(svc, cast.rui, draft.id)
    rows = {r.path: (r.declared, r.official, r.difference, r.differs) for r in comparison.rows}
    assert rows == {
        "applicant.in_customs_cbec_statistics": ("true", "true", None, False),
        "trade.export_usd": ("250000", "180000.25", "-69999.75", True),
        "trade.import_usd": ("0", "0", "0", False),
    }
    assert [r.path for r in comparison.differing] == ["trade.export_usd"]
    [clause] = comparison.clauses
    # declared 250,000 USD ≥ 20万 → 20万元; official 180,000.25 USD → the 破零 tier, 10万元
    assert (clause.declared_fen, clause.official_fen, clause.differs) == (
        20_000_000,
        10_000_000,
        True,
    )
    on_official = official.evaluate_on(svc, cast.rui, draft.id, "official")
    on_declared = official.evaluate_on(svc, cast.rui, draft.id, "declared")
    assert on_official.clause("4.1a").amount_fen == 10_000_000
    assert on_declared.clause("4.1a").amount_fen == 20_000_000
    with pytest.raises(Invalid):
        official.evaluate_on(svc, cast.rui, draft.id, "guessed")
    with pytest.raises(Exception, match="not found"):
        official.compare(svc, cast.charlie, draft.id)  # another organisation's applicant


def test_an_official_usd_figure_replaces_a_declared_cny_one(svc: Services, cast: Cast) -> None:
    figure = official.Figure("trade.export_usd", "1000", "customs", {})
    declared = {"trade": {"export_cny": "7000", "import_usd": "5"}}
    assert official.substitute(declared, {"trade.export_usd": figure}) == {
        "trade": {"export_usd": "1000", "import_usd": "5"}
    }
    assert declared == {"trade": {"export_cny": "7000", "import_usd": "5"}}  # not changed


# -- proactive matching ----------------------------------------------------------------------


def matching_world(svc: Services, cast: Cast) -> int:
    run(svc, cast, csv_bytes([CUSTOMS_HEADER, [ORG_A, NAME_A, 2022, "", "600000", ""]]), "customs")
    header = ["统一社会信用代码", "企业名称", "年度", "物流订单量（单）"]
    run(svc, cast, csv_bytes([header, [ORG_B, NAME_B, 2022, "5000"]]), "logistics")
    facts = {
        "applicant": {"credit_code": ORG_B, "name": NAME_B, "kind": "service_enterprise", **SCOPE},
        "logistics": {"domestic_orders": 5000},
    }
    draft = applications.create_draft(
        svc, cast.charlie, org_code=ORG_B, year=2022, clauses=["5.3"], facts=facts
    )
    applications.submit(svc, cast.charlie, draft.id)
    return draft.id


def test_matching_finds_who_qualifies_on_official_data_and_who_has_not_applied(
    svc: Services, cast: Cast
) -> None:
    applied_id = matching_world(svc, cast)
    report = matching.match(svc, cast.rui, year=2022)
    assert report.evaluated == 3 and report.excluded == ()
    found = {
        c.credit_code: [(m.clause_id, m.kind, m.amount_fen, m.applied) for m in c.matches]
        for c in report.candidates
    }
    assert found == {
        ORG_A: [("4.1a", "fixed", 50_000_000, False)],  # 600,000 USD ≥ 50万 → 50万元
        ORG_B: [("5.3", "computed", 250_000, True)],  # 5,000 orders × 0.5元
    }
    by_code = {c.credit_code: c for c in report.candidates}
    assert by_code[ORG_B].application_ids == (applied_id,) and not by_code[ORG_A].applied
    assert by_code[ORG_A].sources == ("customs",) and by_code[ORG_A].expected_fen == 50_000_000
    assert [c.credit_code for c in report.to_notify] == [ORG_A]


def test_letters_and_the_sms_file_go_to_those_who_have_not_applied(
    svc: Services, cast: Cast
) -> None:
    matching_world(svc, cast)
    report = matching.match(svc, cast.dai, year=2022)
    [letter] = matching.letters(report, date(2023, 3, 6))
    assert letter.credit_code == ORG_A
    assert "第4.1a条 跨境电商出口一次性奖励：预计500,000.00元" in letter.zh
    assert "2023年3月6日" in letter.zh and "郴政办发〔2021〕3号" in letter.zh
    assert "Clause 4.1a One-time CBEC export award: about CNY 500,000.00" in letter.en
    assert report.policy_sha256 in letter.zh and report.policy_sha256 in letter.en
    text = matching.sms_csv(report).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == ["单位名称", "统一社会信用代码", "手机号码", "短信内容"]
    [[name, code, phone, message]] = rows[1:]
    assert (name, code, phone) == (NAME_A, ORG_A, "")
    assert "第4.1a条" in message and "500,000.00元" in message


def test_a_listed_organisation_is_not_matched(svc: Services, cast: Cast) -> None:
    matching_world(svc, cast)
    registry.list_dishonest(
        svc, cast.rui, ORG_A, source="信用中国", document_no=None, listed_on=date(2023, 1, 1)
    )
    report = matching.match(svc, cast.rui, year=2022)
    assert [c.credit_code for c in report.candidates] == [ORG_B]
    [excluded] = report.excluded
    assert excluded.credit_code == ORG_A and "信用中国" in excluded.zh


def test_matching_is_for_staff_and_award_years_of_the_policy(svc: Services, cast: Cast) -> None:
    with pytest.raises(Forbidden):
        matching.match(svc, cast.alice, year=2022)
    with pytest.raises(Invalid) as raised:
        matching.match(svc, cast.rui, year=2030)
    assert raised.value.problems[0].path == "year"
    assert matching.match(svc, cast.shen, year=2022).candidates == ()  # nothing imported yet


def test_exact_decimals_survive_a_round_trip_through_the_store(svc: Services, cast: Cast) -> None:
    run(
        svc,
        cast,
        csv_bytes([CUSTOMS_HEADER, [ORG_A, NAME_A, 2022, "", "0.10", "9999999.99"]]),
        "customs",
    )
    stored = figures(svc)
    assert Decimal(stored[(ORG_A, 2022, "trade.export_usd")].value) == Decimal("0.10")
    assert stored[(ORG_A, 2022, "trade.import_usd")].value == "9999999.99"
