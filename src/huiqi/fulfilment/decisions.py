"""What a reviewer may decide for one line (clause × subject) of an application.

Fixed, computed and external amounts are owed exactly as the engine says;
a ceiling may be approved at any amount in (0, ceiling] with a written reason;
a discretionary amount is set by review with a reason and then needs the
leading group office's approval, as do training events (7.4).
"""

from __future__ import annotations

from dataclasses import dataclass

from huiqi.errors import MISSING, Problem
from huiqi.money import format_yuan
from huiqi.policy.model import AmountKind


@dataclass(frozen=True)
class LineDecision:
    """A reviewer's decision on one line: approve an amount, or refuse with a reason."""

    clause_id: str
    subject_id: str
    approve: bool
    amount_fen: int | None
    reason: str | None


def check_decision(
    kind: AmountKind, engine_fen: int | None, decision: LineDecision, where: str
) -> list[Problem]:
    """Problems with a decision, each naming the line (``where``), or none."""
    reason = (decision.reason or "").strip()
    if not decision.approve:
        if not reason:
            return [
                Problem(
                    f"{where}.reason",
                    MISSING,
                    "不予支持须写明理由",
                    "a refusal needs a written reason",
                )
            ]
        return []
    amount = decision.amount_fen
    if kind in (AmountKind.FIXED, AmountKind.COMPUTED, AmountKind.EXTERNAL):
        if amount is not None and amount != engine_fen:
            owed = format_yuan(engine_fen or 0)
            return [
                Problem(
                    f"{where}.amount",
                    amount,
                    f"定额、计算和外部核定类金额按政策计算为 {owed}，不能改动",
                    f"fixed, computed and external amounts are as the policy computes: "
                    f"{format_yuan(engine_fen or 0, 'en')}",
                )
            ]
        return []
    problems = []
    if amount is None or amount <= 0:
        problems.append(
            Problem(
                f"{where}.amount", amount, "须核定大于零的金额", "an amount above zero is needed"
            )
        )
    elif kind is AmountKind.CEILING and engine_fen is not None and amount > engine_fen:
        problems.append(
            Problem(
                f"{where}.amount",
                amount,
                f"超过本项上限 {format_yuan(engine_fen)}",
                f"above this line's ceiling of {format_yuan(engine_fen, 'en')}",
            )
        )
    if not reason:
        problems.append(
            Problem(
                f"{where}.reason",
                MISSING,
                "限额类和酌定类金额须写明核定理由",
                "ceiling and discretionary amounts need a written reason",
            )
        )
    return problems


def decided_amount(kind: AmountKind, engine_fen: int | None, decision: LineDecision) -> int:
    """The amount a valid decision approves (0 for a refusal)."""
    if not decision.approve:
        return 0
    if kind in (AmountKind.FIXED, AmountKind.COMPUTED, AmountKind.EXTERNAL):
        return engine_fen or 0
    assert decision.amount_fen is not None
    return decision.amount_fen
