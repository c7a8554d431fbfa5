"""The whole workflow from the command line, on a fresh SQLite file created on first use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from huiqi.cli import app
from huiqi.cli.flow_common import services
from huiqi.config import get_settings
from huiqi.db.tables import Organisation
from huiqi.service import bootstrap
from huiqi.service.uow import Services

ROOT = Path(__file__).parent.parent
runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "var" / "huiqi.sqlite3"
    monkeypatch.setenv("HUIQI_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("HUIQI_DATA_DIR", str(path.parent))  # attachments, audit checkpoints
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


class Clock:
    """The services' clock for a flow that must wait for a public notice to run its course."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def test_a_newcomer_runs_the_whole_flow_from_the_command_line(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(datetime(2024, 1, 2, 2, 0, tzinfo=UTC))  # Tuesday 2 January, 10:00 in Beijing
    monkeypatch.setattr(bootstrap, "Services", partial(Services, clock=clock))
    ok("user", "add", "admin", "--role", "admin")
    assert database.is_file()  # created on first use, no set-up
    ok(
        "org",
        "add",
        "91431000MA4T123451",
        "郴州湘南优品跨境电商有限公司",
        "--kind",
        "cbec_enterprise",
        "--division",
        "北湖区",
        "--filed",
        "--connected",
        "--as",
        "admin",
    )
    for name, role in (
        ("alice", "applicant"),
        ("rui", "commerce_reviewer"),
        ("dai", "plan_drafter"),
        ("fang", "finance_reviewer"),
        ("cai", "finance_reviewer"),  # pays: the reviewer does not (separation of duties)
        ("ou", "office_reviewer"),
        ("shi", "city_approver"),
    ):
        extra = ["--org", "91431000MA4T123451"] if role == "applicant" else []
        ok("user", "add", name, "--role", role, *extra, "--as", "admin")

    out = ok(
        "apply", str(ROOT / "examples/exporter.yaml"), "--clauses", "4.1a,7.1", "--as", "alice"
    )
    assert "已提交" in out and "200,000.00元" in out  # 4.1a: 268,500 USD ≥ 20万 → 20万元
    out = ok("review", "verify", "1", "--reason", "材料齐全", "--as", "rui", "--lang", "en")
    assert "verified" in out
    out = ok("replay", "1", "--as", "rui")
    assert "重放结果与原决定逐字节一致" in out
    out = ok("plan", "draft", "--year", "2023", "--title", "2023年度分配方案", "--as", "dai")
    assert "草稿" in out and "210,690.00元" in out  # 20万 + 30% × 52,300 − 5,000 (北湖区)
    result = runner.invoke(app, ["plan", "notice", "1", "--days", "1", "--as", "dai"])
    assert result.exit_code == 2 and "days" in result.stderr  # shorter than the set period
    out = ok("plan", "notice", "1", "--as", "dai")
    assert "published 2024-01-02 10:00" in out  # the moment, in Beijing time
    assert "until 2024-01-09 24:00" in out  # five working days: 3, 4, 5, 8 and 9 January
    result = runner.invoke(app, ["plan", "close-notice", "1", "--as", "dai"])
    assert result.exit_code != 0 and "2024-01-09" in result.stderr  # not yet over
    clock.now = datetime(2024, 1, 10, 1, 0, tzinfo=UTC)  # 09:00 the next morning
    ok("plan", "close-notice", "1", "--as", "dai")
    ok("plan", "review", "1", "--approve", "--as", "fang")
    ok("plan", "review", "1", "--approve", "--as", "ou")
    out = ok("plan", "approve", "1", "--as", "shi")
    assert "已批准" in out
    item_ids = re.findall(r"│ (\d+)\s+│ 郴州", out)
    for item in item_ids:
        ok(
            "plan",
            "pay",
            item,
            "--amount",
            "0.01",
            "--paid-on",
            "2024-02-01",
            "--reference",
            f"BH-{item}",
            "--as",
            "cai",
        )
    out = ok("audit", "verify")
    assert "审计链完整" in out


def test_the_workflow_refuses_the_wrong_role_with_exit_2(database: Path) -> None:
    ok("user", "add", "admin", "--role", "admin")
    result = runner.invoke(
        app,
        [
            "org",
            "add",
            "91431000MA4T123451",
            "x",
            "--kind",
            "cbec_enterprise",
            "--division",
            "北湖区",
            "--as",
            "nobody",
        ],
    )
    assert result.exit_code == 2
    assert "nobody" in result.stderr
    result = runner.invoke(app, ["user", "add", "x", "--role", "wizard", "--as", "admin"])
    assert result.exit_code == 2 and "wizard" in result.stderr


def test_an_administrator_disables_and_enables_a_user_and_lists_its_tokens(
    database: Path,
) -> None:
    ok("user", "add", "admin", "--role", "admin")
    last = runner.invoke(app, ["user", "disable", "admin", "--as", "admin"])
    assert last.exit_code == 2 and "最后一位在用的管理员" in last.stderr
    ok("user", "add", "rui", "--role", "commerce_reviewer", "--as", "admin")
    assert "已停用 / disabled" in ok("user", "disable", "rui", "--as", "admin")
    org = ["org", "add", "91431000MA4T123451", "x", "--kind", "cbec_enterprise"]
    refused = runner.invoke(app, [*org, "--division", "北湖区", "--as", "rui"])
    assert refused.exit_code == 2 and "rui" in refused.stderr  # a disabled user cannot act
    assert "没有令牌 / no tokens" in ok("user", "tokens", "rui", "--as", "admin")
    assert "在用 / active" in ok("user", "enable", "rui")  # the server's command line


def test_the_demo_loads_a_year_in_every_state(database: Path) -> None:
    out = ok("demo")
    assert "plan_2025" in out
    listing = ok("applications", "--as", "rui")
    for state in ("草稿", "已提交", "已退回", "已重新提交", "审核通过", "不予支持"):
        assert state in listing
    verified = ok("audit", "verify")
    assert "审计链完整" in verified and "anchored:" in verified  # the demo's approval anchored it
    assert re.search(r"ledger: \d+ 行 rows", verified)
    assert (database.parent / "audit-checkpoints.jsonl").exists()
    assert (database.parent / "audit.key").stat().st_mode & 0o777 == 0o600
    again = runner.invoke(app, ["demo"])
    assert again.exit_code == 2  # not into a database that has data


def test_backup_and_restore_from_the_command_line_check_the_chain_first(
    database: Path, tmp_path: Path
) -> None:
    import gc
    import sqlite3

    def closed() -> None:
        """As if each command had run in its own process: a restore needs the database
        closed by every other one (the commands before leave engines to the collector)."""
        gc.collect()

    ok("user", "add", "admin", "--role", "admin")
    ok("user", "add", "rui", "--role", "commerce_reviewer", "--as", "admin")
    ok("audit", "checkpoint")
    bundle = tmp_path / "backups" / "huiqi.tar.gz"
    assert "附件 / attachments 0" in ok("db", "backup", str(bundle))
    closed()
    refused = runner.invoke(app, ["db", "restore", str(bundle)])
    assert refused.exit_code == 2 and "replace=True" in refused.stderr
    assert "已恢复 / restored" in ok("db", "restore", str(bundle), "--replace")
    assert "审计链完整" in ok("audit", "verify")

    conn = sqlite3.connect(database)  # edited after the backup was taken: a new backup
    with conn:
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    conn.close()
    tampered = tmp_path / "backups" / "tampered.tar.gz"
    ok("db", "backup", str(tampered))
    closed()
    refused = runner.invoke(app, ["db", "restore", str(tampered), "--replace"])
    assert refused.exit_code == 2 and "--force" in refused.stderr and "#1" in refused.stderr
    assert "forced past" in ok("db", "restore", str(tampered), "--replace", "--force")


def test_org_add_refuses_a_division_outside_the_list_and_org_divisions_lists_it(
    database: Path,
) -> None:
    ok("user", "add", "admin", "--role", "admin")
    org = ["org", "add", "91431000MA4T123451", "x", "--kind", "cbec_enterprise", "--as", "admin"]
    refused = runner.invoke(app, [*org, "--division", "北湖"])
    assert refused.exit_code == 2
    assert "division" in refused.stderr and "北湖" in refused.stderr
    assert "北湖区" in refused.stderr  # the names allowed are listed
    listing = ok("org", "divisions", "--as", "admin")
    assert re.search(r"^beihu\s+431002\s+北湖区\s+Beihu District$", listing, re.M)
    assert "不在名单内" not in listing
    ok(*org, "--division", "北湖区")
    with services().transaction() as s:  # as a row from before the list: free text
        s.execute(update(Organisation).values(division="北湖"))
    outside = runner.invoke(app, ["org", "divisions", "--as", "admin"])
    assert outside.exit_code == 1
    assert "'北湖' — organisation 91431000MA4T123451" in outside.stdout
