"""追回: recovering a paid award found wrongly paid (false data, later ineligibility).

A recovery is recorded against the plan item it recovers and, as a negative ledger
entry, against the award ledger: one-time and cap rules read the ledger netted
(:func:`huiqi.service.records.ledger_of`), so a recovered award no longer counts.
With corrected facts the engine is run again and its result for the clause is kept
with the facts and the policy's hash, so the decision can be replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    Application,
    ApplicationLine,
    Disbursement,
    LedgerEntry,
    LedgerKind,
    Organisation,
    PlanItem,
    Recovery,
)
from huiqi.engine import evaluate
from huiqi.errors import InputError, Problem
from huiqi.facts import parse_facts
from huiqi.fulfilment.roles import Role
from huiqi.money import fen_to_yuan, format_yuan
from huiqi.policy.model import AmountKind
from huiqi.service import audit
from huiqi.service.actors import Actor, require, require_org
from huiqi.service.applications import snapshot_policy
from huiqi.service.errors import Conflict, Invalid, NotFound
from huiqi.service.records import facts_document
from huiqi.service.registry import text_field
from huiqi.service.uow import Services


@dataclass(frozen=True)
class RecoveryView:
    id: int
    plan_item_id: int
    org_code: str
    clause_id: str
    subject_id: str
    award_year: int
    amount_fen: int
    paid_fen: int
    #: Everything recovered from the item so far, this recovery included.
    recovered_fen: int
    reason: str
    recalculation: dict[str, Any]


def _view(
    r: Recovery, item: PlanItem, org: Organisation, year: int, paid: int, total: int
) -> RecoveryView:
    return RecoveryView(
        r.id,
        item.id,
        org.credit_code,
        item.clause_id,
        item.subject_id,
        year,
        r.amount_fen,
        paid,
        total,
        r.reason,
        dict(r.recalculation),
    )


def _sum(s: Session, column: Any, where: Any) -> int:
    return int(s.scalar(select(func.coalesce(func.sum(column), 0)).where(where)) or 0)


def recover(
    svc: Services,
    actor: Actor,
    plan_item_id: int,
    amount_fen: int,
    reason: str,
    corrected_facts: dict[str, Any] | None = None,
) -> RecoveryView:
    """The commerce bureau recovers up to what was paid on an item less what was recovered."""
    require(actor, Role.COMMERCE_REVIEWER)
    problems: list[Problem] = []
    reason = text_field(problems, "reason", reason, 2000)
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        problems.append(
            Problem("amount_fen", amount_fen, "须为大于零的整数（分）", "a whole number of fen > 0")
        )
    if problems:
        raise Invalid("追回信息有误", "bad recovery", problems)
    with svc.transaction() as s:
        item = s.get(PlanItem, plan_item_id)
        if item is None:
            raise NotFound(f"方案项目 {plan_item_id} 不存在", f"no plan item {plan_item_id}")
        # Ledger writers lock the beneficiary: recoveries and approvals of it queue here.
        org = s.scalar(select(Organisation).where(Organisation.id == item.org_id).with_for_update())
        assert org is not None
        line = s.get(ApplicationLine, item.line_id)
        assert line is not None
        app = s.get(Application, line.application_id)
        assert app is not None
        paid = _sum(s, Disbursement.amount_fen, Disbursement.plan_item_id == item.id)
        before = _sum(s, Recovery.amount_fen, Recovery.plan_item_id == item.id)
        if paid <= 0:
            raise Conflict(
                "该项目尚未拨付，无需追回（未拨付的项目请在方案中处理）",
                "nothing was paid on this item; there is nothing to recover",
            )
        if amount_fen > paid - before:
            raise Invalid(
                "追回金额超过可追回金额",
                "more than can be recovered",
                [
                    Problem(
                        "amount_fen",
                        amount_fen,
                        f"最多可追回 {format_yuan(paid - before)}（已拨付 {format_yuan(paid)}，"
                        f"已追回 {format_yuan(before)}）",
                        f"at most {format_yuan(paid - before, 'en')} "
                        f"({format_yuan(paid, 'en')} paid, {format_yuan(before, 'en')} recovered)",
                    )
                ],
            )
        recalculation = (
            _recalculate(s, svc, item, app, org, corrected_facts, paid - before)
            if corrected_facts is not None
            else {
                "corrected": False,
                "policy_sha256": app.policy_sha256,
                "engine_fen": line.engine_fen,
                "decided_fen": line.decided_fen,
            }
        )
        now = svc.clock()
        recovery = Recovery(
            plan_item_id=item.id,
            amount_fen=amount_fen,
            reason=reason,
            recalculation={**recalculation, "paid_fen": paid, "recovered_before_fen": before},
            decided_by=actor.user_id,
            decided_at=now,
        )
        s.add(recovery)
        s.flush()
        s.add(
            LedgerEntry(
                org_id=item.org_id,
                clause_id=item.clause_id,
                subject_id=item.subject_id,
                award_year=app.award_year,
                amount_fen=-amount_fen,
                kind=LedgerKind.RECOVERY,
                plan_id=item.plan_id,
                plan_item_id=item.id,
                recovery_id=recovery.id,
                recorded_at=now,
            )
        )
        s.flush()
        audit.record(
            s,
            at=now,
            actor=actor.username,
            action="award.recover",
            object_type="recovery",
            object_id=recovery.id,
            before={"plan_item": item.id, "paid_fen": paid, "recovered_fen": before},
            after={
                "plan_item": item.id,
                "org": org.credit_code,
                "clause": item.clause_id,
                "subject_id": item.subject_id,
                "year": app.award_year,
                "amount_fen": amount_fen,
                "recovered_fen": before + amount_fen,
                "ledger_fen": -amount_fen,
                "policy_sha256": recalculation.get("policy_sha256"),
                "recalculated_fen": recalculation.get("entitled_fen"),
            },
            reason=reason,
        )
        return _view(recovery, item, org, app.award_year, paid, before + amount_fen)


def _recalculate(
    s: Session,
    svc: Services,
    item: PlanItem,
    app: Application,
    org: Organisation,
    corrected_facts: dict[str, Any],
    held: int,
) -> dict[str, Any]:
    """The engine on the corrected facts, against the ledger as the award was decided.

    The ledger read leaves out this application's own awards (and their recoveries) and
    the awards of later years; otherwise the award under review would count against
    itself. What the item should have been is the engine's amount for its subject, never
    more than was granted (for a discretionary clause: the granted sum if still eligible).
    """
    probe = Application(facts=corrected_facts, award_year=app.award_year)  # never added
    document = facts_document(s, probe, org)
    document["earlier_awards"] = _ledger_before(s, app, org)
    try:
        facts = parse_facts(document)
        evaluation = evaluate(svc.package, facts, app.award_year)
    except InputError as exc:
        problems = [
            Problem("corrected_facts" + p.path.removeprefix("$"), p.value, p.zh, p.en)
            for p in exc.problems
        ]
        raise Invalid("更正后的事实有误", "the corrected facts are not valid", problems) from None
    result = evaluation.clause(item.clause_id)
    if result.kind is AmountKind.DISCRETIONARY:
        engine_fen = None
        entitled = item.granted_fen if result.eligible else 0
    else:
        engine_fen = next(
            (
                i.allocated_fen or 0
                for i in result.items
                if i.subject == item.subject_id and i.eligible
            ),
            0,
        )
        entitled = min(item.granted_fen, engine_fen) if result.eligible else 0
    snapshot_policy(s, svc)
    return {
        "corrected": True,
        "facts": facts.model_dump(mode="json"),
        "policy": {
            "id": evaluation.policy.id,
            "version": evaluation.policy.version,
            "sha256": evaluation.policy.sha256,
        },
        "policy_sha256": evaluation.policy.sha256,
        "clause": result.as_dict(),
        "engine_fen": engine_fen,
        "entitled_fen": entitled,
        "overpaid_fen": max(0, held - entitled),
    }


def _ledger_before(s: Session, app: Application, org: Organisation) -> list[dict[str, Any]]:
    own_items = (
        select(PlanItem.id)
        .join(ApplicationLine, ApplicationLine.id == PlanItem.line_id)
        .where(ApplicationLine.application_id == app.id)
    )
    rows = s.scalars(
        select(LedgerEntry)
        .where(
            LedgerEntry.org_id == org.id,
            LedgerEntry.award_year <= app.award_year,
            or_(LedgerEntry.plan_item_id.is_(None), LedgerEntry.plan_item_id.not_in(own_items)),
        )
        .order_by(LedgerEntry.id)
    )
    net: dict[tuple[str, str, int], int] = {}
    for row in rows:
        key = (row.clause_id, row.subject_id, row.award_year)
        net[key] = net.get(key, 0) + row.amount_fen
    return [
        {"clause": c, "subject_id": sub, "award_year": y, "amount_cny": str(fen_to_yuan(fen))}
        for (c, sub, y), fen in net.items()
        if fen > 0
    ]


def recoveries_of(svc: Services, actor: Actor, plan_item_id: int) -> list[RecoveryView]:
    """The recoveries of one plan item, oldest first."""
    with svc.reading() as s:
        item = s.get(PlanItem, plan_item_id)
        if item is None:
            raise NotFound(f"方案项目 {plan_item_id} 不存在", f"no plan item {plan_item_id}")
        require_org(actor, item.org_id)
        org = s.get(Organisation, item.org_id)
        line = s.get(ApplicationLine, item.line_id)
        assert org is not None and line is not None
        app = s.get(Application, line.application_id)
        assert app is not None
        paid = _sum(s, Disbursement.amount_fen, Disbursement.plan_item_id == item.id)
        views, total = [], 0
        for r in s.scalars(
            select(Recovery).where(Recovery.plan_item_id == item.id).order_by(Recovery.id)
        ):
            total += r.amount_fen
            views.append(_view(r, item, org, app.award_year, paid, total))
        return views
