"""The facts input: JSON and YAML alike, and every bad value refused with its JSON path."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from huiqi.errors import InputError
from huiqi.facts import facts_json_schema, load_facts, parse_facts
from huiqi.yamlio import read_data

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))
APPLICANT = {"credit_code": "91431000MA4T123451", "name": "示例", "kind": "cbec_enterprise"}


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InputError) as raised:
        parse_facts(data)
    return {p.path: p.zh + " | " + p.en for p in raised.value.problems}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_validates_against_the_generated_json_schema(path: Path) -> None:
    document = json.loads(json.dumps(read_data(path), default=str))
    jsonschema.validate(document, facts_json_schema())
    load_facts(path)


def test_json_and_yaml_files_give_the_same_facts(tmp_path: Path) -> None:
    data = {"applicant": APPLICANT, "trade": {"export_usd": "200000.50"}}
    (tmp_path / "f.json").write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "f.yaml").write_text(
        "applicant: {credit_code: 91431000MA4T123451, name: 示例, kind: cbec_enterprise}\n"
        "trade: {export_usd: 200000.50}\n",
        encoding="utf-8",
    )
    assert load_facts(tmp_path / "f.json") == load_facts(tmp_path / "f.yaml")
    assert load_facts(tmp_path / "f.yaml").trade.export_usd == Decimal("200000.50")


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        (
            {"applicant": {**APPLICANT, "credit_code": "91431000MA4T123450"}},
            "$.applicant.credit_code",
            "校验位",
        ),
        ({"trade": {"export_usd": -1}}, "$.trade.export_usd", "不能为负数"),
        ({"trade": {"export_usd": "1.001"}}, "$.trade.export_usd", "两位小数"),
        ({"trade": {"export_usd": 1.5}}, "$.trade.export_usd", "float"),
        ({"trade": {"export_usd": "many"}}, "$.trade.export_usd", "number"),
        ({"trade": {"exprot_usd": 1}}, "$.trade.exprot_usd", "未知字段"),
        (
            {"stores": [{"id": "S1", "kind": "o2o_experience", "opened_date": "2022-02-30"}]},
            "$.stores[0].opened_date",
            "日期无效",
        ),
        (
            {"stores": [{"id": "S1", "kind": "o2o_experience", "area_m2": -5}]},
            "$.stores[0].area_m2",
            "不能为负数",
        ),
        ({"stores": [{"id": "S1", "kind": "bakery"}]}, "$.stores[0].kind", "允许范围"),
        ({"logistics": {"domestic_orders": "1000"}}, "$.logistics.domestic_orders", "整数"),
        (
            {"applicant": {**APPLICANT, "registered_locally": "yes"}},
            "$.applicant.registered_locally",
            "true 或 false",
        ),
        (
            {
                "loans": [
                    {
                        "id": "L1",
                        "principal_cny": 1,
                        "drawdown_date": "2022-05-01",
                        "repaid_date": "2022-04-01",
                        "interest_paid_cny": 0,
                    }
                ]
            },
            "$.loans[0]",
            "还款日期早于放款日期",
        ),
        ({"warehouses": [{"id": "W"}, {"id": "W"}]}, "$", "编号重复"),
        ({"trade": {"export_usd": 1, "export_cny": 7}}, "$.trade", "只能填写一种"),
        ({"award_year": "2022"}, "$.award_year", "整数"),
    ],
)
def test_bad_values_are_refused_with_their_json_path(
    change: dict[str, Any], path: str, fragment: str
) -> None:
    found = problems({"applicant": APPLICANT, **change})
    assert path in found, found
    assert fragment in found[path]


def test_a_missing_applicant_is_named() -> None:
    assert "缺少必填字段" in problems({"trade": {}})["$.applicant"]


def test_an_unsupported_facts_version_is_refused() -> None:
    assert "$.facts_version" in problems({"facts_version": "9", "applicant": APPLICANT})


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"applicant": APPLICANT, "trade": {"export_usd": -1, "import_usd": -2}})
    assert {"$.trade.export_usd", "$.trade.import_usd"} <= set(found)


def test_an_unreadable_file_is_an_input_error_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("applicant: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_facts(bad)
    assert "无法解析" in raised.value.problems[0].zh
    with pytest.raises(InputError):
        load_facts(tmp_path / "absent.json")
