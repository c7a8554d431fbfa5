"""Alembic environment: the URL and connection come from huiqi, not from an ini file."""

from __future__ import annotations

from alembic import context

from huiqi.db.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through huiqi.db.migrate (huiqi db upgrade)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
