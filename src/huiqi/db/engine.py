"""Database engines: SQLite by default (serialised writers, WAL, fsync), PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection


def make_engine(url: str, threads: int = 8, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files and their folder are created on first use.

    On PostgreSQL the pool keeps a connection for each of the ``threads`` that use the engine
    at once, and two more (the server passes its ``HUIQI_THREADS``; its sign-in threads and
    the event loop use the two), so connections are reused, not opened and closed under load."""
    if url.startswith("sqlite"):
        return _sqlite(url, **kwargs)
    options = {"pool_size": threads + 2, "max_overflow": 10, "pool_recycle": 1800, **kwargs}
    return create_engine(url, **options)


def _sqlite(url: str, **kwargs: Any) -> Engine:
    path = url.removeprefix("sqlite:///")
    if url.startswith("sqlite:///") and path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front, so two transactions never both read a cap's room
        # and then both write; readers do not block.
        readonly = conn.get_execution_options().get("huiqi_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine
