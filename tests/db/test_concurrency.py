"""Approvals racing each other never break a cap or pay a one-time award twice.

Each round sets up several allocation plans that all want money for one fresh organisation
under a one-time or yearly-capped clause, all waiting only for 市人民政府's approval. Then
threads (each with its own ``Services`` and engine) or separate processes approve them at the
same moment, lined up by a barrier. After every round the ledger is checked against what the
engine allows, and every plan is either approved with its ledger rows or still under review
with none: nothing half-written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from huiqi import credit_code
from huiqi.db.engine import make_engine
from huiqi.db.tables import AllocationPlan, AuditEntry, LedgerEntry, Organisation
from huiqi.fulfilment.roles import Role
from huiqi.service import applications, orgs, plans
from huiqi.service import audit as audit_service
from huiqi.service.actors import Actor, load_actor
from huiqi.service.errors import Conflict
from huiqi.service.uow import Services

from .conftest import PG_URL, Cast, Clock, pg_schema_engine
from .test_workflow import FACTS, approve_all

THREADS = 8
#: Rounds on PostgreSQL, where transactions really overlap; SQLite serialises writers
#: (BEGIN IMMEDIATE), so fewer rounds there show the same thing.
#: HUIQI_RACE_ROUNDS raises the PostgreSQL rounds for a longer soak (bench/concurrency.py
#: runs 40 rounds × 16 threads); CI keeps the suite quick.
ROUNDS = {"postgresql": int(os.environ.get("HUIQI_RACE_ROUNDS", "12")), "sqlite": 6}
WORKER = Path(__file__).with_name("worker.py")

#: 4.1a, one-time: 10万 for any export, 20万 from USD 200,000, 50万 from USD 500,000.
TIERS = {"5": 10_000_000, "250000": 20_000_000, "600000": 50_000_000}
#: 6.2: an interest subsidy per loan, at most the interest paid (9万 here), and all loans of
#: an enterprise together at most 30万 a year: three loans fit, a fourth does not.
LOAN_FEN = 9_000_000
LOAN_CAP_FEN = 30_000_000
#: The award years: an organisation has one open claim per clause, subject and year.
YEARS = 5


# -- setting the race up -----------------------------------------------------------------------


def new_applicant(svc: Services, admin: Actor, n: int) -> tuple[str, Actor]:
    """A fresh enterprise (so every round starts with an empty ledger) and its applicant."""
    code = credit_code.complete(f"91431000MA4R{n:05d}")
    orgs.add_org(
        svc,
        admin,
        code=code,
        name=f"郴州竞速{n}号跨境电商有限公司",
        kind="cbec_enterprise",
        division="北湖区",
        platform_filed=True,
        platform_connected=True,
    )
    orgs.add_user(
        svc, admin, username=f"racer{n}", display_name=f"racer{n}", roles=[Role.APPLICANT],
        org_code=code,
    )  # fmt: skip
    with svc.reading() as s:
        return code, load_actor(s, f"racer{n}")


def facts_for(code: str, **changes: Any) -> dict[str, Any]:
    return {**FACTS, "applicant": {**FACTS["applicant"], "credit_code": code}, **changes}


def loan_facts(code: str, loan_id: str) -> dict[str, Any]:
    """One loan of 1亿 drawn in 2020 and still open: its subsidy is capped by the 9万 of
    interest paid (principal × LPR × 20% for a year is far more)."""
    loan = {
        "id": loan_id,
        "cross_border_financial_product": True,
        "principal_cny": "100000000",
        "drawdown_date": "2020-06-01",
        "interest_paid_cny": "90000",
    }
    return facts_for(code, loans=[loan])


def verified(
    svc: Services, cast: Cast, who: Actor, code: str, year: int, clause: str, facts: dict[str, Any]
) -> int:
    draft = applications.create_draft(
        svc, who, org_code=code, year=year, clauses=[clause], facts=facts
    )
    view = applications.submit(svc, who, draft.id)
    applications.verify(svc, cast.rui, draft.id, approve_all(view))
    return draft.id


def plan_awaiting_approval(svc: Services, cast: Cast, year: int) -> int:
    """Draft a plan of every verified line not yet planned, noticed and reviewed by both."""
    plan = plans.draft(svc, cast.dai, year=year, title=f"{year}年度竞速方案")
    clock = svc.clock
    assert isinstance(clock, Clock)
    now, clock.now = clock.now, clock.now - timedelta(days=30)
    plans.open_notice(svc, cast.dai, plan.id)  # published a month ago: its period is over
    clock.now = now
    plans.close_notice(svc, cast.dai, plan.id)
    plans.review(svc, cast.fang, plan.id, approve=True)
    plans.review(svc, cast.ou, plan.id, approve=True)
    return plan.id


@dataclass
class Contest:
    """One round: plans racing for one organisation's room under one clause."""

    org_codes: list[str]
    clause: str
    plan_ids: list[int]
    expected_winners: int


def one_time_contest(svc: Services, cast: Cast, n: int, plans_wanted: int) -> Contest:
    """Plans from different award years (one open claim a year), each wanting 4.1a
    (10万/20万/50万) for one company."""
    assert plans_wanted <= YEARS
    code, who = new_applicant(svc, cast.admin, n)
    plan_ids = []
    for i in range(plans_wanted):
        year = 2021 + i
        export = list(TIERS)[i % 3]
        facts = facts_for(code, trade={"export_usd": export, "import_usd": "0"})
        verified(svc, cast, who, code, year, "4.1a", facts)
        plan_ids.append(plan_awaiting_approval(svc, cast, year))
    # Every plan was drafted against an empty ledger, so each asks for its whole tier: after
    # any one is paid, every other one asks for more than the top-up the engine allows.
    return Contest([code], "4.1a", plan_ids, expected_winners=1)


def yearly_cap_contest(svc: Services, cast: Cast, n: int, plans_wanted: int) -> Contest:
    """Applications of one year for 6.2, one loan each and one per plan, 9万 each against the
    30万 yearly cap per enterprise. (Rounds take turns among the award years: drafting reads
    every verified application of its year, and one year of 240 makes the set-up slow.)"""
    code, who = new_applicant(svc, cast.admin, n)
    year = 2021 + n % 5
    plan_ids = []
    for i in range(plans_wanted):
        verified(svc, cast, who, code, year, "6.2", loan_facts(code, f"L{i}"))
        plan_ids.append(plan_awaiting_approval(svc, cast, year))
    return Contest([code], "6.2", plan_ids, min(plans_wanted, LOAN_CAP_FEN // LOAN_FEN))


def crossed_contest(svc: Services, cast: Cast, n: int, plans_wanted: int) -> Contest:
    """Each plan holds 6.2 (a loan of each) for two companies, created in alternating order,
    so that two approvals would take the two organisations' locks in opposite orders if they
    did not sort."""
    first, who_first = new_applicant(svc, cast.admin, n)
    second, who_second = new_applicant(svc, cast.admin, n + 50_000)
    pair = [(first, who_first), (second, who_second)]
    year = 2021 + n % 5
    plan_ids = []
    for i in range(plans_wanted):
        for code, who in pair if i % 2 == 0 else reversed(pair):
            verified(svc, cast, who, code, year, "6.2", loan_facts(code, f"L{i}"))
        plan_ids.append(plan_awaiting_approval(svc, cast, year))
    winners = min(plans_wanted, LOAN_CAP_FEN // LOAN_FEN)
    return Contest([first, second], "6.2", plan_ids, winners)


# -- running it --------------------------------------------------------------------------------


@dataclass
class Tally:
    rounds: int = 0
    attempts: int = 0
    won: int = 0
    conflicts: int = 0
    caps_broken: int = 0
    half_written: int = 0
    conflict_reasons: set[str] = field(default_factory=set)
    other: list[str] = field(default_factory=list)

    def add(self, outcome: str, detail: str) -> None:
        self.attempts += 1
        if outcome == "won":
            self.won += 1
        elif outcome == "conflict":
            self.conflicts += 1
            self.conflict_reasons.add(detail)
        else:
            self.other.append(detail)


def approve_outcome(svc: Services, approver: Actor, plan_id: int) -> tuple[str, str]:
    try:
        plans.approve(svc, approver, plan_id)
    except Conflict as exc:
        return "conflict", exc.en
    except Exception as exc:  # a deadlock, a raw database error: reported, never hidden
        return "error", f"{type(exc).__name__}: {exc}"
    return "won", ""


def race_threads(services: list[Services], approver: Actor, plan_ids: list[int]) -> list[Any]:
    """Approve each plan in its own thread, all released at the same instant."""
    barrier = threading.Barrier(len(plan_ids))
    results: list[Any] = [None] * len(plan_ids)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = approve_outcome(services[i], approver, plan_ids[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(plan_ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "an approval hung (deadlock?)"
    return results


def check_round(svc: Services, contest: Contest, won: list[int], tally: Tally) -> None:
    """The ledger holds what the engine allows, and each plan is wholly approved or untouched."""
    tally.rounds += 1
    with svc.reading() as s:
        for code in contest.org_codes:
            org_id = s.scalar(select(Organisation.id).where(Organisation.credit_code == code))
            amounts = s.scalars(
                select(LedgerEntry.amount_fen).where(
                    LedgerEntry.org_id == org_id, LedgerEntry.clause_id == contest.clause
                )
            ).all()
            if contest.clause == "4.1a":
                # One-time: one payment at most, and never above the highest tier.
                broken = len(amounts) > 1 or sum(amounts) > max(TIERS.values())
            else:
                broken = sum(amounts) > LOAN_CAP_FEN
            tally.caps_broken += broken
        for plan_id in contest.plan_ids:
            plan = s.get(AllocationPlan, plan_id)
            assert plan is not None
            rows = s.scalars(select(LedgerEntry).where(LedgerEntry.plan_id == plan_id)).all()
            items = {i.id: i.granted_fen for i in plan.items}
            if plan_id in won:
                whole = (
                    plan.state.value == "approved"
                    and {r.plan_item_id: r.amount_fen for r in rows} == items
                )
            else:
                whole = plan.state.value == "review" and rows == []
            tally.half_written += not whole


#: What a loser of a race between different plans is told: the engine, re-run against the
#: ledger as the winner left it, allows less than the plan grants.
CAP_CONFLICT = "approving would break a cap or pay a one-time award twice; not approved"


def assert_clean(svc: Services, tally: Tally, expected_won: int) -> None:
    print(tally)  # the figures, shown with pytest -s
    assert tally.other == []  # no deadlock, no raw database error
    assert tally.caps_broken == 0
    assert tally.half_written == 0
    assert tally.won == expected_won
    assert tally.conflicts == tally.attempts - tally.won
    with svc.reading() as s:
        count, problems = audit_service.verify(s)
        approvals = s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "plan.approve")
        )
    assert problems == [] and count > 0
    assert approvals == tally.won  # one audit entry per approval that happened, no more


@pytest.fixture
def twin_engines(
    backend: str, engine: Engine, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Engine]]:
    """Makes further engines on the test's database, as other servers would have."""
    made: list[Engine] = []

    def make() -> Engine:
        if backend == "sqlite":
            other = make_engine(engine.url.render_as_string(hide_password=False))
        else:
            other = pg_schema_engine(request.getfixturevalue("pg_schema"))
        made.append(other)
        return other

    yield make
    for other in made:
        other.dispose()


def thread_services(svc: Services, twin_engines: Callable[[], Engine], n: int) -> list[Services]:
    return [Services(engine=twin_engines(), package=svc.package, clock=svc.clock) for _ in range(n)]


# -- the tests ---------------------------------------------------------------------------------


def test_racing_approvals_pay_a_one_time_award_once(
    svc: Services, cast: Cast, backend: str, twin_engines: Callable[[], Engine]
) -> None:
    services = thread_services(svc, twin_engines, YEARS)
    tally = Tally()
    rounds = ROUNDS[backend]
    for r in range(rounds):
        contest = one_time_contest(svc, cast, r, YEARS)
        results = race_threads(services, cast.shi, contest.plan_ids)
        for outcome, detail in results:
            tally.add(outcome, detail)
        won = [p for p, (o, _) in zip(contest.plan_ids, results, strict=True) if o == "won"]
        assert len(won) == contest.expected_winners, results
        check_round(svc, contest, won, tally)
    assert tally.attempts == rounds * YEARS
    assert tally.conflict_reasons == {CAP_CONFLICT}
    assert_clean(svc, tally, expected_won=rounds)


def test_racing_approvals_stay_within_a_yearly_cap_and_all_that_fit_are_paid(
    svc: Services, cast: Cast, backend: str, twin_engines: Callable[[], Engine]
) -> None:
    services = thread_services(svc, twin_engines, THREADS)
    tally = Tally()
    rounds = ROUNDS[backend]
    for r in range(rounds):
        contest = yearly_cap_contest(svc, cast, r, THREADS)
        results = race_threads(services, cast.shi, contest.plan_ids)
        for outcome, detail in results:
            tally.add(outcome, detail)
        won = [p for p, (o, _) in zip(contest.plan_ids, results, strict=True) if o == "won"]
        assert len(won) == 3, results  # 3 × 9万 = 27万 fit under 30万; a fourth would not
        check_round(svc, contest, won, tally)
    assert tally.attempts == rounds * THREADS
    assert tally.conflict_reasons == {CAP_CONFLICT}
    assert_clean(svc, tally, expected_won=3 * rounds)


def test_plans_locking_two_organisations_in_opposite_orders_do_not_deadlock(
    svc: Services, cast: Cast, twin_engines: Callable[[], Engine]
) -> None:
    rounds, threads = 10, 6
    services = thread_services(svc, twin_engines, threads)
    tally = Tally()
    for r in range(rounds):
        contest = crossed_contest(svc, cast, r, threads)
        results = race_threads(services, cast.shi, contest.plan_ids)
        for outcome, detail in results:
            tally.add(outcome, detail)
        won = [p for p, (o, _) in zip(contest.plan_ids, results, strict=True) if o == "won"]
        assert len(won) == 3, results
        check_round(svc, contest, won, tally)
    assert tally.conflict_reasons == {CAP_CONFLICT}
    assert_clean(svc, tally, expected_won=3 * rounds)


def test_one_plan_approved_by_many_at_once_is_approved_once(
    svc: Services, cast: Cast, twin_engines: Callable[[], Engine]
) -> None:
    services = thread_services(svc, twin_engines, THREADS)
    tally = Tally()
    for r in range(5):
        contest = yearly_cap_contest(svc, cast, r, 1)
        plan_id = contest.plan_ids[0]
        results = race_threads(services, cast.shi, [plan_id] * THREADS)
        for outcome, detail in results:
            tally.add(outcome, detail)
        assert [o for o, _ in results].count("won") == 1, results
        check_round(svc, contest, [plan_id], tally)
    # The others waited for the plan's row lock, then found it approved already.
    assert tally.conflict_reasons == {"cannot approve in state 'approved'"}
    assert_clean(svc, tally, expected_won=5)
    with svc.reading() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 5  # one row a plan


# -- separate processes ------------------------------------------------------------------------


def worker_env(backend: str, engine: Engine, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HUIQI_CRASH_AT"}
    env["HUIQI_WORKER_NOW"] = "2023-03-01T09:00:00+00:00"
    if backend == "sqlite":
        env["HUIQI_WORKER_URL"] = engine.url.render_as_string(hide_password=False)
    else:
        env["HUIQI_WORKER_URL"] = PG_URL
        env["HUIQI_WORKER_SCHEMA"] = request.getfixturevalue("pg_schema")
    return env


def test_approvals_racing_from_separate_processes_stay_within_the_cap(
    svc: Services, cast: Cast, backend: str, engine: Engine, request: pytest.FixtureRequest
) -> None:
    processes, rounds = 4, 6
    env = worker_env(backend, engine, request)
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "race", "shi"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(processes)
    ]
    tally = Tally()
    try:
        for r in range(rounds):
            contest = yearly_cap_contest(svc, cast, r, processes)
            for worker, plan_id in zip(workers, contest.plan_ids, strict=True):
                assert worker.stdin is not None
                worker.stdin.write(f"prep {plan_id}\n")
                worker.stdin.flush()
            for worker in workers:
                assert worker.stdout is not None
                assert worker.stdout.readline().strip() == "ready"
            for worker in workers:  # the barrier: everyone is connected and waiting
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
            results = []
            for worker in workers:
                assert worker.stdout is not None
                results.append(json.loads(worker.stdout.readline()))
            for result in results:
                tally.add(result["outcome"], f"{result.get('type')}: {result.get('message')}")
            won = [
                p
                for p, res in zip(contest.plan_ids, results, strict=True)
                if res["outcome"] == "won"
            ]
            assert len(won) == 3, results
            check_round(svc, contest, won, tally)
    finally:
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("quit\n")
            worker.stdin.close()
        for worker in workers:
            worker.wait(timeout=60)
    assert [w.returncode for w in workers] == [0] * processes
    assert tally.conflict_reasons == {f"Conflict: {CAP_CONFLICT}"}
    assert_clean(svc, tally, expected_won=3 * rounds)
