"""The engine is not Chenzhou's: a second, fictional policy package runs unchanged.

``fixtures/mini_policy`` (示商发〔2024〕1号, id ``example-2024-1``) has its own
text, award years (2024–2026), scope, switches, clause ids (m1–m3), numbers and
a dated parameter. Its YAML cases run with ``test_policy_cases.py``; this file
checks what those cases cannot: identity, hashes, years and dates.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from huiqi.engine import evaluate
from huiqi.engine.render import explain_clause
from huiqi.errors import InputError
from huiqi.facts import parse_facts
from huiqi.policy import PolicyPackage, load_package
from huiqi.policy.cases import deep_merge
from huiqi.yamlio import read_data

from .conftest import FIXTURES

MINI = FIXTURES / "mini_policy"
SRC = Path(__file__).resolve().parents[1] / "src" / "huiqi"


@pytest.fixture(scope="module")
def mini() -> PolicyPackage:
    return load_package(MINI)


def facts(change: dict[str, Any], base: str = "cbec_enterprise") -> Any:
    bases = read_data(MINI / "tests" / "_bases.yaml")
    return parse_facts(deep_merge(bases[base], change))


def test_the_mini_policy_loads_with_the_same_loader(mini: PolicyPackage) -> None:
    assert mini.id == "example-2024-1"
    assert mini.version == "0.1.0"
    assert mini.policy.document_no == "示商发〔2024〕1号"
    assert (mini.policy.validity.first_award_year, mini.policy.validity.last_award_year) == (
        2024,
        2026,
    )
    assert set(mini.policy.switches) == {"one_time_mode", "export_requirement"}


def test_its_clause_ids_are_its_own_and_share_none_with_chenzhou(
    mini: PolicyPackage, chenzhou: PolicyPackage
) -> None:
    assert sorted(mini.clauses) == ["m1", "m2", "m3"]
    assert not set(mini.clauses) & set(chenzhou.clauses)
    result = evaluate(mini, facts({}), 2025)
    assert [c.clause_id for c in result.clauses] == ["m1", "m2", "m3"]
    assert result.scope.args["clause"] == "一"


def test_results_name_the_mini_policys_id_version_and_content_hash(
    mini: PolicyPackage, chenzhou: PolicyPackage
) -> None:
    result = evaluate(mini, facts({"trade": {"export_usd": 2000000}}), 2025)
    assert result.policy.id == "example-2024-1"
    assert result.policy.document_no == "示商发〔2024〕1号"
    assert result.policy.version == "0.1.0"
    assert result.policy.sha256 == mini.sha256
    assert len(mini.sha256) == 64 and mini.sha256 != chenzhou.sha256
    assert result.policy.switches == {
        "export_requirement": "cbec_enterprises",
        "one_time_mode": "top_up",
    }
    assert result.as_dict()["policy"]["id"] == "example-2024-1"


def test_the_content_hash_follows_the_files_not_their_folder(
    mini: PolicyPackage, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(MINI, copy)
    assert load_package(copy).sha256 == mini.sha256
    source = copy / "source.md"
    source.write_text(source.read_text(encoding="utf-8") + "\n附：修订说明。\n", encoding="utf-8")
    assert load_package(copy).sha256 != mini.sha256


def test_the_yearly_cap_has_two_dated_values(mini: PolicyPackage) -> None:
    cap = mini.clauses["m2"].parameters["yearly_cap"]
    assert cap.values == {date(2024, 1, 1): Decimal(100000), date(2026, 1, 1): Decimal(150000)}


@pytest.mark.parametrize(
    ("year", "fen"),
    [
        # 500,000 × 40% = 200,000, cut to the cap in force on 31 December of the award year.
        (2024, 100_000_00),
        (2025, 100_000_00),
        (2026, 150_000_00),
    ],
)
def test_a_parameter_changed_by_date_changes_the_award_between_years(
    mini: PolicyPackage, year: int, fen: int
) -> None:
    result = evaluate(mini, facts({"staff_training": {"costs_cny": 500000}}), year).clause("m2")
    assert result.eligible
    assert result.amount_fen == fen
    cap = result.explanation.find("cap")[0]
    assert cap.args["cap"] == {"fen": fen}


def test_award_years_come_from_the_package_not_the_engine(
    mini: PolicyPackage, chenzhou: PolicyPackage
) -> None:
    applicant = facts({"trade": {"export_usd": 2000000}})
    # 2026 is inside the mini policy's years and outside Chenzhou's (2021–2025) …
    assert evaluate(mini, applicant, 2026).clause("m1").amount_fen == 50_000_00
    with pytest.raises(InputError):
        evaluate(chenzhou, applicant, 2026)
    # … and 2023 is the other way round.
    with pytest.raises(InputError) as raised:
        evaluate(mini, applicant, 2023)
    assert "2024–2026" in raised.value.problems[0].en


def test_a_cny_only_export_is_converted_at_the_mini_policys_own_rate(
    mini: PolicyPackage,
) -> None:
    # 7,200,000 CNY / 7.20 = 1,000,000 USD exactly: not 超过 1,000,000. Chenzhou's 2025
    # rate (7.1217) would have made it 1,011,000-odd USD and paid the award.
    exact = facts({"trade": {"export_usd": None, "export_cny": 7200000}})
    m1 = evaluate(mini, exact, 2025).clause("m1")
    assert not m1.eligible
    converted = m1.explanation.find("fact.converted")[0]
    assert converted.args["rate"] == {"num": "7.2", "unit": "cny_per_usd"}
    assert converted.args["usd"] == {"num": "1000000", "unit": "usd"}


def test_one_time_awards_use_the_mini_policys_one_time_switch(mini: PolicyPackage) -> None:
    applicant = facts(
        {
            "trade": {"export_usd": 6000000},
            "earlier_awards": [{"clause": "m1", "award_year": 2024, "amount_cny": 50000}],
        }
    )
    # Top-up: 200,000 for the 500万 tier less the 50,000 paid in 2024.
    assert evaluate(mini, applicant, 2025).clause("m1").amount_fen == 150_000_00
    strict = mini.with_switches({"one_time_mode": "strict_once"})
    assert evaluate(strict, applicant, 2025).clause("m1").amount_fen == 0


def test_the_engine_source_never_mentions_the_mini_policy() -> None:
    for path in SRC.rglob("*"):
        if path.suffix in (".py", ".yaml") and "policies" not in path.parts:
            text = path.read_text(encoding="utf-8")
            for word in ("example-2024-1", "示例市", "示商发", "export_requirement"):
                assert word not in text, f"{path} mentions {word}"


def test_explanations_of_the_mini_policy_never_mention_chenzhou(mini: PolicyPackage) -> None:
    applicant = facts(
        {
            "trade": {"export_usd": 6000000},
            "staff_training": {"costs_cny": 500000},
            "warehouses": [{"id": "W1", "area_m2": 500}, {"id": "W2", "area_m2": 100}],
        }
    )
    for year in (2024, 2025, 2026):
        for clause in evaluate(mini, applicant, year).clauses:
            for lang in ("zh", "en"):
                text = "\n".join(explain_clause(clause, lang))
                assert "郴州" not in text and "Chenzhou" not in text, text


def test_an_office_approval_step_names_no_particular_city(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    shutil.copytree(MINI, root)
    clause = root / "clauses" / "m2.yaml"
    clause.write_text(
        clause.read_text(encoding="utf-8") + "needs_office_approval: true\n", encoding="utf-8"
    )
    package = load_package(root)
    result = evaluate(package, facts({"staff_training": {"costs_cny": 100000}}), 2025).clause("m2")
    assert result.needs_office_approval and result.explanation.find("office_approval")
    assert "郴州" not in "\n".join(explain_clause(result, "zh"))
