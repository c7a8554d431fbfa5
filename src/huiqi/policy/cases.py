"""Policy test cases written in the policy's terms (``tests/*.yaml`` of a package).

A case names the applicant it starts from (``base``), the facts it changes, the
award year, any switches, and what the clause must come to. Reviewers can check
each case against the policy text without reading Python; ``huiqi`` runs them
with pytest, and anyone can run them with ``huiqi cases``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from huiqi.yamlio import read_data


@dataclass(frozen=True)
class Case:
    package_root: Path
    file: str
    clause: str
    name: str
    year: int
    facts: dict[str, Any]
    switches: dict[str, str]
    expect: dict[str, Any]
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.file}:{self.name}"


def deep_merge(base: Any, change: Any) -> Any:
    """Mappings merge key by key; anything else (lists included) is replaced."""
    if isinstance(base, dict) and isinstance(change, dict):
        merged = dict(base)
        for key, value in change.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else value
        return merged
    return change


def load_cases(package_root: Path) -> list[Case]:
    """Every case of every ``tests/*.yaml`` file of the package."""
    folder = package_root / "tests"
    bases_path = folder / "_bases.yaml"
    bases: dict[str, Any] = read_data(bases_path) if bases_path.is_file() else {}
    cases: list[Case] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        doc = read_data(path)
        for i, raw in enumerate(doc.get("cases", [])):
            base_name = raw.get("base", doc.get("base", "cbec_enterprise"))
            facts = deep_merge(bases.get(base_name, {}), raw.get("facts", {}))
            cases.append(
                Case(
                    package_root=package_root,
                    file=path.name,
                    clause=str(raw.get("clause", doc.get("clause", ""))),
                    name=str(raw.get("name", f"case {i + 1}")),
                    year=int(raw.get("year", doc.get("year", 2022))),
                    facts=facts,
                    switches={str(k): str(v) for k, v in raw.get("switches", {}).items()},
                    expect=raw.get("expect", {}),
                    error=raw.get("error"),
                )
            )
    return cases


def yuan(value: Any) -> int:
    """An expected amount written in yuan (``"1234.56"`` or ``100000``) as fen."""
    return int(Decimal(str(value)) * 100)
