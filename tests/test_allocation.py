"""Budget-constrained allocation (issue 3, item 5): worked cases a finance reviewer can check.

Every amount is in fen. A case lists the items (key, kind, requested fen), the budget,
the rule, and what each item is granted, worked out by hand in the comment beside it.
The properties after the table hold for any items and budget (hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from huiqi.fulfilment.allocation import ENTITLED, Allocation, Item, Rule, allocate
from huiqi.policy.model import AmountKind

FIXED = AmountKind.FIXED
COMPUTED = AmountKind.COMPUTED
EXTERNAL = AmountKind.EXTERNAL
CEILING = AmountKind.CEILING
DISCRETIONARY = AmountKind.DISCRETIONARY


@dataclass(frozen=True)
class Case:
    name: str
    items: list[Item]
    budget: int
    rule: Rule
    granted: dict[str, int]
    factor: Fraction
    gap: int
    quota: int | None = None


def item(key: str, kind: AmountKind, fen: int, rank: int | None = None) -> Item:
    return Item(key, kind, fen, () if rank is None else (rank,))


CASES = [
    Case(
        "a plan exactly on budget is left as it is",
        [item("4.2", CEILING, 300), item("4.1a", FIXED, 200)],
        500,
        Rule.PRO_RATA_FLEXIBLE,
        {"4.2": 300, "4.1a": 200},
        Fraction(1),
        0,
    ),
    Case(
        "a plan under budget is left as it is under every pro-rata rule",
        [item("4.2", CEILING, 300), item("4.1a", FIXED, 200)],
        1_000,
        Rule.PRO_RATA_ALL,
        {"4.2": 300, "4.1a": 200},
        Fraction(1),
        0,
    ),
    Case(
        # entitlements 1000 + 500 + 300 = 1800 stay; room 2800 − 1800 = 1000 for the
        # flexible 700 + 300 + 1000 = 2000, so each flexible item gets half
        "pro rata flexible halves ceilings and discretionary items and leaves entitlements whole",
        [
            item("fixed", FIXED, 1_000),
            item("computed", COMPUTED, 500),
            item("external", EXTERNAL, 300),
            item("ceiling1", CEILING, 700),
            item("ceiling2", CEILING, 300),
            item("discretionary", DISCRETIONARY, 1_000),
        ],
        2_800,
        Rule.PRO_RATA_FLEXIBLE,
        {
            "fixed": 1_000,
            "computed": 500,
            "external": 300,
            "ceiling1": 350,
            "ceiling2": 150,
            "discretionary": 500,
        },
        Fraction(1, 2),
        1_000,  # 3800 requested − 2800
    ),
    Case(
        # 333/1000 of 100, 200, 700 = 33.3, 66.6, 233.1: floors 33 + 66 + 233 = 332,
        # the one fen left goes to the largest remainder (0.6, y)
        "the fen left after flooring goes to the largest remainder",
        [item("x", CEILING, 100), item("y", CEILING, 200), item("z", CEILING, 700)],
        333,
        Rule.PRO_RATA_FLEXIBLE,
        {"x": 33, "y": 67, "z": 233},
        Fraction(333, 1_000),
        667,
    ),
    Case(
        # 2/3 fen each: all floors 0, two fen left, equal remainders → first two keys a, b
        "equal remainders hand out the leftover fen in key order, whatever the input order",
        [item("c", CEILING, 1), item("b", CEILING, 1), item("a", CEILING, 1)],
        2,
        Rule.PRO_RATA_FLEXIBLE,
        {"a": 1, "b": 1, "c": 0},
        Fraction(2, 3),
        1,
    ),
    Case(
        # 2000 of 4000 requested: everything halves, the fixed award included
        "pro rata all scales entitlements as well",
        [item("4.1a", FIXED, 1_000), item("4.2", CEILING, 3_000)],
        2_000,
        Rule.PRO_RATA_ALL,
        {"4.1a": 500, "4.2": 1_500},
        Fraction(1, 2),
        2_000,
    ),
    Case(
        # 1/3 fen each, one fen left, equal remainders → key "a"
        "pro rata all hands a single leftover fen to the first key on a tie",
        [item("b", COMPUTED, 1), item("a", FIXED, 1), item("c", CEILING, 1)],
        1,
        Rule.PRO_RATA_ALL,
        {"a": 1, "b": 0, "c": 0},
        Fraction(1, 3),
        2,
    ),
    Case(
        # ranks: b (1), c (2), a (3); N = 2 → b and c in full, 500 of 600 → factor 5/6
        "a quota funds the first N by rank in full and nothing else",
        [item("a", CEILING, 100, 3), item("b", FIXED, 200, 1), item("c", CEILING, 300, 2)],
        500,
        Rule.QUOTA,
        {"a": 0, "b": 200, "c": 300},
        Fraction(5, 6),
        100,
        quota=2,
    ),
    Case(
        "a quota breaks equal ranks by key",
        [item("b", CEILING, 100, 1), item("a", CEILING, 100, 1)],
        100,
        Rule.QUOTA,
        {"a": 100, "b": 0},
        Fraction(1, 2),
        100,
        quota=1,
    ),
    Case(
        "a quota of zero funds nothing",
        [item("a", CEILING, 100, 1)],
        50,
        Rule.QUOTA,
        {"a": 0},
        Fraction(0),
        50,
        quota=0,
    ),
    Case(
        # entitlements 800 + 400 = 1200 already exceed 1000: they stay whole, the ceiling
        # gets nothing, and the gap is 1700 − 1000 = 700
        "entitlements alone over budget stay whole, flexible items go to zero, the gap shows",
        [item("fixed", FIXED, 800), item("computed", COMPUTED, 400), item("ceiling", CEILING, 500)],
        1_000,
        Rule.PRO_RATA_FLEXIBLE,
        {"fixed": 800, "computed": 400, "ceiling": 0},
        Fraction(0),
        700,
    ),
    Case(
        "rule none never changes a request, but the gap still shows",
        [item("4.2", CEILING, 900)],
        100,
        Rule.NONE,
        {"4.2": 900},
        Fraction(1),
        800,
    ),
    Case(
        "no items under pro rata flexible grant nothing",
        [],
        1_000,
        Rule.PRO_RATA_FLEXIBLE,
        {},
        Fraction(1),
        0,
    ),
    Case("no items under pro rata all grant nothing", [], 0, Rule.PRO_RATA_ALL, {}, Fraction(1), 0),
    Case(
        "no items under a quota grant nothing",
        [],
        1_000,
        Rule.QUOTA,
        {},
        Fraction(1),
        0,
        quota=3,
    ),
    Case(
        "a zero budget under pro rata all grants nothing to anyone",
        [item("4.1a", FIXED, 1_000), item("4.2", CEILING, 3_000)],
        0,
        Rule.PRO_RATA_ALL,
        {"4.1a": 0, "4.2": 0},
        Fraction(0),
        4_000,
    ),
    Case(
        "a zero budget under pro rata flexible still pays the entitlements",
        [item("4.1a", FIXED, 1_000), item("4.2", CEILING, 3_000)],
        0,
        Rule.PRO_RATA_FLEXIBLE,
        {"4.1a": 1_000, "4.2": 0},
        Fraction(0),
        4_000,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_worked_allocations(case: Case) -> None:
    result = allocate(case.items, case.budget, case.rule, case.quota)
    assert result.granted == case.granted
    assert result.factor == case.factor
    assert result.gap_fen == case.gap
    assert result.requested_fen == sum(i.amount_fen for i in case.items)
    assert result.granted_fen == sum(case.granted.values())
    assert result.rule is case.rule and result.budget_fen == case.budget


def test_the_worked_cases_cover_every_rule() -> None:
    assert {c.rule for c in CASES} == set(Rule)


@pytest.mark.parametrize("quota", [None, -1])
def test_a_quota_without_a_whole_number_n_is_refused(quota: int | None) -> None:
    with pytest.raises(ValueError):
        allocate([item("a", CEILING, 100)], 50, Rule.QUOTA, quota)


def test_entitlements_alone_over_budget_with_nothing_flexible_stay_whole() -> None:
    result = allocate(
        [item("4.1a", FIXED, 800), item("7.1", COMPUTED, 400)], 1_000, Rule.PRO_RATA_FLEXIBLE
    )
    assert result.granted == {"4.1a": 800, "7.1": 400}
    assert result.gap_fen == 200


# ---------------------------------------------------------------------------------------
# Properties over any items and budget.

SETTINGS = settings(max_examples=300, deadline=None)
KINDS = list(AmountKind)
PRO_RATA = [Rule.PRO_RATA_ALL, Rule.PRO_RATA_FLEXIBLE]


@st.composite
def item_lists(draw: st.DrawFn, max_size: int = 8) -> list[Item]:
    """Up to eight items with distinct keys, amounts up to 1亿元, small ranks (ties likely)."""
    keys = draw(
        st.lists(st.text("abcdefgh", min_size=1, max_size=3), unique=True, max_size=max_size)
    )
    amounts = st.one_of(st.integers(0, 10), st.integers(0, 10_000_000_000))
    return [
        Item(
            key,
            draw(st.sampled_from(KINDS)),
            draw(amounts),
            (draw(st.integers(0, 3)),),
        )
        for key in keys
    ]


def budgets_for(items: list[Item]) -> st.SearchStrategy[int]:
    requested = sum(i.amount_fen for i in items)
    return st.one_of(st.integers(0, requested + 10), st.just(requested), st.integers(0, 20))


def entitled_fen(items: list[Item]) -> int:
    return sum(i.amount_fen for i in items if i.kind in ENTITLED)


def flexible_fen(items: list[Item]) -> int:
    return sum(i.amount_fen for i in items if i.kind not in ENTITLED)


def run(items: list[Item], budget: int, rule: Rule, quota: int | None = None) -> Allocation:
    if rule is Rule.PRO_RATA_FLEXIBLE:
        # Only entitlements over budget with nothing flexible: the ZeroDivisionError above.
        assume(not (entitled_fen(items) > budget and flexible_fen(items) == 0))
    return allocate(items, budget, rule, quota)


@SETTINGS
@given(st.data())
def test_pro_rata_all_grants_exactly_the_budget_or_the_request_whichever_is_less(
    data: st.DataObject,
) -> None:
    items = data.draw(item_lists())
    budget = data.draw(budgets_for(items))
    result = run(items, budget, Rule.PRO_RATA_ALL)
    assert result.granted_fen == min(budget, result.requested_fen)


@SETTINGS
@given(st.data())
def test_pro_rata_flexible_spends_at_most_the_budget_when_entitlements_fit(
    data: st.DataObject,
) -> None:
    items = data.draw(item_lists())
    budget = data.draw(budgets_for(items))
    result = run(items, budget, Rule.PRO_RATA_FLEXIBLE)
    if entitled_fen(items) <= budget:
        assert result.granted_fen == min(budget, result.requested_fen)
    else:  # entitlements alone exceed it: they are paid, nothing else
        assert result.granted_fen == entitled_fen(items)
    for i in items:
        if i.kind in ENTITLED:
            assert result.granted[i.key] == i.amount_fen


@SETTINGS
@given(st.data())
def test_no_item_is_granted_more_than_it_asked_or_less_than_nothing(data: st.DataObject) -> None:
    items = data.draw(item_lists())
    budget = data.draw(budgets_for(items))
    rule = data.draw(st.sampled_from(list(Rule)))
    quota = data.draw(st.integers(0, 9)) if rule is Rule.QUOTA else None
    result = run(items, budget, rule, quota)
    assert set(result.granted) == {i.key for i in items}
    for i in items:
        assert 0 <= result.granted[i.key] <= i.amount_fen
    assert result.gap_fen == max(0, result.requested_fen - budget)


@SETTINGS
@given(st.data())
def test_a_scaled_item_gets_its_exact_share_rounded_down_or_up(data: st.DataObject) -> None:
    items = data.draw(item_lists())
    budget = data.draw(budgets_for(items))
    rule = data.draw(st.sampled_from(PRO_RATA))
    result = run(items, budget, rule)
    for i in items:
        if rule is Rule.PRO_RATA_ALL or i.kind not in ENTITLED:
            exact = i.amount_fen * result.factor
            assert abs(result.granted[i.key] - exact) < 1


@SETTINGS
@given(st.data())
def test_the_same_items_in_any_order_give_the_same_allocation(data: st.DataObject) -> None:
    items = data.draw(item_lists())
    budget = data.draw(budgets_for(items))
    rule = data.draw(st.sampled_from(list(Rule)))
    quota = data.draw(st.integers(0, 9)) if rule is Rule.QUOTA else None
    shuffled = data.draw(st.permutations(items))
    first = run(items, budget, rule, quota)
    assert run(items, budget, rule, quota) == first
    assert run(list(shuffled), budget, rule, quota) == first


@SETTINGS
@given(st.data())
def test_a_quota_funds_the_best_ranked_n_in_full_and_no_one_else(data: st.DataObject) -> None:
    """Over budget, a quota takes items in rank order, in full, at most N of them, each only
    if it still fits; within budget nothing is cut."""
    items = data.draw(item_lists())
    budget = data.draw(budgets_for(items))
    quota = data.draw(st.integers(0, 9))
    result = run(items, budget, Rule.QUOTA, quota)
    if sum(i.amount_fen for i in items) <= budget:
        assert result.granted == {i.key: i.amount_fen for i in items}
        return
    expected, left, funded = {}, budget, 0
    for i in sorted(items, key=lambda i: (i.rank, i.key)):
        fits = funded < quota and i.amount_fen <= left
        expected[i.key] = i.amount_fen if fits else 0
        left -= expected[i.key]
        funded += fits
    assert result.granted == expected
    assert result.granted_fen <= budget


@SETTINGS
@given(st.data())
def test_a_bigger_budget_takes_at_most_one_fen_from_any_item(data: st.DataObject) -> None:
    """Largest remainders are not monotone (the Alabama paradox), but never by more than a fen:
    an item gets its share rounded down or up, and a bigger budget never lowers its share."""
    items = data.draw(item_lists())
    budget = data.draw(budgets_for(items))
    more = budget + data.draw(st.integers(1, 1_000_000))
    rule = data.draw(st.sampled_from(PRO_RATA))
    smaller, bigger = run(items, budget, rule), run(items, more, rule)
    assert bigger.factor >= smaller.factor
    assert bigger.granted_fen >= smaller.granted_fen
    for i in items:
        assert bigger.granted[i.key] >= smaller.granted[i.key] - 1
