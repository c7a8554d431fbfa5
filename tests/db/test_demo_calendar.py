"""The demo loads on any day: near a year whose official holiday schedule the pinned calendar
does not have yet, its running notice is not guessed but left a draft, and it says so."""

from __future__ import annotations

from datetime import date

from huiqi.service import demo, plans
from huiqi.service.actors import load_actor
from huiqi.service.uow import Services


def test_late_in_december_the_demo_leaves_its_plan_a_draft_and_says_why(svc: Services) -> None:
    ids = demo.load(svc, date(2026, 12, 28))  # five working days from here run into 2027
    assert ids["notice_postponed_for_year"] == 2027
    with svc.reading() as s:
        dai = load_actor(s, "dai")
    assert plans.get(svc, dai, ids["plan_2025"]).state == "draft"


def test_on_an_ordinary_day_the_demo_plan_is_under_notice(svc: Services) -> None:
    ids = demo.load(svc, date(2026, 3, 2))
    assert "notice_postponed_for_year" not in ids
    with svc.reading() as s:
        dai = load_actor(s, "dai")
    assert plans.get(svc, dai, ids["plan_2025"]).state == "notice"
