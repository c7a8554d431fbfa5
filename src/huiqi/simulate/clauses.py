"""One clause compiled: gate, subject test, tier, raw amount, then caps, once and overlaps.

The steps and their order are the single-case engine's (``huiqi.engine.evaluate``):
scope → kind → the clause's own conditions (the *gate*, read once per applicant-year)
→ per subject (the applicant, or each store, warehouse, loan …): its conditions, the
last tier met, the raw amount, its per-subject caps, the one-time rule and, for listed
subjects, 从优不重复 against that subject → the sum → the clause's per-applicant caps →
从优不重复 for the clause's own subject. Earlier awards enter as columns the evaluator
prepares (:mod:`huiqi.simulate.ledger`); a step whose ledger column does not exist in
this population (nobody has such an award) is left out, which is the same as using 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from huiqi.policy.model import AmountKind, Cap, CapPer, CapPeriod, Clause, Condition, Once
from huiqi.simulate.compile import Raw, YearRules, _fen_of_param, conditions, raw_amount

#: ``ledger(scope)`` → the column of earlier (or other-policy) awards for that scope, or None.
LedgerCols = Callable[[str], pl.Expr | None]


def uses_item(cond: Condition) -> bool:
    if cond.any is not None:
        return any(uses_item(c) for c in cond.any)
    facts = cond.fact if isinstance(cond.fact, list) else [cond.fact]
    return any(isinstance(f, str) and f.startswith("item.") for f in facts)


@dataclass
class ClausePlan:
    """A clause's expressions for one award year."""

    clause: Clause
    gate: pl.Expr  # row domain: scope, kind, the clause's applicant-level conditions
    where: pl.Expr | None  # item domain: which items the clause looks at
    subject_ok: pl.Expr | None  # subject domain: per-item conditions and a tier met
    tier: pl.Expr | None  # subject domain: the tier chosen (the last one met), as text
    raw: Raw  # subject domain
    row_paths: set[str] = field(default_factory=set)  # row columns the subject domain reads

    @property
    def discretionary(self) -> bool:
        return self.clause.kind is AmountKind.DISCRETIONARY

    def eligible(self, gate: pl.Expr) -> pl.Expr:
        """The subject is eligible: the gate, its own tests, and a rate on its date."""
        out = gate
        if self.subject_ok is not None:
            out = out & self.subject_ok
        if self.raw.no_value is not None:
            out = out & ~self.raw.no_value
        return out.fill_null(False)  # a missing fact is a condition not met


def plan(rules: YearRules, clause: Clause, scope: pl.Expr) -> ClausePlan:
    rules.clause = clause
    kind_ok = pl.col("applicant.kind").is_in(list(clause.applicants))
    common = [c for c in clause.conditions if not uses_item(c)]
    gate = scope & kind_ok & conditions(rules, common)
    rules.row_paths = set()
    where = conditions(rules, clause.where) if clause.for_each is not None else None
    per_item = [c for c in clause.conditions if uses_item(c)]
    subject_ok: pl.Expr | None = conditions(rules, per_item) if per_item else None
    tier: pl.Expr | None = None
    if clause.tiers is not None:
        mets = [conditions(rules, t.conditions) for t in clause.tiers]
        raws = [raw_amount(rules, t.amount) for t in clause.tiers]
        met_any = pl.any_horizontal(mets)
        subject_ok = met_any if subject_ok is None else subject_ok & met_any
        tier = _last_met(mets, [pl.lit(t.id, pl.String) for t in clause.tiers], None)
        fen = None
        if raws[0].fen is not None:
            fen = _last_met(mets, [r.fen for r in raws if r.fen is not None], None)
        missing = None
        if any(r.no_value is not None for r in raws):
            flags = [pl.lit(False) if r.no_value is None else r.no_value for r in raws]
            missing = _last_met(mets, flags, pl.lit(False))
        raw = Raw(fen, missing)
    else:
        assert clause.amount is not None
        raw = raw_amount(rules, clause.amount)
    row_paths = set(rules.row_paths)
    rules.clause = None
    return ClausePlan(clause, gate, where, subject_ok, tier, raw, row_paths)


def _last_met(mets: list[pl.Expr], values: list[pl.Expr], default: pl.Expr | None) -> pl.Expr:
    """The value of the last tier met (tiers are alternatives: never summed)."""
    expr: Any = None
    for met, value in zip(reversed(mets), reversed(values), strict=True):
        expr = pl.when(met).then(value) if expr is None else expr.when(met).then(value)
    assert expr is not None
    chosen: pl.Expr = expr.otherwise(default)
    return chosen


def _period(cap: Cap) -> str:
    return "life" if cap.period is CapPeriod.POLICY_LIFE else "year"


def _limit(rules: YearRules, cap: Cap, ledger: LedgerCols, whose: str) -> pl.Expr:
    """What a cap leaves: a fact (missing: 0), or the parameter less earlier awards."""
    if cap.fact is not None:
        if whose == "all" and cap.fact.startswith("item."):
            return pl.lit(0, pl.Int64)  # no item at the applicant level: the engine reads None
        fen, _ = rules.raw_fen(cap.fact)
        return fen
    assert cap.param is not None
    cap_fen = _fen_of_param(rules.need(cap.param))
    used = None if cap.period is CapPeriod.EACH else ledger(f"{whose}_{_period(cap)}")
    if used is None:
        return pl.lit(cap_fen, pl.Int64)
    return (pl.lit(cap_fen, pl.Int64) - used).clip(lower_bound=0)


def subject_amount(rules: YearRules, clause: Clause, raw: pl.Expr, ledger: LedgerCols) -> pl.Expr:
    """A subject's amount after its own caps, the one-time rule and (listed) 从优不重复."""
    rules.clause = clause
    amount = raw
    for cap in clause.caps:
        if cap.per is CapPer.ITEM:
            amount = pl.min_horizontal(amount, _limit(rules, cap, ledger, "subject"))
    if clause.once is not Once.NO:
        paid = ledger("subject_life" if clause.once is Once.EVER else "subject_year")
        if paid is not None:
            if rules.package.switch("one_time_mode") == "strict_once":
                amount = pl.when(paid != 0).then(pl.lit(0, pl.Int64)).otherwise(amount)
            else:
                amount = (amount - paid).clip(lower_bound=0)
    if clause.overlap and clause.for_each is not None:
        received = ledger("others_subject")
        if received is not None:
            amount = (amount - received).clip(lower_bound=0)
    rules.clause = None
    return amount


def clause_amount(rules: YearRules, clause: Clause, total: pl.Expr, ledger: LedgerCols) -> pl.Expr:
    """The sum after the clause's per-applicant caps and 从优不重复 for its own subject."""
    rules.clause = clause
    amount = total
    for cap in clause.caps:
        if cap.per is CapPer.APPLICANT:
            amount = pl.min_horizontal(amount, _limit(rules, cap, ledger, "all"))
    if clause.overlap:
        received = ledger("others_code" if clause.for_each is not None else "others_subject")
        if received is not None:
            amount = (amount - received).clip(lower_bound=0)
    rules.clause = None
    return amount


def ledger_scopes(clause: Clause) -> tuple[set[str], set[str]]:
    """(per-subject scopes, per-applicant scopes) of earlier awards a clause reads."""
    subject: set[str] = set()
    applicant: set[str] = set()
    for cap in clause.caps:
        if cap.param is not None and cap.period is not CapPeriod.EACH:
            (subject if cap.per is CapPer.ITEM else applicant).add(_period(cap))
    if clause.once is not Once.NO:
        subject.add("life" if clause.once is Once.EVER else "year")
    return subject, applicant
