"""Properties every evaluation must have, over random applicant-years (hypothesis).

The applicant-years come from ``factgen.facts``: a random kind, scope flags mostly
true, CBEC trade clustered at the policy's thresholds, random sections, 0–4 stores,
warehouses, loans, events and talents, a random award ledger and other policies'
awards, award years 2021–2025. The expected limits are the policy's own numbers:
read from the package where a rule is generic (every cap, every ceiling), written
here by hand from the policy text where one clause is checked (4.1b 50万; 4.1a's
tiers 10万/20万/50万; 6.2's LPR arithmetic).
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from huiqi.engine import Evaluation, evaluate
from huiqi.facts.model import Facts, Park
from huiqi.facts.paths import fact_info
from huiqi.policy import PolicyPackage
from huiqi.policy.model import (
    AmountKind,
    CapPer,
    CapPeriod,
    Clause,
    Condition,
    OnDate,
    Switched,
)

from . import factgen
from .factgen import fen, package

#: ~150 applicant-years a property; the whole file stays well under a minute on 2 cores.
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: For properties that evaluate several times per example.
FEWER = settings(SETTINGS, max_examples=100)
FEWEST = settings(SETTINGS, max_examples=60)


def run(facts: Facts, pkg: PolicyPackage | None = None) -> Evaluation:
    assert facts.award_year is not None
    return evaluate(pkg or package(), facts, facts.award_year)


def param_fen(clause: Clause, name: str, year: int) -> int:
    value = factgen.value_on(package(), clause, name, year)
    assert value is not None, (clause.id, name, year)
    return fen(value)


def earlier_fen(facts: Facts, clause_id: str, subject: str | None, year: int | None) -> int:
    """What the ledger already paid under a clause (for a subject, in a year), by hand."""
    code = facts.applicant.credit_code
    return sum(
        fen(a.amount_cny)
        for a in facts.earlier_awards
        if a.clause == clause_id
        and (subject is None or (a.subject_id or code) == subject)
        and (year is None or a.award_year == year)
    )


# --- (a) (f) (h): what every result looks like ------------------------------------------------


#: Random applicant-years, half of them with earlier awards using up (or more than) a cap.
WITH_LEDGERS = st.one_of(factgen.aimed_facts(), factgen.capped_facts())


@SETTINGS
@given(WITH_LEDGERS)
def test_no_amount_is_ever_negative(facts: Facts) -> None:
    for result in run(facts).clauses:
        assert result.amount_fen is None or result.amount_fen >= 0, result.clause_id
        for item in result.items:
            assert item.amount_fen is None or item.amount_fen >= 0, (result.clause_id, item)


@SETTINGS
@given(factgen.aimed_facts())
def test_ineligible_and_discretionary_clauses_name_no_amount(facts: Facts) -> None:
    for result in run(facts).clauses:
        if not result.eligible or result.kind is AmountKind.DISCRETIONARY:
            assert result.amount_fen is None, result.clause_id
        else:
            assert isinstance(result.amount_fen, int), result.clause_id


@SETTINGS
@given(factgen.facts())
def test_every_result_names_the_package_sha256_and_version(facts: Facts) -> None:
    evaluation = run(facts)
    assert evaluation.policy.sha256 == package().sha256
    assert evaluation.policy.version == package().version
    data = evaluation.as_dict()["policy"]
    assert (data["sha256"], data["version"]) == (package().sha256, package().version)
    assert len(data["sha256"]) == 64


# --- (b): caps ----------------------------------------------------------------------------


def _item_maximum(clause: Clause, year: int) -> int | None:
    """The most one subject can get from a fixed or ceiling amount: the highest tier's sum."""
    amounts = [t.amount for t in clause.tiers] if clause.tiers else [clause.amount]
    names = [a.fixed or a.ceiling for a in amounts if a is not None]
    if not names or any(n is None for n in names):
        return None
    return max(param_fen(clause, n, year) for n in names if n is not None)


@SETTINGS
@given(WITH_LEDGERS)
def test_no_clause_pays_more_than_its_caps(facts: Facts) -> None:
    year = facts.award_year
    assert year is not None
    evaluation = run(facts)
    event(f"{sum(1 for r in evaluation.clauses if r.amount_fen)} clauses pay")
    for result in evaluation.clauses:
        clause = package().clauses[result.clause_id]
        if result.amount_fen is None:
            continue
        paid = [i for i in result.items if i.amount_fen is not None]
        for cap in clause.caps:
            if cap.param is None:
                continue
            limit = param_fen(clause, cap.param, year)
            in_year = year if cap.period is CapPeriod.YEAR else None
            counted = cap.period is not CapPeriod.EACH
            if cap.per is CapPer.APPLICANT:
                used = earlier_fen(facts, clause.id, None, in_year) if counted else 0
                assert result.amount_fen <= limit, (clause.id, cap.quote)
                assert result.amount_fen <= max(0, limit - used), (clause.id, cap.quote, used)
            else:
                for item in paid:
                    used = earlier_fen(facts, clause.id, item.subject, in_year) if counted else 0
                    assert item.amount_fen is not None
                    assert item.amount_fen <= limit, (clause.id, item.subject, cap.quote)
                    assert item.amount_fen <= max(0, limit - used), (clause.id, item.subject)
        highest = _item_maximum(clause, year)
        if highest is not None:
            for item in paid:
                assert item.amount_fen is not None and item.amount_fen <= highest, (
                    clause.id,
                    item.subject,
                )
            if clause.for_each is None:
                assert result.amount_fen <= highest, clause.id


@pytest.mark.parametrize("clause_id", factgen.COUNTED_CAPS)
@FEWER
@given(data=st.data())
def test_a_cap_leaves_exactly_the_room_that_earlier_awards_of_its_period_left(
    clause_id: str, data: Any
) -> None:
    """With the clause's earlier awards, each capped amount is the amount without them cut to
    ``max(0, cap − what the cap's scope already used)`` — no more (the cap counts them) and
    no less (awards of other years or subjects do not count)."""
    clause = package().clauses[clause_id]
    facts = data.draw(factgen.with_earlier_awards(clause_id), label="facts")
    year = facts.award_year
    assert year is not None
    ledger = [a for a in facts.earlier_awards if a.clause != clause_id]
    alone = run(facts.model_copy(update={"earlier_awards": ledger})).clause(clause_id)
    result = run(facts).clause(clause_id)
    assert result.eligible == alone.eligible
    if alone.amount_fen is None:
        assert result.amount_fen is None
        return
    assert result.amount_fen is not None
    cut = False
    for cap in factgen.counted_caps(clause):
        assert cap.param is not None
        limit = param_fen(clause, cap.param, year)
        in_year = year if cap.period is CapPeriod.YEAR else None
        if cap.per is CapPer.APPLICANT:
            room = max(0, limit - earlier_fen(facts, clause.id, None, in_year))
            assert result.amount_fen == min(alone.amount_fen, room), (clause.id, room, alone)
            cut |= alone.amount_fen > room
            continue
        before = {i.subject: i for i in alone.items}
        for item in result.items:
            was = before[item.subject].amount_fen
            if was is None:
                assert item.amount_fen is None
                continue
            room = max(0, limit - earlier_fen(facts, clause.id, item.subject, in_year))
            assert item.amount_fen == min(was, room), (clause.id, item.subject, room, was)
            cut |= was > room
    event("the ledger cut the amount" if cut else "room left")


@SETTINGS
@given(factgen.aimed_at("4.1b", "marketplaces"))
def test_the_platform_fee_subsidy_never_exceeds_500_thousand_yuan(facts: Facts) -> None:
    # 4.1b: 以上两项补助单个企业最高不超过50万元 — 500,000 yuan = 50,000,000 fen.
    result = run(facts).clause("4.1b")
    event(
        "cut by the cap"
        if any(n.key == "cap" and n.args["cut"] for n in result.explanation.walk())
        else "under the cap"
    )
    assert (result.amount_fen or 0) <= 50_000_000


@SETTINGS
@given(factgen.aimed_at("6.2"))
def test_an_interest_subsidy_never_exceeds_the_interest_paid_on_the_loan(facts: Facts) -> None:
    # 6.2: the subsidy on a loan is never more than the interest actually paid on it.
    result = run(facts).clause("6.2")
    paid = {loan.id: fen(loan.interest_paid_cny) for loan in facts.loans}
    event(
        "some loan cut to the interest paid"
        if any(n.key == "cap.fact" and n.args["cut"] for n in result.explanation.walk())
        else "no cut"
    )
    for item in result.items:
        assert (item.amount_fen or 0) <= paid[item.subject], item


def test_a_loan_drawn_before_april_2020_is_subsidised_at_the_lpr_of_its_drawdown_date() -> None:
    # 6.2 uses the 1-year LPR in force on the drawdown date. On 2020-03-02 that is the
    # PBOC's 4.05% of 2020-02-20. Outstanding all of 2021 (365 days, act/360):
    # 1,000,000 × 4.05% × 20% × 365 / 360 = 8,100 × 365 / 360 = 8,212.50 yuan,
    # under the 40,500 yuan of interest paid and the 300,000 yuan yearly cap.
    data = factgen.base_facts("cbec_enterprise", 2021)
    data["loans"] = [
        {
            "id": "L1",
            "cross_border_financial_product": True,
            "principal_cny": Decimal("1000000.00"),
            "drawdown_date": date(2020, 3, 2),
            "interest_paid_cny": Decimal("40500.00"),
        }
    ]
    result = run(Facts.model_validate(data)).clause("6.2")
    assert result.amount_fen == 821_250


# --- (c): tiers are monotonic --------------------------------------------------------------


def _tier_facts(clause: Clause, pkg: PolicyPackage) -> list[str]:
    """The fact paths the tier conditions compare (switches resolved in ``pkg``)."""
    paths: list[str] = []
    for tier in clause.tiers or []:
        for cond in factgen.word_conditions(tier.conditions):
            assert cond.fact is not None
            for path in factgen.resolve(pkg, cond.fact)[:1]:  # a sum: raise its first part
                if path not in paths:
                    paths.append(path)
    return paths


TIER_CLAUSES = sorted(cid for cid, c in package().clauses.items() if c.tiers)


def _bump(current: Any, delta: Decimal, whole: bool) -> Any:
    if whole:
        return (current or 0) + int(delta)
    return (current or factgen.ZERO) + delta


def _raise(data: dict[str, Any], path: str, delta: Decimal, clause: Clause) -> None:
    """Raise one fact by ``delta`` (every item's, for ``item.`` paths; a USD fact given
    only in CNY is raised in CNY)."""
    whole = fact_info(path, clause.for_each).value_type is int
    section, field = path.split(".", 1)
    if section == "item":
        for element in data[clause.for_each or ""]:
            element[field] = _bump(element.get(field), delta, whole)
        return
    current = (data.get(section) or {}).get(field)
    if current is None and field.endswith("_usd"):
        cny = field.removesuffix("_usd") + "_cny"
        if (data.get(section) or {}).get(cny) is not None:
            data[section][cny] += delta
            return
    factgen.set_fact(data, path, _bump(current, delta, whole), data["award_year"])


def _aim(data: dict[str, Any], path: str, clause: Clause, pkg: PolicyPackage, draws: Any) -> None:
    """Put a tier fact next to a threshold (or leave it as drawn), on every item."""
    info = fact_info(path, clause.for_each)
    unit = "count" if info.value_type is int else info.unit or ""
    step = Decimal(1) if unit == "count" else factgen.CENT
    near = sorted(
        {
            value + k * step
            for tier in clause.tiers or []
            for cond in factgen.word_conditions(tier.conditions)
            if cond.fact is not None and path in factgen.resolve(pkg, cond.fact)
            for value in (
                [Decimal(0)]
                if cond.threshold is None
                else factgen.clause_param(package(), clause, cond.threshold).values.values()
            )
            for k in (-1, 0, 1)
            if value + k * step >= 0
        }
    )
    strategy = st.one_of(st.none(), st.sampled_from(near), st.sampled_from(near))
    section, field = path.split(".", 1)
    targets = data[clause.for_each or ""] if section == "item" else [data.get(section)]
    for target in targets:
        value = draws.draw(strategy, label=path)
        if value is None:
            continue
        value = int(value) if unit == "count" else value
        if target is not None and field.endswith("_usd"):
            target.pop(field.removesuffix("_usd") + "_cny", None)  # one currency per flow
        if section == "item" and target is not None:
            target[field] = value
        else:
            factgen.set_fact(data, path, value, data["award_year"])


def _amounts(evaluation: Evaluation, clause_id: str) -> tuple[int, dict[str, tuple[int, int]]]:
    """The clause's amount, and per subject its amount and the tier its facts reach (0: none)."""
    result = evaluation.clause(clause_id)
    tier_ids = [t.id for t in package().clauses[clause_id].tiers or []]
    items = {
        i.subject: (
            (i.amount_fen or 0) if i.eligible else 0,
            tier_ids.index(i.tier) + 1 if i.tier in tier_ids else 0,
        )
        for i in result.items
    }
    return result.amount_fen or 0, items


deltas = st.one_of(st.sampled_from([Decimal("0.01"), Decimal(1)]), factgen.money(80_000_000))


@pytest.mark.parametrize("clause_id", TIER_CLAUSES)
@FEWER
@given(data=st.data())
def test_raising_a_tier_fact_never_lowers_the_tier_amount(clause_id: str, data: Any) -> None:
    clause = package().clauses[clause_id]
    switches = {
        name: data.draw(st.sampled_from(sorted(s.options)), label=name)
        for name, s in package().policy.switches.items()
    }
    pkg = package().with_switches(switches)
    kind = data.draw(st.sampled_from(clause.applicants), label="kind")
    low = data.draw(factgen.facts_data(kind), label="facts")
    if data.draw(st.sampled_from([True] * 9 + [False]), label="aim at the clause"):
        factgen.satisfy_gates(low, clause)
        for path in _tier_facts(clause, pkg):
            _aim(low, path, clause, pkg, data)
    low["earlier_awards"], low["other_policy_awards"] = [], []  # the raw tier amount
    high = copy.deepcopy(low)
    for path in _tier_facts(clause, pkg):
        _raise(high, path, data.draw(deltas, label=path), clause)
    before = _amounts(run(Facts.model_validate(low), pkg), clause_id)
    after = _amounts(run(Facts.model_validate(high), pkg), clause_id)
    event("tiers " + ",".join(f"{before[1][s][1]}->{after[1][s][1]}" for s in sorted(before[1])))
    assert after[0] >= before[0], (before, after)
    for subject, (amount, tier) in before[1].items():
        assert after[1][subject][0] >= amount, (subject, before, after)
        assert after[1][subject][1] >= tier, ("tier fell", subject, before, after)


# --- (d): determinism -----------------------------------------------------------------------


@SETTINGS
@given(factgen.aimed_facts())
def test_the_same_input_gives_the_same_result(facts: Facts) -> None:
    first = run(facts).as_dict()
    assert run(facts).as_dict() == first
    assert run(Facts.model_validate(facts.model_dump())).as_dict() == first


# --- (e): unrelated facts change nothing ------------------------------------------------------


def _same(a: Evaluation, b: Evaluation, clause_id: str) -> None:
    x, y = a.clause(clause_id), b.clause(clause_id)
    assert (x.eligible, x.amount_fen, x.tier) == (y.eligible, y.amount_fen, y.tier), clause_id


@SETTINGS
@given(factgen.facts(), st.data())
def test_stores_events_and_talents_do_not_change_trade_fee_training_or_logistics(
    facts: Facts, data: Any
) -> None:
    without = facts.model_copy(update={"stores": [], "events": [], "talents": []})
    with_them, alone = run(facts), run(without)
    for clause_id in ("4.1a", "4.1b", "7.1", "5.3"):
        _same(with_them, alone, clause_id)
    park = Park.model_validate(data.draw(factgen.park_data()))
    with_park = run(facts.model_copy(update={"park": park}))
    no_park = run(facts.model_copy(update={"park": None}))
    _same(with_park, no_park, "6.2")


def _paths_of(cond: Condition) -> list[str]:
    if cond.any is not None:
        return [p for c in cond.any for p in _paths_of(c)]
    fact = cond.fact
    if isinstance(fact, Switched):
        return [
            p for case in fact.cases.values() for p in ([case] if isinstance(case, str) else case)
        ]
    return [fact] if isinstance(fact, str) else list(fact or [])


def sections_read(clause: Clause) -> set[str]:
    """Every facts section a clause names (its lists, subject, conditions, amounts, caps)."""
    paths: list[str] = [clause.subject] if clause.subject != "applicant" else []
    conds = [*clause.where, *clause.conditions, *package().policy.scope.conditions]
    amounts = [clause.amount] if clause.amount else []
    for tier in clause.tiers or []:
        conds += tier.conditions
        amounts.append(tier.amount)
    for cond in conds:
        paths += _paths_of(cond)
    for amount in amounts:
        assert amount is not None
        if amount.external:
            paths.append(amount.external)
        for part in amount.computed or []:
            paths += [*(part.of or []), *([part.quantity] if part.quantity else [])]
            paths += [r.at for r in part.rate or [] if isinstance(r, OnDate)]
            if part.days is not None:
                paths += [part.days.from_, part.days.to]
    paths += [cap.fact for cap in clause.caps if cap.fact]
    found = {p.split(".")[0] for p in paths}
    if "item" in found:
        found.discard("item")
    if clause.for_each:
        found.add(clause.for_each)
    return found | {
        "applicant",
        "trade",
        "earlier_awards",
        "other_policy_awards",
        "award_year",
        "facts_version",
    }


UNRELATED = {
    clause_id: sorted(set(Facts.model_fields) - sections_read(clause))
    for clause_id, clause in package().clauses.items()
}


@FEWEST  # every clause is checked on each example
@given(factgen.facts(), factgen.facts())
def test_a_clause_ignores_every_section_it_does_not_name(facts: Facts, other: Facts) -> None:
    # Each clause's result (explanation included) is the same when every section the
    # clause does not name is swapped for another applicant's.
    results = run(facts)
    for clause_id, unrelated in UNRELATED.items():
        mixed = facts.model_copy(update={name: getattr(other, name) for name in unrelated})
        assert results.clause(clause_id).as_dict() == run(mixed).clause(clause_id).as_dict(), (
            clause_id,
            unrelated,
        )


# --- (g): one-time awards top up to the highest tier reached ----------------------------------


def export_tier_yuan(export_usd: Decimal) -> int:
    """4.1a by hand: 破零 → 10万; 达到20万美元（含） → 20万; 达到50万美元（含） → 50万."""
    if export_usd >= 500_000:
        return 500_000
    if export_usd >= 200_000:
        return 200_000
    return 100_000 if export_usd > 0 else 0


@st.composite
def export_with_ledger(draw: st.DrawFn) -> tuple[Facts, int]:
    """A CBEC enterprise in scope with CBEC export, and 4.1a awards of earlier years (fen)."""
    year = draw(st.integers(factgen.award_years().start + 1, factgen.award_years().stop - 1))
    data = draw(factgen.facts_data("cbec_enterprise", year))
    data["applicant"] = factgen.applicant("cbec_enterprise", data["applicant"]["credit_code"])
    export = max(factgen.CENT, draw(factgen.clustered("usd", 2_000_000)))  # 破零: some export
    data["trade"] = {"export_usd": export, "import_usd": factgen.ZERO}
    data["other_policy_awards"] = [a for a in data["other_policy_awards"] if a["clause"] != "4.1a"]
    ledger = [a for a in data["earlier_awards"] if a["clause"] != "4.1a"]
    tier = export_tier_yuan(export) * 100
    paid = draw(
        st.one_of(
            st.sampled_from([0, 10_000_000, 20_000_000, tier]),
            st.integers(0, tier),
            st.integers(0, 60_000_000),
        )
    )
    split = draw(st.integers(0, paid))
    code = data["applicant"]["credit_code"]
    for part, subject in ((split, None), (paid - split, code)):
        if part:
            ledger.append(
                {
                    "clause": "4.1a",
                    "subject_id": subject,
                    "amount_cny": (Decimal(part) / 100).quantize(factgen.CENT),
                    "award_year": draw(st.integers(factgen.award_years().start, year - 1)),
                }
            )
    data["earlier_awards"] = ledger
    return Facts.model_validate(data), paid


@SETTINGS
@given(export_with_ledger())
def test_a_later_higher_export_tier_tops_up_to_the_tier_reached(case: tuple[Facts, int]) -> None:
    facts, paid = case
    assert facts.trade.export_usd is not None
    tier = export_tier_yuan(facts.trade.export_usd) * 100
    result = run(facts).clause("4.1a")
    assert result.eligible
    assert result.amount_fen is not None
    event("paid <= tier" if paid <= tier else "paid > tier")
    if paid <= tier:
        # lifetime total = the highest tier reached
        assert paid + result.amount_fen == tier
    else:
        assert result.amount_fen == 0  # never pays again, never claws back


@SETTINGS
@given(export_with_ledger())
def test_with_strict_once_nothing_is_paid_after_the_first_award(case: tuple[Facts, int]) -> None:
    facts, paid = case
    assert facts.trade.export_usd is not None
    tier = export_tier_yuan(facts.trade.export_usd) * 100
    strict = package().with_switches({"one_time_mode": "strict_once"})
    result = run(facts, strict).clause("4.1a")
    assert result.amount_fen == (tier if paid == 0 else 0)
