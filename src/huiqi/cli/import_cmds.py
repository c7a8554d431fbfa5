"""Official data in, documents out: imports, declared versus official, proactive matching,
and the plan, notice, letter and report documents.

Register in :mod:`huiqi.cli` with ``import_cmds.register(app)``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from huiqi.cli.common import AsOpt, Lang, LangOpt, fail, out, print_json, refuse_bad_input
from huiqi.cli.flow_common import acting, date_of, services
from huiqi.config import get_settings
from huiqi.documents import write_letters, write_notice, write_plan, write_report
from huiqi.money import format_yuan
from huiqi.service import imports, matching, official
from huiqi.service.import_formats import ImportKind, RowIssue

documents_app = typer.Typer(
    help="生成文书：分配方案、公示、告知书、年度报告。 Documents from the records.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]


def register(app: typer.Typer) -> None:
    app.command("import")(import_file)
    app.command("official")(official_figures)
    app.command("match")(match)
    app.add_typer(documents_app, name="documents")


# -- import ---------------------------------------------------------------------------------


def _issues(title: str, issues: list[RowIssue], lang: Lang) -> Table:
    table = Table(title=title)
    for head in ("行/Row", "列/Column", "值/Value", "原因/Reason"):
        table.add_column(head)
    for issue in issues:
        table.add_row(
            str(issue.row),
            issue.column,
            "" if issue.value is None else str(issue.value),
            issue.zh if lang is Lang.zh else issue.en,
        )
    return table


def _print_report(report: imports.ImportReport, lang: Lang) -> None:
    console = out()
    zh = lang is Lang.zh
    kind = ImportKind(report.kind)
    console.print(
        f"{report.file_name} · {kind.zh if zh else kind.en} · sha256 {report.sha256[:16]}… · "
        f"{'工作表' if zh else 'sheet'} {report.sheet or '—'} · "
        f"{'表头在第' if zh else 'header row '}{report.header_row}{'行' if zh else ''}",
        markup=False,
    )
    console.print(
        ("列：" if zh else "columns: ")
        + ", ".join(f"{k}←{v}" for k, v in report.columns.items())
        + (
            f"；{'忽略' if zh else 'ignored'}：{', '.join(report.ignored_columns)}"
            if report.ignored_columns
            else ""
        ),
        markup=False,
    )
    console.print(
        f"{'接受' if zh else 'accepted'} {len(report.accepted)} · "
        f"{'拒绝' if zh else 'rejected'} {len(report.rejected_rows)} · "
        f"{'跳过' if zh else 'skipped'} {len(report.skipped)}"
        + (f" ({', '.join(f'{r}: {w}' for r, w in report.skipped)})" if report.skipped else ""),
        markup=False,
    )
    if report.accepted:
        table = Table(title="接受的行 / accepted rows")
        for head in ("行/Row", "代码/Code", "单位/Organisation", "年度/Year", "数据/Values"):
            table.add_column(head)
        for row in report.accepted:
            values = ", ".join(f"{k}={v}" for k, v in row.values.items() if k != "name")
            table.add_row(str(row.row), row.credit_code, row.org_name, str(row.year), values)
        console.print(table)
    if report.rejected:
        console.print(_issues("拒绝的行 / rejected rows", report.rejected, lang))
    if report.warnings:
        console.print(_issues("提示 / warnings", report.warnings, lang))
    if report.dry_run:
        verdict = (
            ("可以导入（试运行，未写入）" if zh else "ready to import (dry run, nothing written)")
            if report.ok
            else (
                "有行未通过校验，导入将被拒绝"
                if zh
                else "rows are rejected: an import would be refused"
            )
        )
    elif report.already_imported:
        verdict = (
            "该文件（相同校验和）已导入过，未作任何更改"
            if zh
            else "this file (same checksum) was imported before: nothing changed"
        )
    else:
        created = sum(1 for c in report.changes if c.before is None)
        verdict = (
            f"已导入：新增 {created}，更新 {len(report.changes) - created}，未变 {report.unchanged}"
            if zh
            else f"imported: {created} created, {len(report.changes) - created} updated, "
            f"{report.unchanged} unchanged"
        )
    console.print(verdict, markup=False)
    if report.changes and not report.dry_run:
        table = Table(title="更改 / changes")
        for head in (
            "代码/Code",
            "年度/Year",
            "字段/Field",
            "原值/Before",
            "新值/After",
            "行/Rows",
        ):
            table.add_column(head)
        for change in report.changes:
            table.add_row(
                change.org_code,
                str(change.year),
                change.field,
                change.before or "—",
                change.after,
                ",".join(str(r) for r in change.rows),
            )
        console.print(table)


def import_file(
    file: Annotated[Path, typer.Argument(help="XLSX 或 CSV 文件 / an XLSX or CSV file")],
    kind: Annotated[ImportKind, typer.Option("--kind", help="数据类型 / kind of data")],
    as_user: AsOpt,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="只校验，不写入 / check only, write nothing")
    ] = False,
    year: Annotated[
        int | None, typer.Option("--year", help="文件无“年度”列时的年度 / year if no 年度 column")
    ] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="工作表名称 / sheet name")] = None,
    json: JsonOpt = False,
    lang: LangOpt = Lang.zh,
) -> None:
    """导入官方数据（海关统计、平台备案对接名单、物流订单量、其他政策奖补），先试运行再整体导入。
    Import official figures: a dry run reports each row; the import is all or nothing.

    示例 / Example:  huiqi import examples/customs-2025.xlsx --kind customs --dry-run --as rui
    """
    if not file.is_file():
        fail([f"文件不存在 / no such file: {file}"])
    limits = get_settings().content_limits()
    if file.stat().st_size > limits.import_max_bytes:  # refused before it is read into memory
        most = limits.import_max_bytes // 1024 // 1024
        fail([f"文件过大（最多 {most} MB） / the file is too large (at most {most} MB): {file}"])
    with refuse_bad_input(lang):
        svc = services()
        try:
            report = imports.import_file(
                svc,
                acting(svc, as_user),
                data=file.read_bytes(),
                file_name=file.name,
                kind=kind,
                dry_run=dry_run,
                year=year,
                sheet=sheet,
                limits=limits,
            )
        except imports.ImportRejected as exc:  # shown row by row below, then exit 2
            report = exc.report
    if json:
        print_json(report.as_dict())
    else:
        _print_report(report, lang)
    if not report.ok and not dry_run:
        raise typer.Exit(2)


# -- declared versus official ---------------------------------------------------------------


def official_figures(
    application_id: Annotated[int, typer.Argument(help="申报编号 / application id")],
    as_user: AsOpt,
    json: JsonOpt = False,
    lang: LangOpt = Lang.zh,
) -> None:
    """申报数据与官方数据对照，并按两种数据测算。 Declared versus official figures.

    示例 / Example:  huiqi official 4 --as rui
    """
    with refuse_bad_input(lang):
        svc = services()
        comparison = official.compare(svc, acting(svc, as_user), application_id)
    if json:
        print_json(
            {
                "application_id": comparison.application_id,
                "rows": [r.__dict__ for r in comparison.rows],
                "clauses": [c.__dict__ for c in comparison.clauses],
            }
        )
        return
    zh = lang is Lang.zh
    console = out()
    console.print(
        f"#{comparison.application_id} {comparison.org_name}（{comparison.org_code}） "
        f"{comparison.award_year}",
        markup=False,
    )
    table = Table(title="申报与官方数据 / declared and official")
    for head in ("事实/Fact", "申报/Declared", "官方/Official", "差额/Difference", "来源/Source"):
        table.add_column(head)
    for row in comparison.rows:
        breakdown = "；".join(f"{k}: {v}" for k, v in row.breakdown)
        table.add_row(
            f"{row.zh if zh else row.en} ({row.path})",
            row.declared or "—",
            row.official + (f"（{breakdown}）" if breakdown else ""),
            (row.difference or ("不一致" if zh else "differs")) if row.differs else "",
            f"{row.source} · {row.provenance.get('file', '')} #{row.provenance.get('row', '')}",
        )
    console.print(table)
    table = Table(title="测算 / the engine on both")
    for head in ("条款/Clause", "按申报/Declared", "按官方/Official"):
        table.add_column(head)
    for clause in comparison.clauses:

        def amount(eligible: bool, fen: int | None) -> str:
            if not eligible:
                return "不符合" if zh else "not eligible"
            return "—" if fen is None else format_yuan(fen, lang.value)

        table.add_row(
            f"{clause.clause_id} {clause.zh if zh else clause.en}",
            amount(clause.declared_eligible, clause.declared_fen),
            amount(clause.official_eligible, clause.official_fen),
        )
    console.print(table)


# -- proactive matching ---------------------------------------------------------------------


def match(
    year: Annotated[int, typer.Option("--year", help="奖补年度 / award year")],
    as_user: AsOpt,
    letters: Annotated[
        Path | None, typer.Option("--letters", help="告知函输出目录 / folder for the letters")
    ] = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="短信 CSV 输出文件 / CSV for SMS tools")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="告知函日期 YYYY-MM-DD（默认今天）/ letter date")
    ] = None,
    json: JsonOpt = False,
    lang: LangOpt = Lang.zh,
) -> None:
    """免申即享：仅凭官方数据匹配全部已登记单位，标出未申报者，生成告知函和短信 CSV。
    Proactive matching on official data alone; letters and an SMS CSV for those who have not applied.

    示例 / Example:  huiqi match --year 2025 --letters var/letters --csv var/sms.csv --as rui
    """
    with refuse_bad_input(lang):
        svc = services()
        report = matching.match(svc, acting(svc, as_user), year=year)
        letter_date = date_of(on, "--on") if on else date.today()
    written: list[Path] = []
    if letters is not None:
        letters.mkdir(parents=True, exist_ok=True)
        for item in matching.letters(report, letter_date):
            for language, text in (("zh", item.zh), ("en", item.en)):
                path = letters / f"{item.credit_code}.{language}.txt"
                path.write_text(text, encoding="utf-8")
                written.append(path)
    if csv is not None:
        csv.parent.mkdir(parents=True, exist_ok=True)
        csv.write_bytes(matching.sms_csv(report))
        written.append(csv)
    if json:
        print_json(report.as_dict())
        return
    zh = lang is Lang.zh
    console = out()
    table = Table(title=f"{year} 免申即享匹配 / proactive matching")
    for head in (
        "单位/Organisation",
        "县市区/Division",
        "条款/Clause",
        "金额/Amount",
        "已申报/Applied",
    ):
        table.add_column(head)
    for candidate in report.candidates:
        for m in candidate.matches:
            table.add_row(
                f"{candidate.name}（{candidate.credit_code}）",
                candidate.division,
                f"{m.clause_id} {m.zh if zh else m.en}",
                m.amount_text(lang.value),
                ("是" if zh else "yes") if m.applied else ("否 ←" if zh else "no ←"),
            )
    console.print(table)
    console.print(
        f"{'评估单位' if zh else 'evaluated'} {report.evaluated} · "
        f"{'可能符合' if zh else 'appear eligible'} {len(report.candidates)} · "
        f"{'待告知' if zh else 'to notify'} {len(report.to_notify)}",
        markup=False,
    )
    for excluded in report.excluded:
        console.print(
            f"{excluded.name}（{excluded.credit_code}）：{excluded.zh if zh else excluded.en}",
            markup=False,
        )
    for path in written:
        console.print(f"→ {path}", markup=False)


# -- documents ------------------------------------------------------------------------------

PlanId = Annotated[int, typer.Argument(help="方案编号 / plan id")]
OutFile = Annotated[Path, typer.Option("--out", help="输出文件 / output file")]
OutDir = Annotated[Path, typer.Option("--out", help="输出目录 / output folder")]


def _written(paths: list[Path]) -> None:
    for path in paths:
        out().print(f"→ {path}", markup=False)


@documents_app.command("plan")
def plan_document(
    plan_id: PlanId, out_file: OutFile, as_user: AsOpt, lang: LangOpt = Lang.zh
) -> None:
    """分配方案 XLSX（分县市区、条款小计，含汇总表）。 The allocation plan as XLSX.

    示例 / Example:  huiqi documents plan 2 --out var/plan-2.xlsx --as dai
    """
    with refuse_bad_input(lang):
        svc = services()
        _written([write_plan(svc, acting(svc, as_user), plan_id, out_file)])


@documents_app.command("notice")
def notice_document(
    plan_id: PlanId,
    out_file: OutFile,
    base_url: Annotated[
        str, typer.Option("--base-url", help="平台网址（异议渠道）/ the platform's address")
    ] = "",
    contact: Annotated[
        str | None, typer.Option("--contact", help="联系电话 / telephone for objections")
    ] = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """公示文书 PDF 或 HTML（按文件后缀），公示开始后任何人可生成。 The public notice.

    示例 / Example:  huiqi documents notice 2 --out var/notice-2.pdf --base-url https://huiqi.example
    """
    with refuse_bad_input(lang):
        _written([write_notice(services(), plan_id, out_file, base_url=base_url, contact=contact)])


@documents_app.command("letters")
def letter_documents(
    out_dir: OutDir,
    as_user: AsOpt,
    application_id: Annotated[int | None, typer.Argument(help="申报编号 / application id")] = None,
    plan: Annotated[
        int | None, typer.Option("--plan", help="方案内全部申报 / every application in a plan")
    ] = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """审核结果告知书 PDF：一个申报，或方案内全部申报。 Decision letters.

    示例 / Example:  huiqi documents letters --plan 2 --out var/letters --as rui
    """
    with refuse_bad_input(lang):
        svc = services()
        _written(
            write_letters(
                svc, acting(svc, as_user), out_dir, application_id=application_id, plan_id=plan
            )
        )


@documents_app.command("report")
def report_document(
    year: Annotated[int, typer.Option("--year", help="奖补年度 / award year")],
    out_dir: OutDir,
    as_user: AsOpt,
    lang: LangOpt = Lang.zh,
) -> None:
    """年度报告 PDF 及图表 PNG。 The annual report (PDF) and its charts (PNG).

    示例 / Example:  huiqi documents report --year 2025 --out var/report --as shen
    """
    with refuse_bad_input(lang):
        svc = services()
        _written(write_report(svc, acting(svc, as_user), year, out_dir))
