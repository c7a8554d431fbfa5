"""Importing official figures: customs statistics, platform lists, logistics orders, other awards.

An import reads a file (:mod:`huiqi.service.import_formats`), checks every row against the
records (a valid credit code of a registered organisation, an award year of the policy, a
clause of the policy, no row twice) and reports accepted and rejected rows with row number,
column and reason. A dry run stops there. A real import writes the whole file in one
transaction, or nothing if any row is rejected. Figures are keyed by the unique
(organisation, year, source, field) of :class:`OfficialFigure`, so importing the same figures
again changes nothing; a file whose checksum was already imported is not read again. Every
figure keeps where it came from (file, checksum, sheet, row, who, when), and each import is
one audit entry listing what it changed, from what to what.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from huiqi import credit_code
from huiqi.contents import ContentLimits
from huiqi.db.tables import AuditEntry, OfficialFigure, Organisation, OtherPolicyAward
from huiqi.engine import check_year
from huiqi.errors import InputError, Problem
from huiqi.fulfilment.roles import Role
from huiqi.money import yuan_to_fen
from huiqi.policy import PolicyPackage
from huiqi.service import audit, divisions
from huiqi.service.actors import Actor, require
from huiqi.service.errors import Invalid
from huiqi.service.import_formats import (
    FileError,
    ImportKind,
    Parsed,
    ParsedRow,
    RowIssue,
    canonical,
    normal_text,
    parse_rows,
    read_table,
)
from huiqi.service.uow import Services

#: Any constant: the PostgreSQL advisory lock that serialises imports.
_IMPORT_LOCK = 7_130_606
ACTION = "official.import"
#: Where each import kind's figures are stored (OfficialFigure.source).
SOURCES = {
    ImportKind.CUSTOMS: "customs",
    ImportKind.PLATFORM: "platform",
    ImportKind.LOGISTICS: "logistics",
    ImportKind.OTHER_AWARDS: "other_awards",
}
FLOWS = ("export_usd", "import_usd")


@dataclass(frozen=True)
class AcceptedRow:
    row: int
    credit_code: str
    org_name: str
    year: int
    values: dict[str, str]


@dataclass(frozen=True)
class Change:
    """One stored value an import created or changed (``before`` None: created)."""

    target: str  # figure, organisation, other_award
    org_code: str
    year: int
    field: str
    before: str | None
    after: str
    rows: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "org_code": self.org_code,
            "year": self.year,
            "field": self.field,
            "before": self.before,
            "after": self.after,
            "rows": list(self.rows),
        }


@dataclass(frozen=True)
class ImportReport:
    kind: str
    file_name: str
    sha256: str
    sheet: str | None
    header_row: int
    columns: dict[str, str]  # key → header as in the file
    ignored_columns: list[str]
    accepted: list[AcceptedRow]
    rejected: list[RowIssue]
    warnings: list[RowIssue]
    skipped: list[tuple[int, str]]
    dry_run: bool
    already_imported: bool = False
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        return not self.rejected

    @property
    def rejected_rows(self) -> list[int]:
        return sorted({i.row for i in self.rejected})

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file_name": self.file_name,
            "sha256": self.sha256,
            "sheet": self.sheet,
            "header_row": self.header_row,
            "columns": self.columns,
            "ignored_columns": self.ignored_columns,
            "accepted": [a.__dict__ for a in self.accepted],
            "rejected": [i.as_dict() for i in self.rejected],
            "warnings": [i.as_dict() for i in self.warnings],
            "skipped": [{"row": r, "why": w} for r, w in self.skipped],
            "dry_run": self.dry_run,
            "already_imported": self.already_imported,
            "changes": [c.as_dict() for c in self.changes],
            "unchanged": self.unchanged,
        }


class ImportRejected(Invalid):
    """The file has rejected rows; nothing was written. ``report`` says which and why."""

    def __init__(self, report: ImportReport) -> None:
        rows = len(report.rejected_rows)
        super().__init__(
            f"文件有 {rows} 行未通过校验，未导入任何数据",
            f"{rows} row(s) of the file are rejected; nothing was imported",
            [i.problem() for i in report.rejected],
        )
        self.report = report


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _kind(value: ImportKind | str) -> ImportKind:
    try:
        return ImportKind(value)
    except ValueError:
        allowed = ", ".join(k.value for k in ImportKind)
        raise Invalid(
            "导入类型有误",
            "unknown kind of import",
            [Problem("kind", value, f"应为以下之一：{allowed}", f"one of: {allowed}")],
        ) from None


def _parse(
    data: bytes,
    kind: ImportKind,
    year: int | None,
    sheet: str | None,
    limits: ContentLimits | None,
    name: str,
) -> Parsed:
    try:
        parsed = parse_rows(read_table(data, sheet, limits=limits, name=name), kind, year)
    except FileError as exc:
        raise Invalid(exc.zh, exc.en, exc.problems) from None
    if not parsed.rows:
        raise Invalid(
            f"表头（第{parsed.header.row}行）以下没有数据行",
            f"no data rows below the header (row {parsed.header.row})",
        )
    return parsed


def import_file(
    svc: Services,
    actor: Actor,
    *,
    data: bytes,
    file_name: str,
    kind: ImportKind | str,
    dry_run: bool = False,
    year: int | None = None,
    sheet: str | None = None,
    limits: ContentLimits | None = None,
) -> ImportReport:
    """Check a file (within ``limits``) and, unless ``dry_run``, import it whole in one
    transaction.

    ``year`` is the award year of files without a 年度 column. A file with any rejected row
    raises :class:`ImportRejected` (its report attached) unless this is a dry run.
    """
    require(actor, Role.COMMERCE_REVIEWER, Role.PLAN_DRAFTER)
    import_kind = _kind(kind)
    name = normal_text(file_name)[:200] or "upload"
    parsed = _parse(data, import_kind, year, sheet, limits, name)
    sha = checksum(data)
    if dry_run:
        with svc.reading() as s:
            checked = _check(s, svc.package, parsed)
            previous = _previous_import(s, sha, import_kind)
            return _report(parsed, name, sha, checked, dry_run=True, already=previous is not None)
    with svc.transaction() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _IMPORT_LOCK})
        checked = _check(s, svc.package, parsed)
        report = _report(parsed, name, sha, checked, dry_run=False, already=False)
        if not report.ok:
            raise ImportRejected(report)
        if _previous_import(s, sha, import_kind) is not None:
            return _report(parsed, name, sha, checked, dry_run=False, already=True)
        provenance = {
            "file": name,
            "sha256": sha,
            "sheet": parsed.sheet,
            "import_kind": import_kind.value,
            "by": actor.username,
            "at": svc.clock().isoformat(),
        }
        changes, unchanged = _write(s, svc, parsed, checked, provenance)
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action=ACTION,
            object_type="import_file",
            object_id=sha,
            after={
                "kind": import_kind.value,
                "file": name,
                "sheet": parsed.sheet,
                "rows_accepted": len(checked.accepted),
                "rows_skipped": len(parsed.skipped),
                "created": sum(1 for c in changes if c.before is None),
                "updated": sum(1 for c in changes if c.before is not None),
                "unchanged": unchanged,
                "changes": [c.as_dict() for c in changes],
            },
        )
        return _report(
            parsed,
            name,
            sha,
            checked,
            dry_run=False,
            already=False,
            changes=changes,
            same=unchanged,
        )


def _previous_import(s: Session, sha: str, kind: ImportKind) -> AuditEntry | None:
    for entry in s.scalars(
        select(AuditEntry).where(AuditEntry.action == ACTION, AuditEntry.object_id == sha)
    ):
        if (entry.after or {}).get("kind") == kind.value:
            return entry
    return None


# -- checking rows against the records -----------------------------------------------------


@dataclass
class _Good:
    parsed: ParsedRow
    org: Organisation
    year: int


@dataclass
class _Checked:
    accepted: list[_Good]
    rejected: list[RowIssue]
    warnings: list[RowIssue]


def _column(parsed: Parsed, key: str, fallback: str) -> str:
    return parsed.header.columns[key][0] if key in parsed.header.columns else fallback


def _check(s: Session, package: PolicyPackage, parsed: Parsed) -> _Checked:
    orgs = {o.credit_code: o for o in s.scalars(select(Organisation))}
    code_col = _column(parsed, "credit_code", "统一社会信用代码")
    year_col = _column(parsed, "year", "年度 / year")
    name_col = _column(parsed, "name", "企业名称")
    seen: dict[tuple[Any, ...], int] = {}
    modes: dict[tuple[str, int], tuple[bool, int]] = {}
    good: list[_Good] = []
    rejected: list[RowIssue] = []
    warnings: list[RowIssue] = []
    for row in parsed.rows:
        issues = list(row.issues)
        values = row.values
        org: Organisation | None = None
        code = values.get("credit_code")
        if code is not None:
            try:
                code = credit_code.validate(code)
            except credit_code.CreditCodeError as exc:
                issues.append(RowIssue(row.row, code_col, code, exc.zh, exc.en))
                code = None
        if code is not None:
            org = orgs.get(code)
            if org is None:
                issues.append(
                    RowIssue(
                        row.row,
                        code_col,
                        code,
                        "该单位未在本系统登记（请先登记单位）",
                        "no organisation with this code is registered (register it first)",
                    )
                )
        year = values.get("year")
        if year is not None:
            try:
                check_year(package, year)
            except InputError as exc:
                issues += [RowIssue(row.row, year_col, year, p.zh, p.en) for p in exc.problems]
        issues += _kind_checks(package, parsed, row)
        if org is not None and (division := values.get("division")) is not None:
            issues += _division_checks(package, parsed, row.row, division, org)
        if code is not None and year is not None and not row.issues:
            key = _dedupe_key(parsed.kind, code, year, values)
            if key in seen:
                first = seen[key]
                issues.append(
                    RowIssue(
                        row.row,
                        code_col,
                        code,
                        f"与第{first}行重复（同一单位、年度{_key_words(parsed.kind)}）",
                        f"duplicates row {first} (same organisation and year"
                        f"{_key_words_en(parsed.kind)})",
                    )
                )
            else:
                seen[key] = row.row
            if parsed.kind is ImportKind.CUSTOMS:
                has_mode = "mode" in values
                first_mode = modes.setdefault((code, year), (has_mode, row.row))
                if first_mode[0] != has_mode:
                    issues.append(
                        RowIssue(
                            row.row,
                            _column(parsed, "mode", "监管方式"),
                            values.get("mode"),
                            f"第{first_mode[1]}行已按{'监管方式分列' if first_mode[0] else '合计'}"
                            "填报该单位本年度数据，不能混用",
                            f"row {first_mode[1]} gives this organisation's year "
                            f"{'by customs mode' if first_mode[0] else 'as a total'}; "
                            "do not mix the two",
                        )
                    )
        if issues:
            rejected += issues
            continue
        assert org is not None and year is not None
        name = values.get("name")
        if name is not None and _same_name(name) != _same_name(org.name):
            warnings.append(
                RowIssue(
                    row.row,
                    name_col,
                    name,
                    f"名称与登记名称“{org.name}”不一致（按统一社会信用代码导入）",
                    f"differs from the registered name {org.name!r} (imported by credit code)",
                )
            )
        good.append(_Good(row, org, year))
    return _Checked(good, rejected, warnings)


def _division_checks(
    package: PolicyPackage, parsed: Parsed, row: int, division: str, org: Organisation
) -> list[RowIssue]:
    """A tax-filing division in the authority's table is one of the package's and the one the
    organisation is registered with (else the row is refused: which finance pays is in doubt)."""
    column = _column(parsed, "division", "税收申报缴纳地")
    wrong = divisions.problem(package, division)
    if wrong is not None:
        return [RowIssue(row, column, division, wrong.zh, wrong.en)]
    if division != org.division:
        return [
            RowIssue(
                row,
                column,
                division,
                f"与该单位登记的税收申报缴纳地“{org.division}”不一致",
                f"differs from the organisation's registered tax-filing division {org.division!r}",
            )
        ]
    return []


def _same_name(name: str) -> str:
    return "".join(normal_text(name).split())


def _dedupe_key(kind: ImportKind, code: str, year: int, values: dict[str, Any]) -> tuple[Any, ...]:
    if kind is ImportKind.CUSTOMS:
        return (code, year, values.get("mode"))
    if kind is ImportKind.OTHER_AWARDS:
        return (code, year, values.get("policy"), values.get("clause_id"), values.get("subject_id"))
    return (code, year)


def _key_words(kind: ImportKind) -> str:
    if kind is ImportKind.CUSTOMS:
        return "、监管方式"
    if kind is ImportKind.OTHER_AWARDS:
        return "、政策、条款和对象"
    return ""


def _key_words_en(kind: ImportKind) -> str:
    if kind is ImportKind.CUSTOMS:
        return " and customs mode"
    if kind is ImportKind.OTHER_AWARDS:
        return ", policy, clause and subject"
    return ""


def _kind_checks(package: PolicyPackage, parsed: Parsed, row: ParsedRow) -> list[RowIssue]:
    if parsed.kind is not ImportKind.OTHER_AWARDS or "clause_id" not in row.values:
        return []
    clause_id = row.values["clause_id"]
    column = _column(parsed, "clause_id", "对应条款")
    clause = package.clauses.get(clause_id)
    if clause is None:
        ids = ", ".join(sorted(package.clauses))
        return [RowIssue(row.row, column, clause_id, f"应为本政策的条款：{ids}", f"one of: {ids}")]
    if not clause.overlap:
        return [
            RowIssue(
                row.row,
                column,
                clause_id,
                "该条款的金额本身来自其他政策，不适用从优不重复",
                "this clause's amount comes from the other policy; 从优不重复 does not apply",
            )
        ]
    if row.values.get("amount_cny") == 0:
        return [
            RowIssue(
                row.row,
                _column(parsed, "amount_cny", "金额（元）"),
                "0",
                "金额须大于零",
                "the amount must be more than zero",
            )
        ]
    return []


def _report(
    parsed: Parsed,
    name: str,
    sha: str,
    checked: _Checked,
    *,
    dry_run: bool,
    already: bool,
    changes: list[Change] | None = None,
    same: int = 0,
) -> ImportReport:
    return ImportReport(
        kind=parsed.kind.value,
        file_name=name,
        sha256=sha,
        sheet=parsed.sheet,
        header_row=parsed.header.row,
        columns={k: text_ for k, (text_, _c) in parsed.header.columns.items()},
        ignored_columns=parsed.header.ignored,
        accepted=[
            AcceptedRow(
                g.parsed.row,
                g.org.credit_code,
                g.org.name,
                g.year,
                {
                    k: _text(v)
                    for k, v in g.parsed.values.items()
                    if k not in ("credit_code", "year")
                },
            )
            for g in checked.accepted
        ],
        rejected=checked.rejected,
        warnings=checked.warnings,
        skipped=parsed.skipped,
        dry_run=dry_run,
        already_imported=already,
        changes=changes or [],
        unchanged=same,
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


# -- writing --------------------------------------------------------------------------------


@dataclass
class _Target:
    org: Organisation
    year: int
    field: str
    value: str
    rows: list[int]
    columns: list[str]


def _targets(parsed: Parsed, accepted: list[_Good]) -> list[_Target]:
    """The figures a file gives, per organisation, year and fact path."""
    kind = parsed.kind
    cols = parsed.header.columns
    out: dict[tuple[int, int, str], _Target] = {}

    def put(good: _Good, path: str, value: str, key: str | None) -> None:
        target = out.setdefault(
            (good.org.id, good.year, path), _Target(good.org, good.year, path, value, [], [])
        )
        target.value = value
        target.rows.append(good.parsed.row)
        if key is not None and cols[key][0] not in target.columns:
            target.columns.append(cols[key][0])

    if kind is ImportKind.CUSTOMS:
        totals: dict[tuple[int, int, str], Decimal] = {}
        for good in accepted:
            values = good.parsed.values
            put(good, "applicant.in_customs_cbec_statistics", "true", None)
            for flow in FLOWS:
                if flow not in values:
                    continue
                amount: Decimal = values[flow]
                sum_key = (good.org.id, good.year, flow)
                totals[sum_key] = totals.get(sum_key, Decimal(0)) + amount
                put(good, f"trade.{flow}", _text(canonical(totals[sum_key])), flow)
                if "mode" in values:
                    put(good, f"trade.{flow}[{values['mode']}]", _text(amount), flow)
    elif kind is ImportKind.PLATFORM:
        for good in accepted:
            for key in ("platform_filed", "platform_connected"):
                if key in good.parsed.values:
                    put(good, f"applicant.{key}", _text(good.parsed.values[key]), key)
    elif kind is ImportKind.LOGISTICS:
        for good in accepted:
            orders = good.parsed.values["domestic_orders"]
            put(good, "logistics.domestic_orders", str(orders), "domestic_orders")
    return sorted(out.values(), key=lambda t: (t.org.id, t.year, t.field))


def _write(
    s: Session,
    svc: Services,
    parsed: Parsed,
    checked: _Checked,
    provenance: dict[str, Any],
) -> tuple[list[Change], int]:
    kind = parsed.kind
    if kind is ImportKind.OTHER_AWARDS:
        return _write_other_awards(s, svc, checked.accepted, provenance)
    source = SOURCES[kind]
    changes: list[Change] = []
    unchanged = 0
    for target in _targets(parsed, checked.accepted):
        figure = s.scalar(
            select(OfficialFigure).where(
                OfficialFigure.org_id == target.org.id,
                OfficialFigure.award_year == target.year,
                OfficialFigure.source == source,
                OfficialFigure.field == target.field,
            )
        )
        where = {
            **provenance,
            "row": target.rows[0],
            "rows": target.rows,
            "columns": target.columns,
        }
        if figure is not None and figure.value == target.value:
            unchanged += 1
            continue
        before = None if figure is None else figure.value
        if figure is None:
            s.add(
                OfficialFigure(
                    org_id=target.org.id,
                    award_year=target.year,
                    source=source,
                    field=target.field,
                    value=target.value,
                    provenance=where,
                    recorded_at=svc.clock(),
                )
            )
        else:
            figure.value, figure.provenance, figure.recorded_at = target.value, where, svc.clock()
        changes.append(
            Change(
                "figure",
                target.org.credit_code,
                target.year,
                f"{source}:{target.field}",
                before,
                target.value,
                tuple(target.rows),
            )
        )
    s.flush()
    if kind is ImportKind.PLATFORM:
        changes += _update_org_flags(s, checked.accepted)
    return changes, unchanged


def _update_org_flags(s: Session, accepted: Iterable[_Good]) -> list[Change]:
    """The register's platform flags follow the most recent year's list."""
    changes: list[Change] = []
    for good in accepted:
        org = good.org
        later = s.scalar(
            select(OfficialFigure.id)
            .where(
                OfficialFigure.org_id == org.id,
                OfficialFigure.source == "platform",
                OfficialFigure.award_year > good.year,
            )
            .limit(1)
        )
        if later is not None:
            continue
        for key in ("platform_filed", "platform_connected"):
            if key not in good.parsed.values:
                continue
            new = bool(good.parsed.values[key])
            old = bool(getattr(org, key))
            if new != old:
                setattr(org, key, new)
                changes.append(
                    Change(
                        "organisation",
                        org.credit_code,
                        good.year,
                        key,
                        _text(old),
                        _text(new),
                        (good.parsed.row,),
                    )
                )
    s.flush()
    return changes


def _write_other_awards(
    s: Session, svc: Services, accepted: list[_Good], provenance: dict[str, Any]
) -> tuple[list[Change], int]:
    changes: list[Change] = []
    unchanged = 0
    for good in accepted:
        values = good.parsed.values
        amount_fen = yuan_to_fen(values["amount_cny"])
        subject = values.get("subject_id")
        row = s.scalar(
            select(OtherPolicyAward).where(
                OtherPolicyAward.org_id == good.org.id,
                OtherPolicyAward.policy == values["policy"],
                OtherPolicyAward.clause_id == values["clause_id"],
                OtherPolicyAward.award_year == good.year,
                OtherPolicyAward.subject_id.is_(None)
                if subject is None
                else OtherPolicyAward.subject_id == subject,
            )
        )
        where = {
            **provenance,
            "document_no": values["document_no"],
            "row": good.parsed.row,
            "rows": [good.parsed.row],
            "recorded_by": provenance["by"],
        }
        label = f"other_award:{values['policy']}/{values['clause_id']}/{subject or '-'}"
        if row is not None and row.amount_fen == amount_fen:
            unchanged += 1
            continue
        before = None if row is None else str(row.amount_fen)
        if row is None:
            s.add(
                OtherPolicyAward(
                    org_id=good.org.id,
                    policy=values["policy"],
                    clause_id=values["clause_id"],
                    subject_id=subject,
                    award_year=good.year,
                    amount_fen=amount_fen,
                    provenance=where,
                    recorded_at=svc.clock(),
                )
            )
        else:
            row.amount_fen, row.provenance, row.recorded_at = amount_fen, where, svc.clock()
        changes.append(
            Change(
                "other_award",
                good.org.credit_code,
                good.year,
                label,
                before,
                str(amount_fen),
                (good.parsed.row,),
            )
        )
    s.flush()
    return changes, unchanged
