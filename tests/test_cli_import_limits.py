"""``huiqi import`` on files too big to read: a clean refusal and exit 2, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from huiqi.cli import app
from huiqi.config import get_settings

runner = CliRunner()
CODE = "91431000MA4T123451"
HEADER = "统一社会信用代码,企业名称,年度,出口额（美元）\n"


@pytest.fixture
def reviewer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh SQLite file with an administrator and rui, a commerce-bureau reviewer."""
    monkeypatch.setenv("HUIQI_DATABASE_URL", f"sqlite:///{tmp_path / 'huiqi.sqlite3'}")
    get_settings.cache_clear()
    for args in (
        ["user", "add", "admin", "--role", "admin"],
        ["user", "add", "rui", "--role", "commerce_reviewer", "--as", "admin"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    yield
    get_settings.cache_clear()


def test_a_19_mb_csv_field_exits_2_with_the_row_and_no_traceback(
    reviewer: None, tmp_path: Path
) -> None:
    big = tmp_path / "customs.csv"
    big.write_text(HEADER + f"{CODE},{'甲' * (19 * 1024 * 1024 // 3)},2025,1000\n", "utf-8")
    result = runner.invoke(app, ["import", str(big), "--kind", "customs", "--as", "rui"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # typer.Exit, not a crash
    assert "Traceback" not in result.output
    assert "字段过长（最多 32767 字）" in result.stderr and "第2行" in result.stderr
    assert "customs.csv · 第2行 / row 2" in result.stderr


def test_a_file_over_the_import_limit_is_refused_before_it_is_read(
    reviewer: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUIQI_IMPORT_MAX_BYTES", "2048")
    get_settings.cache_clear()
    big = tmp_path / "customs.csv"
    big.write_text(HEADER + f"{CODE},郴州甲公司,2025,1000\n" * 60, "utf-8")
    result = runner.invoke(app, ["import", str(big), "--kind", "customs", "--as", "rui"])
    assert result.exit_code == 2, result.output
    assert "文件过大" in result.stderr and "too large" in result.stderr
