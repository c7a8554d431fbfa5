"""Files read to the bottom (huiqi.contents), without a database: zip limits that need small
settings to show, a size the directory lies about, formula-like text written as text."""

from __future__ import annotations

import csv
import io
import struct
import zipfile

import polars as pl
import pytest
from openpyxl import Workbook, load_workbook

from huiqi.config import Settings
from huiqi.contents import ContentLimits, Unsafe
from huiqi.contents.archive import check_zip
from huiqi.contents.cells import csv_field, csv_row, formula_like, put
from huiqi.service.import_formats import FileError, read_table
from huiqi.simulate.report import as_text

MB = 1024 * 1024


def zip_of(entries: dict[str, bytes], level: int = 6) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def refusal(data: bytes, limits: ContentLimits | None = None) -> Unsafe:
    with pytest.raises(Unsafe) as raised:
        check_zip(data, limits or ContentLimits(), label="材料.xlsx")
    return raised.value


def test_a_workbook_embedded_in_a_workbook_is_read_but_not_one_level_deeper() -> None:
    inner = zip_of({"xl/workbook.xml": b"<workbook/>"})
    assert "xl/embeddings/book.xlsx" in check_zip(
        zip_of({"xl/embeddings/book.xlsx": inner}), ContentLimits()
    )
    deeper = zip_of({"xl/embeddings/book.xlsx": zip_of({"xl/embeddings/again.xlsx": inner})})
    error = refusal(deeper)
    assert "嵌套过深" in error.zh and "nested too deep" in error.en
    assert error.where == "材料.xlsx › xl/embeddings/book.xlsx › xl/embeddings/again.xlsx"


def test_a_program_inside_an_embedded_workbook_is_found() -> None:
    inner = zip_of({"xl/media/image1.png": b"\x7fELF\x02\x01\x01"})
    error = refusal(zip_of({"xl/embeddings/book.xlsx": inner}))
    assert "Linux" in error.zh and error.where is not None and error.where.endswith("image1.png")


def test_the_bytes_of_all_entries_together_are_bounded() -> None:
    entries = {f"xl/part{i}.bin": bytes(range(256)) * 1024 for i in range(5)}  # 256 KB each
    limits = ContentLimits(zip_max_uncompressed_bytes=1 * MB)
    assert "zip bomb" in refusal(zip_of(entries), limits).en
    assert len(check_zip(zip_of(dict(list(entries.items())[:3])), limits)) == 3


def test_small_repetitive_parts_are_not_held_to_the_ratio() -> None:
    styles = b"<xf/>" * 100_000  # 500 KB compressing over 600:1, as office XML can
    assert check_zip(zip_of({"xl/styles.xml": styles}), ContentLimits()) == ["xl/styles.xml"]
    limits = ContentLimits(zip_ratio_from_bytes=64 * 1024)
    assert "zip bomb" in refusal(zip_of({"xl/styles.xml": styles}), limits).en


def test_a_size_the_directory_understates_is_caught_when_the_entry_is_expanded() -> None:
    data = bytearray(zip_of({"xl/sharedStrings.xml": b"a" * 200_000}))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 1000)  # uncompressed size, local header
    struct.pack_into("<I", data, central + 24, 1000)  # and central directory
    error = refusal(bytes(data))
    assert "损坏" in error.zh and "broken" in error.en


def test_the_same_name_twice_and_encrypted_entries_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("xl/workbook.xml", b"<a/>")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("xl/workbook.xml", b"<b/>")
    assert "重名" in refusal(out.getvalue()).zh
    data = bytearray(zip_of({"xl/workbook.xml": b"<a/>"}))
    for signature, flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        struct.pack_into("<H", data, at + flags, data[at + flags] | 1)
    assert "encrypted" in refusal(bytes(data)).en


def test_the_settings_set_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUIQI_ZIP_MAX_RATIO", "40")
    monkeypatch.setenv("HUIQI_IMPORT_MAX_CELLS", "5000")
    limits = Settings().content_limits()
    assert (limits.zip_max_ratio, limits.import_max_cells) == (40, 5000)
    assert limits.import_max_text_chars == ContentLimits().import_max_text_chars


# -- formula-like text ----------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","点击")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
NOT_FORMULAS = ["郴州甲公司", "-12.00", "+86", "1,000.50", "a=b", "", " =1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_like_text_gets_an_apostrophe_in_csv(text: str) -> None:
    assert formula_like(text)
    assert csv_field(text) == "'" + text


@pytest.mark.parametrize("value", [*NOT_FORMULAS, -5, -12.5, None])
def test_other_values_and_numbers_go_into_csv_unchanged(value: object) -> None:
    assert not formula_like(value)
    assert csv_field(value) == value


def test_a_csv_row_reads_back_as_text_a_spreadsheet_does_not_run() -> None:
    out = io.StringIO()
    csv.writer(out).writerow(csv_row(["=1+1", -3, "-3"]))
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["'=1+1", "-3", "-3"]


def test_in_xlsx_formula_like_text_is_kept_exactly_as_text_and_numbers_stay_numbers() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for column, value in enumerate([FORMULAS[0], "@x", "普通", -5], start=1):
        put(sheet, 1, column, value)
    out = io.BytesIO()
    book.save(out)
    read = load_workbook(io.BytesIO(out.getvalue())).active
    assert read is not None
    [cells] = list(read.iter_rows())
    assert [c.value for c in cells] == [FORMULAS[0], "@x", "普通", -5]
    assert [c.data_type for c in cells] == ["s", "s", "s", "n"]
    assert [c.quotePrefix for c in cells] == [True, True, False, False]


def test_simulation_tables_put_the_apostrophe_by_the_same_rule() -> None:
    frame = pl.DataFrame({"county": [FORMULAS[0], "北湖区", "-12.00"], "cost_fen": [-5, 0, 7]})
    out = as_text(frame)
    assert out["county"].to_list() == ["'" + FORMULAS[0], "北湖区", "-12.00"]
    assert out["cost_fen"].to_list() == [-5, 0, 7]


# -- imported workbooks, measured before openpyxl reads them --------------------------------------


def workbook(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_part_openpyxl_reads_whole_is_bounded_on_its_own() -> None:
    data = workbook([["统一社会信用代码"], ["91431000MA4T123451"]])
    assert len(read_table(data).rows) == 2
    with pytest.raises(FileError) as raised:
        read_table(data, limits=ContentLimits(import_max_part_bytes=1024), name="a.xlsx")
    [problem] = raised.value.problems
    assert "组成部分过大" in problem.zh and "a.xlsx › xl/" in problem.zh


def test_one_row_of_many_cells_is_refused_at_the_first_cell_too_far_right() -> None:
    """openpyxl builds a whole row before handing it over; the count stops at column 201."""
    with pytest.raises(FileError) as raised:
        read_table(workbook([list(range(5_000))]), name="a.xlsx")
    assert "第1行GS列" in raised.value.problems[0].zh  # column 201
