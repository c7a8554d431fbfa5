"""Racing approvals at scale on PostgreSQL: how many win, how many meet a Conflict, caps broken.

The same race as ``tests/db/test_concurrency.py``, larger. Each round registers a fresh
enterprise and drafts one allocation plan per thread, every plan wanting that enterprise's
money under one clause, every plan waiting only for 市人民政府's approval. Then all threads
(each with its own engine and ``Services``, as separate servers would have) approve their
plan at the same instant, released by a ``threading.Barrier``. Two races:

- ``one-time``: 4.1a (一次性奖励 10万/20万/50万) from applications of different award years
  (one open claim per clause, subject and year: five plans at most, whatever ``--threads``),
  each drafted against an empty ledger: exactly one approval may win a round;
- ``yearly-cap``: 6.2 (贷款贴息, at most 30万 per enterprise and year), one loan of 9万 per
  plan: exactly three may win (27万), the fourth would break the cap.

After every round the ledger is read back: a one-time award paid twice, a cap exceeded, or a
plan half-approved counts as broken; so does a round whose number of winners is not the one
expected (exactly one for the one-time race, exactly three for the cap — a round nobody won
is as wrong as one two won), and so does any error other than a Conflict. The exit status is
1 when any of these happened or the audit chain is broken, so the printed "met" is checked.
The script creates its own schema and drops it at the end. Run it (PostgreSQL at
127.0.0.1:5432, database ``test``, as the tests use)::

    .venv/bin/python bench/concurrency.py [--threads 16] [--rounds 40] [--url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, select, text

from huiqi import credit_code
from huiqi.db.engine import make_engine
from huiqi.db.migrate import upgrade
from huiqi.db.tables import AllocationPlan, LedgerEntry, Organisation
from huiqi.fulfilment.decisions import LineDecision
from huiqi.fulfilment.roles import Role
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import load_package
from huiqi.service import applications, orgs, plans
from huiqi.service import audit as audit_service
from huiqi.service.actors import Actor, load_actor
from huiqi.service.errors import Conflict
from huiqi.service.uow import Services

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2023, 3, 1, 9, 0, tzinfo=UTC)


class BenchClock:
    """The services' clock: fixed at NOW, but for the notices, published a month before."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


TIER_FEN = {"5": 10_000_000, "250000": 20_000_000, "600000": 50_000_000}
LOAN_CAP_FEN = 30_000_000
LOAN_PLAN_FEN = 9_000_000  # one loan's interest, 9万, per plan
YEARS = 5
#: Winners a round must have: the one-time award once; the cap of 30万 holds three plans of 9万.
WINNERS = {"one-time": 1, "yearly-cap": LOAN_CAP_FEN // LOAN_PLAN_FEN}


def schema_engine(url: str, schema: str) -> Engine:
    return make_engine(url, connect_args={"options": f"-csearch_path={schema}"})


@dataclass
class Staff:
    admin: Actor
    rui: Actor
    dai: Actor
    fang: Actor
    ou: Actor
    shi: Actor


def hire(svc: Services) -> Staff:
    orgs.add_user(svc, None, username="admin", display_name="管理员", roles=[Role.ADMIN])
    with svc.reading() as s:
        admin = load_actor(s, "admin")
    roles = {
        "rui": Role.COMMERCE_REVIEWER,
        "dai": Role.PLAN_DRAFTER,
        "fang": Role.FINANCE_REVIEWER,
        "ou": Role.OFFICE_REVIEWER,
        "shi": Role.CITY_APPROVER,
    }
    for name, role in roles.items():
        orgs.add_user(svc, admin, username=name, display_name=name, roles=[role])
    with svc.reading() as s:
        return Staff(admin, *(load_actor(s, name) for name in roles))


def facts(code: str, **changes: Any) -> dict[str, Any]:
    return {
        "applicant": {
            "credit_code": code,
            "name": "x",
            "kind": "cbec_enterprise",
            "registered_locally": True,
            "tax_paying_locally": True,
            "independent_legal_person": True,
            "in_customs_cbec_statistics": True,
        },
        "trade": {"export_usd": "250000", "import_usd": "0"},
        "staff_training": {"costs_cny": "40000"},
        **changes,
    }


def enterprise(svc: Services, staff: Staff, n: int) -> tuple[str, Actor]:
    code = credit_code.complete(f"91431000MA4B{n:05d}")
    orgs.add_org(
        svc,
        staff.admin,
        code=code,
        name=f"压测企业{n}",
        kind="cbec_enterprise",
        division="北湖区",
        platform_filed=True,
        platform_connected=True,
    )
    orgs.add_user(
        svc, staff.admin, username=f"bench{n}", display_name=f"bench{n}",
        roles=[Role.APPLICANT], org_code=code,
    )  # fmt: skip
    with svc.reading() as s:
        return code, load_actor(s, f"bench{n}")


def plan_for(
    svc: Services, staff: Staff, who: Actor, code: str, year: int, clause: str, doc: dict[str, Any]
) -> int:
    """One verified application in its own plan, noticed and reviewed by both bodies."""
    draft = applications.create_draft(
        svc, who, org_code=code, year=year, clauses=[clause], facts=doc
    )
    view = applications.submit(svc, who, draft.id)
    decisions = [
        LineDecision(ln.clause_id, ln.subject_id, True, ln.engine_fen, "符合政策")
        for ln in view.lines
    ]
    applications.verify(svc, staff.rui, draft.id, decisions)
    plan = plans.draft(svc, staff.dai, year=year, title=f"{year}年度压测方案")
    assert isinstance(svc.clock, BenchClock)
    svc.clock.now = NOW - timedelta(days=30)
    plans.open_notice(svc, staff.dai, plan.id)  # published a month ago: its period is over
    svc.clock.now = NOW
    plans.close_notice(svc, staff.dai, plan.id)
    plans.review(svc, staff.fang, plan.id, approve=True)
    plans.review(svc, staff.ou, plan.id, approve=True)
    return plan.id


@dataclass
class Tally:
    race: str
    threads: int
    rounds: int = 0
    attempts: int = 0
    won: int = 0
    conflicts: int = 0
    errors: int = 0
    caps_broken: int = 0
    half_written: int = 0
    wrong_winners: int = 0  # rounds won by more or fewer plans than the race allows
    setup_s: float = 0.0
    race_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    first_errors: list[str] = field(default_factory=list)


def race(services: list[Services], approver: Actor, plan_ids: list[int], tally: Tally) -> set[int]:
    barrier = threading.Barrier(len(plan_ids))
    outcomes: list[tuple[str, float, str]] = [("", 0.0, "")] * len(plan_ids)

    def run(i: int) -> None:
        barrier.wait()
        start = time.perf_counter()
        try:
            plans.approve(services[i], approver, plan_ids[i])
            outcome, detail = "won", ""
        except Conflict:
            outcome, detail = "conflict", ""
        except Exception as exc:
            outcome, detail = "error", f"{type(exc).__name__}: {exc}"[:300]
        outcomes[i] = (outcome, (time.perf_counter() - start) * 1000, detail)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(plan_ids))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally.race_s += time.perf_counter() - start
    won = set()
    for plan_id, (outcome, ms, detail) in zip(plan_ids, outcomes, strict=True):
        tally.attempts += 1
        tally.latencies_ms.append(ms)
        if outcome == "won":
            tally.won += 1
            won.add(plan_id)
        elif outcome == "conflict":
            tally.conflicts += 1
        else:
            tally.errors += 1
            if len(tally.first_errors) < 3:
                tally.first_errors.append(detail)
    return won


def check(
    svc: Services, code: str, clause: str, plan_ids: list[int], won: set[int], t: Tally
) -> None:
    with svc.reading() as s:
        org_id = s.scalar(select(Organisation.id).where(Organisation.credit_code == code))
        amounts = s.scalars(
            select(LedgerEntry.amount_fen).where(
                LedgerEntry.org_id == org_id, LedgerEntry.clause_id == clause
            )
        ).all()
        if clause == "4.1a":
            t.caps_broken += len(amounts) > 1 or sum(amounts) > max(TIER_FEN.values())
        else:
            t.caps_broken += sum(amounts) > LOAN_CAP_FEN
        for plan_id in plan_ids:
            plan = s.get(AllocationPlan, plan_id)
            assert plan is not None
            rows = s.scalars(select(LedgerEntry).where(LedgerEntry.plan_id == plan_id)).all()
            if plan_id in won:
                whole = plan.state.value == "approved" and {
                    r.plan_item_id: r.amount_fen for r in rows
                } == {i.id: i.granted_fen for i in plan.items}
            else:
                whole = plan.state.value == "review" and not rows
            t.half_written += not whole


def run_race(
    name: str, svc: Services, staff: Staff, services: list[Services], rounds: int, base: int
) -> Tally:
    if name == "one-time":
        services = services[:YEARS]
    tally = Tally(name, len(services))
    for r in range(rounds):
        start = time.perf_counter()
        code, who = enterprise(svc, staff, base + r)
        plan_ids = []
        for i in range(len(services)):
            if name == "one-time":
                year = 2021 + i
                doc = facts(code, trade={"export_usd": list(TIER_FEN)[i % 3], "import_usd": "0"})
                plan_ids.append(plan_for(svc, staff, who, code, year, "4.1a", doc))
            else:
                loan = {
                    "id": f"L{i}",
                    "cross_border_financial_product": True,
                    "principal_cny": "100000000",
                    "drawdown_date": "2020-06-01",
                    "interest_paid_cny": "90000",
                }
                doc = facts(code, loans=[loan])
                plan_ids.append(plan_for(svc, staff, who, code, 2021 + r % 5, "6.2", doc))
        tally.setup_s += time.perf_counter() - start
        won = race(services, staff.shi, plan_ids, tally)
        tally.wrong_winners += len(won) != min(WINNERS[name], len(plan_ids))
        check(svc, code, "4.1a" if name == "one-time" else "6.2", plan_ids, won, tally)
        tally.rounds += 1
    return tally


def report(tallies: list[Tally], audit: tuple[int, list[str]]) -> None:
    head = (
        f"{'race':<11}{'threads':>8}{'rounds':>7}{'attempts':>9}{'won':>6}{'conflicts':>10}"
        f"{'errors':>7}{'caps broken':>12}{'half-written':>13}{'wrong winners':>14}"
        f"{'race wall s':>12}"
        f"{'median ms':>10}{'p95 ms':>8}{'set-up s':>9}"
    )
    print(head)
    print("-" * len(head))
    for t in tallies:
        p95 = statistics.quantiles(t.latencies_ms, n=20)[-1] if len(t.latencies_ms) > 1 else 0
        print(
            f"{t.race:<11}{t.threads:>8}{t.rounds:>7}{t.attempts:>9}{t.won:>6}{t.conflicts:>10}"
            f"{t.errors:>7}{t.caps_broken:>12}{t.half_written:>13}{t.wrong_winners:>14}"
            f"{t.race_s:>12.2f}"
            f"{statistics.median(t.latencies_ms):>10.1f}{p95:>8.1f}{t.setup_s:>9.1f}"
        )
        for detail in t.first_errors:
            print(f"  error: {detail}")
    count, problems = audit
    print(f"audit chain: {count} entries, {'intact' if not problems else problems[:3]}")


def goals(tallies: list[Tally], audit: tuple[int, list[str]]) -> bool:
    """Print each goal with whether it was met; True when all were."""
    checks = [
        ("no cap broken, no one-time award paid twice", all(t.caps_broken == 0 for t in tallies)),
        ("no plan half-approved", all(t.half_written == 0 for t in tallies)),
        ("no error but Conflict", all(t.errors == 0 for t in tallies)),
        (
            "every round won by exactly "
            + " / ".join(f"{WINNERS[t.race]} ({t.race})" for t in tallies),
            all(t.wrong_winners == 0 and t.rounds > 0 for t in tallies),
        ),
        ("audit chain intact", not audit[1]),
    ]
    for name, met in checks:
        print(f"goal: {name}: {'met' if met else 'NOT met'}")
    return all(met for _, met in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL (SQLAlchemy URL)")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    if args.threads < 2 or args.rounds < 1:
        parser.error("at least 2 threads and 1 round")

    schema = f"huiqi_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engines: list[Engine] = []
    wall = time.perf_counter()
    try:
        engine = schema_engine(args.url, schema)
        engines.append(engine)
        upgrade(engine)
        package = load_package(DEFAULT_POLICY)
        clock = BenchClock(NOW)
        svc = Services(engine=engine, package=package, clock=clock)
        staff = hire(svc)
        services = []
        for _ in range(args.threads):
            other = schema_engine(args.url, schema)
            engines.append(other)
            services.append(Services(engine=other, package=package, clock=clock))
        tallies = [
            run_race("one-time", svc, staff, services, args.rounds, 0),
            run_race("yearly-cap", svc, staff, services, args.rounds, 50_000),
        ]
        with svc.reading() as s:
            audit = audit_service.verify(s)
        print(f"PostgreSQL schema {schema} (dropped at the end); {args.threads} threads each race")
        report(tallies, audit)
        print(f"wall time, set-up included: {time.perf_counter() - wall:.1f} s")
        met = goals(tallies, audit)
    finally:
        for e in engines:
            e.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
