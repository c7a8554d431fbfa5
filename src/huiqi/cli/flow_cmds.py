"""The fulfilment workflow from the command line: organisations, users, applications, plans.

The CLI is a server-side tool: ``--as USER`` names whose roles a command uses, and the
service layer checks them exactly as it does for the web. Amounts are given in yuan.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from huiqi.cli.common import AsOpt, Lang, LangOpt, fail, out, print_json, refuse_bad_input
from huiqi.config import get_settings
from huiqi.engine.render import msg
from huiqi.errors import InputError, Problem
from huiqi.fulfilment.decisions import LineDecision
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import STATE_LABELS
from huiqi.money import format_yuan, yuan_to_fen
from huiqi.policy.model import AmountKind
from huiqi.service import applications, orgs, plans
from huiqi.service import audit as audit_service
from huiqi.service.actors import Actor, load_actor
from huiqi.service.bootstrap import build_services
from huiqi.service.uow import Services
from huiqi.yamlio import read_data

org_app = typer.Typer(help="单位。 Organisations.", no_args_is_help=True)
user_app = typer.Typer(help="用户与角色。 Users and roles.", no_args_is_help=True)
review_app = typer.Typer(help="市商务局审核。 Reviewing applications.", no_args_is_help=True)
plan_app = typer.Typer(help="资金分配方案。 Allocation plans.", no_args_is_help=True)
audit_app = typer.Typer(help="审计追踪。 The audit trail.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
    app.add_typer(user_app, name="user")
    app.command("apply")(apply)
    app.command("applications")(list_applications)
    app.command("show")(show)
    app.add_typer(review_app, name="review")
    app.add_typer(plan_app, name="plan")
    app.add_typer(audit_app, name="audit")
    app.command("demo")(demo)
    app.command("serve")(serve)


def _services() -> Services:
    return build_services(get_settings())


def _actor(svc: Services, username: str) -> Actor:
    with svc.reading() as s:
        return load_actor(s, username)


def _fen(text: str, field: str) -> int:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise InputError(
            [Problem(field, text, "应为金额（元）", "expected an amount in yuan")]
        ) from None
    if value < 0 or value != value.quantize(Decimal("0.01")):
        raise InputError(
            [
                Problem(
                    field,
                    text,
                    "金额须不小于零、最多两位小数",
                    "an amount is ≥ 0 with at most two decimals",
                )
            ]
        )
    return yuan_to_fen(value)


LINE_LABELS = {
    "pending": ("待决定", "pending"),
    "approved": ("同意", "approved"),
    "refused": ("不予支持", "refused"),
    "not_needed": ("无需", "not needed"),
    "returned": ("退回", "returned"),
    "included": ("列入", "included"),
    "pulled_back": ("退回重审", "pulled back"),
}


def _state(value: str, lang: Lang) -> str:
    zh, en = STATE_LABELS.get(value) or LINE_LABELS.get(value) or (value, value)
    return zh if lang is Lang.zh else en


# -- organisations and users ----------------------------------------------------------


@org_app.command("add")
def org_add(
    code: Annotated[str, typer.Argument(help="统一社会信用代码 / credit code")],
    name: Annotated[str, typer.Argument(help="单位名称 / name")],
    kind: Annotated[str, typer.Option(help="cbec_enterprise, service_enterprise, park, …")],
    division: Annotated[str, typer.Option(help="税收申报缴纳地 / tax-filing county or zone")],
    as_user: AsOpt,
    filed: Annotated[bool, typer.Option(help="已在线上综合服务平台备案 / filed")] = False,
    connected: Annotated[bool, typer.Option(help="已与平台对接 / connected")] = False,
    lang: LangOpt = Lang.zh,
) -> None:
    """登记单位。 Register an organisation.

    示例 / Example:  huiqi org add 91431000MA4T123451 郴州甲公司 --kind cbec_enterprise --division 北湖区 --as admin
    """
    with refuse_bad_input(lang):
        svc = _services()
        view = orgs.add_org(
            svc,
            _actor(svc, as_user),
            code=code,
            name=name,
            kind=kind,
            division=division,
            platform_filed=filed,
            platform_connected=connected,
        )
    out().print(f"{view.id} {view.credit_code} {view.name} · {view.division}", markup=False)


@user_app.command("password")
def user_password(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="新密码（至少10位） / new password",
        ),
    ],
    lang: LangOpt = Lang.zh,
) -> None:
    """在服务器上为用户设置密码（Argon2 存储）。 Set a user's password on the server.

    示例 / Example:  huiqi user password rui
    """
    from huiqi.service import auth

    with refuse_bad_input(lang):
        auth.set_password(_services(), None, username, password)
    out().print(f"{username}: 密码已设置 / password set", markup=False)


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    role: Annotated[list[str], typer.Option("--role", help=", ".join(r.value for r in Role))],
    name: Annotated[str | None, typer.Option(help="姓名 / display name")] = None,
    org: Annotated[str | None, typer.Option(help="申报单位的信用代码 / applicant's org")] = None,
    as_user: Annotated[
        str | None, typer.Option("--as", help="管理员；首个用户省略 / admin")
    ] = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """创建用户并授予角色（首个用户须为管理员）。 Create a user with roles.

    示例 / Example:  huiqi user add rui --role commerce_reviewer --name 芮审核 --as admin
    """
    with refuse_bad_input(lang):
        roles = []
        for value in role:
            try:
                roles.append(Role(value))
            except ValueError:
                allowed = ", ".join(r.value for r in Role)
                raise InputError(
                    [Problem("--role", value, f"可选：{allowed}", f"one of: {allowed}")]
                ) from None
        svc = _services()
        actor = _actor(svc, as_user) if as_user else None
        user_id = orgs.add_user(
            svc, actor, username=username, display_name=name or username, roles=roles, org_code=org
        )
    out().print(f"{user_id} {username} {', '.join(r.value for r in roles)}", markup=False)


# -- applications -----------------------------------------------------------------------


def _print_application(view: applications.ApplicationView, lang: Lang) -> None:
    console = out()
    console.print(
        f"#{view.id} {view.org_name}（{view.credit_code}） {view.award_year} · "
        f"{_state(view.state, lang)}",
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
            _state(line.decision, lang),
            decided,
            _state(line.office_state, lang),
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
        svc = _services()
        actor = _actor(svc, as_user)
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
        svc = _services()
        views = applications.list_for(svc, _actor(svc, as_user), year=year, state=state)
    table = Table()
    for head in ("#", "单位/Organisation", "年度/Year", "状态/State", "条款/Clauses"):
        table.add_column(head)
    for v in views:
        table.add_row(
            str(v.id), v.org_name, str(v.award_year), _state(v.state, lang), ", ".join(v.clauses)
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
        svc = _services()
        view = applications.get(svc, _actor(svc, as_user), application_id)
    if json_out:
        print_json(asdict(view))
    else:
        _print_application(view, lang)


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
        svc = _services()
        view = applications.return_for_correction(svc, _actor(svc, as_user), application_id, reason)
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
        svc = _services()
        view = applications.reject(svc, _actor(svc, as_user), application_id, reason)
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
        svc = _services()
        actor = _actor(svc, as_user)
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
                amount_fen=None if amount is None else _fen(str(amount), f"[{i}].amount"),
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
        svc = _services()
        view = applications.office_decide(
            svc, _actor(svc, as_user), line_id, approve=approve, reason=reason
        )
    _print_application(view, lang)


# -- plans ----------------------------------------------------------------------------


def _print_plan(view: plans.PlanView, lang: Lang) -> None:
    lg = lang.value
    console = out()
    console.print(
        f"方案 #{view.id} {view.title} · {view.award_year} · {_state(view.state, lang)} · "
        f"{view.rule}",
        markup=False,
    )
    if view.notice_start:
        console.print(f"公示 / notice: {view.notice_start} — {view.notice_end}", markup=False)
    table = Table()
    for head in (
        "#",
        "单位/Organisation",
        "县市区/Division",
        "条款/Clause",
        "对象/Subject",
        "申请/Requested",
        "核定/Granted",
        "已拨付/Paid",
        "状态/State",
    ):
        table.add_column(head)
    for i in view.items:
        table.add_row(
            str(i.id),
            i.org_name,
            i.division,
            i.clause_id,
            i.subject_id,
            format_yuan(i.requested_fen, lg),
            format_yuan(i.granted_fen, lg),
            format_yuan(i.paid_fen, lg),
            _state(i.state, lang),
        )
    console.print(table)
    for division, figures in sorted(view.factors.items()):
        if division == "excluded" or not isinstance(figures, dict):
            continue
        budget = figures.get("budget_fen")
        console.print(
            f"{division}: 预算/budget {'—' if budget is None else format_yuan(budget, lg)} · "
            f"申请/requested {format_yuan(figures['requested_fen'], lg)} · "
            f"核定/granted {format_yuan(figures['granted_fen'], lg)} · "
            f"缺口/gap {format_yuan(figures['gap_fen'], lg)} · 系数/factor {figures['factor']}",
            markup=False,
        )
    for excluded in view.factors.get("excluded", []):
        console.print(f"未列入 / excluded: {excluded}", markup=False)


def _plan_call(lang: Lang, as_user: str, call: Any, *args: Any, **kwargs: Any) -> None:
    with refuse_bad_input(lang):
        svc = _services()
        view = call(svc, _actor(svc, as_user), *args, **kwargs)
    _print_plan(view, lang)


PlanId = Annotated[int, typer.Argument(help="方案编号 / plan id")]


@plan_app.command("draft")
def plan_draft(
    year: Annotated[int, typer.Option(help="奖补年度 / award year")],
    title: Annotated[str, typer.Option(help="方案名称 / title")],
    as_user: AsOpt,
    rule: Annotated[
        str, typer.Option(help="none, pro_rata_flexible, pro_rata_all, quota")
    ] = "pro_rata_flexible",
    quota: Annotated[int | None, typer.Option(help="名额 N / quota N")] = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """由已审核项目拟定分配方案。 Draft a plan from the year's verified lines.

    示例 / Example:  huiqi plan draft --year 2025 --title "2025年度跨境电商扶持资金分配方案" --as dai
    """
    _plan_call(lang, as_user, plans.draft, year=year, title=title, rule=rule, quota=quota)


@plan_app.command("show")
def plan_show(plan_id: PlanId, as_user: AsOpt, lang: LangOpt = Lang.zh) -> None:
    """查看方案。 Show a plan.

    示例 / Example:  huiqi plan show 1 --as fang
    """
    _plan_call(lang, as_user, plans.get, plan_id)


@plan_app.command("reallocate")
def plan_reallocate(
    plan_id: PlanId,
    as_user: AsOpt,
    rule: Annotated[str, typer.Option(help="none, pro_rata_flexible, pro_rata_all, quota")],
    quota: Annotated[int | None, typer.Option(help="名额 N / quota N")] = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """按规则重新分配预算。 Re-run the budget allocation.

    示例 / Example:  huiqi plan reallocate 1 --rule pro_rata_all --as dai
    """
    _plan_call(lang, as_user, plans.reallocate, plan_id, rule=rule, quota=quota)


@plan_app.command("notice")
def plan_notice(
    plan_id: PlanId,
    as_user: AsOpt,
    start: Annotated[str, typer.Option(help="公示开始日期 YYYY-MM-DD / first day")],
    days: Annotated[int | None, typer.Option(help="工作日数 / working days")] = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """开始公示。 Open the public notice.

    示例 / Example:  huiqi plan notice 1 --start 2026-03-02 --days 5 --as dai
    """
    with refuse_bad_input(lang):
        first = _date(start, "--start")
    _plan_call(lang, as_user, plans.open_notice, plan_id, start=first, days=days)


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(
            [Problem(field, text, "日期应为 YYYY-MM-DD", "a date is YYYY-MM-DD")]
        ) from None


@plan_app.command("object")
def plan_object(
    plan_id: PlanId,
    by: Annotated[str, typer.Option(help="提出人 / submitted by")],
    text: Annotated[str, typer.Option(help="异议内容 / objection")],
    item: Annotated[int | None, typer.Option(help="针对的方案项目 / plan item")] = None,
    contact: Annotated[str | None, typer.Option(help="联系方式 / contact")] = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """公示期内登记异议（任何人）。 Record an objection during the notice.

    示例 / Example:  huiqi plan object 1 --by 市民张某 --text "请核实出口额" --item 3
    """
    with refuse_bad_input(lang):
        objection = plans.object_to(
            _services(), plan_id, submitted_by=by, text=text, contact=contact, item_id=item
        )
    out().print(f"异议 / objection #{objection}", markup=False)


@plan_app.command("resolve")
def plan_resolve(
    objection_id: Annotated[int, typer.Argument(help="异议编号 / objection id")],
    as_user: AsOpt,
    resolution: Annotated[str, typer.Option(help="处理意见 / resolution")],
    uphold: Annotated[bool, typer.Option("--uphold/--dismiss", help="异议成立或不成立")] = False,
    lang: LangOpt = Lang.zh,
) -> None:
    """处理异议：成立则该项退回重审。 Resolve an objection.

    示例 / Example:  huiqi plan resolve 1 --dismiss --resolution "经核实无误" --as dai
    """
    _plan_call(
        lang, as_user, plans.resolve_objection, objection_id, uphold=uphold, resolution=resolution
    )


@plan_app.command("close-notice")
def plan_close_notice(plan_id: PlanId, as_user: AsOpt, lang: LangOpt = Lang.zh) -> None:
    """公示期满，提交审核。 End the notice and send the plan for review.

    示例 / Example:  huiqi plan close-notice 1 --as dai
    """
    _plan_call(lang, as_user, plans.close_notice, plan_id)


@plan_app.command("review")
def plan_review(
    plan_id: PlanId,
    as_user: AsOpt,
    approve: Annotated[bool, typer.Option("--approve/--return", help="同意或退回")] = True,
    reason: Annotated[str | None, typer.Option(help="意见 / reason")] = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """市财政局或领导小组办公室审核方案。 Review a plan (finance or office).

    示例 / Example:  huiqi plan review 1 --approve --as fang
    """
    _plan_call(lang, as_user, plans.review, plan_id, approve=approve, reason=reason)


@plan_app.command("approve")
def plan_approve(plan_id: PlanId, as_user: AsOpt, lang: LangOpt = Lang.zh) -> None:
    """市人民政府批准方案（写入奖补台账）。 Approve a plan; writes the ledger.

    示例 / Example:  huiqi plan approve 1 --as shi
    """
    _plan_call(lang, as_user, plans.approve, plan_id)


@plan_app.command("pay")
def plan_pay(
    item_id: Annotated[int, typer.Argument(help="方案项目编号 / plan item id")],
    as_user: AsOpt,
    amount: Annotated[str, typer.Option(help="拨付金额（元） / amount in yuan")],
    paid_on: Annotated[str, typer.Option(help="拨付日期 / date paid")],
    reference: Annotated[str, typer.Option(help="凭证号 / reference")],
    lang: LangOpt = Lang.zh,
) -> None:
    """登记拨付。 Record a disbursement.

    示例 / Example:  huiqi plan pay 3 --amount 100000 --paid-on 2026-04-01 --reference BH-2026-001 --as fang
    """
    with refuse_bad_input(lang):
        fen, day = _fen(amount, "--amount"), _date(paid_on, "--paid-on")
    _plan_call(
        lang, as_user, plans.disburse, item_id, amount_fen=fen, paid_on=day, reference=reference
    )


@plan_app.command("close")
def plan_close(plan_id: PlanId, as_user: AsOpt, lang: LangOpt = Lang.zh) -> None:
    """资金拨付完毕，关闭方案。 Close a fully paid plan.

    示例 / Example:  huiqi plan close 1 --as fang
    """
    _plan_call(lang, as_user, plans.close, plan_id)


@plan_app.command("budget")
def plan_budget(
    division: Annotated[str, typer.Argument(help="县市区或园区 / paying finance")],
    year: Annotated[int, typer.Argument(help="奖补年度 / award year")],
    amount: Annotated[str, typer.Argument(help="预算（元） / budget in yuan")],
    as_user: AsOpt,
    lang: LangOpt = Lang.zh,
) -> None:
    """登记某县市区某年度的预算。 Record a paying finance's budget.

    示例 / Example:  huiqi plan budget 北湖区 2025 3000000 --as fang
    """
    with refuse_bad_input(lang):
        svc = _services()
        plans.set_budget(
            svc,
            _actor(svc, as_user),
            division=division,
            year=year,
            amount_fen=_fen(amount, "AMOUNT"),
        )
    out().print(
        f"{division} {year}: {format_yuan(_fen(amount, 'AMOUNT'), lang.value)}", markup=False
    )


# -- audit ----------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(lang: LangOpt = Lang.zh) -> None:
    """检查审计记录链是否完整（发现被改动或删除的记录）。 Verify the audit chain.

    示例 / Example:  huiqi audit verify
    """
    with refuse_bad_input(lang):
        svc = _services()
        with svc.reading() as s:
            count, problems = audit_service.verify(s)
    if problems:
        fail([f"审计链被破坏 / audit chain broken ({count})", *problems])
    out().print(f"审计链完整：{count} 条记录 / audit chain intact: {count} entries", markup=False)


def demo(
    reset: Annotated[
        bool, typer.Option("--reset", help="先清空数据库 / empty the database first")
    ] = False,
    lang: LangOpt = Lang.zh,
) -> None:
    """装入演示数据：两个年度、各种状态的申报和方案。 Load the demo data.

    示例 / Example:  huiqi demo --reset && huiqi applications --as rui
    """
    from huiqi.db.migrate import reset as reset_database
    from huiqi.service import demo as demo_data

    with refuse_bad_input(lang):
        settings = get_settings()
        if reset:
            reset_database(settings.database_url)
        svc = _services()
        ids = demo_data.load(svc, date.today())
    console = out()
    console.print("演示数据已装入 / demo loaded:", markup=False)
    for name, value in ids.items():
        console.print(f"  {name}: {value}", markup=False)
    console.print(
        "用户 / users: admin rui dai fang ou shi shen alice charlie pan xie jia zi yong yi"
        "（命令行用 --as 指定 / pick one with --as）",
        markup=False,
    )
    console.print(
        f"网页登录密码（仅演示） / demo password: {demo_data.DEMO_PASSWORD}", markup=False
    )


def serve(
    host: Annotated[str | None, typer.Option(help="监听地址 / address")] = None,
    port: Annotated[int | None, typer.Option(help="端口 / port")] = None,
    workers: Annotated[int, typer.Option(help="进程数 / worker processes")] = 1,
) -> None:
    """启动 HTTP 服务（默认 SQLite）。 Serve the API over HTTP.

    示例 / Example:  huiqi serve --port 8000
    """
    import uvicorn

    settings = get_settings()
    _services()  # migrate a new SQLite database before the first request
    uvicorn.run(
        "huiqi.web.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )
