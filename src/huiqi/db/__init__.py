"""Persistence: SQLAlchemy 2 tables, engines (SQLite default, PostgreSQL), Alembic migrations."""
