"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from huiqi.db.migrate import current, head
from huiqi.db.tables import Base


def test_the_database_is_at_the_latest_migration(engine: Engine) -> None:
    assert current(engine) == head()


def test_migrations_and_models_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
