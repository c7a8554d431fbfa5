"""Reforms: what-if changes to any parameter or switch of a policy package, from a date.

A reform is data, written where the people who ask the question work:

* a small YAML file::

      name: 龙头企业门槛降至2000万美元（2024年度起）
      changes:
        - {clause: "4.2", parameter: total_1, value: 20000000, from: 2024-01-01}
        - {switch: one_time_mode, value: strict_once, from: 2024-01-01}

* an Excel sheet with the columns clause / parameter / new value / from
  (条款 / 参数 / 新值 / 生效日期), one change a row, a switch with an empty clause;
* command-line options ``--set 4.2:total_1=20000000@2024-01-01``.

A parameter change adds a dated value — from that date on the parameter is the new
value (later dated values are replaced) — so the award years before it keep the old
rule, exactly as a real amendment would. A switch change applies to award years whose
31 December is on or after its date. The changed package is checked like a bundled one
(no negative amounts, rates within 0–1, tiers still in order) before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from huiqi.errors import InputError, Problem
from huiqi.policy.checks import check_package
from huiqi.policy.model import Parameter, PolicyPackage
from huiqi.yamlio import read_data


@dataclass(frozen=True)
class Change:
    """One change: ``clause``'s (or the package's) parameter or a switch, from ``start``."""

    name: str
    value: Decimal | str
    clause: str | None = None
    start: date | None = None  # None: every date
    source: str = ""  # where it was written, for messages

    def describe(self) -> str:
        where = f"{self.clause}:{self.name}" if self.clause else self.name
        since = f"@{self.start.isoformat()}" if self.start else ""
        return f"{where}={self.value}{since}"


@dataclass(frozen=True)
class Reform:
    name: str
    changes: tuple[Change, ...]


def _problem(change: Change, zh: str, en: str) -> Problem:
    return Problem(change.source or change.describe(), change.describe(), zh, en)


def exact(value: Any) -> Decimal:
    """A number as written: text or int exactly; an Excel float by its shortest form."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float):
        value = repr(value)  # shortest text that reads back as this float: 0.3 → "0.3"
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation as exc:
        raise ValueError(value) from exc
    if not number.is_finite():
        raise ValueError(value)
    return number


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def change(raw: dict[str, Any], source: str) -> Change:
    """A change from a mapping (YAML or an Excel row); refuses what it cannot read."""
    clause = raw.get("clause")
    if isinstance(clause, float):
        clause = repr(clause)  # Excel turns 4.2 into a number
    clause = None if clause in (None, "") else str(clause).strip()
    name = raw.get("switch") or raw.get("parameter")
    if not name:
        raise InputError([Problem(source, raw, "请给出参数或开关名", "name a parameter or switch")])
    try:
        start = _date(raw.get("from"))
    except ValueError as exc:
        raise InputError(
            [Problem(source, raw.get("from"), "日期无效（YYYY-MM-DD）", "not a date (YYYY-MM-DD)")]
        ) from exc
    value = raw.get("value")
    if value is None:
        raise InputError([Problem(source, raw, "缺少新值", "no new value")])
    kept: Decimal | str = value if isinstance(value, str) else exact(value)
    return Change(str(name).strip(), kept, clause, start, source)


def read_reform(path: Path) -> Reform:
    """A reform from YAML/JSON or an Excel workbook (its first sheet)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    doc = read_data(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("changes"), list):
        raise InputError(
            [
                Problem(
                    str(path),
                    None,
                    "改革文件应有 changes 列表",
                    "a reform file has a list of changes",
                )
            ]
        )
    changes = tuple(
        change(item, f"{path.name}: changes[{i}]") for i, item in enumerate(doc["changes"])
    )
    return Reform(str(doc.get("name") or path.stem), changes)


_HEADERS = {
    "clause": "clause",
    "条款": "clause",
    "parameter": "parameter",
    "参数": "parameter",
    "switch": "parameter",
    "开关": "parameter",
    "new value": "value",
    "value": "value",
    "新值": "value",
    "新的值": "value",
    "from": "from",
    "生效日期": "from",
    "起始日期": "from",
    "自": "from",
}


def _read_xlsx(path: Path) -> Reform:
    from openpyxl import load_workbook

    sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    if not rows:
        raise InputError([Problem(str(path), None, "工作表为空", "the sheet is empty")])
    header = [_HEADERS.get(str(h or "").strip().lower(), "") for h in rows[0]]
    if "parameter" not in header or "value" not in header:
        raise InputError(
            [
                Problem(
                    str(path),
                    rows[0],
                    "表头应为：条款、参数、新值、生效日期",
                    "headers: clause, parameter, new value, from",
                )
            ]
        )
    changes = []
    for number, row in enumerate(rows[1:], start=2):
        raw = {key: cell for key, cell in zip(header, row, strict=False) if key}
        if all(v in (None, "") for v in raw.values()):
            continue
        changes.append(change(raw, f"{path.name}: row {number}"))
    return Reform(str(sheet.title if sheet.title != "Sheet1" else path.stem), tuple(changes))


def parse_option(text: str) -> Change:
    """``[CLAUSE:]NAME=VALUE[@FROM]`` from the command line."""
    head, sep, value = text.partition("=")
    value, _, since = value.partition("@")
    clause, _, name = head.rpartition(":")
    if not sep or not name or not value:
        raise InputError(
            [
                Problem(
                    "--set",
                    text,
                    "格式应为 [条款:]名称=新值[@生效日期]",
                    "expected [CLAUSE:]NAME=VALUE[@FROM]",
                )
            ]
        )
    raw: dict[str, Any] = {"clause": clause or None, "parameter": name, "from": since or None}
    try:
        raw["value"] = exact(value)
    except ValueError:
        raw["value"] = value.strip()
    return change(raw, f"--set {text}")


class Scenario:
    """A package under a reform: the package each award year reads (callable by year)."""

    def __init__(self, package: PolicyPackage, reform: Reform | None = None) -> None:
        self.base = package
        self.reform = reform or Reform("baseline", ())
        self.name = self.reform.name
        self.switch_changes = [c for c in self.reform.changes if c.name in package.policy.switches]
        self.package = _with_parameters(
            package, [c for c in self.reform.changes if c not in self.switch_changes]
        )
        problems = [
            _problem(
                c,
                f"开关取值无效，可选：{'/'.join(package.policy.switches[c.name].options)}",
                f"not an option of {c.name}: {'/'.join(package.policy.switches[c.name].options)}",
            )
            for c in self.switch_changes
            if str(c.value) not in package.policy.switches[c.name].options
        ]
        if problems:
            raise InputError(problems)
        self._by_year = cache(self._for_year)

    def __call__(self, year: int) -> PolicyPackage:
        return self._by_year(year)

    def _for_year(self, year: int) -> PolicyPackage:
        end = date(year, 12, 31)
        dated = sorted(
            (c for c in self.switch_changes if c.start is None or c.start <= end),
            key=lambda c: c.start or date.min,
        )
        values = {c.name: str(c.value) for c in dated}
        return self.package.with_switches(values) if values else self.package


def _replaced(param: Parameter, change: Change) -> Parameter:
    assert isinstance(change.value, Decimal)
    start = change.start or min(param.values)
    values = {when: v for when, v in param.values.items() if when < start}
    values[start] = change.value
    return param.model_copy(update={"values": dict(sorted(values.items())), "ends": None})


def _with_parameters(package: PolicyPackage, changes: list[Change]) -> PolicyPackage:
    """The package with each parameter change applied, then checked like a bundled one."""
    problems: list[Problem] = []
    clauses = dict(package.clauses)
    shared = dict(package.parameters)
    for c in changes:
        if not isinstance(c.value, Decimal):
            problems.append(
                _problem(c, "参数的新值应为数字", "a parameter's new value is a number")
            )
            continue
        if c.clause is None:
            if c.name not in shared:
                problems.append(
                    _problem(
                        c,
                        f"没有名为 {c.name} 的参数或开关",
                        f"no parameter or switch named {c.name}",
                    )
                )
                continue
            shared[c.name] = _replaced(shared[c.name], c)
            continue
        clause = clauses.get(c.clause)
        if clause is None:
            problems.append(_problem(c, f"没有第{c.clause}条", f"no clause {c.clause}"))
            continue
        if c.name not in clause.parameters:
            problems.append(
                _problem(
                    c,
                    f"第{c.clause}条没有参数 {c.name}（可选：{'、'.join(clause.parameters)}）",
                    f"clause {c.clause} has no parameter {c.name} ({', '.join(clause.parameters)})",
                )
            )
            continue
        params = {**clause.parameters, c.name: _replaced(clause.parameters[c.name], c)}
        clauses[c.clause] = clause.model_copy(update={"parameters": params})
    if problems:
        raise InputError(problems)
    if not changes:
        return package
    changed = package.model_copy(update={"clauses": clauses, "parameters": shared})
    found = [
        Problem(f"{file} {clause or ''} {where}".strip(), None, zh, en)
        for file, clause, where, zh, en in check_package(changed)
    ]
    if found:
        raise InputError(found)
    return changed
