"""Loading a policy package: every file validated, every reference checked, or refused.

A broken package is refused whole with :class:`PackageError`, whose problems
each name the file, the clause and the field, so a reviewer who edited a YAML
file by hand knows exactly what to fix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from huiqi.policy.checks import check_package
from huiqi.policy.model import Clause, ParameterFile, PolicyFile, PolicyPackage
from huiqi.yamlio import DuplicateKeyError, describe_error, loads_yaml

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class PackageProblem:
    """One thing wrong with a policy package."""

    file: str
    clause: str | None
    field: str
    zh: str
    en: str

    def line(self, lang: str = "zh") -> str:
        where = self.file + (f" [{self.clause}]" if self.clause else "") + f" {self.field}"
        return f"{where}: {self.zh if lang == 'zh' else self.en}"


class PackageError(Exception):
    """The package cannot be used; :attr:`problems` says why."""

    def __init__(self, problems: list[PackageProblem]) -> None:
        super().__init__("\n".join(p.line("en") for p in problems))
        self.problems = problems


def _dotted(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def _read(path: Path, root: Path, problems: list[PackageProblem]) -> Any:
    rel = str(path.relative_to(root))
    try:
        return loads_yaml(path.read_text(encoding="utf-8"))
    except DuplicateKeyError as exc:
        # A repeated key: PyYAML would keep the last one silently; name the key and both lines.
        reason = describe_error(exc)
        clause = path.stem if path.parent.name == "clauses" else None
        problems.append(
            PackageProblem(
                rel, clause, str(exc.key), f"键重复：{reason}", f"repeated key: {reason}"
            )
        )
        return None
    except (yaml.YAMLError, UnicodeDecodeError, ArithmeticError) as exc:
        reason = describe_error(exc)
        problems.append(PackageProblem(rel, None, "(file)", f"无法解析：{reason}", reason))
        return None


def _validate(
    model: type[M], data: Any, rel: str, clause: str | None, problems: list[PackageProblem]
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(
                PackageProblem(
                    rel, clause, _dotted(tuple(err["loc"])), f"无效：{err['msg']}", err["msg"]
                )
            )
        return None


def _content_hash(root: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: str(p.relative_to(root))):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def load_package(root: Path) -> PolicyPackage:
    """Load and check the package in ``root``; raise :class:`PackageError` if broken."""
    root = Path(root)
    problems: list[PackageProblem] = []
    policy_path = root / "policy.yaml"
    if not policy_path.is_file():
        raise PackageError(
            [
                PackageProblem(
                    str(root), None, "policy.yaml", "缺少 policy.yaml", "policy.yaml missing"
                )
            ]
        )
    policy = _validate(
        PolicyFile, _read(policy_path, root, problems), "policy.yaml", None, problems
    )

    clauses: dict[str, Clause] = {}
    clause_files = sorted((root / "clauses").glob("*.yaml"))
    for path in clause_files:
        rel = str(path.relative_to(root))
        data = _read(path, root, problems)
        clause_id = str(data.get("id")) if isinstance(data, dict) else None
        clause = _validate(Clause, data, rel, clause_id, problems)
        if clause is None:
            continue
        if path.stem != clause.id:
            problems.append(
                PackageProblem(
                    rel,
                    clause.id,
                    "id",
                    f"文件名应为 {clause.id}.yaml",
                    f"file should be named {clause.id}.yaml",
                )
            )
        if clause.id in clauses:
            problems.append(
                PackageProblem(rel, clause.id, "id", "条款编号重复", "duplicate clause id")
            )
        clauses[clause.id] = clause

    parameters = {}
    parameter_files = sorted((root / "parameters").glob("*.yaml"))
    for path in parameter_files:
        rel = str(path.relative_to(root))
        pfile = _validate(ParameterFile, _read(path, root, problems), rel, None, problems)
        if pfile is None:
            continue
        for name, param in pfile.parameters.items():
            if name in parameters:
                problems.append(
                    PackageProblem(
                        rel, None, f"parameters.{name}", "参数名重复", "duplicate parameter name"
                    )
                )
            parameters[name] = param

    source_text = ""
    source_files: list[Path] = []
    if policy is not None:
        source = root / policy.source
        if source.is_file():
            source_text = source.read_text(encoding="utf-8")
            source_files.append(source)
        else:
            problems.append(
                PackageProblem(
                    "policy.yaml",
                    None,
                    "source",
                    "政策原文文件不存在",
                    f"source text {policy.source} not found",
                )
            )
    if problems or policy is None:
        raise PackageError(problems)

    package = PolicyPackage(
        root=str(root),
        policy=policy,
        clauses=clauses,
        parameters=parameters,
        source_text=source_text,
        sha256=_content_hash(root, [policy_path, *clause_files, *parameter_files, *source_files]),
    )
    for file, clause_id, field, zh, en in check_package(package):
        problems.append(PackageProblem(file, clause_id, field, zh, en))
    if problems:
        raise PackageError(problems)
    return package
