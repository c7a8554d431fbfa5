"""Commands of the policy engine: evaluate, explain, clauses, schema, check."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from huiqi.cli.common import Lang, LangOpt, PolicyOpt, out, print_json, refuse_bad_input
from huiqi.engine import evaluate as run_engine
from huiqi.engine.render import explain_clause, header, msg, totals, tree
from huiqi.engine.result import ClauseResult, Evaluation
from huiqi.errors import InputError, Problem
from huiqi.facts import facts_json_schema, load_facts
from huiqi.money import format_yuan
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import PolicyPackage, load_package
from huiqi.policy.checks import normalise
from huiqi.policy.model import AmountKind


class TableFormat(StrEnum):
    table = "table"
    json = "json"


class TextFormat(StrEnum):
    text = "text"
    json = "json"


YearOpt = Annotated[
    int | None, typer.Option("--year", help="奖补年度（默认取输入文件） / award year")
]
SwitchOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--switch", help="解释开关 NAME=VALUE，可重复 / interpretation switch, repeatable"
    ),
]
FactsArg = Annotated[Path, typer.Argument(help="事实文件（JSON 或 YAML） / facts file")]


def _package(policy: Path | None, switches: list[str] | None) -> PolicyPackage:
    package = load_package(policy or DEFAULT_POLICY)
    values: dict[str, str] = {}
    for item in switches or []:
        name, sep, value = item.partition("=")
        spec = package.policy.switches.get(name)
        if not sep or spec is None or value not in spec.options:
            known = "; ".join(
                f"{n}={'|'.join(s.options)}" for n, s in package.policy.switches.items()
            )
            raise InputError(
                [
                    Problem(
                        "--switch",
                        item,
                        f"未知的开关或取值，可用：{known}",
                        f"unknown switch or value; known: {known}",
                    )
                ]
            )
        values[name] = value
    return package.with_switches(values)


def _evaluate(
    file: Path, year: int | None, policy: Path | None, switches: list[str] | None
) -> Evaluation:
    package = _package(policy, switches)
    return run_engine(package, load_facts(file), year)


def _kind(kind: AmountKind, lang: str) -> str:
    return msg(f"kind.{kind.value}", lang)


def _reason(result: ClauseResult, lang: str) -> str:
    """The first unmet step, for the table's last column."""
    if result.eligible:
        return ""
    for node in result.explanation.walk():
        if node.ok is False and not node.children:
            text = (tree(node, lang) or [""])[0].strip().removeprefix("✗ ")
            for cut in ("（原文", " (text:", "（“"):
                text = text.split(cut)[0]
            return text
    return ""


def evaluate(
    file: FactsArg,
    year: YearOpt = None,
    lang: LangOpt = Lang.zh,
    fmt: Annotated[TableFormat, typer.Option("--format", help="table 或 json")] = TableFormat.table,
    policy: PolicyOpt = None,
    switch: SwitchOpt = None,
) -> None:
    """评估一个申报主体一个年度的全部条款。 Evaluate every clause for one applicant-year.

    示例 / Example:  huiqi evaluate examples/exporter.yaml --lang en
    """
    with refuse_bad_input(lang):
        result = _evaluate(file, year, policy, switch)
    if fmt is TableFormat.json:
        data = result.as_dict()
        for clause, row in zip(result.clauses, data["clauses"], strict=True):
            row["explanation_text"] = explain_clause(clause, lang.value)
        print_json(data)
        return
    lg = lang.value
    console = out()
    for line in header(result, lg):
        console.print(line, markup=False)
    console.print(tree(result.scope, lg)[0], markup=False)
    table = Table(show_lines=False)
    for title in (
        ("条款", "Clause"),
        ("名称", "Title"),
        ("类型", "Kind"),
        ("结果", "Result"),
        ("金额", "Amount"),
        ("档次", "Tier"),
        ("未满足的条件", "First unmet step"),
    ):
        table.add_column(title[0] if lg == "zh" else title[1])
    for clause in result.clauses:
        if clause.eligible and clause.kind is AmountKind.DISCRETIONARY:
            amount = "审核酌定" if lg == "zh" else "set at review"
        elif clause.eligible:
            amount = format_yuan(clause.amount_fen or 0, lg)
            if clause.kind is AmountKind.CEILING:
                amount = ("≤ " if lg == "en" else "最高 ") + amount
        else:
            amount = "—"
        table.add_row(
            clause.clause_id,
            clause.title[lg],
            _kind(clause.kind, lg),
            ("✓ 符合" if lg == "zh" else "✓ eligible") if clause.eligible else "✗",
            amount,
            clause.tier or "",
            _reason(clause, lg),
        )
    console.print(table)
    for line in totals(result, lg):
        console.print(line, markup=False)


def explain(
    file: FactsArg,
    clause: Annotated[str, typer.Argument(help="条款编号，如 4.1a / clause id, e.g. 4.1a")],
    year: YearOpt = None,
    lang: LangOpt = Lang.zh,
    fmt: Annotated[TextFormat, typer.Option("--format", help="text 或 json")] = TextFormat.text,
    policy: PolicyOpt = None,
    switch: SwitchOpt = None,
) -> None:
    """一个条款的完整解释。 The full explanation of one clause.

    示例 / Example:  huiqi explain examples/exporter.yaml 4.1a
    """
    with refuse_bad_input(lang):
        result = _evaluate(file, year, policy, switch)
        try:
            found = result.clause(clause)
        except KeyError:
            ids = ", ".join(c.clause_id for c in result.clauses)
            raise InputError(
                [
                    Problem(
                        "CLAUSE",
                        clause,
                        f"没有该条款，可选：{ids}",
                        f"no such clause; one of: {ids}",
                    )
                ]
            ) from None
    if fmt is TextFormat.json:
        print_json({**found.as_dict(), "explanation_text": explain_clause(found, lang.value)})
        return
    console = out()
    for line in header(result, lang.value):
        console.print(line, markup=False)
    for line in explain_clause(found, lang.value):
        console.print(line, markup=False)


def clauses(
    lang: LangOpt = Lang.zh,
    fmt: Annotated[TableFormat, typer.Option("--format", help="table 或 json")] = TableFormat.table,
    year: Annotated[int | None, typer.Option("--year", help="显示该年度生效的参数值")] = None,
    policy: PolicyOpt = None,
) -> None:
    """列出政策包的全部条款：编号、原文、类型和参数。 Every clause: id, text, kind, parameters.

    示例 / Example:  huiqi clauses --format json
    """
    from datetime import date

    from huiqi.engine import clause_sort_key
    from huiqi.engine.context import param_value

    with refuse_bad_input(lang):
        package = _package(policy, None)
    lg = lang.value
    on = date(year or package.policy.validity.last_award_year, 12, 31)
    ordered = [package.clauses[c] for c in sorted(package.clauses, key=clause_sort_key)]
    if fmt is TableFormat.json:
        print_json(
            {
                "policy": {
                    "id": package.id,
                    "document_no": package.policy.document_no,
                    "version": package.version,
                    "sha256": package.sha256,
                },
                "scope": package.policy.scope.model_dump(
                    mode="json", by_alias=True, exclude_none=True
                ),
                "switches": {
                    n: s.model_dump(mode="json") for n, s in package.policy.switches.items()
                },
                "clauses": [
                    {
                        **c.model_dump(mode="json", by_alias=True, exclude_none=True),
                        "kind": c.kind.value,
                        "in_force": {n: str(param_value(p, on)) for n, p in c.parameters.items()},
                    }
                    for c in ordered
                ],
            }
        )
        return
    console = out()
    console.print(f"{package.policy.document_no} {package.policy.title(lg)}", markup=False)
    table = Table(show_lines=True)
    for title in (
        ("条款", "Clause"),
        ("名称", "Title"),
        ("类型", "Kind"),
        ("申报主体（依据）", "For (grounds)"),
        ("原文", "Text"),
        ("参数（" + str(on) + "）", "Parameters (" + str(on) + ")"),
    ):
        table.add_column(title[0] if lg == "zh" else title[1])
    kinds = package.policy.applicant_kinds
    for clause in ordered:
        params = "\n".join(
            f"{p.label(lg)}：{param_value(p, on)}" for p in clause.parameters.values()
        )
        applicants = "、".join(kinds[k](lg) for k in clause.applicants if k in kinds)
        table.add_row(
            clause.id,
            clause.title(lg),
            _kind(clause.kind, lg),
            f"{applicants}\n“{clause.applicants_quote}”",
            clause.text,
            params,
        )
    console.print(table)


def schema() -> None:
    """打印输入事实文件的 JSON Schema。 Print the facts input's JSON Schema.

    示例 / Example:  huiqi schema > facts.schema.json
    """
    print_json(facts_json_schema())


def check(
    policy: PolicyOpt = None,
    lang: LangOpt = Lang.zh,
) -> None:
    """检查政策包：引文、参数、档次和引用是否一致。 Check a policy package.

    示例 / Example:  huiqi check --policy src/huiqi/policies/chenzhou_2021_3
    """
    with refuse_bad_input(lang):
        package = _package(policy, None)
    source = normalise(package.source_text)
    quoted = sum(1 for c in package.clauses.values() if normalise(c.text) in source)
    console = out()
    if lang is Lang.zh:
        console.print(
            f"政策包 {package.id} 版本 {package.version} 检查通过：{len(package.clauses)}条，"
            f"原文引文 {quoted} 处一致；内容哈希 {package.sha256}",
            markup=False,
        )
    else:
        console.print(
            f"Policy package {package.id} {package.version} is sound: "
            f"{len(package.clauses)} clauses, {quoted} quoted texts match; "
            f"sha256 {package.sha256}",
            markup=False,
        )
