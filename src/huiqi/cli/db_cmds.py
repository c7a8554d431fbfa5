"""``huiqi db …``: migrations of the configured database (HUIQI_DATABASE_URL)."""

from __future__ import annotations

import typer

from huiqi.cli.common import out
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
