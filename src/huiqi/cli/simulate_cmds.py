"""``huiqi synth`` and ``huiqi simulate``: command functions for the main Typer app.

Register them in ``huiqi.cli`` with ``app.command()(synth)`` and
``app.command()(simulate)``. Bad input (a broken population or reform file) ends with
exit status 2 and one line per problem, never a traceback, like every other command.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from huiqi.cli.common import Lang, LangOpt, PolicyOpt, out, refuse_bad_input
from huiqi.errors import InputError, Problem
from huiqi.money import format_yuan
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import load_package

if TYPE_CHECKING:
    from huiqi.simulate.reform import Scenario

# Polars, NumPy and Matplotlib are imported inside the commands: every other ``huiqi``
# command starts as fast as before these two were registered.


class FileFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


class Partition(StrEnum):
    none = "none"
    county = "county"
    award_year = "award_year"


def _years(text: str) -> list[int]:
    first, _, last = text.partition("-")
    try:
        years = list(range(int(first), int(last or first) + 1))
    except ValueError as exc:
        raise InputError(
            [
                Problem(
                    "--years",
                    text,
                    "应为年度或年度范围，如 2023 或 2022-2024",
                    "a year or a range, e.g. 2023 or 2022-2024",
                )
            ]
        ) from exc
    if not years:
        raise InputError([Problem("--years", text, "年度范围为空", "an empty range of years")])
    return years


def synth(
    n: Annotated[
        int, typer.Argument(help="申报主体·年度的行数 / number of applicant-years", min=1)
    ],
    seed: Annotated[
        int, typer.Option("--seed", help="随机种子，相同种子得相同数据 / random seed")
    ] = 1,
    out_dir: Annotated[Path, typer.Option("--out", help="输出目录 / output folder")] = Path(
        "population"
    ),
    years: Annotated[
        str, typer.Option("--years", help="奖补年度，如 2023 或 2022-2024 / award year(s)")
    ] = "2023",
    fmt: Annotated[
        FileFormat, typer.Option("--format", help="文件格式 / file format")
    ] = FileFormat.parquet,
    partition_by: Annotated[
        Partition,
        typer.Option(
            "--partition-by", help="按县市区或年度分区写出 / write one folder per county or year"
        ),
    ] = Partition.none,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="显示进度条 / show a progress bar")
    ] = True,
    policy: PolicyOpt = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """生成合成申报数据（多数为小企业，少量园区、物流企业和培训机构，数值聚集在政策门槛）。
    Generate a synthetic population: mostly small firms, a long tail, values at the thresholds.

    示例 / Example:  huiqi synth 1000000 --seed 7 --out pop
    """
    from huiqi.simulate.files import write_population
    from huiqi.simulate.run import progress_bar
    from huiqi.simulate.synth import synthesise

    console = out()
    with refuse_bad_input(lang):
        package = load_package(policy or DEFAULT_POLICY)
        chosen = _years(years)
        for year in chosen:
            if (
                not package.policy.validity.first_award_year
                <= year
                <= package.policy.validity.last_award_year
            ):
                raise InputError(
                    [
                        Problem(
                            "--years",
                            year,
                            "不在政策有效年度内",
                            "outside the policy's award years",
                        )
                    ]
                )
        part = None if partition_by is Partition.none else partition_by.value
        with progress_bar(progress) as bar:
            task = bar.add_task("生成 / generating", total=2)
            start = time.perf_counter()
            pop = synthesise(n, seed, package, chosen)
            made = time.perf_counter() - start
            bar.update(task, advance=1, description="写出 / writing")
            written = write_population(pop, out_dir, fmt.value, part)
            bar.advance(task)
    sizes = ", ".join(f"{name} {df.height:,}" for name, df in pop.items.items())
    zh = lang is Lang.zh
    console.print(
        (
            f"已生成 {n:,} 行（{made:.1f} 秒）：{sizes}；台账 {pop.ledger.height:,} 条，"
            f"其他政策 {pop.other_awards.height:,} 条 → {out_dir}（{len(written)} 个文件）"
        )
        if zh
        else (
            f"generated {n:,} applicant-years in {made:.1f} s: {sizes}; "
            f"ledger {pop.ledger.height:,}, other policies {pop.other_awards.height:,} "
            f"→ {out_dir} ({len(written)} files)"
        ),
        markup=False,
    )


def _scenarios(package_dir: Path | None, reforms: list[Path], sets: list[str]) -> list[Scenario]:
    from huiqi.simulate.reform import Reform, Scenario, parse_option, read_reform

    package = load_package(package_dir or DEFAULT_POLICY)
    scenarios = [Scenario(package)]
    written = [read_reform(path) for path in reforms]
    if sets:
        written.append(Reform("命令行改革 / command line", tuple(parse_option(s) for s in sets)))
    seen: set[str] = {"baseline"}
    for reform in written:
        name = reform.name
        while name in seen:
            name += "′"
        seen.add(name)
        scenarios.append(Scenario(package, Reform(name, reform.changes)))
    return scenarios


def simulate(
    population: Annotated[
        Path, typer.Argument(help="人口数据目录或文件 / population folder or file")
    ],
    reform: Annotated[
        list[Path] | None,
        typer.Option("--reform", help="改革文件（YAML 或 XLSX），可重复 / reform file, repeatable"),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="改参数或开关：[条款:]名称=新值[@生效日期]，可重复 / "
            "change a parameter or switch, repeatable",
        ),
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="报告与图表目录 / folder for tables and charts")
    ] = Path("simulation"),
    results: Annotated[
        bool,
        typer.Option(
            "--results/--no-results", help="另存逐行结果（Parquet） / also write per-row results"
        ),
    ] = False,
    charts: Annotated[
        bool, typer.Option("--charts/--no-charts", help="绘制图表 / draw charts")
    ] = True,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="显示进度条 / show a progress bar")
    ] = True,
    policy: PolicyOpt = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """测算政策成本，并与改革方案比较（按条款、县市区、得益受损、跨越门槛）。
    Cost the policy over a population and compare reforms with the baseline.

    示例 / Example:  huiqi simulate pop --set 4.2:total_1=20000000@2023-01-01
    """
    from huiqi.simulate.charts import cjk_font, draw
    from huiqi.simulate.compare import compare, totals
    from huiqi.simulate.report import rich_table, write_csv, write_markdown, write_tables
    from huiqi.simulate.run import progress_bar, run

    console = out()
    lg = lang.value
    with refuse_bad_input(lang):
        scenarios = _scenarios(policy, reform or [], set_ or [])
        with progress_bar(progress) as bar:
            by_name, timings = run(population, scenarios, bar)
    zh = lang is Lang.zh
    evaluated = ", ".join(f"{k} {v:.2f}s" for k, v in timings.evaluate.items())
    console.print(
        f"{timings.rows:,} 行；读取 {timings.read:.2f} 秒；评估 {evaluated}"
        if zh
        else f"{timings.rows:,} applicant-years; reading {timings.read:.2f} s; "
        f"evaluation {evaluated}",
        markup=False,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    base = by_name["baseline"]
    baseline = totals(base, ("clause", "kind"))
    write_csv(baseline, out_dir / "baseline_by_clause.csv")
    write_csv(totals(base, ("county",)), out_dir / "baseline_by_county.csv")
    write_csv(totals(base, ("award_year", "kind")), out_dir / "baseline_by_year.csv")
    if results:
        base.long().write_parquet(out_dir / "baseline_rows.parquet")
        base.items.write_parquet(out_dir / "baseline_items.parquet")
    if len(scenarios) == 1:
        console.print(rich_table(baseline, "基线（按条款）" if zh else "Baseline by clause", lg))
        total = int(baseline["cost_fen"].sum())
        console.print(("合计 " if zh else "total ") + format_yuan(total, lg), markup=False)
    for scenario in scenarios[1:]:
        comparison = compare(base, by_name[scenario.name], scenario.name)
        folder = out_dir / _slug(scenario.name, scenarios.index(scenario))
        write_tables(comparison, folder)
        write_markdown(comparison, folder, lg)
        if results:
            by_name[scenario.name].long().write_parquet(folder / "rows.parquet")
        drawn = draw(comparison, folder, lg) if charts else []
        console.print(rich_table(comparison.by_clause, scenario.name, lg))
        console.print(
            rich_table(comparison.by_county, "按县市区（园区）" if zh else "By county or zone", lg)
        )
        console.print(
            rich_table(comparison.gains, "得益与受损" if zh else "Who gains, who loses", lg)
        )
        console.print(
            rich_table(comparison.crossings, "跨越门槛" if zh else "Threshold crossings", lg)
        )
        if charts and cjk_font() is None and zh:
            console.print(
                "（未安装中文字体，图表使用英文标签）/ no CJK font: charts in English", markup=False
            )
        console.print(f"→ {folder} ({len(drawn)} charts)", markup=False)


def _slug(name: str, index: int) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip("_")
    return f"reform{index}_{safe[:40]}" if safe else f"reform{index}"
