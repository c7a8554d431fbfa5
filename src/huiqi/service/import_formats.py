"""Reading the tables authorities hand over: XLSX or CSV, columns found by their header names.

Nothing here touches the database. :func:`read_table` turns a file's bytes into numbered
rows of cells, within the limits of :class:`~huiqi.contents.ContentLimits` (an XLSX is
measured part by part before openpyxl reads it, a CSV field is bounded); :func:`parse_rows`
finds the header row (Chinese or English names, full-width brackets and spaces ignored), and
parses every cell of every data row exactly — numbers as :class:`~decimal.Decimal`, never
binary floats — naming the row, the column and the value of anything wrong, in Chinese and
English.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from openpyxl import load_workbook

from huiqi.contents import ContentLimits, Unsafe
from huiqi.contents.archive import check_zip
from huiqi.contents.xlsx import (
    SheetSize,
    check_parts,
    check_shared_strings,
    measure_sheet,
    worksheet_parts,
)
from huiqi.errors import Problem

#: How far down a sheet the header row is looked for (title rows may come first).
HEADER_SEARCH_ROWS = 20
#: Customs modes of CBEC statistics: 9610 retail, 9710 B2B direct, 9810 overseas warehouse,
#: 1210 bonded e-commerce.
CUSTOMS_MODES = ("9610", "9710", "9810", "1210")


class ImportKind(StrEnum):
    CUSTOMS = "customs"  # 海关跨境电商统计
    PLATFORM = "platform"  # 线上综合服务平台备案、对接名单
    LOGISTICS = "logistics"  # 物流企业订单量
    OTHER_AWARDS = "other-awards"  # 其他政策奖补名单

    @property
    def zh(self) -> str:
        return KIND_LABELS[self][0]

    @property
    def en(self) -> str:
        return KIND_LABELS[self][1]


KIND_LABELS = {
    ImportKind.CUSTOMS: ("海关跨境电商统计数据", "customs CBEC statistics"),
    ImportKind.PLATFORM: ("线上综合服务平台备案、对接名单", "platform filing and connection list"),
    ImportKind.LOGISTICS: ("物流企业订单量", "logistics order counts"),
    ImportKind.OTHER_AWARDS: ("其他政策奖补名单", "awards under other policies"),
}


class CellError(ValueError):
    """A cell that cannot be read as its column's type; ``zh``/``en`` say why."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


class FileError(ValueError):
    """A file that cannot be read at all, or whose headers are wrong."""

    def __init__(self, zh: str, en: str, problems: list[Problem] | None = None) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en
        self.problems = problems or []


# -- cell parsers ---------------------------------------------------------------------------

_EMPTY = {"", "-", "—", "–", "/", "无"}


def normal_text(value: Any) -> str:
    """NFKC (full-width → half-width), spaces trimmed."""
    return unicodedata.normalize("NFKC", str(value)).strip()


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and normal_text(value) in _EMPTY)


def parse_text(value: Any) -> str:
    text = normal_text(value)
    if "\x00" in text:
        raise CellError("不允许包含空字符", "NUL characters are not allowed")
    if len(text) > 200:
        raise CellError("文本过长（最多200字）", "text too long (at most 200 characters)")
    return text


def exact_decimal(value: Any) -> Decimal:
    """A number exactly as written: ints and text exactly; a spreadsheet's binary float as the
    shortest decimal that round-trips (what the sheet shows); booleans and junk refused."""
    if isinstance(value, bool):
        raise CellError("应为数字，不是是/否", "expected a number, not a yes/no")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    else:
        text = re.sub(r"[,\s，]", "", normal_text(value))
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise CellError("应为数字", "expected a number") from None
    if not number.is_finite():
        raise CellError("应为有限的数字", "expected a finite number")
    return number


def money(scale: int = 1) -> Callable[[Any], Decimal]:
    """An amount ≥ 0 with at most two decimals after scaling (万美元 → 美元: scale 10,000)."""

    def parse(value: Any) -> Decimal:
        number = exact_decimal(value) * scale
        if number < 0:
            raise CellError("不能为负数", "must not be negative")
        if number > 10**13:
            raise CellError("超过允许的最大值", "larger than allowed")
        if number != number.quantize(Decimal("0.01")):
            raise CellError("最多两位小数（精确到分）", "at most two decimals (to the cent)")
        return canonical(number)

    return parse


def canonical(number: Decimal) -> Decimal:
    """One spelling per amount: whole numbers without decimals, else exactly two."""
    normal = number.normalize()
    if normal == normal.to_integral():
        return normal.quantize(Decimal(1))
    return number.quantize(Decimal("0.01"))


def count(value: Any) -> int:
    number = exact_decimal(value)
    if number != number.to_integral() or number < 0 or number > 10**12:
        raise CellError("应为不小于零的整数", "expected a whole number ≥ 0")
    return int(number)


def year(value: Any) -> int:
    if isinstance(value, str):
        value = re.sub(r"年度?$", "", normal_text(value))
    try:
        number = exact_decimal(value)
    except CellError:
        raise CellError("年度应为四位数字，如 2025", "a year is four digits, e.g. 2025") from None
    if number != number.to_integral() or not 1900 <= number <= 2200:
        raise CellError("年度应为四位数字，如 2025", "a year is four digits, e.g. 2025")
    return int(number)


_YES = {"是", "y", "yes", "true", "1", "√", "✓", "已备案", "已对接", "备案", "对接"}
_NO = {"否", "n", "no", "false", "0", "×", "未备案", "未对接"}


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = normal_text(value).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise CellError("应为“是”或“否”", "expected yes (是) or no (否)")


def customs_mode(value: Any) -> str:
    text = normal_text(value)
    match = re.match(r"^(\d{4})(\D|$)", text)
    if match is None or match.group(1) not in CUSTOMS_MODES:
        allowed = "、".join(CUSTOMS_MODES)
        raise CellError(f"监管方式应为 {allowed} 之一", f"customs mode must be one of {allowed}")
    return match.group(1)


# -- columns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column an import reads: its key, its labels, the header names it is known by."""

    key: str
    zh: str
    en: str
    aliases: tuple[str, ...]
    parse: Callable[[Any], Any]
    required: bool = False

    def label(self) -> str:
        return f"{self.zh} / {self.en}"


def _code(value: Any) -> str:
    return parse_text(value).upper()


CREDIT_CODE = Column(
    "credit_code",
    "统一社会信用代码",
    "credit code",
    ("统一社会信用代码", "社会信用代码", "信用代码", "credit_code", "creditcode", "uscc"),
    _code,
    required=True,
)
NAME = Column(
    "name",
    "企业名称",
    "name",
    ("企业名称", "单位名称", "名称", "企业", "name", "enterprise", "company"),
    parse_text,
)
YEAR = Column(
    "year",
    "年度",
    "year",
    ("年度", "年份", "统计年度", "奖补年度", "year", "award_year"),
    year,
)
#: Where the organisation files its taxes, when the authority's table says (optional): checked
#: against the package's paying divisions and the organisation's registered division.
DIVISION = Column(
    "division",
    "税收申报缴纳地",
    "tax-filing division",
    (
        "税收申报缴纳地",
        "纳税申报地",
        "税收缴纳地",
        "纳税地",
        "所属县市区",
        "县市区",
        "division",
        "tax_filing_division",
    ),
    parse_text,
)


def _usd(key: str, zh: str, en: str, names: tuple[str, ...]) -> list[Column]:
    """A USD column, also accepted in 万美元 (tens of thousands) and scaled exactly."""
    usd = (*(f"{n}(美元)" for n in names), key, f"{key.removesuffix('_usd')}(usd)")
    wan = tuple(f"{n}(万美元)" for n in names)
    return [
        Column(key, f"{zh}（美元）", f"{en} (USD)", usd, money()),
        Column(key, f"{zh}（万美元）", f"{en} (10k USD)", wan, money(10_000)),
    ]


CUSTOMS_COLUMNS = [
    CREDIT_CODE,
    NAME,
    YEAR,
    DIVISION,
    *_usd("export_usd", "出口额", "export", ("出口额", "出口", "跨境电商出口额", "出口金额")),
    *_usd("import_usd", "进口额", "import", ("进口额", "进口", "跨境电商进口额", "进口金额")),
    Column(
        "mode",
        "监管方式",
        "customs mode",
        ("监管方式", "贸易方式", "监管方式代码", "customs_mode", "mode"),
        customs_mode,
    ),
]
PLATFORM_COLUMNS = [
    CREDIT_CODE,
    NAME,
    YEAR,
    DIVISION,
    Column(
        "platform_filed",
        "是否备案",
        "filed",
        ("是否备案", "备案", "已备案", "平台备案", "备案情况", "filed", "platform_filed"),
        flag,
    ),
    Column(
        "platform_connected",
        "是否对接",
        "connected",
        ("是否对接", "对接", "已对接", "平台对接", "对接情况", "connected", "platform_connected"),
        flag,
    ),
]
LOGISTICS_COLUMNS = [
    CREDIT_CODE,
    NAME,
    YEAR,
    DIVISION,
    Column(
        "domestic_orders",
        "物流订单量（单）",
        "orders",
        (
            "物流订单量(单)",
            "物流订单量",
            "年度物流订单量",
            "订单量",
            "订单量(单)",
            "订单数",
            "orders",
            "domestic_orders",
        ),
        count,
        required=True,
    ),
]
OTHER_AWARD_COLUMNS = [
    CREDIT_CODE,
    NAME,
    YEAR,
    DIVISION,
    Column(
        "policy",
        "政策名称",
        "policy",
        ("政策名称", "政策", "政策文件", "奖补政策", "policy"),
        parse_text,
        required=True,
    ),
    Column(
        "clause_id",
        "对应条款",
        "clause",
        ("对应条款", "对应本政策条款", "条款", "clause", "clause_id"),
        parse_text,
        required=True,
    ),
    Column(
        "amount_cny",
        "金额（元）",
        "amount (CNY)",
        ("金额(元)", "奖补金额(元)", "已获金额(元)", "amount_cny", "amount(cny)"),
        money(),
    ),
    Column(
        "amount_cny",
        "金额（万元）",
        "amount (10k CNY)",
        ("金额(万元)", "奖补金额(万元)", "已获金额(万元)"),
        money(10_000),
    ),
    Column(
        "document_no",
        "文号",
        "document number",
        ("文号", "批准文号", "发文字号", "document_no"),
        parse_text,
        required=True,
    ),
    Column("subject_id", "对象编号", "subject", ("对象编号", "subject_id"), parse_text),
]
COLUMNS: dict[ImportKind, list[Column]] = {
    ImportKind.CUSTOMS: CUSTOMS_COLUMNS,
    ImportKind.PLATFORM: PLATFORM_COLUMNS,
    ImportKind.LOGISTICS: LOGISTICS_COLUMNS,
    ImportKind.OTHER_AWARDS: OTHER_AWARD_COLUMNS,
}
#: Of these keys, a row needs at least one (a column may be absent, a cell empty).
ONE_OF: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.CUSTOMS: ("export_usd", "import_usd"),
    ImportKind.PLATFORM: ("platform_filed", "platform_connected"),
    ImportKind.LOGISTICS: ("domestic_orders",),
    ImportKind.OTHER_AWARDS: ("amount_cny",),
}
#: Headers that are not data but are common in such files (序号 …): ignored silently.
_IGNORED = {"序号", "编号", "no", "no.", "#", "备注", "note", "remark", "remarks"}


def header_key(text: Any) -> str:
    """How a header is compared: NFKC, no spaces or line breaks, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


# -- tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A sheet's rows, each with its row number as the file shows it (1-based)."""

    sheet: str | None
    rows: list[tuple[int, list[Any]]]


def read_table(
    data: bytes, sheet: str | None = None, *, limits: ContentLimits | None = None, name: str = ""
) -> Table:
    """XLSX (recognised by content) or CSV (UTF-8, with or without BOM, or GB18030), read
    within ``limits``; ``name`` (the file's) is named in a refusal."""
    limits = limits or ContentLimits()
    if len(data) > limits.import_max_bytes:
        most = limits.import_max_bytes // 1024 // 1024
        raise FileError(f"文件过大（最多 {most} MB）", f"the file is too large (at most {most} MB)")
    if data.startswith(b"PK\x03\x04"):
        try:
            return _read_xlsx(data, sheet, limits, name)
        except Unsafe as exc:
            raise FileError(
                f"无法读取该 XLSX 文件：{exc.zh}",
                f"cannot read this XLSX file: {exc.en}",
                [exc.problem("file", name or None)],
            ) from None
    return _read_csv(data, limits, name)


def _read_xlsx(data: bytes, sheet: str | None, limits: ContentLimits, name: str) -> Table:
    check_zip(data, limits, label=name)
    try:
        parts = worksheet_parts(data)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, SyntaxError) as exc:
        raise FileError(
            "无法读取该 XLSX 文件", f"cannot read this XLSX file: {type(exc).__name__}"
        ) from None
    sizes: dict[str, SheetSize] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        check_shared_strings(archive, limits, name)
        check_parts(archive, parts.values(), limits, name)
        for title, part in parts.items():
            if part in archive.namelist():
                with archive.open(part) as source:
                    most = limits.import_max_rows + HEADER_SEARCH_ROWS
                    sizes[title] = measure_sheet(source, limits, most, _where(name, title))
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, SyntaxError) as exc:
        raise FileError(
            "无法读取该 XLSX 文件", f"cannot read this XLSX file: {type(exc).__name__}"
        ) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise FileError(
                f"工作表“{sheet}”不存在（现有：{'、'.join(book.sheetnames)}）",
                f"no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})",
            )
        names = [sheet] if sheet is not None else list(book.sheetnames)
        tables = [
            _read_sheet(book[title], sizes.get(title, SheetSize(0, 0)), _where(name, title))
            for title in names
        ]
    finally:
        book.close()
    # The first sheet that has a credit-code header is the data; else the first sheet.
    for table in tables:
        if _header_row(table) is not None:
            return table
    return tables[0] if tables else Table(None, [])


def _where(name: str, title: str) -> str:
    return f"{name} › {title}" if name else title


def _read_sheet(ws: Any, size: SheetSize, where: str) -> Table:
    """One sheet, read only as far as it was measured to reach (not as far as it claims)."""
    if size.rows == 0 or size.columns == 0:
        return Table(ws.title, [])
    values = ws.iter_rows(max_row=size.rows, max_col=size.columns, values_only=True)
    try:
        rows = [(number, list(row)) for number, row in enumerate(values, start=1)]
    except (IndexError, KeyError, ValueError, TypeError, SyntaxError) as exc:
        # a shared string that is not in the table, a malformed number or date…
        raise FileError(
            f"无法读取该 XLSX 文件（工作表“{ws.title}”）",
            f"cannot read this XLSX file (sheet {ws.title!r}): {type(exc).__name__}",
            [Problem(where, None, "内容有误", f"malformed content: {exc}"[:300])],
        ) from None
    return Table(ws.title, rows)


def _read_csv(data: bytes, limits: ContentLimits, name: str) -> Table:
    text: str | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        raise FileError(
            "无法识别文件格式：应为 XLSX 或 CSV（UTF-8 或 GB18030 编码）",
            "unrecognised file: expected XLSX or CSV (UTF-8 or GB18030)",
        )
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count)
    most_rows = limits.import_max_rows + HEADER_SEARCH_ROWS
    rows = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    number = 0
    try:
        with _field_limit(limits.import_max_text_chars):
            for number, values in enumerate(reader, start=1):
                if number > most_rows:
                    raise FileError(
                        f"行数过多（最多 {limits.import_max_rows} 行）",
                        f"too many rows (at most {limits.import_max_rows})",
                    )
                if len(values) > limits.import_max_columns:
                    raise _csv_refusal(
                        number,
                        name,
                        f"列数过多（最多 {limits.import_max_columns} 列）",
                        f"too many columns (at most {limits.import_max_columns})",
                    )
                rows.append((number, values))
    except csv.Error as exc:
        # The row being read when the reader gave up is the one after the last complete row.
        line = number + 1
        if "field larger than field limit" in str(exc):
            most = limits.import_max_text_chars
            raise _csv_refusal(
                line,
                name,
                f"字段过长（最多 {most} 字）",
                f"a field is too long (at most {most} characters)",
            ) from None
        raise _csv_refusal(line, name, "CSV 格式有误", f"malformed CSV ({exc})") from None
    return Table(None, rows)


def _csv_refusal(row: int, name: str, zh: str, en: str) -> FileError:
    where = f"{name} · 第{row}行 / row {row}" if name else f"第{row}行 / row {row}"
    return FileError(
        f"无法读取该 CSV 文件：{zh}（第{row}行）",
        f"cannot read this CSV file: {en} (row {row})",
        [Problem(where, None, zh, en)],
    )


@contextmanager
def _field_limit(chars: int) -> Iterator[None]:
    """csv's field limit is process-wide: set for this read, then put back."""
    before = csv.field_size_limit(chars)
    try:
        yield
    finally:
        csv.field_size_limit(before)


# -- header and rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    row: int
    #: key → (header text as in the file, the column read)
    columns: dict[str, tuple[str, Column]]
    #: positions of the columns read: index → key
    positions: dict[int, str]
    ignored: list[str]


def _header_row(table: Table) -> int | None:
    """Index into ``table.rows`` of the first row naming the credit-code column."""
    code_names = {header_key(a) for a in CREDIT_CODE.aliases}
    for index, (_number, values) in enumerate(table.rows[:HEADER_SEARCH_ROWS]):
        if any(header_key(v) in code_names for v in values if v is not None):
            return index
    return None


def find_header(table: Table, kind: ImportKind) -> tuple[int, Header]:
    """The header row and what each of its columns is; :class:`FileError` for wrong headers."""
    columns = COLUMNS[kind]
    by_alias = {header_key(a): c for c in columns for a in c.aliases}
    index = _header_row(table)
    if index is None:
        seen = next((v for _n, v in table.rows if any(not is_empty(x) for x in v)), [])
        found = "、".join(str(v) for v in seen if v is not None) or "（空）"
        raise FileError(
            f"未找到“统一社会信用代码”列（前{HEADER_SEARCH_ROWS}行中）；"
            f"{kind.zh}应有列：{_expected(columns, 'zh')}",
            f"no credit-code column in the first {HEADER_SEARCH_ROWS} rows; "
            f"{kind.en} needs: {_expected(columns, 'en')}",
            [Problem("header", found, "找到的列名", "the headers found")],
        )
    number, values = table.rows[index]
    found_columns: dict[str, tuple[str, Column]] = {}
    positions: dict[int, str] = {}
    ignored: list[str] = []
    problems: list[Problem] = []
    for position, value in enumerate(values):
        if is_empty(value):
            continue
        text = str(value).strip()
        column = by_alias.get(header_key(value))
        if column is None:
            if header_key(value) not in _IGNORED:
                ignored.append(text)
            continue
        if column.key in found_columns:
            problems.append(
                Problem(
                    f"第{number}行 / row {number}",
                    text,
                    f"与“{found_columns[column.key][0]}”是同一列，列名重复",
                    f"the same column as {found_columns[column.key][0]!r}: duplicate header",
                )
            )
            continue
        found_columns[column.key] = (text, column)
        positions[position] = column.key
    for column in columns:
        if column.required and column.key not in found_columns:
            problems.append(
                Problem(
                    column.label(),
                    None,
                    f"缺少必需的列“{column.zh}”（可用列名：{'、'.join(column.aliases[:4])}）",
                    f"required column {column.en!r} is missing "
                    f"(accepted names: {', '.join(column.aliases[:4])})",
                )
            )
    wanted = ONE_OF[kind]
    if not any(k in found_columns for k in wanted):
        labels = [c for c in columns if c.key in wanted]
        problems.append(
            Problem(
                "header",
                None,
                f"至少需要以下一列：{'、'.join(c.zh for c in labels)}",
                f"at least one of these columns is needed: {', '.join(c.en for c in labels)}",
            )
        )
    if problems:
        raise FileError(
            f"表头有误（第{number}行）；{kind.zh}应有列：{_expected(columns, 'zh')}",
            f"wrong headers (row {number}); {kind.en} needs: {_expected(columns, 'en')}",
            problems,
        )
    return index, Header(number, found_columns, positions, ignored)


def _expected(columns: list[Column], lang: str) -> str:
    seen: dict[str, str] = {}
    for c in columns:
        seen.setdefault(c.key, (c.zh if lang == "zh" else c.en) + ("*" if c.required else ""))
    return ("、" if lang == "zh" else ", ").join(seen.values())


@dataclass(frozen=True)
class RowIssue:
    """Why a row (or one of its cells) is refused, or a warning about it."""

    row: int
    column: str
    value: Any
    zh: str
    en: str

    def problem(self) -> Problem:
        return Problem(
            f"第{self.row}行·{self.column} / row {self.row}", self.value, self.zh, self.en
        )

    def as_dict(self) -> dict[str, Any]:
        value = self.value if isinstance(self.value, int | str | None) else str(self.value)
        return {
            "row": self.row,
            "column": self.column,
            "value": value,
            "zh": self.zh,
            "en": self.en,
        }


@dataclass
class ParsedRow:
    row: int
    values: dict[str, Any]
    issues: list[RowIssue] = field(default_factory=list)


@dataclass(frozen=True)
class Parsed:
    kind: ImportKind
    sheet: str | None
    header: Header
    rows: list[ParsedRow]
    #: (row, why) of rows that are not data: blank lines, 合计 lines
    skipped: list[tuple[int, str]]


_TOTAL_WORDS = ("合计", "总计", "小计", "total")


def parse_rows(table: Table, kind: ImportKind, default_year: int | None = None) -> Parsed:
    """Every data row below the header, each cell parsed; problems kept with the row."""
    index, header = find_header(table, kind)
    rows: list[ParsedRow] = []
    skipped: list[tuple[int, str]] = []
    code_position = next(p for p, k in header.positions.items() if k == "credit_code")
    for number, values in table.rows[index + 1 :]:
        cells = {k: values[p] if p < len(values) else None for p, k in header.positions.items()}
        if all(is_empty(v) for v in values):
            skipped.append((number, "空行 / blank"))
            continue
        code = values[code_position] if code_position < len(values) else None
        if is_empty(code) and any(
            any(w in normal_text(v).lower() for w in _TOTAL_WORDS) for v in values if v is not None
        ):
            skipped.append((number, "合计行 / totals line"))
            continue
        parsed = ParsedRow(number, {})
        for key, value in cells.items():
            text, column = header.columns[key]
            if is_empty(value):
                if column.required:
                    parsed.issues.append(
                        RowIssue(number, text, None, "不能为空", "must not be empty")
                    )
                continue
            try:
                parsed.values[key] = column.parse(value)
            except CellError as exc:
                shown = value if isinstance(value, int | str) else str(value)
                parsed.issues.append(RowIssue(number, text, shown, exc.zh, exc.en))
        if "year" not in parsed.values and not any(
            i.column == _year_text(header) for i in parsed.issues
        ):
            if default_year is None:
                parsed.issues.append(
                    RowIssue(
                        number,
                        _year_text(header),
                        None,
                        "缺少年度：请在文件中给出“年度”列，或导入时指定年度",
                        "no year: add a 年度 column or give the year when importing",
                    )
                )
            else:
                parsed.values["year"] = default_year
        wanted = ONE_OF[kind]
        if not any(k in parsed.values for k in wanted) and not any(
            i.column in {header.columns[k][0] for k in wanted if k in header.columns}
            for i in parsed.issues
        ):
            labels = "、".join(header.columns[k][0] for k in wanted if k in header.columns)
            parsed.issues.append(
                RowIssue(number, labels, None, f"须填写：{labels}", f"needs a value in: {labels}")
            )
        rows.append(parsed)
    return Parsed(kind, table.sheet, header, rows, skipped)


def _year_text(header: Header) -> str:
    return header.columns["year"][0] if "year" in header.columns else "年度 / year"
