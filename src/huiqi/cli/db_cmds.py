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
    dest: Annotated[Path, typer.Argument(help="备份文件 / backup file")],
) -> None:
    """在线备份 SQLite 数据库（运行中也可）。 Back up the SQLite database (online).

    示例 / Example:  huiqi db backup backups/huiqi-2026-03-01.sqlite3
    """
    from huiqi.db.backup import BackupRefused, backup_sqlite

    settings = get_settings()
    path = settings.sqlite_path()
    if path is None:
        fail(
            [
                "PostgreSQL 请用 pg_dump（见 huiqi.db.backup 说明）",
                "for PostgreSQL use pg_dump (see huiqi.db.backup)",
            ]
        )
        return
    try:
        info = backup_sqlite(path, dest)
    except BackupRefused as exc:
        fail([exc.zh, exc.en])
        return
    out().print(f"{info}", markup=False)


@app.command()
def restore(
    src: Annotated[Path, typer.Argument(help="备份文件 / backup file")],
    replace: Annotated[bool, typer.Option("--replace", help="覆盖现有数据库 / overwrite")] = False,
) -> None:
    """从备份恢复 SQLite 数据库（先停止所有 huiqi 进程）。 Restore the SQLite database.

    示例 / Example:  huiqi db restore backups/huiqi-2026-03-01.sqlite3 --replace
    """
    from huiqi.db.backup import BackupRefused, restore_sqlite

    path = get_settings().sqlite_path()
    if path is None:
        fail(
            [
                "PostgreSQL 请用 pg_restore（见 huiqi.db.backup 说明）",
                "for PostgreSQL use pg_restore (see huiqi.db.backup)",
            ]
        )
        return
    try:
        info = restore_sqlite(src, path, replace=replace)
    except BackupRefused as exc:
        fail([exc.zh, exc.en])
        return
    out().print(f"{info}", markup=False)
