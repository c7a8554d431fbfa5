"""``huiqi db …``: migrations of the configured database (HUIQI_DATABASE_URL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from huiqi.cli.common import fail, out
from huiqi.config import get_settings
from huiqi.db import migrate
from huiqi.db.engine import make_engine

app = typer.Typer(help="数据库：升级与查看版本。 The database: migrations.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """把数据库升级到最新结构。 Bring the database to the latest migration.

    示例 / Example:  HUIQI_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/test huiqi db upgrade
    """
    settings = get_settings()
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    out().print(
        f"{engine.url.render_as_string(hide_password=True)} → {migrate.current(engine)}",
        markup=False,
    )


@app.command()
def current() -> None:
    """显示数据库当前结构版本。 Show the database's migration.

    示例 / Example:  huiqi db current
    """
    engine = make_engine(get_settings().database_url)
    now, head = migrate.current(engine), migrate.head()
    state = "最新 / up to date" if now == head else f"待升级到 {head} / behind {head}"
    out().print(f"{now or '（空库 / empty）'} · {state}", markup=False)


@app.command()
def backup(
    dest: Annotated[Path, typer.Argument(help="备份文件 / backup file (.tar.gz)")],
    schema: Annotated[
        str | None, typer.Option(help="PostgreSQL 模式（默认取自连接串） / PostgreSQL schema")
    ] = None,
) -> None:
    """在线备份数据库与附件（运行中也可）。 Back up the database and the attachments, online.

    SQLite: the online backup API; PostgreSQL: pg_dump -Fc (or the exact command to run
    if pg_dump is missing). One .tar.gz with a manifest of SHA-256s.

    示例 / Example:  huiqi db backup backups/huiqi-2026-03-01.tar.gz
    """
    from huiqi.db.backup import BackupRefused
    from huiqi.service import backups

    settings = get_settings()
    try:
        info = backups.backup(settings.database_url, settings.data_dir, dest, schema=schema)
    except BackupRefused as exc:
        fail([exc.zh, exc.en])
        return
    out().print(
        f"{info.path} · {info.database} {info.revision} · 审计 / audit {info.audit_entries}"
        f" · 附件 / attachments {info.attachments} · {info.size_bytes} bytes",
        markup=False,
    )


@app.command()
def restore(
    src: Annotated[Path, typer.Argument(help="备份文件 / backup file")],
    replace: Annotated[bool, typer.Option("--replace", help="覆盖现有数据库 / overwrite")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="审计核查不通过也恢复 / restore a backup that fails the check"
        ),
    ] = False,
    schema: Annotated[
        str | None, typer.Option(help="PostgreSQL 模式（默认取自连接串） / PostgreSQL schema")
    ] = None,
) -> None:
    """从备份恢复数据库与附件，先核查审计链（先停止所有 huiqi 进程）。 Restore a backup.

    The copy's audit chain, its checkpoints and its ledger are checked first; a backup that
    fails is refused unless --force. PostgreSQL: into an empty database or schema.

    示例 / Example:  huiqi db restore backups/huiqi-2026-03-01.tar.gz --replace
    """
    from huiqi.db.backup import BackupRefused
    from huiqi.service import anchors, backups

    settings = get_settings()
    try:
        info = backups.restore(
            settings.database_url,
            settings.data_dir,
            src,
            anchor=anchors.anchor_from(settings),
            replace=replace,
            force=force,
            schema=schema,
        )
    except BackupRefused as exc:
        fail([exc.zh, exc.en])
        return
    console = out()
    console.print(
        f"已恢复 / restored: {info.database} · 审计 / audit {info.audit_entries}"
        f" · 附件 / attachments {info.attachments}",
        markup=False,
    )
    for problem in info.problems:
        console.print(f"  强制恢复，核查发现 / forced past: {problem}", markup=False)
