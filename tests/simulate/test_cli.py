"""``huiqi synth`` and ``huiqi simulate`` end to end, on a small population."""

from __future__ import annotations

import inspect
import typing
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import typer
from openpyxl import Workbook
from typer.testing import CliRunner

from huiqi.cli import simulate_cmds as cli

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(cli.synth)
app.command()(cli.simulate)
runner = CliRunner()


def call(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pop")
    code, out, err = call(
        "synth", "3000", "--seed", "4", "--out", str(folder), "--years", "2023-2024"
    )
    assert code == 0, err
    assert "3,000" in out
    return folder


def test_simulate_with_a_reform_option_writes_tables_charts_and_a_report(
    population: Path, tmp_path: Path
) -> None:
    code, out, err = call(
        "simulate",
        str(population),
        "--set",
        "4.2:total_1=20000000@2024-01-01",
        "--out",
        str(tmp_path),
        "--no-progress",
        "--results",
        "--lang",
        "en",
    )
    assert code == 0, err
    assert "3,000 applicant-years" in out and "Threshold crossings" in out
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1
    made = {p.name for p in folders[0].iterdir()}
    for chart in ("cost_by_clause", "cost_by_county", "threshold_crossings"):
        assert {f"{chart}.png", f"{chart}.svg"} <= made
    assert {"by_clause.csv", "by_county.csv", "gains.csv", "crossings.csv", "report.md"} <= made
    by_clause = pl.read_csv(folders[0] / "by_clause.csv")
    four_two = by_clause.filter(pl.col("clause") == "4.2").row(0, named=True)
    assert four_two["eligible_reform"] >= four_two["eligible_base"]
    rows = pl.read_parquet(tmp_path / "baseline_rows.parquet")  # per row and clause
    assert rows.height == 3000 * 23
    assert {"row_id", "clause", "kind", "eligible", "amount_fen", "tier"} <= set(rows.columns)
    assert (tmp_path / "baseline_by_year.csv").is_file()


def test_simulate_reads_a_partitioned_population_and_an_excel_reform(tmp_path: Path) -> None:
    folder = tmp_path / "pop"
    code, _, err = call("synth", "2000", "--out", str(folder), "--partition-by", "county")
    assert code == 0, err
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["clause", "parameter", "new value", "from"])
    sheet.append(["7.1", "share", 0.5, date(2023, 1, 1)])
    book.save(tmp_path / "r.xlsx")
    code, out, err = call(
        "simulate",
        str(folder),
        "--reform",
        str(tmp_path / "r.xlsx"),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
        "--no-charts",
    )
    assert code == 0, err
    assert "2,000 行" in out
    assert "7.1" in out


def test_simulate_without_a_reform_prints_the_baseline(population: Path, tmp_path: Path) -> None:
    code, out, err = call("simulate", str(population), "--out", str(tmp_path), "--no-progress")
    assert code == 0, err
    assert "基线" in out and "合计" in out
    assert (tmp_path / "baseline_by_county.csv").is_file()


def test_a_reform_that_cannot_apply_ends_with_status_2_and_says_why(population: Path) -> None:
    code, _, err = call("simulate", str(population), "--set", "9.9:x=1", "--no-progress")
    assert code == 2
    assert "9.9" in err


def test_a_broken_population_ends_with_status_2_naming_the_column(tmp_path: Path) -> None:
    (tmp_path / "applicants.csv").write_text("row_id,award_year,trade.exprot_usd\n0,2023,5\n")
    code, _, err = call("simulate", str(tmp_path), "--no-progress")
    assert code == 2
    assert "trade.exprot_usd" in err


def test_synth_refuses_a_year_outside_the_policy(tmp_path: Path) -> None:
    code, _, err = call("synth", "10", "--years", "2030", "--out", str(tmp_path))
    assert code == 2
    assert "2030" in err


@pytest.mark.parametrize("command", [cli.synth, cli.simulate])
def test_each_command_ends_its_help_with_an_example_and_every_option_is_bilingual(
    command: object,
) -> None:
    doc = inspect.getdoc(command) or ""
    assert doc.splitlines()[-1].startswith("示例 / Example:  huiqi ")
    hints = typing.get_type_hints(command, include_extras=True)
    helped = 0
    for name in inspect.signature(command).parameters:  # type: ignore[arg-type]
        info = getattr(hints[name], "__metadata__", [None])[0]
        text = getattr(info, "help", None)
        assert text, f"{name} has no help"
        assert " / " in text, name
        helped += 1
    assert helped >= 5
