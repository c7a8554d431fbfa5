"""Replaying decisions (issue 15.6), on SQLite and PostgreSQL.

Every application the demo evaluated — drafts excepted — is re-run on what the engine read
then, under the package of then, and must give the very same bytes; including after the
ledger has moved on (the 2024 plan was approved and paid after the 2025 applications were
verified, and recoveries and other awards change what a new evaluation would read).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, text

from huiqi.db.tables import Application, PolicySnapshot
from huiqi.fulfilment.workflow import AppState
from huiqi.service import demo
from huiqi.service.actors import load_actor
from huiqi.service.errors import Conflict, Forbidden
from huiqi.service.replay import replay
from huiqi.service.uow import Services


@pytest.fixture
def demo_svc(svc: Services) -> Services:
    demo.load(svc, date(2026, 3, 2))
    return svc


def first_verified(svc: Services) -> tuple[int, int, int, str, dict[str, Any]]:
    """The demo's first verified application: id, organisation, year, first clause, result."""
    with svc.reading() as s:
        app = s.scalars(
            select(Application)
            .where(Application.state == AppState.VERIFIED)
            .order_by(Application.id)
        ).first()
        assert app is not None and app.evaluation is not None
        return app.id, app.org_id, app.award_year, app.clauses[0], dict(app.evaluation)


def test_every_decision_of_the_demo_replays_byte_for_byte(demo_svc: Services) -> None:
    with demo_svc.reading() as s:
        shen = load_actor(s, "shen")
        ids = s.scalars(
            select(Application.id)
            .where(Application.state != AppState.DRAFT)
            .order_by(Application.id)
        ).all()
    assert len(ids) >= 8
    results = [replay(demo_svc, shen, app_id) for app_id in ids]
    assert [r.application_id for r in results if not r.identical] == []
    assert all(r.stored_sha256 == r.replayed_sha256 for r in results)


def test_a_replay_uses_the_ledger_of_then_not_of_now(demo_svc: Services) -> None:
    """An award written to the ledger after the decision changes a new evaluation, not the
    replay: the input the decision read is kept with it."""
    with demo_svc.reading() as s:
        shen = load_actor(s, "shen")
    app_id, org_id, year, clause, _ = first_verified(demo_svc)
    with demo_svc.engine.begin() as conn:  # as if another plan had paid this clause since
        conn.execute(
            text(
                "INSERT INTO ledger_entries (org_id, clause_id, subject_id, award_year, kind,"
                " amount_fen, recorded_at) SELECT :o, :c, credit_code, :y, 'award', 9999999,"
                " '2026-03-02 00:00:00+00' FROM organisations WHERE id = :o"
            ),
            {"o": org_id, "c": clause, "y": year},
        )
    assert replay(demo_svc, shen, app_id).identical


def test_a_changed_stored_result_or_input_shows_as_a_difference(demo_svc: Services) -> None:
    with demo_svc.reading() as s:
        shen = load_actor(s, "shen")
    app_id, _, _, _, stored = first_verified(demo_svc)
    tampered = json.loads(json.dumps(stored))
    tampered["policy"]["version"] = "0.0.0-edited"
    with demo_svc.engine.begin() as conn:
        conn.execute(
            text("UPDATE applications SET evaluation = :e WHERE id = :i"),
            {"e": json.dumps(tampered, ensure_ascii=False), "i": app_id},
        )
    result = replay(demo_svc, shen, app_id)
    assert not result.identical
    assert any("0.0.0-edited" in line for line in result.difference)


def test_a_replay_under_an_older_package_loads_its_snapshot(demo_svc: Services) -> None:
    """The package in force may change; the decision replays under its own snapshot."""
    with demo_svc.reading() as s:
        shen = load_actor(s, "shen")
        app_id = s.scalars(
            select(Application.id).where(Application.state == AppState.VERIFIED)
        ).first()
        assert s.get(PolicySnapshot, demo_svc.package.sha256) is not None
    assert app_id is not None
    current = demo_svc.package
    demo_svc.package = current.model_copy(update={"sha256": "0" * 64})
    try:
        assert replay(demo_svc, shen, app_id).identical
    finally:
        demo_svc.package = current


def test_only_staff_replay_and_a_draft_has_nothing_to_replay(demo_svc: Services) -> None:
    with demo_svc.reading() as s:
        alice, shen = load_actor(s, "alice"), load_actor(s, "shen")
        draft = s.scalars(select(Application.id).where(Application.state == AppState.DRAFT)).first()
        verified = s.scalars(
            select(Application.id).where(Application.state == AppState.VERIFIED)
        ).first()
    assert draft is not None and verified is not None
    with pytest.raises(Forbidden):
        replay(demo_svc, alice, verified)
    with pytest.raises(Conflict):
        replay(demo_svc, shen, draft)
