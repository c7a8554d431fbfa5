"""Building the services from settings: the one place engines and packages are created."""

from __future__ import annotations

from pathlib import Path

from huiqi.config import Settings
from huiqi.db import migrate
from huiqi.db.engine import make_engine
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import load_package
from huiqi.service import anchors, audit
from huiqi.service.errors import Conflict
from huiqi.service.uow import Services


def build_services(settings: Settings, policy: Path | None = None) -> Services:
    """Services on the configured database. A SQLite database is created and migrated on first
    use; PostgreSQL must be migrated explicitly (``huiqi db upgrade``)."""
    engine = make_engine(settings.database_url, threads=settings.threads)
    if migrate.current(engine) != migrate.head():
        if engine.dialect.name == "sqlite":
            migrate.upgrade(engine)
        else:
            raise Conflict(
                "数据库尚未升级到最新结构，请先运行 huiqi db upgrade",
                "the database is not at the latest migration: run huiqi db upgrade",
            )
    services = Services(
        engine=engine,
        package=load_package(policy or DEFAULT_POLICY),
        notice_days=settings.notice_days,
        anchor=anchors.anchor_from(settings),
    )
    with services.transaction() as s:
        audit.catch_up_head(s)
    return services
