"""Organisations, users, the audit trail, the demo and the server."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from huiqi.cli.common import AsOpt, Lang, LangOpt, fail, out, refuse_bad_input
from huiqi.cli.flow_common import acting, services
from huiqi.config import get_settings
from huiqi.errors import InputError, Problem
from huiqi.fulfilment.roles import Role
from huiqi.money import format_yuan
from huiqi.service import divisions, orgs

if TYPE_CHECKING:
    from huiqi.service.users import UserView

org_app = typer.Typer(help="单位。 Organisations.", no_args_is_help=True)
user_app = typer.Typer(help="用户与角色。 Users and roles.", no_args_is_help=True)
audit_app = typer.Typer(help="审计追踪。 The audit trail.", no_args_is_help=True)

# -- organisations and users ----------------------------------------------------------


@org_app.command("add")
def org_add(
    code: Annotated[str, typer.Argument(help="统一社会信用代码 / credit code")],
    name: Annotated[str, typer.Argument(help="单位名称 / name")],
    kind: Annotated[str, typer.Option(help="cbec_enterprise, service_enterprise, park, …")],
    division: Annotated[
        str,
        typer.Option(
            help="税收申报缴纳地：政策包县市区（园区）名单之一（huiqi org divisions）"
            " / tax-filing division, one of the policy's list"
        ),
    ],
    as_user: AsOpt,
    filed: Annotated[bool, typer.Option(help="已在线上综合服务平台备案 / filed")] = False,
    connected: Annotated[bool, typer.Option(help="已与平台对接 / connected")] = False,
    lang: LangOpt = Lang.zh,
) -> None:
    """登记单位。 Register an organisation.

    示例 / Example:  huiqi org add 91431000MA4T123451 郴州甲公司 --kind cbec_enterprise --division 北湖区 --as admin
    """
    with refuse_bad_input(lang):
        svc = services()
        view = orgs.add_org(
            svc,
            acting(svc, as_user),
            code=code,
            name=name,
            kind=kind,
            division=division,
            platform_filed=filed,
            platform_connected=connected,
        )
    out().print(f"{view.id} {view.credit_code} {view.name} · {view.division}", markup=False)


@org_app.command("divisions")
def org_divisions(as_user: AsOpt, lang: LangOpt = Lang.zh) -> None:
    """列出政策包的县市区（园区）名单，以及数据库中不在名单内的县市区（旧的自由文本）；有则退出码 1。
    List the policy's paying divisions and any division held in the database outside the list
    (free text from before it); exit code 1 when there is one.

    示例 / Example:  huiqi org divisions --as admin
    """
    with refuse_bad_input(lang):
        svc = services()
        outside = divisions.outside_the_list(svc, acting(svc, as_user))
    console = out()
    for d in svc.package.policy.divisions:
        console.print(f"{d.id}\t{d.code or '—'}\t{d.zh}\t{d.en}", markup=False)
    for name, holders in outside.items():
        console.print(
            f"不在名单内 / not in the list: {name!r} — {', '.join(holders)}", markup=False
        )
    if outside:
        raise typer.Exit(1)


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
        auth.set_password(services(), None, username, password)
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
        svc = services()
        actor = acting(svc, as_user) if as_user else None
        user_id = orgs.add_user(
            svc, actor, username=username, display_name=name or username, roles=roles, org_code=org
        )
    out().print(f"{user_id} {username} {', '.join(r.value for r in roles)}", markup=False)


AsAdmin = Annotated[
    str | None,
    typer.Option("--as", help="管理员；省略即服务器上的命令行 / admin; omitted: the server's CLI"),
]


def _user_line(view: UserView) -> str:
    state = (
        "在用 / active"
        if view.active
        else f"已停用 / disabled {view.disabled_at} ({view.disabled_by})"
    )
    return f"{view.username} {', '.join(view.roles)} · {state}"


@user_app.command("disable")
def user_disable(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    as_user: AsAdmin = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """停用用户：其会话与令牌随即失效，不能登录（最后一位管理员不能停用）。 Disable a user.

    示例 / Example:  huiqi user disable alice --as admin
    """
    from huiqi.service import users

    with refuse_bad_input(lang):
        svc = services()
        view = users.disable_user(svc, acting(svc, as_user) if as_user else None, username)
    out().print(_user_line(view), markup=False)


@user_app.command("enable")
def user_enable(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    as_user: AsAdmin = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """重新启用用户（凭原密码登录；原有会话与令牌不恢复）。 Enable a user again.

    示例 / Example:  huiqi user enable alice --as admin
    """
    from huiqi.service import users

    with refuse_bad_input(lang):
        svc = services()
        view = users.enable_user(svc, acting(svc, as_user) if as_user else None, username)
    out().print(_user_line(view), markup=False)


@user_app.command("tokens")
def user_tokens(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    as_user: AsOpt,
    lang: LangOpt = Lang.zh,
) -> None:
    """列出用户的访问令牌（名称、创建与撤销时间，不含令牌本身）。 List a user's tokens.

    示例 / Example:  huiqi user tokens alice --as admin
    """
    from huiqi.service import auth

    with refuse_bad_input(lang):
        svc = services()
        tokens = auth.list_tokens(svc, acting(svc, as_user), username)
    console = out()
    for token in tokens:
        state = f"已撤销 / revoked {token.revoked_at}" if token.revoked else "有效 / live"
        console.print(f"{token.id} {token.name} · {token.created_at} · {state}", markup=False)
    if not tokens:
        console.print(f"{username}: 没有令牌 / no tokens", markup=False)


# -- audit ----------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(lang: LangOpt = Lang.zh) -> None:
    """检查审计链、链外检查点与台账（发现被改动或删除的记录）。 Verify the audit chain.

    Checks every link, every keyed checkpoint outside the database (entries cut off the
    end, old entries rewritten with recomputed hashes), and that every ledger and
    disbursement row is accounted for by an audit entry.

    示例 / Example:  huiqi audit verify
    """
    from huiqi.service import audit_check

    with refuse_bad_input(lang):
        report = audit_check.verify(services())
    totals = [
        f"台账 / ledger: {report.ledger.rows} 行 rows, {format_yuan(report.ledger.stored_fen)}"
        f"（审计记录 / audited {format_yuan(report.ledger.audited_fen)}）",
        f"拨付 / disbursed: {report.payments.rows} 笔 rows, "
        f"{format_yuan(report.payments.stored_fen)}"
        f"（审计记录 / audited {format_yuan(report.payments.audited_fen)}）",
    ]
    if report.problems:
        fail(
            [
                f"审计链被破坏 / audit chain broken ({report.entries})",
                *report.problems,
                report.anchoring,
                *totals,
            ]
        )
    console = out()
    console.print(
        f"审计链完整：{report.entries} 条记录 / audit chain intact: {report.entries} entries",
        markup=False,
    )
    for line in [report.anchoring, *totals]:
        console.print(line, markup=False)


@audit_app.command("checkpoint")
def audit_checkpoint(lang: LangOpt = Lang.zh) -> None:
    """把审计链当前位置写入链外检查点文件（供定时任务调用）。 Write a keyed checkpoint now.

    Appends the chain head's number and hash, with an HMAC under the audit key, to the
    checkpoint file (HUIQI_AUDIT_CHECKPOINTS). Run it from cron, e.g. hourly.

    示例 / Example:  huiqi audit checkpoint
    """
    from huiqi.service import audit_check

    with refuse_bad_input(lang):
        point = audit_check.checkpoint(services())
    out().print(
        f"检查点已写入 / checkpoint written: #{point.seq} {point.hash[:16]}… {point.at}",
        markup=False,
    )


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
    from huiqi.service import audit_check
    from huiqi.service import demo as demo_data

    with refuse_bad_input(lang):
        settings = get_settings()
        if reset:
            reset_database(settings.database_url)
        svc = services()
        if reset:  # the checkpoints of the chain just dropped no longer apply
            audit_check.restart_after_reset(svc)
        ids = demo_data.load(svc, date.today())
    console = out()
    console.print("演示数据已装入 / demo loaded:", markup=False)
    for name, value in ids.items():
        console.print(f"  {name}: {value}", markup=False)
    postponed = ids.get("notice_postponed_for_year")
    if postponed:
        console.print(
            f"注意：{postponed} 年法定节假日安排尚未收录（chinesecalendar），2025 年度方案暂不公示，"
            f"留作草稿 / note: the {postponed} holiday schedule is not in the calendar yet, so the "
            "2025 plan is left as a draft instead of being put on public notice",
            markup=False,
        )
    console.print(
        "用户 / users: admin rui dai fang cai ou shi shen alice charlie pan xie jia zi yong yi"
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

    from huiqi.web.logs import log_config

    settings = get_settings()
    services()  # migrate a new SQLite database before the first request
    uvicorn.run(
        "huiqi.web.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # The app believes forwarded headers only from HUIQI_TRUSTED_PROXIES (its own
        # middleware); uvicorn's would trust 127.0.0.1 by default.
        proxy_headers=False,
        server_header=False,
        log_config=log_config(settings.log_format),
        # On SIGTERM, stop accepting and let the requests in flight finish (up to this long).
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
