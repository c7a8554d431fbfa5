"""The application and plan state machines, checked pair by pair from their own tables.

Nothing here is hand-listed: every (state, action) of each machine is tried by every
role, and what the table allows, forbids or lacks is what ``step`` must do.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

import pytest

from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import (
    APPLICATION,
    PLAN,
    STATE_LABELS,
    AppAction,
    AppState,
    InvalidTransition,
    PlanAction,
    PlanState,
    Transition,
    step,
)

Table = dict[tuple[Any, Any], Transition]

MACHINES: dict[str, tuple[Table, type[StrEnum], type[StrEnum], StrEnum, set[StrEnum]]] = {
    # name: (table, states, actions, initial state, final states)
    "application": (APPLICATION, AppState, AppAction, AppState.DRAFT, {AppState.REJECTED}),
    "plan": (PLAN, PlanState, PlanAction, PlanState.DRAFT, {PlanState.CLOSED}),
}

PAIRS = [
    (name, state, action)
    for name, (_, states, actions, _, _) in MACHINES.items()
    for state in states
    for action in actions
]

CJK = re.compile(r"[\u4e00-\u9fff]")


def refusal(table: Table, state: StrEnum, action: StrEnum, roles: set[Role]) -> InvalidTransition:
    with pytest.raises(InvalidTransition) as raised:
        step(table, state, action, roles)
    error = raised.value
    assert CJK.search(error.zh), error.zh
    assert error.en.isascii() and error.en, error.en
    assert str(error) == error.en
    return error


@pytest.mark.parametrize(
    ("machine", "state", "action"),
    PAIRS,
    ids=[f"{m}:{s.value}+{a.value}" for m, s, a in PAIRS],
)
def test_every_state_and_action_moves_only_as_the_table_says_for_every_role(
    machine: str, state: StrEnum, action: StrEnum
) -> None:
    table, *_ = MACHINES[machine]
    transition = table.get((state, action))
    if transition is None:
        for role in Role:
            error = refusal(table, state, action, {role})
            zh_state, en_state = STATE_LABELS[state.value]
            assert zh_state in error.zh and action.value in error.zh
            assert f"'{en_state}'" in error.en and action.value in error.en
        refusal(table, state, action, set(Role))  # not even someone holding every role
        return
    for role in Role:
        if role in transition.roles:
            assert step(table, state, action, {role}) == transition.to
            assert step(table, state, action, frozenset({role})) == transition.to
        else:
            error = refusal(table, state, action, {role})
            for allowed in transition.roles:
                assert allowed.zh in error.zh and allowed.en in error.en
    others = set(Role) - transition.roles
    refusal(table, state, action, others)  # every other role at once is still refused
    refusal(table, state, action, set())
    assert step(table, state, action, set(Role)) == transition.to  # an allowed role among many


@pytest.mark.parametrize("machine", MACHINES)
def test_nothing_leaves_a_final_state(machine: str) -> None:
    table, _, actions, _, finals = MACHINES[machine]
    assert not [key for key in table if key[0] in finals]
    for final in finals:
        for action in actions:
            refusal(table, final, action, set(Role))


@pytest.mark.parametrize("machine", MACHINES)
def test_every_state_is_reachable_and_every_other_state_has_a_way_on(machine: str) -> None:
    table, states, _, initial, finals = MACHINES[machine]
    reached, frontier = {initial}, [initial]
    while frontier:
        here = frontier.pop()
        for (source, _), transition in table.items():
            target = states(transition.to)
            if source == here and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(states)
    for state in set(states) - finals:
        assert any(source == state for source, _ in table), state


@pytest.mark.parametrize("machine", MACHINES)
def test_every_transition_leads_to_a_state_of_its_own_machine_and_has_a_label(
    machine: str,
) -> None:
    table, states, _, _, _ = MACHINES[machine]
    for transition in table.values():
        assert transition.to in {s.value for s in states}
        assert transition.roles
    for state in states:
        zh, en = STATE_LABELS[state.value]
        assert CJK.search(zh) and en.isascii()


@pytest.mark.parametrize("machine", MACHINES)
def test_auditors_and_administrators_never_move_anything(machine: str) -> None:
    table, *_ = MACHINES[machine]
    for key, transition in table.items():
        assert not transition.roles & {Role.AUDITOR, Role.ADMIN}, key


def test_applicants_only_submit_and_resubmit_and_only_applicants_do() -> None:
    for machine, (table, *_) in MACHINES.items():
        for (_, action), transition in table.items():
            by_applicant = Role.APPLICANT in transition.roles
            assert by_applicant == (
                machine == "application" and action in (AppAction.SUBMIT, AppAction.RESUBMIT)
            )
            if by_applicant:
                assert transition.roles == {Role.APPLICANT}


def test_a_plan_is_reviewed_by_finance_or_office_and_approved_only_by_the_city() -> None:
    review = PLAN[(PlanState.REVIEW, PlanAction.REVIEW)]
    back = PLAN[(PlanState.REVIEW, PlanAction.RETURN)]
    assert review.roles == back.roles == {Role.FINANCE_REVIEWER, Role.OFFICE_REVIEWER}
    assert review.to == PlanState.REVIEW and back.to == PlanState.RETURNED
    approvals = [key for key, t in PLAN.items() if t.to == PlanState.APPROVED]
    assert approvals == [(PlanState.REVIEW, PlanAction.APPROVE)]
    assert PLAN[approvals[0]].roles == {Role.CITY_APPROVER}
