"""Every threshold a package compares against, read from the package itself.

The synthetic population puts values on these numbers (and one step either side) so
that the boundaries of 以上/达到/超过 are exercised; a reform that moves a threshold is
felt by the applicants the generator placed there. Values are in memory units:
hundredths for money, areas and years, whole numbers for counts.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from huiqi.policy.model import Clause, Condition, PolicyPackage
from huiqi.simulate.schema import SCALE


def _words(conds: list[Condition]) -> list[Condition]:
    out: list[Condition] = []
    for cond in conds:
        if cond.any is not None:
            out += _words(cond.any)
        elif cond.word is not None and cond.threshold is not None:
            out.append(cond)
    return out


def _clause_conditions(clause: Clause) -> list[Condition]:
    conds = list(clause.conditions)
    for tier in clause.tiers or []:
        conds += tier.conditions
    return _words(conds)


def thresholds(package: PolicyPackage, on: date | None = None) -> dict[str, list[int]]:
    """Per unit (usd, cny, m2, years, count): each threshold and its neighbours."""
    found: dict[str, set[int]] = {}
    for clause in package.clauses.values():
        for cond in _clause_conditions(clause):
            assert cond.threshold is not None
            spec = clause.parameters.get(cond.threshold) or package.parameters[cond.threshold]
            unit = spec.unit.value
            step = 1
            scale = 1 if unit == "count" else SCALE
            for when, value in spec.values.items():
                if on is not None and when > on:
                    continue
                centre = int(Decimal(value) * scale)
                found.setdefault(unit, set()).update(
                    v for v in (centre - step, centre, centre + step) if v >= 0
                )
        found.setdefault("cny", set()).update(_break_even(package, clause))
    return {unit: sorted(values) for unit, values in found.items()}


def _break_even(package: PolicyPackage, clause: Clause) -> set[int]:
    """Bases at which a single-rate computed amount reaches its cap (7.1: 200,000 / 30%)."""
    out: set[int] = set()
    if clause.amount is None or not clause.amount.computed or len(clause.amount.computed) != 1:
        return out
    part = clause.amount.computed[0]
    rates = [r for r in part.rate or [] if isinstance(r, str)]
    if len(rates) != 1 or len(part.rate or []) != 1:
        return out
    share = clause.parameters.get(rates[0]) or package.parameters[rates[0]]
    for cap in clause.caps:
        if cap.param is None:
            continue
        limit = clause.parameters.get(cap.param) or package.parameters[cap.param]
        for c in limit.values.values():
            for r in share.values.values():
                if r:
                    centre = int((Decimal(c) / Decimal(r) * SCALE).to_integral_value())
                    out.update({centre - 1, centre, centre + 1})
    return out
