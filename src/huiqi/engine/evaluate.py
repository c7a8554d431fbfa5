"""Evaluating one applicant-year against every clause of a policy package.

The order of steps is the same for every clause, and each step leaves a node in
the explanation: scope (clause 1) → kind of applicant → the clause's conditions
→ per subject (the applicant, or each store, warehouse, loan …): its conditions,
the tier chosen, the raw amount, its caps, the one-time rule and, for listed
subjects, 从优不重复 against what another policy paid for that subject → the sum
→ the clause's own caps → 从优不重复 for the clause's subject as a whole. Overlaps
come after caps so that both policies together never pay more than the better one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from huiqi.engine.amounts import apply_cap, apply_once, apply_overlap, raw_amount
from huiqi.engine.conditions import evaluate_conditions
from huiqi.engine.context import Context, NoValueError
from huiqi.engine.explain import Node, money, text
from huiqi.engine.result import ClauseResult, Evaluation, ItemResult, PolicyRef
from huiqi.errors import InputError, Problem
from huiqi.facts.model import Facts
from huiqi.policy.model import AmountKind, Cap, CapPer, Clause, Condition, Once, PolicyPackage


class OutsideValidityError(InputError):
    """The award year is not one the policy covers."""


def clause_sort_key(clause_id: str) -> tuple[Any, ...]:
    """``2.2a`` < ``2.10`` — numbers compare as numbers, suffixes as text."""
    return tuple(int(p) if p.isdigit() else p for p in re.findall(r"\d+|[a-z]+", clause_id))


@cache
def _clause_order(clause_ids: tuple[str, ...]) -> tuple[str, ...]:
    """The clauses in reading order (:func:`clause_sort_key`), sorted once per package."""
    return tuple(sorted(clause_ids, key=clause_sort_key))


def check_year(package: PolicyPackage, year: int | None) -> int:
    validity = package.policy.validity
    if year is None:
        raise InputError(
            [
                Problem(
                    "$.award_year",
                    None,
                    "请给出奖补年度（数据所属年度）",
                    "give the award year (the year of the data)",
                )
            ]
        )
    if not validity.first_award_year <= year <= validity.last_award_year:
        raise OutsideValidityError(
            [
                Problem(
                    "$.award_year",
                    year,
                    f"{package.policy.document_no}适用于{validity.first_award_year}—"
                    f"{validity.last_award_year}年度（{validity.issued}印发，有效期至{validity.expires}），"
                    f"{year}年度不在有效期内",
                    f"{package.policy.document_no} covers award years {validity.first_award_year}–"
                    f"{validity.last_award_year} (issued {validity.issued}, valid until "
                    f"{validity.expires}); {year} is outside it",
                )
            ]
        )
    return year


def evaluate(package: PolicyPackage, facts: Facts, year: int | None = None) -> Evaluation:
    """Evaluate ``facts`` for ``year`` (default: the facts' own award year)."""
    award_year = check_year(package, year if year is not None else facts.award_year)
    ctx = Context(package, facts, award_year)
    scope = _scope(ctx)
    scope_switches = {name: package.switch(name) for name in sorted(ctx.switches_used)}
    gate = _gate(ctx, scope)
    clauses = tuple(
        _clause(ctx, package.clauses[cid], gate) for cid in _clause_order(tuple(package.clauses))
    )
    switches = {name: package.switch(name) for name in sorted(package.policy.switches)}
    applicant = facts.applicant
    return Evaluation(
        policy=PolicyRef(
            package.id, package.policy.document_no, package.version, package.sha256, switches
        ),
        award_year=award_year,
        applicant_code=applicant.credit_code,
        applicant_name=applicant.name,
        applicant_kind=applicant.kind.value,
        scope_ok=bool(scope.ok),
        scope=Node(scope.key, {**scope.args, "switches": scope_switches}, scope.ok, scope.children),
        clauses=clauses,
    )


def _scope(ctx: Context) -> Node:
    policy = ctx.package.policy
    nodes = evaluate_conditions(ctx, policy.scope.conditions)
    ok = all(n.ok for n in nodes)
    return Node(
        "scope", {"clause": policy.scope.clause, "quote": policy.scope.text}, ok, tuple(nodes)
    )


def _uses_item(cond: Condition) -> bool:
    if cond.any is not None:
        return any(_uses_item(c) for c in cond.any)
    facts = cond.fact if isinstance(cond.fact, list) else [cond.fact]
    return any(isinstance(f, str) and f.startswith("item.") for f in facts)


@dataclass(frozen=True)
class _Plan:
    """What a clause's evaluation needs that never changes: worked out once per clause."""

    clause: Clause
    kind: str  # the clause's kind of amount, as shown
    common: list[Condition]  # read the applicant's facts once
    per_item: list[Condition]  # read each subject (store, warehouse, loan …)
    allowed: list[dict[str, str]]
    item_caps: list[Cap]  # on each subject's amount
    applicant_caps: list[Cap]  # on the clause's total
    items_label: tuple[str, str] | None  # the list of for_each (zh, en)


_PLANS: dict[int, _Plan] = {}


def _plan(package: PolicyPackage, clause: Clause) -> _Plan:
    plan = _PLANS.get(id(clause))
    if plan is None or plan.clause is not clause:
        kinds = package.policy.applicant_kinds
        items_label = None
        if clause.for_each is not None:
            field = Facts.model_fields[clause.for_each]
            items_label = (field.title or clause.for_each, field.description or clause.for_each)
        plan = _Plan(
            clause=clause,
            kind=clause.kind.value,
            common=[c for c in clause.conditions if not _uses_item(c)],
            per_item=[c for c in clause.conditions if _uses_item(c)],
            allowed=[kinds[k].both for k in clause.applicants],
            item_caps=[c for c in clause.caps if c.per is CapPer.ITEM],
            applicant_caps=[c for c in clause.caps if c.per is CapPer.APPLICANT],
            items_label=items_label,
        )
        _PLANS[id(clause)] = plan
    return plan


@dataclass(frozen=True, slots=True)
class _Gate:
    """What every clause of one evaluation checks first, and shows alike: clause 1 (its
    summary node is the same, unchanging node in every clause's explanation) and the
    applicant's kind."""

    scope_ok: bool
    scope_summary: Node
    kind: str
    kind_label: dict[str, str]


def _gate(ctx: Context, scope: Node) -> _Gate:
    kinds = ctx.package.policy.applicant_kinds
    kind = ctx.facts.applicant.kind.value
    summary = Node(
        "scope.summary",
        {"clause": scope.args["clause"]},
        scope.ok,
        () if scope.ok else tuple(n for n in scope.children if not n.ok),
    )
    return _Gate(
        scope_ok=bool(scope.ok),
        scope_summary=summary,
        kind=kind,
        kind_label=kinds[kind].both if kind in kinds else text(kind, kind),
    )


def _clause(ctx: Context, clause: Clause, gate: _Gate) -> ClauseResult:
    ctx.clause = clause
    ctx.switches_used = set()
    ended = [
        (name, spec, when)
        for name, spec in sorted(clause.parameters.items())
        if (when := spec.ended_on(ctx.reference_date)) is not None
    ]
    if ended:
        name, spec, when = ended[0]
        return _not_in_force(ctx, clause, gate, name, spec.label.both, when)
    try:
        return _clause_in_force(ctx, clause, gate)
    except NoValueError as missing:
        if missing.ended is None:
            raise
        return _not_in_force(ctx, clause, gate, missing.name, missing.label, missing.ended)


def _not_in_force(
    ctx: Context, clause: Clause, gate: _Gate, name: str, label: dict[str, str], ended: Any
) -> ClauseResult:
    """A clause one of whose parameters a ``null`` value ended: not in force, and said why."""
    node = Node(
        "clause.ended",
        {"label": label, "name": name, "ended": ended.isoformat(), "year": ctx.year},
        False,
    )
    root = Node(
        "clause",
        {
            "id": clause.id,
            "title": clause.title.both,
            "kind": clause.kind.value,
            "amount": None,
            "text": clause.text,
        },
        False,
        (gate.scope_summary, node),
    )
    return ClauseResult(
        clause_id=clause.id,
        title=clause.title.both,
        kind=clause.kind,
        eligible=False,
        amount_fen=None,
        tier=None,
        items=(),
        needs_office_approval=clause.needs_office_approval,
        switches={},
        explanation=root,
    )


def _clause_in_force(ctx: Context, clause: Clause, gate: _Gate) -> ClauseResult:
    plan = _plan(ctx.package, clause)
    kind_ok = gate.kind in clause.applicants
    kind_node = Node("cond.kind", {"value": gate.kind_label, "allowed": plan.allowed}, kind_ok)
    common = evaluate_conditions(ctx, plan.common)
    gate_ok = gate.scope_ok and kind_ok and all(n.ok for n in common)
    nodes: list[Node] = [gate.scope_summary, kind_node, *common]

    items: list[ItemResult] = []
    amounts: list[int] = []
    for subject, item, skip in _subjects(ctx, clause):
        if skip is not None:
            nodes.append(skip)
            continue
        result, node = _subject(ctx, plan, subject, item, gate_ok)
        items.append(result)
        nodes.append(node)
        if result.eligible and result.amount_fen is not None:
            amounts.append(result.amount_fen)
    if plan.items_label is not None and not items:
        nodes.append(Node("items.none", {"list": text(*plan.items_label)}, False))

    eligible = gate_ok and any(i.eligible for i in items)
    amount: int | None = None
    if eligible and clause.kind is not AmountKind.DISCRETIONARY:
        amount = sum(amounts)
        if clause.for_each is not None:
            nodes.append(Node("sum", {"count": len(amounts), "amount": money(amount)}))
        for cap in plan.applicant_caps:
            amount, cap_node = apply_cap(ctx, cap, amount, None, None)
            nodes.append(cap_node)
        if clause.overlap:
            # After this policy's caps, so that both policies together never pay more than
            # the better of the two. Awards for a store, warehouse … were set against that
            # subject above; here, what another policy paid for the clause's own subject.
            whole = {ctx.applicant_code} if clause.for_each else {i.subject for i in items}
            amount, overlap_node = apply_overlap(ctx, amount, whole)
            if overlap_node is not None:
                nodes.append(overlap_node)
    if eligible and clause.needs_office_approval:
        nodes.append(Node("office_approval", {"office": ctx.package.policy.office.both}))
    switches = {name: ctx.package.switch(name) for name in sorted(ctx.switches_used)}
    if switches:
        nodes.append(
            Node(
                "switches",
                {
                    "used": [
                        {
                            "name": n,
                            "label": ctx.package.policy.switches[n].label.both,
                            "value": v,
                            "meaning": ctx.package.policy.switches[n].options[v].both,
                        }
                        for n, v in switches.items()
                    ]
                },
            )
        )
    if amount is not None:
        items = _allocate(items, amount)
    single_tier = items[0].tier if clause.for_each is None and items else None
    root = Node(
        "clause",
        {
            "id": clause.id,
            "title": clause.title.both,
            "kind": plan.kind,
            "amount": None if amount is None else money(amount),
            "text": clause.text,
        },
        eligible,
        tuple(nodes),
    )
    return ClauseResult(
        clause_id=clause.id,
        title=clause.title.both,
        kind=clause.kind,
        eligible=eligible,
        amount_fen=amount,
        tier=single_tier,
        items=tuple(items),
        needs_office_approval=clause.needs_office_approval,
        switches=switches,
        explanation=root,
    )


def _subjects(ctx: Context, clause: Clause) -> list[tuple[str, Any, Node | None]]:
    """(subject id, item, skip-node) for each subject the clause looks at."""
    if clause.for_each is None:
        if clause.subject == "applicant":
            return [(ctx.applicant_code, None, None)]
        return [(str(ctx.raw(clause.subject) or ctx.applicant_code), None, None)]
    subjects: list[tuple[str, Any, Node | None]] = []
    for item in getattr(ctx.facts, clause.for_each):
        where = evaluate_conditions(ctx, clause.where, item)
        if all(n.ok for n in where):
            subjects.append((item.id, item, None))
        else:
            subjects.append(
                (item.id, item, Node("item.skipped", {"id": item.id}, None, tuple(where)))
            )
    return subjects


def _subject(
    ctx: Context, plan: _Plan, subject: str, item: Any, gate_ok: bool
) -> tuple[ItemResult, Node]:
    clause = plan.clause
    nodes = evaluate_conditions(ctx, plan.per_item, item)
    ok = all(n.ok for n in nodes)
    tier_id: str | None = None
    amount_spec = clause.amount
    if clause.tiers is not None:
        chosen = None
        for tier in clause.tiers:
            tier_nodes = evaluate_conditions(ctx, tier.conditions, item)
            met = all(n.ok for n in tier_nodes)
            if met:
                chosen = tier
            nodes.append(Node("tier", {"id": tier.id}, met, tuple(tier_nodes)))
        if chosen is None:
            ok = False
            nodes.append(Node("tier.none", {}, False))
        else:
            tier_id, amount_spec = chosen.id, chosen.amount
            nodes.append(Node("tier.chosen", {"id": chosen.id}, True))
    eligible = gate_ok and ok
    amount: int | None = None
    try:
        raw = raw_amount(ctx, amount_spec, item) if eligible and amount_spec else None
    except NoValueError as missing:
        if missing.ended is not None:
            raise
        # A rate that did not exist yet on the subject's date (a loan drawn before the LPR
        # began): this subject cannot be paid, the others still can.
        eligible, raw = False, None
        nodes.append(
            Node("param.no_value", {"label": missing.label, "on": missing.when.isoformat()}, False)
        )
    if raw is not None:
        amount, amount_node = raw
        nodes.append(amount_node)
        if amount is not None:
            for cap in plan.item_caps:
                amount, cap_node = apply_cap(ctx, cap, amount, subject, item)
                nodes.append(cap_node)
            if clause.once is not Once.NO:
                amount, once_node = apply_once(ctx, clause.once, amount, subject)
                nodes.append(once_node)
            if clause.overlap and clause.for_each is not None:
                amount, overlap_node = apply_overlap(ctx, amount, {subject})
                if overlap_node is not None:
                    nodes.append(overlap_node)
    key = "subject.item" if clause.for_each is not None else "subject"
    node = Node(
        key,
        {"id": subject, "tier": tier_id, "amount": None if amount is None else money(amount)},
        eligible,
        tuple(nodes),
    )
    return ItemResult(subject, eligible, tier_id, amount), node


def _allocate(items: list[ItemResult], total: int) -> list[ItemResult]:
    """Share the clause's final amount among its subjects, in the order given."""
    left = total
    shared = []
    for item in items:
        share = min(item.amount_fen or 0, left) if item.eligible else None
        left -= share or 0
        shared.append(
            ItemResult(
                subject=item.subject,
                eligible=item.eligible,
                tier=item.tier,
                amount_fen=item.amount_fen,
                allocated_fen=share,
            )
        )
    return shared
