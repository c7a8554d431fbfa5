"""Reading facts from JSON or YAML, with errors that name the JSON path of the bad value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from huiqi.errors import MISSING, InputError, Problem
from huiqi.facts.model import FACTS_VERSION, Facts
from huiqi.yamlio import describe_error, read_data

_ZH_BY_TYPE = {
    "missing": "缺少必填字段",
    "extra_forbidden": "未知字段（请检查拼写）",
    "greater_than_equal": "不能为负数",
    "greater_than": "必须大于下限",
    "less_than_equal": "超过允许的最大值",
    "decimal_max_places": "最多两位小数（金额精确到分）",
    "date_from_datetime_parsing": "日期无效",
    "date_parsing": "日期无效",
    "date_type": "应为日期（YYYY-MM-DD）",
    "bool_type": "应为 true 或 false",
    "int_type": "应为整数",
    "string_type": "应为文本",
    "decimal_type": "应为数字",
    "decimal_parsing": "应为数字",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "list_type": "应为列表",
    "too_long": "条目过多，超过上限",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "dict_type": "应为对象",
    "string_too_short": "不能为空",
    "string_too_long": "文本过长",
    "string_pattern_mismatch": "格式不正确",
    "value_error": "取值无效",
}


def json_path(loc: tuple[int | str, ...]) -> str:
    """``('stores', 1, 'area_m2')`` → ``$.stores[1].area_m2``."""
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _problem(error: ErrorDetails) -> Problem:
    kind = error["type"]
    zh = _ZH_BY_TYPE.get(kind, "取值无效")
    en = error["msg"]
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if cause is not None:
        # Our own validators say it in both languages; keep their words.
        en = str(cause)
        zh = getattr(cause, "zh", None) or (en.split(" / ")[-1] if " / " in en else zh)
        en = getattr(cause, "en", None) or en.split(" / ")[0]
    if kind == "enum" and "expected" in ctx:
        zh = f"{zh}：可选 {ctx['expected']}"
    value = MISSING if kind == "missing" else error.get("input", MISSING)
    if isinstance(value, dict | list) and kind != "extra_forbidden":
        value = MISSING  # a whole object is noise; the path says where
    return Problem(path=json_path(tuple(error["loc"])), value=value, zh=zh, en=en)


def parse_facts(data: Any) -> Facts:
    """Validate a decoded document as :class:`Facts` or raise :class:`InputError`."""
    if not isinstance(data, dict):
        raise InputError(
            [Problem("$", MISSING, "输入应为一个对象（JSON/YAML 映射）", "input must be an object")]
        )
    version = data.get("facts_version", FACTS_VERSION)
    if str(version) != FACTS_VERSION:
        raise InputError(
            [
                Problem(
                    "$.facts_version",
                    version,
                    f"不支持的输入格式版本，当前为 {FACTS_VERSION}",
                    f"unsupported facts version; this is version {FACTS_VERSION}",
                )
            ]
        )
    try:
        return Facts.model_validate(data)
    except ValidationError as exc:
        raise InputError([_problem(e) for e in exc.errors()]) from None


def load_facts(path: Path) -> Facts:
    """Read a JSON or YAML facts file; any problem is an :class:`InputError`."""
    try:
        data = read_data(path)
    except FileNotFoundError:
        raise InputError([Problem(str(path), MISSING, "文件不存在", "file not found")]) from None
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError, ArithmeticError) as exc:
        first_line = describe_error(exc)
        raise InputError(
            [
                Problem(
                    str(path), MISSING, f"无法解析文件：{first_line}", f"cannot parse: {first_line}"
                )
            ]
        ) from None
    return parse_facts(data)


def facts_json_schema() -> dict[str, Any]:
    """The JSON Schema of the facts input, generated from the models."""
    schema = Facts.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:huiqi:facts:v{FACTS_VERSION}"
    return schema
