"""The policy citation every document carries: document number, clauses, package version and
hash — of the package each decision was made under, as the policy snapshots record it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from huiqi.db.tables import PolicySnapshot
from huiqi.engine import clause_sort_key
from huiqi.policy import PolicyPackage


@dataclass(frozen=True)
class Citation:
    document_no: str
    title_zh: str
    title_en: str
    clause_ids: tuple[str, ...]
    #: (version, sha256) of each policy package the decisions rest on
    packages: tuple[tuple[str, str], ...]

    def clauses_zh(self) -> str:
        return "、".join(self.clause_ids)

    def zh(self) -> str:
        packages = "；".join(f"政策包版本 {v}，sha256 {h}" for v, h in self.packages)
        clauses = f"第{self.clauses_zh()}条；" if self.clause_ids else ""
        return f"依据：{self.document_no}《{self.title_zh}》{clauses}{packages}"

    def en(self) -> str:
        packages = "; ".join(f"policy package {v}, sha256 {h}" for v, h in self.packages)
        clauses = f"clauses {', '.join(self.clause_ids)}; " if self.clause_ids else ""
        return f"Basis: {self.document_no} ({self.title_en}), {clauses}{packages}"


def cite(
    s: Session,
    package: PolicyPackage,
    clause_ids: Iterable[str],
    hashes: Iterable[str | None] = (),
) -> Citation:
    """A citation of ``clause_ids`` under the packages with ``hashes`` (default: the current)."""
    versions: dict[str, str] = {}
    for sha in sorted({h for h in hashes if h}):
        if sha == package.sha256:
            versions[sha] = package.version
        else:
            snapshot = s.get(PolicySnapshot, sha)
            versions[sha] = snapshot.version if snapshot is not None else "?"
    if not versions:
        versions[package.sha256] = package.version
    return Citation(
        document_no=package.policy.document_no,
        title_zh=package.policy.title.zh,
        title_en=package.policy.title.en,
        clause_ids=tuple(sorted(set(clause_ids), key=clause_sort_key)),
        packages=tuple((v, h) for h, v in versions.items()),
    )
