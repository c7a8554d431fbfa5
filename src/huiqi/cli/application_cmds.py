"""Applications from the command line: apply, list, show, review."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from huiqi.cli.common import AsOpt, Lang, LangOpt, out, print_json, refuse_bad_input
from huiqi.cli.flow_common import acting, fen_of, services, state_label
from huiqi.engine.render import msg
from huiqi.errors import InputError, Problem
from huiqi.fulfilment.decisions import LineDecision
from huiqi.money import format_yuan
from huiqi.policy.model import AmountKind
from huiqi.service import applications
from huiqi.service import replay as replay_service
from huiqi.yamlio import read_data

review_app = typer.Typer(help="市商务局审核。 Reviewing applications.", no_args_is_help=True)

# -- applications -----------------------------------------------------------------------


def _print_application(view: applications.ApplicationView, lang: Lang) -> None:
    console = out()
    console.print(
        f"#{view.id} {view.org_name}（{view.credit_code}） {view.award_year} · "
        f"{state_label(view.state, lang)}",
        markup=False,
    )
    if view.return_reason:
        console.print(
            ("退回意见：" if lang is Lang.zh else "Returned: ") + view.return_reason, markup=False
        )
    table = Table()
    for head in (
        "明细/Line",
        "条款/Clause",
        "对象/Subject",
        "类型/Kind",
        "政策金额/Engine",
        "决定/Decision",
        "核定/Decided",
        "办公室/Office",
    ):
        table.add_column(head)
    lg = lang.value
    for line in view.lines:
        engine = "—" if line.engine_fen is None else format_yuan(line.engine_fen, lg)
        if not line.eligible:
            engine = "不符合" if lang is Lang.zh else "not eligible"
        decided = "" if line.decided_fen is None else format_yuan(line.decided_fen, lg)
        table.add_row(
            str(line.id),
            line.clause_id,
            line.subject_id,
            msg(f"kind.{line.kind}", lg),
            engine,
            state_label(line.decision, lang),
            decided,
            state_label(line.office_state, lang),
        )
    console.print(table)


def apply(
    facts: Annotated[Path, typer.Argument(help="事实文件 / facts file (JSON or YAML)")],
    clauses: Annotated[
        str, typer.Option(help="申报的条款，逗号分隔 / clause ids, comma-separated")
    ],
    as_user: AsOpt,
    year: Annotated[int | None, typer.Option(help="奖补年度 / award year")] = None,
    draft: Annotated[bool, typer.Option("--draft", help="只保存草稿 / keep as a draft")] = False,
    lang: LangOpt = Lang.zh,
) -> None:
    """以申报单位身份提交申报。 Apply for clauses from a facts file.

    示例 / Example:  huiqi apply examples/exporter.yaml --clauses 4.1a,6.2 --as alice
    """
    with refuse_bad_input(lang):
        try:
            data: dict[str, Any] = read_data(facts)
        except (OSError, ValueError) as exc:
            raise InputError(
                [Problem(str(facts), None, f"无法读取：{exc}", f"cannot read: {exc}")]
            ) from None
        svc = services()
        actor = acting(svc, as_user)
        award_year = year or data.get("award_year")
        code = (data.get("applicant") or {}).get("credit_code", "")
        if not isinstance(award_year, int):
            raise InputError(
                [Problem("$.award_year", award_year, "请给出奖补年度", "give the award year")]
            )
        view = applications.create_draft(
            svc,
            actor,
            org_code=code,
            year=award_year,
            clauses=[c.strip() for c in clauses.split(",") if c.strip()],
            facts={k: v for k, v in _plain(data).items() if k != "award_year"},
        )
        if not draft:
            view = applications.submit(svc, actor, view.id)
    _print_application(view, lang)


def _plain(data: Any) -> Any:
    """Facts as JSON-ready values (dates and Decimals as text), for storing."""
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    if isinstance(data, Decimal | date):
        return str(data)
    return data


def list_applications(
    as_user: AsOpt,
    year: Annotated[int | None, typer.Option(help="奖补年度 / award year")] = None,
    state: Annotated[str | None, typer.Option(help="状态 / state")] = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """列出可见的申报。 List the applications you may see.

    示例 / Example:  huiqi applications --year 2025 --as rui
    """
    with refuse_bad_input(lang):
        svc = services()
        views = applications.list_for(svc, acting(svc, as_user), year=year, state=state)
    table = Table()
    for head in ("#", "单位/Organisation", "年度/Year", "状态/State", "条款/Clauses"):
        table.add_column(head)
    for v in views:
        table.add_row(
            str(v.id),
            v.org_name,
            str(v.award_year),
            state_label(v.state, lang),
            ", ".join(v.clauses),
        )
    out().print(table)


def show(
    application_id: Annotated[int, typer.Argument(help="申报编号 / application id")],
    as_user: AsOpt,
    lang: LangOpt = Lang.zh,
    json_out: Annotated[bool, typer.Option("--json", help="JSON 输出 / JSON output")] = False,
) -> None:
    """查看一份申报及其明细。 Show one application and its lines.

    示例 / Example:  huiqi show 1 --as alice
    """
    with refuse_bad_input(lang):
        svc = services()
        view = applications.get(svc, acting(svc, as_user), application_id)
    if json_out:
        print_json(asdict(view))
    else:
        _print_application(view, lang)


def replay(
    application_id: Annotated[int, typer.Argument(help="申报编号 / application id")],
    as_user: AsOpt,
    lang: LangOpt = Lang.zh,
    json_out: Annotated[bool, typer.Option("--json", help="JSON 输出 / JSON output")] = False,
) -> None:
    """重放一项已作出的测算决定，核对结果是否逐字节一致。 Replay a stored decision byte for byte.

    用当时读取的全部输入（申报事实、单位信息、已获奖补台账、其他政策奖补）和当时的政策包快照重新测算；
    不一致时列出差异并以退出码 1 结束。 Re-runs the engine on what it read then, under the package
    it ran under then; a difference is listed and exits 1.

    示例 / Example:  huiqi replay 1 --as shen
    """
    with refuse_bad_input(lang):
        svc = services()
        result = replay_service.replay(svc, acting(svc, as_user), application_id)
    if json_out:
        print_json(asdict(result))
    else:
        console = out()
        zh = lang is Lang.zh
        console.print(
            f"#{result.application_id} {result.org_code} {result.award_year} · "
            f"{state_label(result.state, lang)} · "
            + ("政策包 " if zh else "package ")
            + result.policy_sha256[:12],
            markup=False,
        )
        if result.identical:
            console.print(
                ("重放结果与原决定逐字节一致" if zh else "the replay is identical, byte for byte")
                + f"（sha256 {result.stored_sha256[:16]}）",
                markup=False,
            )
        else:
            console.print(
                "重放结果与原决定不一致：" if zh else "the replay differs from the decision:",
                markup=False,
            )
            for line in result.difference:
                console.print(line, markup=False)
    if not result.identical:
        raise typer.Exit(1)


@review_app.command("return")
def review_return(
    application_id: Annotated[int, typer.Argument(help="申报编号 / application id")],
    reason: Annotated[str, typer.Option(help="需补正的内容 / what to correct")],
    as_user: AsOpt,
    lang: LangOpt = Lang.zh,
) -> None:
    """退回补正。 Return an application for correction.

    示例 / Example:  huiqi review return 1 --reason "请补充海关统计证明" --as rui
    """
    with refuse_bad_input(lang):
        svc = services()
        view = applications.return_for_correction(svc, acting(svc, as_user), application_id, reason)
    _print_application(view, lang)


@review_app.command("reject")
def review_reject(
    application_id: Annotated[int, typer.Argument(help="申报编号 / application id")],
    reason: Annotated[str, typer.Option(help="不予支持的理由 / reasons")],
    as_user: AsOpt,
    lang: LangOpt = Lang.zh,
) -> None:
    """不予支持。 Reject an application.

    示例 / Example:  huiqi review reject 2 --reason "不在支持范围" --as rui
    """
    with refuse_bad_input(lang):
        svc = services()
        view = applications.reject(svc, acting(svc, as_user), application_id, reason)
    _print_application(view, lang)


@review_app.command("verify")
def review_verify(
    application_id: Annotated[int, typer.Argument(help="申报编号 / application id")],
    as_user: AsOpt,
    decisions: Annotated[
        Path | None,
        typer.Option(
            help="决定文件（YAML：clause, subject, approve, amount 元, reason） / decisions file"
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            help="未给决定文件时：符合条件的各项按政策金额（限额类按上限）核定，用此理由 / "
            "without a file: approve eligible lines at the policy's amount, with this reason"
        ),
    ] = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """审核通过并核定每项金额。 Verify an application, deciding every line.

    示例 / Example:  huiqi review verify 1 --reason "材料齐全，符合政策" --as rui
    """
    with refuse_bad_input(lang):
        svc = services()
        actor = acting(svc, as_user)
        current = applications.get(svc, actor, application_id)
        chosen = _decisions_from_file(decisions) if decisions else _decide_all(current, reason)
        view = applications.verify(svc, actor, application_id, chosen)
    _print_application(view, lang)


def _decide_all(view: applications.ApplicationView, reason: str | None) -> list[LineDecision]:
    if not reason:
        raise InputError(
            [
                Problem(
                    "--reason",
                    None,
                    "请给出核定理由或决定文件",
                    "give a reason or a decisions file",
                )
            ]
        )
    decisions = []
    for line in view.lines:
        if not line.eligible:
            decisions.append(
                LineDecision(
                    line.clause_id, line.subject_id, False, None, "不符合政策条件 / not eligible"
                )
            )
        elif line.kind == AmountKind.DISCRETIONARY.value:
            raise InputError(
                [
                    Problem(
                        f"{line.clause_id}/{line.subject_id}",
                        None,
                        "酌定类金额须用决定文件给出",
                        "discretionary amounts need a decisions file",
                    )
                ]
            )
        else:
            decisions.append(
                LineDecision(line.clause_id, line.subject_id, True, line.engine_fen, reason)
            )
    return decisions


def _decisions_from_file(path: Path) -> list[LineDecision]:
    data = read_data(path)
    if not isinstance(data, list):
        raise InputError([Problem(str(path), None, "应为决定列表", "expected a list of decisions")])
    decisions = []
    for i, row in enumerate(data):
        amount = row.get("amount")
        decisions.append(
            LineDecision(
                clause_id=str(row.get("clause")),
                subject_id=str(row.get("subject")),
                approve=bool(row.get("approve", True)),
                amount_fen=None if amount is None else fen_of(str(amount), f"[{i}].amount"),
                reason=row.get("reason"),
            )
        )
    return decisions


@review_app.command("office")
def review_office(
    line_id: Annotated[int, typer.Argument(help="申报明细编号 / line id")],
    as_user: AsOpt,
    approve: Annotated[bool, typer.Option("--approve/--return", help="批准或退回")] = True,
    reason: Annotated[str, typer.Option(help="意见 / reason")] = "",
    lang: LangOpt = Lang.zh,
) -> None:
    """领导小组办公室批准酌定类或培训活动金额。 The office approves an amount.

    示例 / Example:  huiqi review office 7 --approve --reason 同意 --as ou
    """
    with refuse_bad_input(lang):
        svc = services()
        view = applications.office_decide(
            svc, acting(svc, as_user), line_id, approve=approve, reason=reason
        )
    _print_application(view, lang)
