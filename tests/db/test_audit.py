"""The audit trail is append-only and tamper-evident: an edited or deleted entry is found."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from huiqi.db.tables import AuditEntry, AuditHead
from huiqi.fulfilment.audit import chain_hash
from huiqi.service import applications
from huiqi.service import audit as audit_service
from huiqi.service.uow import Services

from .conftest import ORG_A, Cast, unclaimed_year

FACTS = {
    "applicant": {
        "credit_code": ORG_A,
        "name": "x",
        "kind": "cbec_enterprise",
        "registered_locally": True,
        "tax_paying_locally": True,
        "independent_legal_person": True,
        "in_customs_cbec_statistics": True,
    },
    "trade": {"export_usd": "250000"},
}


def some_history(svc: Services, cast: Cast, year: int | None = None) -> int:
    """An application submitted and returned: a few chained entries. (One open claim per
    clause and year: a second history is of a year not applied for yet.)"""
    if year is None:
        year = unclaimed_year(svc, 2022)
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=year, clauses=["4.1a"], facts=FACTS
    )
    applications.submit(svc, cast.alice, draft.id)
    applications.return_for_correction(svc, cast.rui, draft.id, "请补充出口报关单")
    with svc.reading() as s:
        count, problems = audit_service.verify(s)
    assert problems == []
    return count


def check(svc: Services) -> list[str]:
    with svc.reading() as s:
        return audit_service.verify(s)[1]


def test_every_change_leaves_a_chained_entry_saying_who_what_and_why(
    svc: Services, cast: Cast
) -> None:
    some_history(svc, cast)
    with svc.reading() as s:
        entries = s.execute(
            text("SELECT actor, action, reason FROM audit_log ORDER BY seq DESC LIMIT 3")
        ).all()
    assert [tuple(e) for e in entries] == [
        ("rui", "application.return", "请补充出口报关单"),
        ("alice", "application.submit", None),
        ("alice", "application.create", None),
    ]


def test_an_edited_entry_no_longer_matches_its_hash(svc: Services, cast: Cast) -> None:
    count = some_history(svc, cast)
    with svc.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET reason = '无需补充' WHERE seq = :s"), {"s": count})
    problems = check(svc)
    assert any(f"#{count}" in p and "edited" in p for p in problems)


def test_a_deleted_entry_shows_as_a_gap_and_a_broken_link(svc: Services, cast: Cast) -> None:
    count = some_history(svc, cast)
    middle = count // 2
    with svc.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": middle})
    problems = check(svc)
    assert any(f"#{middle}" in p and "missing" in p for p in problems)
    assert any(f"#{middle + 1}" in p and "broken" in p for p in problems)


def test_a_forged_entry_with_a_recomputed_hash_still_breaks_the_next_link(
    svc: Services, cast: Cast
) -> None:
    count = some_history(svc, cast)
    target = count - 1
    with svc.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET actor = 'mallory', hash = :h WHERE seq = :s"),
            {"h": "f" * 64, "s": target},
        )
    problems = check(svc)
    assert any(f"#{count}" in p and "broken" in p for p in problems)


def test_entries_cut_off_the_end_show_against_the_head(svc: Services, cast: Cast) -> None:
    count = some_history(svc, cast)
    with svc.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq >= :s"), {"s": count - 1})
    problems = check(svc)
    assert any(f"ends at #{count - 2}" in p and f"head is #{count}" in p for p in problems)


def test_the_database_computes_the_same_link_as_python_in_chinese_too(
    svc: Services, cast: Cast
) -> None:
    """On PostgreSQL the link is hashed by the database: the check recomputes it in Python."""
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a"], facts=FACTS
    )
    applications.submit(svc, cast.alice, draft.id)
    reason = "报关单缺页；请补充 \"第2页\" \\ 与 emoji 🙂 及 '引号'"
    applications.return_for_correction(svc, cast.rui, draft.id, reason)
    assert check(svc) == []
    with svc.reading() as s:
        stored = s.scalar(text("SELECT reason FROM audit_log ORDER BY seq DESC LIMIT 1"))
    assert stored == reason


def test_a_log_emptied_by_hand_starts_a_new_head(svc: Services, cast: Cast) -> None:
    some_history(svc, cast)
    with svc.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
        conn.execute(text("DELETE FROM audit_head"))
    some_history(svc, cast)  # asserts the new chain is intact
    with svc.reading() as s:
        first = s.scalar(text("SELECT prev_hash FROM audit_log ORDER BY seq LIMIT 1"))
    assert first == "0" * 64


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_command_line_check_fails_loudly_on_a_broken_chain(
    svc: Services, cast: Cast, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from huiqi.cli import app
    from huiqi.config import get_settings

    some_history(svc, cast)
    monkeypatch.setenv("HUIQI_DATABASE_URL", str(svc.engine.url))
    monkeypatch.setenv("HUIQI_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert CliRunner().invoke(app, ["audit", "verify"]).exit_code == 0
        with svc.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET action = 'x' WHERE seq = 2"))
        result = CliRunner().invoke(app, ["audit", "verify"])
        assert result.exit_code == 2
        assert "audit chain broken" in result.stderr
    finally:
        get_settings.cache_clear()


def test_entries_appended_past_the_head_are_caught_up_not_collided_with(
    svc: Services, cast: Cast
) -> None:
    """A writer from before the head (e.g. a server not yet restarted after the upgrade)
    appends without moving it: the next start catches the head up, and appends go on."""
    count = some_history(svc, cast)
    with svc.transaction() as s:  # what such a writer leaves: an entry, the head unmoved
        head = s.get(AuditHead, 1)
        assert head is not None
        content = {
            "seq": count + 1,
            "at": "2023-03-01T09:00:00+00:00",
            "actor": "old-server",
            "action": "application.create",
            "object_type": "application",
            "object_id": "999",
            "before": None,
            "after": None,
            "reason": None,
        }
        s.add(
            AuditEntry(
                seq=count + 1,
                at=datetime(2023, 3, 1, 9, 0, tzinfo=UTC),
                actor="old-server",
                action="application.create",
                object_type="application",
                object_id="999",
                prev_hash=head.hash,
                hash=chain_hash(head.hash, content),
            )
        )
    with svc.transaction() as s:
        assert audit_service.catch_up_head(s) == 1
    some_history(svc, cast)  # appends again, and the whole chain checks out


def test_a_check_during_appends_sees_the_log_up_to_the_head_it_read(
    svc: Services, cast: Cast
) -> None:
    """An append that lands between reading the head and reading the log is not taken for
    a cut-off end: the check reads the head first and the log up to it."""
    count = some_history(svc, cast)
    with svc.engine.begin() as conn:  # as if the head had been read one append earlier
        conn.execute(text("UPDATE audit_head SET seq = seq - 1, hash = prev_hash"))
        conn.execute(
            text(
                "UPDATE audit_head SET prev_hash = (SELECT prev_hash FROM audit_log WHERE seq = :s)"
            ),
            {"s": count - 1},
        )
    assert check(svc) == []
