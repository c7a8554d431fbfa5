"""Policy test cases written in the policy's terms (``tests/*.yaml`` of a package).

A case names the applicant it starts from (``base``), the facts it changes, the
award year, any switches, and what the clause must come to. Reviewers can check
each case against the policy text without reading Python; ``huiqi`` runs them
with pytest, and anyone can run them with ``huiqi cases``.

A case cannot pass by accident: its file is read against a strict schema (an
unknown or misspelt key is an error, not a case that asserts nothing), every case
has an award year (its own or its file's), a base that exists, a clause, and
either an expectation with at least one assertion or an expected error. A file
that breaks any of this is refused with :class:`CaseFileError`, naming the file,
the case and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from huiqi.yamlio import describe_error, read_data

#: An amount in yuan as written in a case: ``"1234.56"``, ``100000`` or ``null`` (no amount).
Yuan = Decimal | int | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Expect(_Strict):
    """What the clause must come to. Only the keys written are asserted."""

    eligible: bool | None = None
    amount: Yuan | None = None
    tier: str | None = None
    kind: str | None = None
    items: dict[str, Yuan | bool] | None = None
    explains: list[str] | None = None
    explains_en: list[str] | None = None

    @model_validator(mode="after")
    def _asserts_something(self) -> Expect:
        if not self.model_fields_set:
            raise ValueError("'expect' asserts nothing: give at least one key")
        for key in ("eligible", "tier", "kind", "items"):
            if key in self.model_fields_set and getattr(self, key) is None:
                raise ValueError(f"'{key}: null' asserts nothing")
        return self


class CaseSpec(_Strict):
    """One case as written."""

    name: str = Field(min_length=1)
    clause: str | None = None
    base: str | None = None
    year: int | None = None
    facts: dict[str, Any] = {}
    switches: dict[str, str] = {}
    expect: Expect | None = None
    error: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _expect_or_error(self) -> CaseSpec:
        if (self.expect is None) == (self.error is None):
            raise ValueError("a case has either 'expect' or 'error'")
        return self


class CaseFile(_Strict):
    """A ``tests/*.yaml`` file: defaults for its cases (clause, base, year) and the cases."""

    clause: str | None = None
    base: str | None = None
    year: int | None = None
    cases: list[CaseSpec] = Field(min_length=1)


class CaseFileError(ValueError):
    """A test-case file that cannot be run as written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


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


def _case_name(raw: Any, i: int) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"case {i + 1}" + (f" “{name}”" if name else "")


def _read(path: Path, problems: list[str]) -> Any:
    try:
        return read_data(path)
    except (yaml.YAMLError, UnicodeDecodeError, ArithmeticError) as exc:
        problems.append(f"{path.name}: cannot be read: {describe_error(exc)}")
        return None


def load_cases(package_root: Path) -> list[Case]:
    """Every case of every ``tests/*.yaml`` file of the package, or :class:`CaseFileError`."""
    folder = package_root / "tests"
    problems: list[str] = []
    bases_path = folder / "_bases.yaml"
    bases: Any = _read(bases_path, problems) if bases_path.is_file() else {}
    if not isinstance(bases, dict):
        problems.append(f"{bases_path.name}: a mapping of base applicants is expected")
        bases = {}
    cases: list[Case] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        raw = _read(path, problems)
        if raw is None:
            continue
        try:
            doc = CaseFile.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = err["loc"]
                where = ".".join(str(p) for p in loc) or "(file)"
                if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
                    where = f"{_case_name(raw['cases'][loc[1]], loc[1])}: " + ".".join(
                        str(p) for p in loc[2:]
                    )
                problems.append(f"{path.name}: {where}: {err['msg']}")
            continue
        for i, spec in enumerate(doc.cases):
            where = f"{path.name}: {_case_name({'name': spec.name}, i)}"
            year = spec.year if spec.year is not None else doc.year
            clause = spec.clause if spec.clause is not None else doc.clause
            base_name = spec.base or doc.base or "cbec_enterprise"
            if year is None:
                problems.append(f"{where}: no award year ('year' in the case or its file)")
            if clause is None:
                problems.append(f"{where}: no clause ('clause' in the case or its file)")
            if base_name not in bases:
                problems.append(f"{where}: base {base_name!r} is not in _bases.yaml")
            if year is None or clause is None or base_name not in bases:
                continue
            expect = spec.expect.model_dump(exclude_unset=True) if spec.expect else {}
            cases.append(
                Case(
                    package_root=package_root,
                    file=path.name,
                    clause=clause,
                    name=spec.name,
                    year=year,
                    facts=deep_merge(bases[base_name], spec.facts),
                    switches=spec.switches,
                    expect=expect,
                    error=spec.error,
                )
            )
    if problems:
        raise CaseFileError(problems)
    return cases


def yuan(value: Any) -> int:
    """An expected amount written in yuan (``"1234.56"`` or ``100000``) as fen."""
    return int(Decimal(str(value)) * 100)
