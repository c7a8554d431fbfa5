"""The policy package's own tests cannot pass by accident, and what a package may say
(issue 15, items 4 and 7): a strict schema for test cases, an award year in every case,
no repeated YAML key, parameters that end (``null``), structured citations; events and
loans outside the award year."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from huiqi.engine import evaluate
from huiqi.engine.render import explain_clause
from huiqi.facts import parse_facts
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import load_package
from huiqi.policy.cases import CaseFileError, load_cases
from huiqi.policy.model import Citation, Parameter, PolicyPackage
from huiqi.simulate.convert import to_population
from huiqi.simulate.evaluate import eligible_col, fen_col
from huiqi.simulate.evaluate import evaluate as columnar
from huiqi.yamlio import DuplicateKeyError, loads_yaml, read_data

from .conftest import FIXTURES

MINI = FIXTURES / "mini_policy"


def _mini_with_case(tmp_path: Path, case_yaml: str) -> Path:
    root = tmp_path / "pkg"
    shutil.copytree(MINI, root)
    for old in (root / "tests").glob("m*.yaml"):
        old.unlink()
    (root / "tests" / "x.yaml").write_text(case_yaml, encoding="utf-8")
    return root


def test_a_repeated_yaml_key_is_refused_with_the_key_and_both_lines() -> None:
    with pytest.raises(DuplicateKeyError) as raised:
        loads_yaml("amount: 1\nnote: x\namount: 2\n")
    assert "duplicate key 'amount' (first at line 1)" in str(raised.value)
    assert raised.value.problem_mark is not None and raised.value.problem_mark.line == 2


def test_a_repeated_key_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text("cases:\n  - name: a\n    name: b\n", encoding="utf-8")
    with pytest.raises(yaml.YAMLError) as raised:
        read_data(path)
    assert str(path) in str(raised.value) and "'name'" in str(raised.value)


def test_a_misspelt_key_in_a_case_is_an_error_not_a_case_that_asserts_nothing(
    tmp_path: Path,
) -> None:
    root = _mini_with_case(
        tmp_path,
        "clause: m1\nyear: 2025\ncases:\n"
        "  - name: 出口奖励\n    facts: {trade: {export_usd: 2000000}}\n"
        "    expcet: {eligible: true}\n",
    )
    with pytest.raises(CaseFileError) as raised:
        load_cases(root)
    assert "x.yaml: case 1 “出口奖励”: expcet" in str(raised.value)


def test_a_misspelt_expectation_is_an_error(tmp_path: Path) -> None:
    root = _mini_with_case(
        tmp_path,
        "clause: m1\nyear: 2025\ncases:\n  - name: a\n    expect: {eligble: true}\n",
    )
    with pytest.raises(CaseFileError, match=re.escape("case 1 “a”: expect.eligble")):
        load_cases(root)


def test_a_case_without_an_award_year_is_an_error_naming_the_file_and_case(
    tmp_path: Path,
) -> None:
    root = _mini_with_case(
        tmp_path, "clause: m1\ncases:\n  - name: 没有年度\n    expect: {eligible: false}\n"
    )
    with pytest.raises(CaseFileError, match=re.escape("x.yaml: case 1 “没有年度”: no award year")):
        load_cases(root)


def test_an_expectation_that_asserts_nothing_is_an_error(tmp_path: Path) -> None:
    root = _mini_with_case(
        tmp_path, "clause: m1\nyear: 2025\ncases:\n  - name: a\n    expect: {}\n"
    )
    with pytest.raises(CaseFileError, match="asserts nothing"):
        load_cases(root)


def test_an_unknown_base_is_an_error(tmp_path: Path) -> None:
    root = _mini_with_case(
        tmp_path, "clause: m1\nyear: 2025\nbase: nobody\ncases:\n  - name: a\n    error: x\n"
    )
    with pytest.raises(CaseFileError, match=re.escape("base 'nobody' is not in _bases.yaml")):
        load_cases(root)


def test_every_bundled_case_states_its_award_year() -> None:
    for path in sorted((DEFAULT_POLICY / "tests").glob("[!_]*.yaml")):
        doc = read_data(path)
        assert "year" in doc or all("year" in c for c in doc["cases"]), path.name


def test_citations_are_structured() -> None:
    package = load_package(DEFAULT_POLICY)
    lpr = package.parameters["lpr_1y"].reference
    assert isinstance(lpr, Citation) and lpr.url is not None
    for switch in package.policy.switches.values():
        assert isinstance(switch.reference, Citation) and switch.reference.document
    with pytest.raises(ValueError, match="Citation"):
        Parameter.model_validate(
            {
                "unit": "rate",
                "label": {"zh": "a", "en": "a"},
                "reference": "a bare string",
                "values": {date(2021, 1, 1): Decimal("0.1")},
            }
        )


def _ended(package: PolicyPackage, clause_id: str, name: str, on: date) -> PolicyPackage:
    clause = package.clauses[clause_id]
    spec = clause.parameters[name]
    data = spec.model_dump()
    data["values"] = {**data["values"], on: None}
    ended = Parameter.model_validate(data)
    new_clause = clause.model_copy(update={"parameters": {**clause.parameters, name: ended}})
    return package.model_copy(update={"clauses": {**package.clauses, clause_id: new_clause}})


def _training(year: int) -> dict[str, object]:
    base = read_data(DEFAULT_POLICY / "tests" / "_bases.yaml")["cbec_enterprise"]
    return {**base, "award_year": year, "staff_training": {"costs_cny": "100000"}}


def test_a_parameter_ended_by_null_puts_its_clause_out_of_force_from_that_date() -> None:
    package = _ended(load_package(DEFAULT_POLICY), "7.1", "share", date(2024, 1, 1))
    before = evaluate(package, parse_facts(_training(2023))).clause("7.1")
    assert before.eligible and before.amount_fen == 3_000_000
    after = evaluate(package, parse_facts(_training(2024))).clause("7.1")
    assert not after.eligible and after.amount_fen is None
    zh = "\n".join(explain_clause(after, "zh"))
    en = "\n".join(explain_clause(after, "en"))
    assert "自 2024-01-01 起停止适用，本条在2024年度不再执行" in zh
    assert "ended on 2024-01-01; the clause is not in force for award year 2024" in en


def test_a_null_value_in_yaml_ends_the_parameter() -> None:
    spec = Parameter.model_validate(
        loads_yaml(
            "unit: cny\nlabel: {zh: 上限, en: cap}\nquote: x\n"
            "values: {2021-02-23: 100000, 2024-01-01: null}\n"
        )
    )
    assert spec.ends == date(2024, 1, 1) and spec.ended_on(date(2024, 12, 31)) == date(2024, 1, 1)
    assert spec.ended_on(date(2023, 12, 31)) is None


def test_both_engines_agree_that_an_ended_clause_is_not_in_force() -> None:
    package = _ended(load_package(DEFAULT_POLICY), "7.1", "share", date(2024, 1, 1))
    facts = [parse_facts(_training(2023)), parse_facts(_training(2024))]
    rows = columnar(to_population(facts), package).rows.sort("award_year")
    assert rows[eligible_col("7.1")].to_list() == [True, False]
    assert rows[fen_col("7.1")].to_list() == [3_000_000, None]


def test_every_clause_names_who_it_is_for_and_the_words_that_ground_it() -> None:
    """Issue 15.3: the kinds and a quote from the text, shown by ``huiqi clauses``."""
    from .test_cli import run

    package = load_package(DEFAULT_POLICY)
    source = re.sub(r"\s+", "", package.source_text)
    for clause in package.clauses.values():
        assert clause.applicants and clause.applicants_quote, clause.id
        assert re.sub(r"\s+", "", clause.applicants_quote) in source, clause.id
    assert package.clauses["4.2"].applicants_quote.endswith("的跨境电商企业")
    assert package.clauses["7.3"].applicants_quote == "对跨境电子商务企业引进"
    code, out, _ = run("clauses", "--format", "json")
    assert code == 0
    shown = {c["id"]: c for c in json.loads(out)["clauses"]}
    assert shown["6.2"]["applicants"] == ["cbec_enterprise", "service_enterprise"]
    assert shown["7.3"]["applicants_quote"] == "对跨境电子商务企业引进"
    code, out, _ = run("clauses")
    assert code == 0 and "申报主体（依据）" in out


def test_clauses_worded_alike_are_read_alike() -> None:
    """5.2a, 5.2b and 6.2 ("……的企业" under a heading naming 跨境电商企业): one switch."""
    package = load_package(DEFAULT_POLICY)
    for cid in ("5.2a", "5.2b", "6.2"):
        clause = package.clauses[cid]
        assert clause.applicants == ["cbec_enterprise", "service_enterprise"], cid
        switched = [c for c in clause.conditions if c.fact == "applicant.kind"]
        assert len(switched) == 1, cid
        for_kinds = switched[0].for_kinds
        assert for_kinds is not None and not isinstance(for_kinds, list)
        assert for_kinds.switch == "enterprise_reading", cid
