"""The ledger and the payments, recomputed from the audit trail.

Every ledger row is written with an audit entry that records it: ``plan.approve`` lists
the awards (beneficiary, clause, subject and amount, with the plan's items and award year),
``award.recover`` the recovery's negative row, ``plan.disburse`` each payment. The check
rebuilds both tables from those entries and matches them row by row: a row no entry
accounts for (inserted by hand), a row whose amount or fields differ (edited), and an entry
whose row is gone (deleted) are each reported, and the totals compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    AllocationPlan,
    AuditEntry,
    Disbursement,
    LedgerEntry,
    LedgerKind,
    Organisation,
    PlanItem,
)
from huiqi.money import format_yuan


def approval_facts(plan: AllocationPlan, items: Sequence[PlanItem]) -> dict[str, Any]:
    """What ``plan.approve`` records beside its ``ledger`` list so each row can be matched."""
    return {"award_year": plan.award_year, "plan_items": [i.id for i in items]}


@dataclass
class Coverage:
    """Rows and totals of a table as stored and as the audit trail accounts for them."""

    rows: int = 0
    stored_fen: int = 0
    audited_fen: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Expected:
    seq: int
    group: tuple[Any, ...]  # where the row must be: (kind, plan or item, …)
    fields: dict[str, Any]  # what the row must hold, as far as the entry says
    amount_fen: int


def ledger_coverage(session: Session, entries: Iterable[AuditEntry]) -> tuple[Coverage, Coverage]:
    """(ledger, disbursements) matched against the given, already verified, audit entries."""
    awards: list[_Expected] = []
    payments: list[_Expected] = []
    codes = {o.credit_code: o.id for o in session.scalars(select(Organisation))}
    for entry in entries:
        after = entry.after or {}
        if entry.action == "plan.approve":
            awards.extend(_awards(entry.seq, int(entry.object_id), after))
        elif entry.action == "award.recover":
            fen = int(after.get("ledger_fen", -int(after.get("amount_fen", 0))))
            fields = {
                "recovery_id": int(entry.object_id),
                "plan_item_id": after.get("plan_item"),
                "org_id": codes.get(str(after.get("org"))),
                "clause_id": after.get("clause"),
                "subject_id": after.get("subject_id"),
                "award_year": after.get("year"),
                "amount_fen": fen,
            }
            awards.append(
                _Expected(entry.seq, (LedgerKind.RECOVERY, int(entry.object_id)), fields, fen)
            )
        elif entry.action == "plan.disburse":
            fen = int(after.get("amount_fen", 0))
            item = int(entry.object_id)
            fields = {
                "plan_item_id": item,
                "amount_fen": fen,
                "division": after.get("division"),
                "paid_on": after.get("paid_on"),
                "reference": after.get("reference"),
            }
            payments.append(_Expected(entry.seq, (item,), fields, fen))
    ledger = _match(
        "ledger row / 台账行",
        awards,
        [(_ledger_group(r), _ledger_fields(r), r.id) for r in session.scalars(select(LedgerEntry))],
    )
    paid = _match(
        "disbursement / 拨付记录",
        payments,
        [
            ((d.plan_item_id,), _payment_fields(d), d.id)
            for d in session.scalars(select(Disbursement))
        ],
    )
    return ledger, paid


def _awards(seq: int, plan_id: int, after: dict[str, Any]) -> list[_Expected]:
    rows: list[list[Any]] = after.get("ledger") or []
    items: list[int | None] = after.get("plan_items") or [None] * len(rows)
    year = after.get("award_year")
    found = []
    for (org_id, clause, subject, fen), item in zip(rows, items, strict=False):
        fields = {
            "plan_id": plan_id,
            "org_id": org_id,
            "clause_id": clause,
            "subject_id": subject,
            "amount_fen": int(fen),
        }
        if item is not None:
            fields["plan_item_id"] = item
        if year is not None:
            fields["award_year"] = year
        found.append(_Expected(seq, (LedgerKind.AWARD, plan_id), fields, int(fen)))
    return found


def _ledger_group(row: LedgerEntry) -> tuple[Any, ...]:
    if row.kind is LedgerKind.RECOVERY:
        return (LedgerKind.RECOVERY, row.recovery_id)
    return (LedgerKind.AWARD, row.plan_id)


def _ledger_fields(row: LedgerEntry) -> dict[str, Any]:
    return {
        "plan_id": row.plan_id,
        "plan_item_id": row.plan_item_id,
        "recovery_id": row.recovery_id,
        "org_id": row.org_id,
        "clause_id": row.clause_id,
        "subject_id": row.subject_id,
        "award_year": row.award_year,
        "amount_fen": row.amount_fen,
    }


def _payment_fields(row: Disbursement) -> dict[str, Any]:
    return {
        "plan_item_id": row.plan_item_id,
        "amount_fen": row.amount_fen,
        "division": row.division,
        "paid_on": str(row.paid_on),
        "reference": row.reference,
    }


def _match(
    what: str,
    expected: list[_Expected],
    stored: list[tuple[tuple[Any, ...], dict[str, Any], int]],
) -> Coverage:
    """Pair each stored row with an entry that accounts for it (same group, same fields)."""
    cover = Coverage(
        rows=len(stored),
        stored_fen=sum(fields["amount_fen"] for _, fields, _ in stored),
        audited_fen=sum(e.amount_fen for e in expected),
    )
    waiting: dict[tuple[Any, ...], list[_Expected]] = {}
    for e in expected:
        waiting.setdefault(e.group, []).append(e)
    strays: list[tuple[tuple[Any, ...], dict[str, Any], int]] = []
    for group, fields, row_id in sorted(stored, key=lambda r: r[2]):
        candidates = waiting.get(group, [])
        hit = next(
            (e for e in candidates if all(fields.get(k) == v for k, v in e.fields.items())), None
        )
        if hit is None:
            strays.append((group, fields, row_id))
        else:
            candidates.remove(hit)
    for group, fields, row_id in strays:
        left = waiting.get(group, [])
        near = next(
            (
                e
                for e in left
                if all(fields.get(k) == v for k, v in e.fields.items() if k != "amount_fen")
            ),
            None,
        )
        shown = format_yuan(fields["amount_fen"], "en")
        if near is not None:
            left.remove(near)
            cover.problems.append(
                f"{what} #{row_id}: {shown} but audit entry #{near.seq} records "
                f"{format_yuan(near.amount_fen, 'en')} (edited) / 金额与审计记录不符"
            )
        else:
            cover.problems.append(
                f"{what} #{row_id} ({shown}): no audit entry accounts for it (written outside"
                " huiqi) / 没有对应的审计记录"
            )
    for left in waiting.values():
        for e in left:
            cover.problems.append(
                f"audit entry #{e.seq} records a {what.split(' / ')[0]} of "
                f"{format_yuan(e.amount_fen, 'en')} that is not there (deleted or changed)"
                " / 审计记录的条目不存在"
            )
    return cover
