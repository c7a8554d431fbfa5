"""YAML and JSON reading that never produces binary floats.

PyYAML turns ``0.3`` into a float; money and rates must stay exact, so this
loader builds :class:`decimal.Decimal` from the scalar's own text instead.
JSON numbers with a fraction are read as Decimal for the same reason.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml


class ExactLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals."""


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
    return loads_yaml(text)


def describe_error(exc: BaseException) -> str:
    """One line for a file that cannot be read: what and, for YAML and JSON, where."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
