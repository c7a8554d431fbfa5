"""What a newcomer does after ``huiqi demo``: import the bundled customs file, run proactive
matching, let the matched enterprise apply, draft a plan, and get the workbook, the notice and
the letters — from the command line, on a fresh SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from huiqi.cli import app as huiqi
from huiqi.cli import import_cmds
from huiqi.config import get_settings
from huiqi.service.demo import ORGS, SCOPE

from .conftest import EXAMPLES, pdf_text, squashed

runner = CliRunner()
TEA = next(o for o in ORGS if o.key == "tea")


def documents_app() -> typer.Typer:
    """The commands of this issue, registered as ``huiqi.cli`` is asked to register them."""
    app = typer.Typer(no_args_is_help=True)

    @app.callback()
    def _root() -> None:
        """huiqi"""

    import_cmds.register(app)
    return app


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "var" / "huiqi.sqlite3"
    monkeypatch.setenv("HUIQI_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("HUIQI_DATA_DIR", str(path.parent))  # attachments, audit checkpoints
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def ok(app: typer.Typer, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def test_a_newcomer_goes_from_official_data_to_documents(database: Path, tmp_path: Path) -> None:
    mine = documents_app()
    ok(huiqi, "demo")
    sample = str(EXAMPLES / "customs-2025.xlsx")
    out = ok(mine, "import", sample, "--kind", "customs", "--dry-run", "--as", "rui")
    assert "接受 6 · 拒绝 0 · 跳过 1" in out and "可以导入（试运行，未写入）" in out
    out = ok(mine, "import", sample, "--kind", "customs", "--as", "rui")
    assert "已导入：新增 24，更新 0，未变 0" in out
    out = ok(mine, "import", sample, "--kind", "customs", "--as", "rui")
    assert "已导入过，未作任何更改" in out
    twin = ok(
        mine, "import", str(EXAMPLES / "customs-2025.csv"), "--kind", "customs", "--as", "rui"
    )
    assert "新增 0，更新 0，未变 24" in twin

    out = ok(mine, "official", "6", "--as", "rui")  # the foundry declared more than customs saw
    assert "31200000" in out and "30850000" in out and "-350000" in out

    letters, sms = tmp_path / "letters", tmp_path / "sms.csv"
    out = ok(
        mine,
        "match",
        "--year",
        "2025",
        "--letters",
        str(letters),
        "--csv",
        str(sms),
        "--on",
        "2026-03-02",
        "--as",
        "rui",
    )
    assert "待告知 1" in out
    letter = (letters / f"{TEA.code}.zh.txt").read_text(encoding="utf-8")
    assert TEA.name in letter and "预计100,000.00元" in letter
    assert (letters / f"{TEA.code}.en.txt").is_file()
    assert TEA.code in sms.read_text(encoding="utf-8-sig")

    facts = tmp_path / "tea.json"
    facts.write_text(
        json.dumps(
            {
                "award_year": 2025,
                "applicant": {"credit_code": TEA.code, "name": TEA.name, "kind": TEA.kind, **SCOPE},
                "trade": {"export_usd": "23450.50"},
            }
        ),
        encoding="utf-8",
    )
    out = ok(huiqi, "apply", str(facts), "--clauses", "4.1a", "--as", TEA.user)
    app_id = out.split()[0].lstrip("#")
    ok(huiqi, "review", "verify", app_id, "--reason", "与海关数据一致", "--as", "rui")
    out = ok(
        huiqi, "plan", "draft", "--year", "2025", "--title", "2025年度第二批分配方案", "--as", "dai"
    )
    assert "100,000.00元" in out
    plan_id = out.split()[1].lstrip("#")
    ok(huiqi, "plan", "notice", plan_id, "--as", "dai")  # published now

    workbook = tmp_path / "plan.xlsx"
    ok(mine, "documents", "plan", plan_id, "--out", str(workbook), "--as", "dai")
    notice = tmp_path / "notice.pdf"
    ok(mine, "documents", "notice", plan_id, "--out", str(notice))
    ok(mine, "documents", "notice", plan_id, "--out", str(tmp_path / "notice.html"))
    out = ok(
        mine, "documents", "letters", "--plan", plan_id, "--out", str(tmp_path / "l"), "--as", "rui"
    )
    assert "decision-HQ-2025-A" in out
    ok(mine, "documents", "report", "--year", "2025", "--out", str(tmp_path / "r"), "--as", "shen")
    assert workbook.stat().st_size > 5_000
    text = squashed(pdf_text(notice))
    assert TEA.name in text and "100,000.00" in text and "第4.1a条" in text
    assert (tmp_path / "r" / "report-2025.pdf").is_file()


def test_a_rejected_file_exits_2_and_lists_each_row(database: Path, tmp_path: Path) -> None:
    mine = documents_app()
    ok(huiqi, "demo")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "统一社会信用代码,年度,出口额（美元）\n91431000MA4T123452,2025,abc\n", encoding="utf-8"
    )
    result = runner.invoke(mine, ["import", str(bad), "--kind", "customs", "--as", "rui"])
    assert result.exit_code == 2
    assert "校验位错误" in result.stdout and "应为数字" in result.stdout
    result = runner.invoke(mine, ["import", str(bad), "--kind", "customs", "--as", "alice"])
    assert result.exit_code == 2 and "此操作需要以下角色之一" in result.stderr


def test_every_command_says_how_to_use_it_in_both_languages() -> None:
    mine = documents_app()
    for args in (
        ["import"],
        ["official"],
        ["match"],
        ["documents", "plan"],
        ["documents", "notice"],
        ["documents", "letters"],
        ["documents", "report"],
    ):
        result = runner.invoke(mine, [*args, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        assert "示例 / Example:  huiqi " + " ".join(args) in result.stdout
