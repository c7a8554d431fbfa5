"""The command line: every command works on the examples, explains itself, refuses bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from huiqi.cli import app

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_evaluate_prints_a_table_with_totals_for_every_example(path: Path, lang: str) -> None:
    code, out, _ = run("evaluate", str(path), "--lang", lang)
    assert code == 0
    assert ("应兑现合计" if lang == "zh" else "Owed (fixed, computed, external)") in out
    assert "2.1" in out and "7.4" in out


def test_evaluate_json_carries_policy_version_hash_amounts_and_explanations() -> None:
    code, out, _ = run("evaluate", str(ROOT / "examples/exporter.yaml"), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["policy"]["id"] == "chenzhou-2021-3"
    assert len(data["policy"]["sha256"]) == 64
    assert data["award_year"] == 2023
    by_id = {c["clause"]: c for c in data["clauses"]}
    assert by_id["4.1a"]["amount_fen"] == 10_000_000  # 20万 tier less the 10万 paid in 2021
    assert by_id["6.2"]["amount_yuan"] == "17763.33"
    assert by_id["7.1"]["amount_fen"] == 1_069_000  # 30% of 52,300 less 5,000 from 北湖区
    assert any("从优不重复" in line for line in by_id["7.1"]["explanation_text"])
    assert by_id["4.1a"]["explanation"]["key"] == "clause"


def test_explain_shows_every_step_of_one_clause_in_english() -> None:
    code, out, _ = run("explain", str(ROOT / "examples/exporter.yaml"), "6.2", "--lang", "en")
    assert code == 0
    assert "Clause 6.2" in out
    assert "3.65% (on 2023-03-15)" in out
    assert "292 days" in out
    assert "CNY 17,763.33" in out


def test_switches_change_the_reading_and_are_reported() -> None:
    code, out, _ = run(
        "explain", str(ROOT / "examples/exporter.yaml"), "6.2", "--switch", "day_basis=act_365"
    )
    assert code == 0
    assert "/ 365" in out
    assert "17,520.00元" in out  # 3,000,000 × 3.65% × 20% × 292 / 365


def test_a_year_outside_the_policy_is_refused_with_exit_2() -> None:
    code, _, err = run("evaluate", str(ROOT / "examples/exporter.yaml"), "--year", "2026")
    assert code == 2
    assert "$.award_year = 2026" in err
    assert "2021—2025" in err


def test_bad_facts_exit_2_with_one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "award_year: 2022\n"
        "applicant: {credit_code: 91431000MA4T123450, name: x, kind: cbec_enterprise}\n"
        "trade: {export_usd: -3}\n",
        encoding="utf-8",
    )
    code, out, err = run("evaluate", str(bad), "--lang", "en")
    assert code == 2
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("  $")]
    assert len(lines) == 2
    assert any("$.applicant.credit_code" in line and "check character" in line for line in lines)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("explain", "examples/exporter.yaml", "9.9"), "没有该条款"),
        (("evaluate", "examples/exporter.yaml", "--switch", "day_basis=act_999"), "未知的开关"),
        (("evaluate", "no/such/file.yaml"), "文件不存在"),
        (("check", "--policy", "no/such/package"), "policy.yaml"),
    ],
)
def test_other_bad_input_exits_2_with_a_reason(args: tuple[str, ...], fragment: str) -> None:
    code, _, err = run(*[str(ROOT / a) if a.startswith("examples/") else a for a in args])
    assert code == 2
    assert fragment in err


def test_clauses_lists_every_clause_with_kind_and_parameters() -> None:
    code, out, _ = run("clauses", "--format", "json")
    assert code == 0
    data = json.loads(out)
    ids = [c["id"] for c in data["clauses"]]
    assert ids[0] == "2.1" and ids[-1] == "7.4" and len(ids) == 23
    c22a = next(c for c in data["clauses"] if c["id"] == "2.2a")
    assert c22a["kind"] == "computed"
    assert c22a["in_force"]["cap"] == "200000"
    code, out, _ = run("clauses", "--lang", "en")
    assert code == 0 and "Leading CBEC enterprises" in out


def test_schema_is_json_schema_of_the_facts() -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$id"] == "urn:huiqi:facts:v1"
    assert "applicant" in schema["properties"]


def test_check_reports_a_sound_package() -> None:
    code, out, _ = run("check", "--lang", "en")
    assert code == 0
    assert "23 clauses" in out


def _leaf_commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += _leaf_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_every_command_has_help_with_an_example() -> None:
    commands = _leaf_commands(get_command(app))
    names = {" ".join(c) for c in commands}
    assert {
        "evaluate",
        "explain",
        "clauses",
        "schema",
        "check",
        "db upgrade",
        "apply",
        "review verify",
        "plan approve",
        "audit verify",
    } <= names
    for command in commands:
        code, out, _ = run(*command, "--help")
        assert code == 0, command
        assert "示例 / Example:" in out, command
