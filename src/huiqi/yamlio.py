"""YAML and JSON reading that never produces binary floats nor hides a repeated key.

PyYAML turns ``0.3`` into a float; money and rates must stay exact, so this
loader builds :class:`decimal.Decimal` from the scalar's own text instead.
JSON numbers with a fraction are read as Decimal for the same reason.

PyYAML also keeps the last of two equal keys in a mapping without a word, so a
reviewer's second ``amount:`` silently replaces the first. Here a repeated key is
an error naming the key and both lines (and the file, for :func:`read_data`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names the same key twice (:attr:`key`)."""

    key: Any = None


class ExactLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals and whose mappings refuse a repeated key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it below
                continue
            if first is not None:
                error = DuplicateKeyError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first at line {first.start_mark.line + 1})",
                    key_node.start_mark,
                )
                error.key = key
                raise error
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    return Decimal(text)


ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def loads_yaml(text: str) -> Any:
    return yaml.load(text, Loader=ExactLoader)


def loads_json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def read_data(path: Path) -> Any:
    """Read a ``.json``, ``.yaml`` or ``.yml`` file exactly."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return loads_json(text)
    try:
        return loads_yaml(text)
    except yaml.MarkedYAMLError as exc:
        for mark in (exc.context_mark, exc.problem_mark):
            if mark is not None:
                mark.name = str(path)
        raise


def describe_error(exc: BaseException) -> str:
    """One line for a file that cannot be read: what and, for YAML and JSON, where."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = "" if mark.name.startswith("<") else f"{mark.name}, "
        return f"{exc.problem} ({where}line {mark.line + 1}, column {mark.column + 1})"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
