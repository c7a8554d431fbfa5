"""Budget-constrained allocation: pro-rata scaling or a quota, exact to the fen.

Deterministic: the same items and budget always give the same amounts. Scaling
floors every amount, then hands the fen left over to the largest remainders
(ties by item key), so the total never exceeds the budget and nothing is lost.
Like every largest-remainder method it is not strictly monotone in the budget:
one more fen of budget can move a fen between items (never more than one).

Rules apply only when a paying finance's requests exceed its budget. A quota
funds items in full in the stated ranking, at most N of them and only while
they fit in the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from huiqi.policy.model import AmountKind

#: Entitlements the policy owes as of right; scaling them is a switch, not the default.
ENTITLED = frozenset({AmountKind.FIXED, AmountKind.COMPUTED, AmountKind.EXTERNAL})


class Rule(StrEnum):
    NONE = "none"  # within budget: nothing changes
    PRO_RATA_FLEXIBLE = "pro_rata_flexible"  # scale ceiling and discretionary items only
    PRO_RATA_ALL = "pro_rata_all"  # scale every item
    QUOTA = "quota"  # fund the first N by a stated ranking, in full


@dataclass(frozen=True)
class Item:
    key: str  # stable and unique, e.g. the plan item id
    kind: AmountKind
    amount_fen: int
    rank: tuple[object, ...] = ()  # for quotas: smaller ranks first


@dataclass(frozen=True)
class Allocation:
    rule: Rule
    budget_fen: int
    requested_fen: int
    granted: dict[str, int]
    factor: Fraction  # the scaling factor (1 when nothing was scaled)

    @property
    def granted_fen(self) -> int:
        return sum(self.granted.values())

    @property
    def gap_fen(self) -> int:
        """How far the request exceeds the budget (0 when it fits)."""
        return max(0, self.requested_fen - self.budget_fen)


def _scale(items: list[Item], room: int) -> tuple[dict[str, int], Fraction]:
    total = sum(i.amount_fen for i in items)
    if total <= room:
        return {i.key: i.amount_fen for i in items}, Fraction(1)
    if total == 0 or room <= 0:
        return {i.key: 0 for i in items}, Fraction(0)
    factor = Fraction(max(room, 0), total)
    exact = {i.key: i.amount_fen * factor for i in items}
    granted = {k: v.numerator // v.denominator for k, v in exact.items()}
    left = max(room, 0) - sum(granted.values())
    by_remainder = sorted(exact, key=lambda k: (-(exact[k] - granted[k]), k))
    for key in by_remainder[:left]:
        granted[key] += 1
    return granted, factor


def allocate(
    items: list[Item], budget_fen: int, rule: Rule, quota: int | None = None
) -> Allocation:
    """Share ``budget_fen`` among ``items`` by ``rule``; see the module's docstring."""
    requested = sum(i.amount_fen for i in items)
    if rule is Rule.NONE or requested <= budget_fen:
        return Allocation(
            rule, budget_fen, requested, {i.key: i.amount_fen for i in items}, Fraction(1)
        )
    if rule is Rule.PRO_RATA_ALL:
        granted, factor = _scale(items, budget_fen)
    elif rule is Rule.PRO_RATA_FLEXIBLE:
        fixed = [i for i in items if i.kind in ENTITLED]
        flexible = [i for i in items if i.kind not in ENTITLED]
        room = budget_fen - sum(i.amount_fen for i in fixed)
        granted, factor = _scale(flexible, room)
        granted.update({i.key: i.amount_fen for i in fixed})
    else:
        if quota is None or quota < 0:
            raise ValueError("a quota needs N ≥ 0")
        granted = {i.key: 0 for i in items}
        left, funded = budget_fen, 0
        for item in sorted(items, key=lambda i: (i.rank, i.key)):
            if funded < quota and item.amount_fen <= left:
                granted[item.key] = item.amount_fen
                left -= item.amount_fen
                funded += 1
        factor = Fraction(sum(granted.values()), requested) if requested else Fraction(1)
    return Allocation(rule, budget_fen, requested, granted, factor)
