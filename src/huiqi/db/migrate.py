"""Running Alembic migrations from code: ``huiqi db upgrade`` and the tests use this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``, in one transaction."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def reset(url: str) -> None:
    """Empty a database and bring it to the latest migration again, for ``huiqi demo --reset``:
    drop every huiqi table, type and Alembic's version, then migrate (on PostgreSQL too)."""
    from huiqi.db.engine import make_engine

    engine = make_engine(url)
    try:
        drop_everything(engine)
        upgrade(engine)
    finally:
        engine.dispose()


def drop_everything(engine: Engine) -> None:
    """Drop huiqi's tables, Alembic's version and, on PostgreSQL, the enum types the
    migrations made (in the connection's schema), in one transaction."""
    from sqlalchemy import text

    from huiqi.db.tables import Base

    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        if engine.dialect.name == "postgresql":
            for name in sorted(_enum_types()):
                connection.execute(text(f'DROP TYPE IF EXISTS "{name}" CASCADE'))


def _enum_types() -> set[str]:
    """The PostgreSQL enum types huiqi's tables use (``drop_all`` can leave some behind)."""
    from sqlalchemy import Enum

    from huiqi.db.tables import Base

    return {
        column.type.name
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, Enum) and column.type.name
    }
