"""Allocation plans from the command line: draft, notice, review, approve, pay."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from huiqi.cli.common import AsOpt, Lang, LangOpt, out, refuse_bad_input
from huiqi.cli.flow_common import acting, date_of, fen_of, services, state_label
from huiqi.money import format_yuan
from huiqi.service import plans
from huiqi.service.uow import Services

plan_app = typer.Typer(help="资金分配方案。 Allocation plans.", no_args_is_help=True)

# -- plans ----------------------------------------------------------------------------


def _print_plan(view: plans.PlanView, lang: Lang, svc: Services) -> None:
    lg = lang.value
    console = out()
    console.print(
        f"方案 #{view.id} {view.title} · {view.award_year} · {state_label(view.state, lang)} · "
        f"{view.rule}",
        markup=False,
    )
    if view.notice_published_at:
        console.print(
            f"公示 / notice: 发布于 / published {view.notice_published_beijing}（北京时间 / Beijing"
            f" time），{view.notice_days} 个工作日 / working days，至 / until {view.notice_end} 24:00",
            markup=False,
        )
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
            state_label(i.state, lang),
        )
    console.print(table)
    # each paying finance in the policy package's order of divisions
    for division, figures in sorted(
        view.factors.items(), key=lambda kv: svc.package.division_order(kv[0])
    ):
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
        svc = services()
        view = call(svc, acting(svc, as_user), *args, **kwargs)
    _print_plan(view, lang, svc)


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
    days: Annotated[
        int | None,
        typer.Option(help="工作日数，不少于规定天数 / working days, at least the set period"),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="发布日期，须为今天 YYYY-MM-DD / must be today")
    ] = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """立即发布公示，自次日起按法定工作日计算。 Publish the public notice now; its working days
    (official holiday calendar) count from the next day.

    示例 / Example:  huiqi plan notice 1 --days 5 --as dai
    """
    first = None
    if start is not None:
        with refuse_bad_input(lang):
            first = date_of(start, "--start")
    _plan_call(lang, as_user, plans.open_notice, plan_id, start=first, days=days)


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
            services(), plan_id, submitted_by=by, text=text, contact=contact, item_id=item
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
        fen, day = fen_of(amount, "--amount"), date_of(paid_on, "--paid-on")
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
        svc = services()
        plans.set_budget(
            svc,
            acting(svc, as_user),
            division=division,
            year=year,
            amount_fen=fen_of(amount, "AMOUNT"),
        )
    out().print(
        f"{division} {year}: {format_yuan(fen_of(amount, 'AMOUNT'), lang.value)}", markup=False
    )
