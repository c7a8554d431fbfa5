"""What an evaluation returns: per clause, eligibility, kind, amount in fen, and why."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from huiqi.engine.explain import Node
from huiqi.money import fen_to_yuan
from huiqi.policy.model import AmountKind

# ItemResult and ClauseResult are made for every clause of every evaluation: plain slots
# dataclasses, not frozen ones, which take about three times as long to build. Nothing changes
# them once made.
#: The kinds of amount the policy owes as of right.
OWED = (AmountKind.FIXED, AmountKind.COMPUTED, AmountKind.EXTERNAL)


@dataclass(slots=True)
class ItemResult:
    """One subject of a clause: the applicant itself, or a store, warehouse, loan …"""

    subject: str
    eligible: bool
    tier: str | None
    #: The subject's own amount, after its caps and one-time rule.
    amount_fen: int | None
    #: Its share of the clause's final amount (after the clause's caps and 从优不重复),
    #: taken by subjects in the order given; what a ledger entry for the subject records.
    allocated_fen: int | None = None


@dataclass(slots=True)
class ClauseResult:
    clause_id: str
    title: dict[str, str]
    kind: AmountKind
    eligible: bool
    #: fixed/computed/external: owed; ceiling: the most review may approve; discretionary: None.
    amount_fen: int | None
    tier: str | None
    items: tuple[ItemResult, ...]
    needs_office_approval: bool
    switches: dict[str, str]
    explanation: Node

    def as_dict(self) -> dict[str, Any]:
        return {
            "clause": self.clause_id,
            "title": self.title,
            "kind": self.kind.value,
            "eligible": self.eligible,
            "amount_fen": self.amount_fen,
            "amount_yuan": None if self.amount_fen is None else str(fen_to_yuan(self.amount_fen)),
            "tier": self.tier,
            "items": [
                {
                    "subject": i.subject,
                    "eligible": i.eligible,
                    "tier": i.tier,
                    "amount_fen": i.amount_fen,
                    "allocated_fen": i.allocated_fen,
                }
                for i in self.items
            ],
            "needs_office_approval": self.needs_office_approval,
            "switches": self.switches,
            "explanation": self.explanation.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """Which rules a result was made under, so it can be replayed exactly."""

    id: str
    document_no: str
    version: str
    sha256: str
    switches: dict[str, str]


@dataclass(frozen=True, slots=True)
class Evaluation:
    policy: PolicyRef
    award_year: int
    applicant_code: str
    applicant_name: str
    applicant_kind: str
    scope_ok: bool
    scope: Node
    clauses: tuple[ClauseResult, ...]

    def clause(self, clause_id: str) -> ClauseResult:
        for result in self.clauses:
            if result.clause_id == clause_id:
                return result
        raise KeyError(clause_id)

    def total_fen(self, *kinds: AmountKind) -> int:
        """The sum over eligible clauses of the given kinds."""
        return _total(self.clauses, *kinds)

    @property
    def owed_fen(self) -> int:
        """What the policy owes as of right: fixed, computed and external amounts."""
        return self.total_fen(*OWED)

    @property
    def ceiling_fen(self) -> int:
        """The most review may add within ceilings."""
        return self.total_fen(AmountKind.CEILING)

    def as_dict(self, clauses: Collection[str] | None = None) -> dict[str, Any]:
        """The whole result as plain data; with ``clauses``, only those clauses' results, and
        totals over those (what an application applied for)."""
        shown = [c for c in self.clauses if clauses is None or c.clause_id in clauses]
        return {
            "policy": {
                "id": self.policy.id,
                "document_no": self.policy.document_no,
                "version": self.policy.version,
                "sha256": self.policy.sha256,
                "switches": self.policy.switches,
            },
            "award_year": self.award_year,
            "applicant": {
                "credit_code": self.applicant_code,
                "name": self.applicant_name,
                "kind": self.applicant_kind,
            },
            "scope_ok": self.scope_ok,
            "scope": self.scope.as_dict(),
            "totals": {
                "owed_fen": _total(
                    shown, AmountKind.FIXED, AmountKind.COMPUTED, AmountKind.EXTERNAL
                ),
                "ceiling_fen": _total(shown, AmountKind.CEILING),
                "discretionary_eligible": sum(
                    1 for c in shown if c.eligible and c.kind is AmountKind.DISCRETIONARY
                ),
            },
            "clauses": [c.as_dict() for c in shown],
        }


def _total(clauses: Iterable[ClauseResult], *kinds: AmountKind) -> int:
    """The sum over the eligible ones of ``clauses`` of the given kinds."""
    return sum(c.amount_fen or 0 for c in clauses if c.eligible and c.kind in kinds)
