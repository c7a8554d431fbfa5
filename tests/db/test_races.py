"""Requests arriving at once never pay what the policy, the budget or the procedure forbids.

- One open claim per organisation, clause, subject and award year: many identical "apply at
  once" requests give one application; the others are told which application holds the claim.
- An office pre-approval (6.1, 7.4) is cited by at most one application line that is open or
  paid.
- A paying finance's budget is never exceeded by the plans approved against it.

Threads, each with its own engine (as separate servers would have), are released together by a
barrier; the database decides who wins.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from huiqi.db.tables import Application, ApplicationLine, LedgerEntry, PreApproval
from huiqi.service import applications, plans, registry
from huiqi.service.actors import Actor
from huiqi.service.errors import Conflict, ServiceError
from huiqi.service.uow import Services

from . import test_concurrency
from .conftest import Cast
from .test_concurrency import facts_for, new_applicant, plan_awaiting_approval, verified

twin_engines = test_concurrency.twin_engines  # the fixture: more engines on the test's database
thread_services = test_concurrency.thread_services


def at_once(services: list[Services], calls: list[Callable[[Services], Any]]) -> list[Any]:
    """Run ``calls[i](services[i])`` in threads released together; each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i](services[i])
        except Exception as exc:  # kept, to be looked at by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a request hung (deadlock?)"
    return results


def won(results: list[Any]) -> list[Any]:
    return [r for r in results if not isinstance(r, Exception)]


# -- one open claim ----------------------------------------------------------------------------

REQUESTS = 30


def test_thirty_identical_applications_at_once_give_one_and_name_it_to_the_others(
    svc: Services, cast: Cast, twin_engines: Callable[[], Engine]
) -> None:
    code, who = new_applicant(svc, cast.admin, 1)
    facts = facts_for(code)

    def apply(s: Services) -> applications.ApplicationView:
        return applications.create_draft(
            s, who, org_code=code, year=2023, clauses=["4.1a", "7.1"], facts=facts, submit=True
        )

    services = thread_services(svc, twin_engines, REQUESTS)
    results = at_once(services, [apply] * REQUESTS)
    winners = won(results)
    assert len(winners) == 1, [str(r) for r in results]
    first = winners[0].id
    refusals = [r for r in results if isinstance(r, Conflict)]
    assert len(refusals) == REQUESTS - 1, [repr(r) for r in results]
    for refusal in refusals:
        assert f"#{first}" in refusal.zh and f"#{first}" in refusal.en
    with svc.reading() as s:
        assert s.scalar(select(func.count()).select_from(Application)) == 1


def test_a_second_claim_is_refused_while_the_first_is_open_and_accepted_once_it_closes(
    svc: Services, cast: Cast
) -> None:
    code, who = new_applicant(svc, cast.admin, 2)
    facts = facts_for(code)
    first = verified(svc, cast, who, code, 2023, "7.1", facts)
    plan_id = plan_awaiting_approval(svc, cast, 2023)  # 7.1 of 2023 is in a plan

    with pytest.raises(Conflict) as refused:
        applications.create_draft(
            svc, who, org_code=code, year=2023, clauses=["7.1"], facts=facts, submit=True
        )
    assert refused.value.status == 409
    assert f"申报 #{first}" in refusal_text(refused.value, "zh")
    assert f"application #{first}" in refusal_text(refused.value, "en")
    # A draft is no claim: it can be written, but not submitted while the first is open.
    draft = applications.create_draft(
        svc, who, org_code=code, year=2023, clauses=["7.1"], facts=facts
    )
    with pytest.raises(Conflict):
        applications.submit(svc, who, draft.id)
    # Another year, or another clause, is another claim.
    applications.create_draft(
        svc, who, org_code=code, year=2022, clauses=["7.1"], facts=facts, submit=True
    )

    plans.approve(svc, cast.shi, plan_id)  # the first claim is settled: the ledger has it
    again = applications.submit(svc, who, draft.id)
    # The engine reads the ledger: 7.1's yearly cap leaves room for the difference only.
    assert again.state == "submitted"


def test_a_rejected_claim_is_closed_and_the_reviewer_sees_every_other_claim(
    svc: Services, cast: Cast
) -> None:
    code, who = new_applicant(svc, cast.admin, 3)
    facts = facts_for(code)
    first = applications.create_draft(
        svc, who, org_code=code, year=2023, clauses=["4.1a"], facts=facts, submit=True
    )
    applications.reject(svc, cast.rui, first.id, "出口数据不实")
    second = applications.create_draft(
        svc, who, org_code=code, year=2023, clauses=["4.1a"], facts=facts, submit=True
    )
    seen = applications.get(svc, cast.rui, second.id)
    assert [(c.application_id, c.state, c.clause_id, c.subject_id) for c in seen.other_claims] == [
        (first.id, "rejected", "4.1a", code)
    ]
    # The applicant's view of the first shows the second the same way.
    mine = applications.get(svc, who, first.id)
    assert [c.application_id for c in mine.other_claims] == [second.id]


def test_the_database_refuses_a_second_open_claim_written_around_the_service(
    svc: Services, cast: Cast
) -> None:
    code, who = new_applicant(svc, cast.admin, 4)
    app = applications.create_draft(
        svc, who, org_code=code, year=2023, clauses=["4.1a"], facts=facts_for(code), submit=True
    )
    with pytest.raises(IntegrityError), svc.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO open_claims (org_id, clause_id, subject_id, award_year, "
                "application_id) SELECT org_id, '4.1a', :code, 2023, id FROM applications "
                "WHERE id = :id"
            ),
            {"code": code, "id": app.id},
        )


# -- one payment per pre-approval --------------------------------------------------------------

REF = "郴综试办〔2023〕7号"


def event_facts(code: str, event_id: str, held: str = "2023-05-20") -> dict[str, Any]:
    event = {
        "id": event_id,
        "kind": "exhibition",
        "office_approval_ref": REF,
        "held_date": held,  # an event counts in the award year it is held
    }
    return facts_for(code, events=[event])


def test_two_applications_citing_one_pre_approval_at_once_give_one_claim_on_it(
    svc: Services, cast: Cast, twin_engines: Callable[[], Engine]
) -> None:
    for n in range(5):
        code, who = new_applicant(svc, cast.admin, 10 + n)
        ref = f"{REF}-{n}"
        registry.record_pre_approval(
            svc, cast.ou, code, ref, "exhibition", "跨境电商展", date(2022, 1, 10)
        )

        def apply(
            s: Services, event_id: str, who: Actor = who, code: str = code, ref: str = ref
        ) -> int:
            event = {
                "id": event_id,
                "kind": "exhibition",
                "office_approval_ref": ref,
                "held_date": "2023-05-20",
            }
            view = applications.create_draft(
                s,
                who,
                org_code=code,
                year=2023,
                clauses=["6.1"],
                facts=facts_for(code, events=[event]),
                submit=True,
            )
            return view.id

        services = thread_services(svc, twin_engines, 2)
        results = at_once(services, [lambda s: apply(s, "E1"), lambda s: apply(s, "E2")])
        assert len(won(results)) == 1, [repr(r) for r in results]
        refused = next(r for r in results if isinstance(r, Exception))
        assert isinstance(refused, ServiceError) and refused.status in (409, 422)
        with svc.reading() as s:
            lines = s.scalars(
                select(ApplicationLine).where(ApplicationLine.pre_approval_ref == ref)
            ).all()
            assert len(lines) == 1


def test_the_database_refuses_a_pre_approval_on_two_open_lines(svc: Services, cast: Cast) -> None:
    code, who = new_applicant(svc, cast.admin, 20)
    registry.record_pre_approval(svc, cast.ou, code, REF, "exhibition", "展会", date(2022, 1, 10))
    app = applications.create_draft(
        svc, who, org_code=code, year=2023, clauses=["6.1"], facts=event_facts(code, "E1"),
        submit=True,
    )  # fmt: skip
    with pytest.raises(IntegrityError), svc.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO application_lines (application_id, clause_id, subject_id, kind, "
                "eligible, decision, office_state, pre_approval_ref) VALUES "
                "(:id, '6.1', 'E9', 'discretionary', true, 'pending', 'pending', :ref)"
            ),
            {"id": app.id, "ref": REF},
        )
    # Once the first line is refused, the approval may be cited again.
    applications.reject(svc, cast.rui, app.id, "活动未举办")
    again = applications.create_draft(
        svc, who, org_code=code, year=2022, clauses=["6.1"],
        facts=event_facts(code, "E1", held="2022-05-20"), submit=True,
    )  # fmt: skip
    assert again.line("6.1", "E1").office_state == "pending"
    with svc.reading() as s:
        assert s.scalar(select(PreApproval.reference)) == REF


# -- budgets -----------------------------------------------------------------------------------

BUDGET_FEN = 10_000_000  # 100,000 yuan for 北湖区 in 2023
ONE_TIER = {"trade": {"export_usd": "5", "import_usd": "0"}}  # 4.1a: 10万 for any export


def two_plans_sharing_a_budget(svc: Services, cast: Cast, year: int) -> list[int]:
    """Two plans of ``year``, each granting 10万 to its own 北湖区 company, drafted before the
    budget was recorded, so each grants all it asks; then 10万 is recorded for 北湖区."""
    plan_ids = []
    for k in range(2):
        code, who = new_applicant(svc, cast.admin, 100 + 2 * year + k)
        verified(svc, cast, who, code, year, "4.1a", facts_for(code, **ONE_TIER))
        plan_ids.append(plan_awaiting_approval(svc, cast, year))
    plans.set_budget(svc, cast.fang, division="北湖区", year=year, amount_fen=BUDGET_FEN)
    return plan_ids


def ledger_total(svc: Services) -> int:
    with svc.reading() as s:
        return int(s.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0))) or 0)


def test_a_plan_that_would_exceed_its_finances_budget_is_not_approved(
    svc: Services, cast: Cast
) -> None:
    first, second = two_plans_sharing_a_budget(svc, cast, 2023)
    plans.approve(svc, cast.shi, first)
    with pytest.raises(Conflict) as refused:
        plans.approve(svc, cast.shi, second)
    assert refused.value.status == 409
    assert "北湖区" in refused.value.zh and "100,000.00" in refusal_text(refused.value, "zh")
    assert ledger_total(svc) == BUDGET_FEN
    # Nor may the budget be lowered below what is approved against it.
    with pytest.raises(Conflict) as lowered:
        plans.set_budget(svc, cast.fang, division="北湖区", year=2023, amount_fen=BUDGET_FEN - 1)
    assert "北湖区" in lowered.value.zh
    plans.set_budget(svc, cast.fang, division="北湖区", year=2023, amount_fen=2 * BUDGET_FEN)
    plans.approve(svc, cast.shi, second)  # raised by the finance: now it fits
    assert ledger_total(svc) == 2 * BUDGET_FEN


def test_approvals_racing_for_one_budget_never_exceed_it(
    svc: Services, cast: Cast, backend: str, twin_engines: Callable[[], Engine]
) -> None:
    def approve(s: Services, plan_id: int) -> plans.PlanView:
        return plans.approve(s, cast.shi, plan_id)

    services = thread_services(svc, twin_engines, 2)
    years = range(2021, 2026) if backend == "postgresql" else range(2021, 2023)
    for n, year in enumerate(years, start=1):  # a round a year: each its own budget
        plan_ids = two_plans_sharing_a_budget(svc, cast, year)
        results = at_once(services, [partial(approve, plan_id=p) for p in plan_ids])
        assert len(won(results)) == 1, [repr(r) for r in results]
        assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))
        assert ledger_total(svc) == n * BUDGET_FEN


def refusal_text(error: ServiceError, lang: str) -> str:
    return "\n".join(error.lines(lang))
