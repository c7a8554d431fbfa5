"""The public notice (公示) cannot be skipped or shortened, on SQLite and PostgreSQL.

A notice starts at the moment it is published (recorded), runs at least the configured number
of whole working days of the official calendar counted from the next day, and closes only
once its last day is over in Beijing time and every objection is resolved. The test clock
starts on Wednesday 1 March 2023 at 09:00 UTC, 17:00 in Beijing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, inspect, select

from huiqi.db.engine import make_engine
from huiqi.db.migrate import downgrade, upgrade
from huiqi.db.tables import AllocationPlan, Objection, ObjectionState
from huiqi.fulfilment.calendar import ZONE
from huiqi.service import plans
from huiqi.service.errors import Conflict, Invalid
from huiqi.service.plan_views import aware
from huiqi.service.uow import Services

from .conftest import Cast, Clock, pg_schema_engine
from .test_plans import bilingual, simple_plan


def beijing(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment given in Beijing time, as the service clock gives it (UTC)."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ZONE).astimezone(UTC)


def test_a_notice_backdated_to_2020_for_one_day_cannot_be_opened_or_closed_at_once(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    """The attack of issue 11: open a notice starting 2020-01-06 for one day, close it at once,
    and go on to approval without a single day of notice."""
    plan = simple_plan(svc, cast)
    with pytest.raises(Invalid) as backdated:
        plans.open_notice(svc, cast.dai, plan.id, start=date(2020, 1, 6), days=1)
    assert [(p.path, p.value) for p in backdated.value.problems] == [("start", "2020-01-06")]
    bilingual(backdated.value)
    with pytest.raises(Invalid) as one_day:
        plans.open_notice(svc, cast.dai, plan.id, days=1)
    assert [(p.path, p.value) for p in one_day.value.problems] == [("days", 1)]
    assert "HUIQI_NOTICE_DAYS = 5" in one_day.value.problems[0].zh
    assert "HUIQI_NOTICE_DAYS = 5" in one_day.value.problems[0].en
    with pytest.raises(Conflict):  # nothing was published, so there is nothing to close
        plans.close_notice(svc, cast.dai, plan.id)
    assert plans.get(svc, cast.dai, plan.id).state == "draft"

    opened = plans.open_notice(svc, cast.dai, plan.id)
    with pytest.raises(Conflict) as at_once:
        plans.close_notice(svc, cast.dai, plan.id)
    assert str(opened.notice_end) in at_once.value.zh and str(opened.notice_end) in at_once.value.en
    with pytest.raises(Conflict):
        plans.review(svc, cast.fang, plan.id, approve=True)
    with pytest.raises(Conflict):
        plans.approve(svc, cast.shi, plan.id)


def test_a_notice_starts_when_it_is_published_and_the_moment_is_recorded(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    with pytest.raises(Invalid) as scheduled:
        plans.open_notice(svc, cast.dai, plan.id, start=date(2023, 3, 6))
    assert [p.path for p in scheduled.value.problems] == ["start"]
    bilingual(scheduled.value)
    opened = plans.open_notice(svc, cast.dai, plan.id, start=date(2023, 3, 1))  # today: allowed
    assert opened.notice_published_at == clock.now
    assert opened.notice_published_beijing == "2023-03-01 17:00"
    assert (opened.notice_start, opened.notice_days) == (date(2023, 3, 1), 5)
    # Wednesday 1 March is not counted (published at 17:00): Thu 2, Fri 3, Mon 6, Tue 7, Wed 8.
    assert opened.notice_end == date(2023, 3, 8)
    public = plans.public_notice(svc, plan.id)
    assert public is not None and public.notice_published_at == clock.now


def test_a_period_shorter_than_the_configured_one_is_refused(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    svc.notice_days = 10
    with pytest.raises(Invalid) as short:
        plans.open_notice(svc, cast.dai, plan.id, days=7)
    assert [(p.path, p.value) for p in short.value.problems] == [("days", 7)]
    assert "HUIQI_NOTICE_DAYS = 10" in short.value.problems[0].en
    with pytest.raises(Invalid) as endless:
        plans.open_notice(svc, cast.dai, plan.id, days=10_000)
    assert [(p.path, p.value) for p in endless.value.problems] == [("days", 10_000)]
    assert plans.open_notice(svc, cast.dai, plan.id).notice_days == 10


def test_a_notice_running_into_a_year_the_calendar_does_not_cover_is_refused(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    clock.now = beijing(date(2026, 12, 28), 10)  # Dec 29, 30, 31, then 2027
    with pytest.raises(Invalid) as uncovered:
        plans.open_notice(svc, cast.dai, plan.id)
    assert "2027" in uncovered.value.zh and "2027" in uncovered.value.en
    assert [(p.path, p.value) for p in uncovered.value.problems] == [("year", 2027)]
    bilingual(uncovered.value)
    assert plans.get(svc, cast.dai, plan.id).state == "draft"


def test_the_notice_closes_only_after_its_last_day_and_with_every_objection_resolved(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    opened = plans.open_notice(svc, cast.dai, plan.id)
    last = date(2023, 3, 8)
    assert opened.notice_end == last
    clock.now = beijing(last, 9)  # the last day itself
    with pytest.raises(Conflict) as on_the_day:
        plans.close_notice(svc, cast.dai, plan.id)
    assert "2023-03-08" in on_the_day.value.zh and "2023-03-08" in on_the_day.value.en
    clock.now = beijing(last, 23, 59)  # an objection at 23:59 on the last day is taken
    late = plans.object_to(svc, plan.id, submitted_by="市民张某", text="最后一分钟")
    clock.now = beijing(last, 23, 59, 59)
    with pytest.raises(Conflict):
        plans.close_notice(svc, cast.dai, plan.id)
    clock.now = beijing(date(2023, 3, 9), 0)  # the period is over, the objection is not
    with pytest.raises(Conflict) as still_open:
        plans.close_notice(svc, cast.dai, plan.id)
    assert str(late) in still_open.value.zh and str(late) in still_open.value.en
    with pytest.raises(Conflict):  # and no new objection is taken now
        plans.object_to(svc, plan.id, submitted_by="市民李某", text="晚了一分钟")
    plans.resolve_objection(svc, cast.dai, late, uphold=False, resolution="经核实无误")
    assert plans.close_notice(svc, cast.dai, plan.id).state == "review"


def test_objections_are_taken_only_while_the_notice_runs(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    with pytest.raises(Conflict) as before:
        plans.object_to(svc, plan.id, submitted_by="市民张某", text="太早了")
    bilingual(before.value)
    plans.open_notice(svc, cast.dai, plan.id)  # to Wednesday 8 March
    with pytest.raises(Invalid) as empty:
        plans.object_to(svc, plan.id, submitted_by=" ", text=" ")
    assert {p.path for p in empty.value.problems} == {"submitted_by", "text"}
    clock.now = beijing(date(2023, 3, 8), 23, 59, 59)
    plans.object_to(svc, plan.id, submitted_by="市民张某", text="最后一秒")
    clock.now = beijing(date(2023, 3, 9), 0)
    with pytest.raises(Conflict):  # the notice is over, though not yet closed
        plans.object_to(svc, plan.id, submitted_by="市民李某", text="晚了一秒")
    assert [p.id for p in plans.open_notices(svc)] == []


def test_a_plan_whose_notice_never_ran_cannot_be_reviewed_or_approved(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    plan = simple_plan(svc, cast)
    for reviewer in (cast.fang, cast.ou):
        with pytest.raises(Conflict):
            plans.review(svc, reviewer, plan.id, approve=True)
        with pytest.raises(Conflict):
            plans.review(svc, reviewer, plan.id, approve=False, reason="退回")
    with pytest.raises(Conflict):
        plans.approve(svc, cast.shi, plan.id)
    plans.open_notice(svc, cast.dai, plan.id)
    for reviewer in (cast.fang, cast.ou):
        with pytest.raises(Conflict):
            plans.review(svc, reviewer, plan.id, approve=True)
    with pytest.raises(Conflict):
        plans.approve(svc, cast.shi, plan.id)
    assert plans.get(svc, cast.dai, plan.id).state == "notice"


def test_a_plan_noticed_before_the_upgrade_takes_its_publication_time_from_the_audit_log(
    svc: Services, cast: Cast, clock: Clock, engine: Engine
) -> None:
    plan = simple_plan(svc, cast)
    plans.open_notice(svc, cast.dai, plan.id)
    published = clock.now
    clock.advance(days=1)
    try:
        downgrade(engine, "0005")  # as it was before migration 0006
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("allocation_plans")}
        assert "notice_published_at" not in columns
    finally:
        upgrade(engine)
    with svc.reading() as s:
        stored = s.get(AllocationPlan, plan.id)
        assert stored is not None and stored.notice_published_at is not None
        assert aware(stored.notice_published_at) == published


@pytest.fixture
def other_engine(
    backend: str, engine: Engine, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Engine]]:
    """Makes further engines on the test's database, as other server processes would have."""
    made: list[Engine] = []

    def make() -> Engine:
        if backend == "sqlite":
            made.append(make_engine(engine.url.render_as_string(hide_password=False)))
        else:
            made.append(pg_schema_engine(request.getfixturevalue("pg_schema")))
        return made[-1]

    yield make
    for other in made:
        other.dispose()


def test_an_objection_in_the_last_second_and_the_closing_at_midnight_cannot_cross(
    svc: Services, cast: Cast, other_engine: Callable[[], Engine]
) -> None:
    """The objection is checked (the notice runs) and written, and before it commits the
    closing runs. The closing must wait for it and then refuse, never send the plan to review
    with an objection it could not see. (The objection locks the plan row; on PostgreSQL its
    foreign key's KEY SHARE lock alone already held the closing back, so this test guards the
    rule rather than showing a bug of the old code.)"""
    plan = simple_plan(svc, cast)
    last = plans.open_notice(svc, cast.dai, plan.id).notice_end
    assert last is not None
    in_time, after = beijing(last, 23, 59, 59), beijing(last + timedelta(days=1), 0, 0, 1)
    objecting = Services(engine=other_engine(), package=svc.package, clock=lambda: in_time)
    closing = Services(engine=other_engine(), package=svc.package, clock=lambda: after)
    written, closed = threading.Event(), threading.Event()

    def hold(_: object) -> None:  # the objection's commit waits for the closing (2 s at most)
        written.set()
        closed.wait(timeout=2)

    event.listen(objecting.engine, "commit", hold)
    outcome: list[object] = []
    objector = threading.Thread(
        target=lambda: outcome.append(
            plans.object_to(objecting, plan.id, submitted_by="市民张某", text="最后一秒")
        )
    )
    objector.start()
    assert written.wait(timeout=10)
    try:
        plans.close_notice(closing, cast.dai, plan.id)
    except Conflict as refused:
        outcome.append(refused)
    finally:
        closed.set()
        objector.join(timeout=30)
    state = plans.get(svc, cast.dai, plan.id).state
    with svc.reading() as s:
        open_objections = s.scalars(
            select(Objection.id).where(
                Objection.plan_id == plan.id, Objection.state == ObjectionState.RECORDED
            )
        ).all()
    assert not (state == "review" and open_objections), (state, open_objections, outcome)
    assert state == "notice" and len(open_objections) == 1
    assert sorted(type(o).__name__ for o in outcome) == ["Conflict", "int"]
