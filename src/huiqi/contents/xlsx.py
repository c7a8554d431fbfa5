"""An XLSX about to be imported, measured part by part before openpyxl reads it.

openpyxl keeps the whole shared-string table in memory and, in read-only mode, pads every
row to the widest column a sheet claims (its ``<dimension>`` may claim ``XFD1048576``); one
row's cells are all built before the row is handed over. So before openpyxl: the archive
is walked (:func:`~huiqi.contents.archive.check_zip`), the shared-string table is bounded in
bytes and every string in length, every other part (styles, workbook…) in bytes, and each
sheet — every one, found as openpyxl finds them — is streamed with expat (constant memory)
counting rows, the rightmost column, cells and the length of every value. The sizes found
are then given to openpyxl (``max_row``/``max_col``), so what it builds is what was counted.
Document type declarations are refused: a workbook has none, and they are how XML expands.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any
from xml.parsers import expat

from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.cell import (
    column_index_from_string,
    coordinate_from_string,
    get_column_letter,
)

from huiqi.contents.limits import MB, ContentLimits, Unsafe

_CHUNK = MB


@dataclass(frozen=True)
class SheetSize:
    """What a sheet holds: its last row and its rightmost column (1-based, 0 when empty)."""

    rows: int
    columns: int


def worksheet_parts(data: bytes) -> dict[str, str]:
    """Each sheet's title and the archive entry openpyxl will read it from, found the way
    openpyxl finds them (manifest, workbook, relationships) but without opening a sheet:
    in read-only mode openpyxl reads every sheet's start as it loads the workbook."""
    reader = ExcelReader(io.BytesIO(data), read_only=True)
    try:
        reader.read_manifest()
        reader.read_workbook()
        return {sheet.name: rel.target for sheet, rel in reader.parser.find_sheets()}
    finally:
        reader.archive.close()


def check_parts(
    archive: zipfile.ZipFile, sheets: Iterable[str], limits: ContentLimits, label: str
) -> None:
    """Parts other than sheets and the shared strings (styles, the workbook, relationships…)
    are read whole by openpyxl: each is bounded on its own."""
    skip = set(sheets)
    for info in archive.infolist():
        lower = info.filename.lower()
        if info.filename in skip or lower.endswith("sharedstrings.xml"):
            continue
        if lower.endswith((".xml", ".rels")) and info.file_size > limits.import_max_part_bytes:
            most = limits.import_max_part_bytes // MB
            raise Unsafe(
                f"工作簿的组成部分过大（最多 {most} MB）",
                f"a part of the workbook is too large (at most {most} MB)",
                f"{label} › {info.filename}" if label else info.filename,
            )


def check_shared_strings(archive: zipfile.ZipFile, limits: ContentLimits, label: str) -> None:
    """Bound the shared-string table: its bytes, and each string's length."""
    for info in archive.infolist():
        if not info.filename.lower().endswith("sharedstrings.xml"):
            continue
        where = f"{label} › {info.filename}" if label else info.filename
        if info.file_size > limits.import_max_shared_strings_bytes:
            most = limits.import_max_shared_strings_bytes // MB
            raise Unsafe(
                f"共享字符串表过大（最多 {most} MB）",
                f"the shared-string table is too large (at most {most} MB)",
                where,
            )
        scan = _Strings(limits, where)
        with archive.open(info) as source:
            _parse(source, scan, where)


def measure_sheet(source: IO[bytes], limits: ContentLimits, max_rows: int, where: str) -> SheetSize:
    """Stream one worksheet's XML; :class:`Unsafe` naming the row and column of the excess."""
    scan = _Sheet(limits, max_rows, where)
    _parse(source, scan, where)
    if scan.last_row * scan.widest > limits.import_max_cells:
        raise Unsafe(
            f"单元格过多（{scan.last_row} 行 × {scan.widest} 列，"
            f"最多 {limits.import_max_cells} 个）",
            f"too many cells ({scan.last_row} rows × {scan.widest} columns, "
            f"at most {limits.import_max_cells})",
            where,
        )
    return SheetSize(scan.last_row, scan.widest)


class _Scan:
    def start(self, name: str, attrs: dict[str, str]) -> None: ...
    def end(self, name: str) -> None: ...
    def text(self, data: str) -> None: ...


def _parse(source: IO[bytes], scan: _Scan, where: str) -> None:
    parser = expat.ParserCreate(namespace_separator="}")

    def doctype(*_args: Any) -> None:
        raise Unsafe("XML 中含有文档类型声明（DTD）", "the XML declares a document type", where)

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.StartElementHandler = lambda name, attrs: scan.start(name.rpartition("}")[2], attrs)
    parser.EndElementHandler = lambda name: scan.end(name.rpartition("}")[2])
    parser.CharacterDataHandler = scan.text
    try:
        while chunk := source.read(_CHUNK):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise Unsafe(
            "XML 格式有误", f"malformed XML ({expat.errors.messages[exc.code]})", where
        ) from None


class _Strings(_Scan):
    """Each ``<si>`` of the shared-string table: the characters of all its ``<t>``."""

    def __init__(self, limits: ContentLimits, where: str) -> None:
        self.most = limits.import_max_text_chars
        self.where = where
        self.index = -1
        self.length = 0
        self.inside = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == "si":
            self.index += 1
            self.length = 0
        elif name == "t":
            self.inside = True

    def end(self, name: str) -> None:
        if name == "t":
            self.inside = False

    def text(self, data: str) -> None:
        if self.inside:
            self.length += len(data)
            if self.length > self.most:
                raise Unsafe(
                    f"第 {self.index + 1} 个共享字符串过长（最多 {self.most} 字）",
                    f"shared string {self.index + 1} is too long (at most {self.most} characters)",
                    self.where,
                )


class _Sheet(_Scan):
    """Rows, columns, cells and value lengths of one worksheet."""

    def __init__(self, limits: ContentLimits, max_rows: int, where: str) -> None:
        self.limits = limits
        self.max_rows = max_rows
        self.where = where
        self.row = 0
        self.column = 0
        self.last_row = 0
        self.widest = 0
        self.cells = 0
        self.length = 0
        self.inside = False

    def _at(self) -> str:
        column = get_column_letter(self.column) if 0 < self.column <= 18278 else self.column
        return f"{self.where} · 第{self.row}行{column}列 / row {self.row} column {column}"

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == "row":
            self.row = int(attrs["r"]) if attrs.get("r", "").isdigit() else self.row + 1
            self.column = 0
            if self.row > self.max_rows:
                raise Unsafe(
                    f"行数过多（最多 {self.max_rows} 行）",
                    f"too many rows (at most {self.max_rows})",
                    self.where,
                )
        elif name == "c":
            self._cell(attrs.get("r"))
        elif name in ("v", "t", "f"):
            self.inside = True
            self.length = 0

    def _cell(self, ref: str | None) -> None:
        if ref:
            try:
                letters, _row = coordinate_from_string(ref)
                self.column = column_index_from_string(letters)
            except ValueError:
                raise Unsafe(
                    "单元格地址有误", f"a bad cell reference {ref[:20]!r}", self._at()
                ) from None
        else:
            self.column += 1
        if self.column > self.limits.import_max_columns:
            raise Unsafe(
                f"列数过多（最多 {self.limits.import_max_columns} 列）",
                f"too many columns (at most {self.limits.import_max_columns})",
                self._at(),
            )
        self.cells += 1
        if self.cells > self.limits.import_max_cells:
            raise Unsafe(
                f"单元格过多（最多 {self.limits.import_max_cells} 个）",
                f"too many cells (at most {self.limits.import_max_cells})",
                self._at(),
            )
        self.last_row = max(self.last_row, self.row)
        self.widest = max(self.widest, self.column)

    def end(self, name: str) -> None:
        if name in ("v", "t", "f"):
            self.inside = False

    def text(self, data: str) -> None:
        if self.inside:
            self.length += len(data)
            if self.length > self.limits.import_max_text_chars:
                most = self.limits.import_max_text_chars
                raise Unsafe(
                    f"单元格内容过长（最多 {most} 字）",
                    f"a cell is too long (at most {most} characters)",
                    self._at(),
                )
