"""``huiqi demo --reset`` empties the database and loads the demo again, on PostgreSQL too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from huiqi.cli import app
from huiqi.config import get_settings

from .conftest import PG_URL

runner = CliRunner()


@pytest.fixture
def fresh_pg_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    schema = f"huiqi_demo_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    monkeypatch.setenv("HUIQI_DATABASE_URL", f"{PG_URL}?options=-csearch_path%3D{schema}")
    monkeypatch.setenv("HUIQI_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        yield schema
    finally:
        get_settings.cache_clear()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def test_demo_reset_on_postgresql_drops_migrates_and_loads_again(
    fresh_pg_schema: str, tmp_path: Path
) -> None:
    run("db", "upgrade")
    first = run("demo")
    again = run("demo", "--reset")  # before: dropped every table, then asked for db upgrade
    assert "plan_2025" in again and first.splitlines()[1:] == again.splitlines()[1:]
    verified = run("audit", "verify")
    assert "审计链完整" in verified and "anchored:" in verified  # the reset rebased the anchors
    lines = (tmp_path / "audit-checkpoints.jsonl").read_text().splitlines()
    assert sum('"kind":"restart"' in line for line in lines) == 1
