"""Running Alembic migrations from code: ``huiqi db upgrade`` and the tests use this."""

from __future__ import annotations

from collections.abc import Callable
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
    """Bring the database to ``revision``, in one transaction (see :func:`_migrating`)."""
    _migrating(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to ``revision``, in one transaction."""
    _migrating(engine, lambda config: command.downgrade(config, revision))


def _migrating(engine: Engine, run: Callable[[Config], None]) -> None:
    """Run migrations in one transaction.

    SQLite changes a table's constraints by copying it (Alembic's batch mode); with foreign
    keys enforced, dropping the old copy of a table that others refer to would fail. So on
    SQLite they are off while the migrations run, and every reference is checked before the
    commit (``PRAGMA foreign_key_check``): a migration that leaves one dangling is rolled back."""
    config = alembic_config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw = connection.connection.driver_connection
        if sqlite and raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, where it counts
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                run(config)
                if sqlite:
                    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if dangling:
                        raise RuntimeError(f"migration left dangling references: {dangling[:5]}")
        finally:
            if sqlite and raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


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
