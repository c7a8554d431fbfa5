"""Separation of duties per person (issue 11.2), on SQLite and PostgreSQL.

The policy's chain (保障措施): "扶持奖励资金分配方案由市商务局拟定，经市财政局、
…领导小组办公室审核，按程序报市人民政府批准执行", paid by the paying finance. Two rules follow:

* one account works for one body — an applicant's account holds no staff role, the
  administrator holds no deciding role, finance and the city hold their own accounts;
* no person takes two bodies' steps on the same plan or line — drafting, the finance review,
  the office's review, the city's approval and the payment are five people.

Both hold in the database too: the last tests write around the service and are refused.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from huiqi.fulfilment.duties import INCOMPATIBLE, ROLE_BODY, Body, Step
from huiqi.fulfilment.roles import Role
from huiqi.service import applications, orgs, plans
from huiqi.service.actors import Actor, load_actor
from huiqi.service.errors import Forbidden, Invalid
from huiqi.service.uow import Services

from .conftest import ORG_A, PARK, Cast, Clock
from .test_plans import (
    SCOPE,
    SIMPLE_FACTS,
    YEAR,
    add_applicant,
    decide,
    notice,
    simple_plan,
    verified,
)


def person(svc: Services, cast: Cast, username: str, *roles: Role) -> Actor:
    orgs.add_user(svc, cast.admin, username=username, display_name=username, roles=list(roles))
    with svc.reading() as s:
        return load_actor(s, username)


# ---------------------------------------------------------------------------------------
# one account, one body

#: Role combinations an administrator might try, and whether one account may hold them.
COMBINATIONS: list[tuple[list[Role], bool, str]] = [
    (
        [Role.PLAN_DRAFTER, Role.FINANCE_REVIEWER, Role.CITY_APPROVER],
        False,
        "拟定、审核、批准三个机构",
    ),
    ([Role.APPLICANT, Role.COMMERCE_REVIEWER], False, "申报单位不得兼任审核人"),
    ([Role.ADMIN, Role.CITY_APPROVER], False, "管理员不作决定"),
    ([Role.ADMIN, Role.FINANCE_REVIEWER], False, "管理员不作决定"),
    ([Role.AUDITOR, Role.COMMERCE_REVIEWER], False, "审计只读"),
    ([Role.FINANCE_REVIEWER, Role.CITY_APPROVER], False, "财政审核与市政府批准"),
    ([Role.COMMERCE_REVIEWER, Role.PLAN_DRAFTER, Role.OFFICE_REVIEWER], True, "办公室设在市商务局"),
    ([Role.FINANCE_REVIEWER], True, "财政局"),
]


@pytest.mark.parametrize(
    ("roles", "allowed", "why"), COMBINATIONS, ids=[c[2] for c in COMBINATIONS]
)
def test_an_account_holds_the_roles_of_one_body_only(
    svc: Services, cast: Cast, roles: list[Role], allowed: bool, why: str
) -> None:
    org = ORG_A if Role.APPLICANT in roles else None
    call: dict[str, Any] = {"username": "x", "display_name": "x", "roles": roles, "org_code": org}
    if allowed:
        orgs.add_user(svc, cast.admin, **call)
        return
    with pytest.raises(Invalid) as refused:
        orgs.add_user(svc, cast.admin, **call)
    assert [p.path for p in refused.value.problems] == ["roles"]
    assert "职责分离" in refused.value.zh and "separation of duties" in refused.value.en
    with svc.reading() as s:  # nothing half-written
        assert s.execute(text("SELECT count(*) FROM users WHERE username = 'x'")).scalar() == 0


def test_the_step_table_is_symmetric_and_every_role_has_a_body() -> None:
    for step, others in INCOMPATIBLE.items():
        for other in others:
            assert step in INCOMPATIBLE[other], (step, other)
    assert set(ROLE_BODY) == set(Role)
    assert ROLE_BODY[Role.OFFICE_REVIEWER] is Body.COMMERCE  # 领导小组办公室设在市商务局
    assert Step.APPROVE in INCOMPATIBLE[Step.DRAFT]


# ---------------------------------------------------------------------------------------
# one person, one step on a plan


def in_review(svc: Services, cast: Cast, clock: Clock, drafter: Actor) -> int:
    """Company A's lines verified by rui, in a plan drafted and noticed by ``drafter``."""
    verified(svc, cast.alice, cast.rui, org=ORG_A, clauses=["4.1a", "7.1"], facts=SIMPLE_FACTS)
    plan = plans.draft(svc, drafter, year=YEAR, title="2022年度分配方案")
    notice(svc, cast, clock, plan.id, by=drafter)
    return plan.id


def test_the_drafter_cannot_review_the_plan_for_the_office(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    both = person(svc, cast, "dou", Role.PLAN_DRAFTER, Role.OFFICE_REVIEWER)
    plan_id = in_review(svc, cast, clock, both)
    with pytest.raises(Forbidden) as refused:
        plans.review(svc, both, plan_id, approve=True)
    assert "职责分离" in refused.value.zh and "drafted the plan" in refused.value.en
    with pytest.raises(Forbidden):  # returning it is a review step too
        plans.review(svc, both, plan_id, approve=False, reason="自己退回")
    assert plans.review(svc, cast.ou, plan_id, approve=True).state == "review"


def test_the_office_does_not_review_a_plan_whose_lines_its_reviewer_verified(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    verifier = person(svc, cast, "rou", Role.COMMERCE_REVIEWER, Role.OFFICE_REVIEWER)
    verified(svc, cast.alice, verifier, org=ORG_A, clauses=["4.1a", "7.1"], facts=SIMPLE_FACTS)
    plan = plans.draft(svc, cast.dai, year=YEAR, title="2022")
    notice(svc, cast, clock, plan.id)
    with pytest.raises(Forbidden) as refused:
        plans.review(svc, verifier, plan.id, approve=True)
    assert "verified the application" in refused.value.en
    plans.review(svc, cast.ou, plan.id, approve=True)


def test_the_finance_reviewer_does_not_pay_and_the_payer_does_not_review(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    notice(svc, cast, clock, plan.id)
    plans.review(svc, cast.fang, plan.id, approve=True)
    plans.review(svc, cast.ou, plan.id, approve=True)
    approved = plans.approve(svc, cast.shi, plan.id)
    item = approved.items[0]
    pay: dict[str, Any] = {"amount_fen": 100, "paid_on": date(2023, 4, 1), "reference": "P-1"}
    with pytest.raises(Forbidden) as refused:
        plans.disburse(svc, cast.fang, item.id, **pay)
    assert "reviewed the plan for the finance bureau" in refused.value.en
    plans.disburse(svc, cast.cai, item.id, **pay)
    plans.disburse(svc, cast.cai, item.id, **{**pay, "reference": "P-2"})  # a step repeats


def test_a_payer_of_a_plan_cannot_then_review_it_after_a_return(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    """A returned, re-noticed plan is reviewed afresh: whoever reviewed or paid any round
    counts — here the second finance officer reviewed the first round, so cannot pay."""
    plan = simple_plan(svc, cast)
    notice(svc, cast, clock, plan.id)
    plans.review(svc, cast.cai, plan.id, approve=False, reason="请补充测算依据")
    notice(svc, cast, clock, plan.id)
    plans.review(svc, cast.fang, plan.id, approve=True)
    plans.review(svc, cast.ou, plan.id, approve=True)
    approved = plans.approve(svc, cast.shi, plan.id)
    pay: dict[str, Any] = {"amount_fen": 100, "paid_on": date(2023, 4, 1), "reference": "P-1"}
    for reviewer in (cast.cai, cast.fang):
        with pytest.raises(Forbidden):
            plans.disburse(svc, reviewer, approved.items[0].id, **pay)
    payer = person(svc, cast, "fu", Role.FINANCE_REVIEWER)
    plans.disburse(svc, payer, approved.items[0].id, **pay)


def test_whoever_reviewed_for_the_office_cannot_redraft_or_renotice_the_returned_plan(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    both = person(svc, cast, "dou", Role.PLAN_DRAFTER, Role.OFFICE_REVIEWER)
    plan = simple_plan(svc, cast)
    notice(svc, cast, clock, plan.id)
    plans.review(svc, both, plan.id, approve=False, reason="请调整")
    with pytest.raises(Forbidden):
        plans.reallocate(svc, both, plan.id, rule="pro_rata_all")
    with pytest.raises(Forbidden):
        plans.open_notice(svc, both, plan.id)
    plans.reallocate(svc, cast.dai, plan.id, rule="pro_rata_all")


def test_the_office_approves_no_line_its_own_reviewer_verified(svc: Services, cast: Cast) -> None:
    both = person(svc, cast, "rou", Role.COMMERCE_REVIEWER, Role.OFFICE_REVIEWER)
    pan = add_applicant(svc, cast, "pan", PARK)
    facts = {
        "applicant": {**SCOPE, "credit_code": PARK, "name": "z", "kind": "park"},
        "platform_construction": {"infrastructure_cny": "3000000"},
    }
    draft = applications.create_draft(
        svc, pan, org_code=PARK, year=YEAR, clauses=["3.1"], facts=facts
    )
    submitted = applications.submit(svc, pan, draft.id)
    applications.verify(svc, both, draft.id, decide(submitted, {("3.1", PARK): 50_000_000}))
    line = submitted.line("3.1")
    with pytest.raises(Forbidden) as refused:
        applications.office_decide(svc, both, line.id, approve=True, reason="同意")
    assert "verified the application" in refused.value.en
    decided = applications.office_decide(svc, cast.ou, line.id, approve=True, reason="同意")
    assert decided.line("3.1").office_state == "approved"


# ---------------------------------------------------------------------------------------
# the database holds it too


def test_the_database_refuses_a_role_of_another_body(
    svc: Services, cast: Cast, engine: Engine
) -> None:
    for role in ("city_approver", "commerce_reviewer"):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            # fang works for the finance bureau: a city or commerce role is refused, whatever
            # body the row claims (the role's body must be the user's body).
            conn.execute(
                text(
                    "INSERT INTO user_roles (user_id, role, body) "
                    "VALUES (:u, :r, (SELECT body FROM users WHERE id = :u))"
                ),
                {"u": cast.fang.user_id, "r": role},
            )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO user_roles (user_id, role, body) VALUES (:u, 'city_approver', 'city')"
            ),
            {"u": cast.fang.user_id},
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:  # an applicant turned staff
        conn.execute(
            text("UPDATE users SET body = 'commerce' WHERE id = :u"), {"u": cast.alice.user_id}
        )


def test_the_database_refuses_a_self_review_and_a_self_approval(
    svc: Services, cast: Cast, clock: Clock, engine: Engine
) -> None:
    plan = simple_plan(svc, cast)
    notice(svc, cast, clock, plan.id)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO plan_reviews (plan_id, round, body, approved, by, at, drafted_by) "
                "VALUES (:p, 1, 'office', true, :d, :at, :d)"
            ),
            {"p": plan.id, "d": cast.dai.user_id, "at": clock()},
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:  # lying about the drafter
        conn.execute(
            text(
                "INSERT INTO plan_reviews (plan_id, round, body, approved, by, at, drafted_by) "
                "VALUES (:p, 1, 'office', true, :d, :at, :o)"
            ),
            {"p": plan.id, "d": cast.dai.user_id, "o": cast.ou.user_id, "at": clock()},
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text("UPDATE allocation_plans SET approved_by = drafted_by WHERE id = :p"),
            {"p": plan.id},
        )


# ---------------------------------------------------------------------------------------
# upgrading a database that has accounts already


@pytest.fixture
def at_0009(backend: str, tmp_path: Any) -> Any:
    """An empty database migrated to the revision before the duties, on either backend."""
    import uuid

    from sqlalchemy import create_engine

    from huiqi.db.engine import make_engine
    from huiqi.db.migrate import upgrade

    from .conftest import PG_URL, pg_schema_engine

    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
        upgrade(engine, "0009")
        yield engine
        engine.dispose()
        return
    schema = f"huiqi_duties_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = pg_schema_engine(schema)
    upgrade(engine, "0009")
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _old_user(conn: Any, uid: int, name: str, org: int | None, *roles: str) -> None:
    conn.execute(
        text(
            "INSERT INTO users (id, username, display_name, org_id, active, created_at) "
            "VALUES (:i, :n, :n, :o, true, '2024-01-01 00:00:00+00')"
        ),
        {"i": uid, "n": name, "o": org},
    )
    for role in roles:
        conn.execute(
            text("INSERT INTO user_roles (user_id, role) VALUES (:i, :r)"), {"i": uid, "r": role}
        )


def test_the_upgrade_gives_each_account_its_body_and_keeps_every_row(at_0009: Engine) -> None:
    from huiqi.db.migrate import upgrade

    with at_0009.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organisations (id, credit_code, name, kind, division, platform_filed,"
                " platform_connected, created_at) VALUES (1, :c, 'A', 'cbec_enterprise', '北湖区',"
                " false, false, '2024-01-01 00:00:00+00')"
            ),
            {"c": ORG_A},
        )
        _old_user(conn, 1, "alice", 1, "applicant")
        _old_user(conn, 2, "dou", None, "plan_drafter", "office_reviewer")
        _old_user(conn, 3, "fang", None, "finance_reviewer")
        conn.execute(
            text(
                "INSERT INTO allocation_plans (id, award_year, title, state, rule, factors,"
                " drafted_by, created_at, version) VALUES (1, 2022, 't', 'review', 'pro_rata_all',"
                " '{}', 2, '2024-01-01 00:00:00+00', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO plan_reviews (plan_id, round, body, approved, by, at)"
                " VALUES (1, 1, 'finance', true, 3, '2024-01-02 00:00:00+00')"
            )
        )
    upgrade(at_0009)
    with at_0009.connect() as conn:
        bodies: dict[str, str] = dict(conn.execute(text("SELECT username, body FROM users")).all())
        review = conn.execute(text("SELECT by, drafted_by FROM plan_reviews")).one()
    assert bodies == {"alice": "applicant", "dou": "commerce", "fang": "finance"}
    assert tuple(review) == (3, 2)


def test_the_upgrade_refuses_an_account_that_mixes_bodies_and_names_it(at_0009: Engine) -> None:
    from huiqi.db.migrate import current, upgrade

    with at_0009.begin() as conn:
        _old_user(conn, 1, "boss", None, "plan_drafter", "finance_reviewer", "city_approver")
    with pytest.raises(RuntimeError) as refused:
        upgrade(at_0009)
    assert "boss" in str(refused.value) and "职责分离" in str(refused.value)
    assert current(at_0009) == "0009"  # all or nothing
