"""The production workflow tables against the permission table written by hand.

The table is ``tests/permissions.py``.

``test_workflow_rules.py`` checks that ``step`` does what the production tables say; this file
checks that the tables say what the policy says: for every role, every state and every action
of both machines, allowed or refused exactly as ``tests/permissions.py`` has it. The actions
outside the state machines (the office's approval of a line, payments, budgets, objections,
drafting) are checked against the same table through every route in
``tests/web/test_authorisation_matrix.py``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest

from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import (
    APPLICATION,
    PLAN,
    AppAction,
    AppState,
    InvalidTransition,
    PlanAction,
    PlanState,
    step,
)

from .permissions import (
    COLUMNS,
    GROUNDS,
    MACHINES,
    ONE_PERSON_NEVER_BOTH,
    PERMISSIONS,
    machine,
)

PRODUCTION: dict[str, tuple[dict[Any, Any], type[StrEnum], type[StrEnum]]] = {
    "application": (APPLICATION, AppState, AppAction),
    "plan": (PLAN, PlanState, PlanAction),
}

CASES = [
    (name, state.value, action.value, role)
    for name, (_, states, actions) in PRODUCTION.items()
    for state in states
    for action in actions
    for role in COLUMNS
]


def test_the_table_names_every_role_and_only_the_machines_states_and_actions() -> None:
    assert set(COLUMNS) == {r.value for r in Role}
    for name in MACHINES:
        _, states, actions = PRODUCTION[name]
        for state, action in machine(name):
            assert state in {s.value for s in states}, (name, state)
            assert action in {a.value for a in actions}, (name, action)
    assert all(p.ground in GROUNDS.values() for p in PERMISSIONS.values())


@pytest.mark.parametrize(
    ("name", "state", "action", "role"),
    CASES,
    ids=[f"{n}:{s}+{a}:{r}" for n, s, a, r in CASES],
)
def test_the_production_tables_allow_exactly_what_the_permission_table_allows(
    name: str, state: str, action: str, role: str
) -> None:
    table, states, actions = PRODUCTION[name]
    expected = machine(name).get((state, action))
    allowed = expected is not None and expected.allows(role)
    where = f"{name}: {role} may{'' if allowed else ' not'} {action} when {state}"
    if expected is not None:
        where += f" — {expected.ground}"
    try:
        to = step(table, states(state), actions(action), {Role(role)})
    except InvalidTransition:
        assert not allowed, f"refused, but the permission table says: {where}"
        return
    assert allowed, f"allowed, but the permission table says: {where}"
    assert expected is not None and to == expected.to, (where, to)


@pytest.mark.parametrize("name", MACHINES)
def test_the_production_tables_have_no_line_the_permission_table_lacks(name: str) -> None:
    table, _, _ = PRODUCTION[name]
    listed = machine(name)
    production = {(s.value, a.value): t for (s, a), t in table.items()}
    assert set(production) == set(listed), (
        f"{name}: lines only in the code {sorted(set(production) - set(listed))}, "
        f"only in tests/permissions.py {sorted(set(listed) - set(production))}"
    )
    for key, transition in production.items():
        assert {r.value for r in transition.roles} == listed[key].allowed, (name, key)
        assert transition.to == listed[key].to, (name, key)


def test_the_approval_chain_is_the_policys() -> None:
    """Section 五: 市商务局拟定 → 市财政局、领导小组办公室审核 → 市人民政府批准."""
    assert PERMISSIONS["planning", "-", "draft"].allowed == {"plan_drafter"}
    reviewers = {"finance_reviewer", "office_reviewer"}
    assert PERMISSIONS["plan", "review", "review"].allowed == reviewers
    assert PERMISSIONS["plan", "review", "approve"].allowed == {"city_approver"}
    assert PERMISSIONS["item", "approved", "disburse"].allowed == {"finance_reviewer"}
    deciders = {"commerce_reviewer", "plan_drafter", "finance_reviewer"}
    deciders |= {"office_reviewer", "city_approver"}
    for permission in PERMISSIONS.values():
        assert "auditor" not in permission.allowed, permission
        if permission.record in MACHINES or permission.record in ("line", "item", "objection"):
            assert "admin" not in permission.allowed, permission
            assert permission.allowed <= deciders | {"applicant"}, permission


def test_no_person_takes_two_bodies_steps_exactly_as_the_table_says() -> None:
    """The production rule of separation of duties per person equals the hand-written pairs."""
    from huiqi.fulfilment.duties import INCOMPATIBLE

    production = {
        frozenset({step.value, other.value})
        for step, others in INCOMPATIBLE.items()
        for other in others
    }
    assert production == set(ONE_PERSON_NEVER_BOTH)
