"""The audit chain anchored outside the database, and the ledger accounted for by it.

Each attack is one someone with write access to the database can make today without the
hash chain noticing (the chain check alone is asserted to pass first); the keyed
checkpoints in a file the database cannot rewrite, or the ledger's recomputation from the
audited events, must report it.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text

from huiqi.db.tables import AuditEntry
from huiqi.fulfilment.audit import GENESIS, chain_hash
from huiqi.service import applications, audit_check, plans, recoveries
from huiqi.service import audit as audit_service
from huiqi.service.anchors import Anchor
from huiqi.service.audit_check import AuditReport
from huiqi.service.errors import ServiceError
from huiqi.service.uow import Services

from .conftest import ORG_A, Cast, Clock, unclaimed_year
from .test_workflow import FACTS, approve_all

KEY = b"k" * 8 + b"0123456789abcdef0123456789abcdef"


def anchored(svc: Services, tmp_path: Path, *, every: int = 0, key: bytes = KEY) -> Services:
    anchor = Anchor(path=tmp_path / "anchor" / "audit-checkpoints.jsonl", secret=key, every=every)
    return Services(engine=svc.engine, package=svc.package, clock=svc.clock, anchor=anchor)


def approved_and_paid(svc: Services, cast: Cast, clock: Clock) -> int:
    """A plan approved (two awards) and paid; returns the plan's id."""
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a", "7.1"], facts=FACTS
    )
    view = applications.submit(svc, cast.alice, draft.id)
    applications.verify(svc, cast.rui, draft.id, approve_all(view))
    plan = plans.draft(svc, cast.dai, year=2022, title="2022年度分配方案")
    clock.past(plans.open_notice(svc, cast.dai, plan.id).notice_end)
    plans.close_notice(svc, cast.dai, plan.id)
    plans.review(svc, cast.ou, plan.id, approve=True)
    plans.review(svc, cast.fang, plan.id, approve=True)
    approved = plans.approve(svc, cast.shi, plan.id)
    for item in approved.items:
        plans.disburse(
            svc, cast.cai, item.id, amount_fen=item.granted_fen, paid_on=date(2023, 4, 1),
            reference=f"BH-{item.id}",
        )  # fmt: skip
    return plan.id


def report(svc: Services) -> AuditReport:
    return audit_check.verify(svc)


def chain_alone(svc: Services) -> list[str]:
    with svc.reading() as s:
        return audit_service.verify(s)[1]


def more_history(svc: Services, cast: Cast) -> None:
    """An application submitted and returned, in a year A has not applied for yet (a second
    open claim of the same clause and year would be refused)."""
    year = unclaimed_year(svc, 2023)
    draft = applications.create_draft(
        svc, cast.bob, org_code=ORG_A, year=year, clauses=["7.1"], facts=FACTS
    )
    applications.submit(svc, cast.bob, draft.id)
    applications.return_for_correction(svc, cast.rui, draft.id, "请补充培训发票")


def test_an_approval_writes_a_keyed_checkpoint_after_its_commit(
    svc: Services, cast: Cast, clock: Clock, tmp_path: Path
) -> None:
    svc = anchored(svc, tmp_path)
    approved_and_paid(svc, cast, clock)
    lines = svc.anchor.path.read_text().splitlines()  # type: ignore[union-attr]
    assert len(lines) == 1
    point = json.loads(lines[0])
    with svc.reading() as s:
        entry = s.execute(
            select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.action == "plan.approve")
        ).one()
    assert (point["seq"], point["hash"], point["why"]) == (*entry, "plan.approve")
    done = report(svc)
    assert done.problems == [] and len(done.checkpoints) == 1
    assert (done.ledger.rows, done.payments.rows) == (2, 2)
    assert done.ledger.stored_fen == done.ledger.audited_fen == 21_200_000
    assert done.payments.stored_fen == done.payments.audited_fen == 21_200_000


def test_a_refused_approval_writes_no_checkpoint(
    svc: Services, cast: Cast, clock: Clock, tmp_path: Path
) -> None:
    svc = anchored(svc, tmp_path)
    plan_id = approved_and_paid(svc, cast, clock)
    before = svc.anchor.path.read_text()  # type: ignore[union-attr]
    with pytest.raises(ServiceError):
        plans.approve(svc, cast.shi, plan_id)  # approved already: refused, rolled back
    assert svc.anchor.path.read_text() == before  # type: ignore[union-attr]


def test_entries_cut_off_the_end_with_the_head_moved_back_are_found_by_a_checkpoint(
    svc: Services, cast: Cast, clock: Clock, tmp_path: Path
) -> None:
    svc = anchored(svc, tmp_path)
    approved_and_paid(svc, cast, clock)
    with svc.reading() as s:
        approval = s.scalar(select(AuditEntry.seq).where(AuditEntry.action == "plan.approve"))
    assert approval is not None
    keep = approval - 2
    with svc.engine.begin() as conn:  # the approval and all after it, gone; the head moved back
        conn.execute(text("DELETE FROM audit_log WHERE seq > :k"), {"k": keep})
        conn.execute(
            text(
                "UPDATE audit_head SET seq = :k, hash = (SELECT hash FROM audit_log WHERE"
                " seq = :k), prev_hash = (SELECT prev_hash FROM audit_log WHERE seq = :k)"
            ),
            {"k": keep},
        )
    assert chain_alone(svc) == []  # the chain by itself sees nothing wrong
    problems = report(svc).problems
    assert any(f"anchors #{approval}" in p and f"ends at #{keep}" in p for p in problems)


def test_an_old_entry_edited_and_every_later_hash_recomputed_is_found_by_a_checkpoint(
    svc: Services, cast: Cast, clock: Clock, tmp_path: Path
) -> None:
    svc = anchored(svc, tmp_path)
    approved_and_paid(svc, cast, clock)
    more_history(svc, cast)  # entries after the checkpoint, rewritten too
    with svc.reading() as s:
        entries = [
            audit_service.content_of(e)
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        ]
    # The forger changes who verified the application, then re-links the whole chain.
    previous = GENESIS
    with svc.engine.begin() as conn:
        for content in entries:
            if content["action"] == "application.verify":
                content["actor"] = "mallory"
            digest = chain_hash(previous, content)
            conn.execute(
                text("UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"a": content["actor"], "p": previous, "h": digest, "s": content["seq"]},
            )
            previous = digest
        conn.execute(
            text("UPDATE audit_head SET hash = :h, prev_hash = (SELECT prev_hash FROM audit_log"
                 " WHERE seq = :s) WHERE id = 1"),
            {"h": previous, "s": entries[-1]["seq"]},
        )  # fmt: skip
    assert chain_alone(svc) == []  # a consistent, forged chain
    problems = report(svc).problems
    assert any("no longer has the hash" in p and "rewritten" in p for p in problems)


def test_a_checkpoint_signed_with_another_key_is_reported(
    svc: Services, cast: Cast, clock: Clock, tmp_path: Path
) -> None:
    approved_and_paid(anchored(svc, tmp_path), cast, clock)
    other = anchored(svc, tmp_path, key=b"z" * 8 + b"fedcba9876543210fedcba9876543210")
    problems = report(other).problems
    assert any("line 1" in p and "HMAC does not match" in p for p in problems)
    forged = anchored(svc, tmp_path)
    assert forged.anchor is not None
    with forged.anchor.path.open("a") as f:  # a line made up without the key
        line = json.loads(forged.anchor.path.read_text().splitlines()[0])
        f.write(json.dumps({**line, "seq": line["seq"] - 1}) + "\n")
    assert any("line 2" in p and "HMAC" in p for p in report(forged).problems)


def test_a_ledger_amount_edited_in_sql_is_reported_with_both_amounts(
    svc: Services, cast: Cast, clock: Clock, tmp_path: Path
) -> None:
    svc = anchored(svc, tmp_path)
    approved_and_paid(svc, cast, clock)
    with svc.engine.begin() as conn:
        row = conn.execute(text("SELECT min(id) FROM ledger_entries")).scalar()
        conn.execute(
            text("UPDATE ledger_entries SET amount_fen = amount_fen + 100000 WHERE id = :i"),
            {"i": row},
        )
    done = report(svc)
    assert chain_alone(svc) == []
    assert done.ledger.stored_fen == done.ledger.audited_fen + 100_000
    assert [p for p in done.problems if f"ledger row / 台账行 #{row}" in p and "edited" in p]


def test_a_disbursement_inserted_or_a_ledger_row_deleted_in_sql_is_reported(
    svc: Services, cast: Cast, clock: Clock, tmp_path: Path
) -> None:
    svc = anchored(svc, tmp_path)
    approved_and_paid(svc, cast, clock)
    with svc.engine.begin() as conn:
        item, user = conn.execute(
            text("SELECT plan_item_id, recorded_by FROM disbursements ORDER BY id LIMIT 1")
        ).one()
        conn.execute(
            text(
                "INSERT INTO disbursements (plan_item_id, amount_fen, division, paid_on,"
                " reference, recorded_by, recorded_at) VALUES (:i, 500000, '北湖区',"
                " '2023-04-02', 'BH-X', :u, '2023-04-02 09:00:00')"
            ),
            {"i": item, "u": user},
        )
        conn.execute(
            text("DELETE FROM ledger_entries WHERE id = (SELECT max(id) FROM ledger_entries)")
        )
    done = report(svc)
    assert chain_alone(svc) == []
    assert done.payments.stored_fen == done.payments.audited_fen + 500_000
    assert any("disbursement" in p and "no audit entry accounts for it" in p for p in done.problems)
    assert any("audit entry #" in p and "not there" in p for p in done.ledger.problems)


def test_without_anchoring_the_check_says_it_is_off_and_how_to_turn_it_on(
    svc: Services, cast: Cast, clock: Clock
) -> None:
    approved_and_paid(svc, cast, clock)
    done = report(svc)
    assert done.problems == [] and done.checkpoints == []
    assert "anchoring is off" in done.anchoring and "HUIQI_AUDIT_KEY" in done.anchoring


def test_a_checkpoint_is_written_every_n_entries_and_a_missing_key_file_is_reported(
    svc: Services, cast: Cast, clock: Clock, tmp_path: Path
) -> None:
    anchor = Anchor(path=tmp_path / "points.jsonl", key_file=tmp_path / "k" / "audit.key", every=3)
    every = Services(engine=svc.engine, package=svc.package, clock=svc.clock, anchor=anchor)
    start = report(every).entries
    more_history(every, cast)
    more_history(every, cast)
    end = report(every).entries
    seqs = [json.loads(line)["seq"] for line in anchor.path.read_text().splitlines()]
    assert len(seqs) == 2 and seqs == [n for n in range(start + 1, end + 1) if n % 3 == 0]
    assert anchor.key_file is not None and anchor.key_file.stat().st_mode & 0o777 == 0o600
    assert report(every).problems == []
    anchor.key_file.unlink()
    assert any("audit key" in p and "missing" in p for p in report(every).problems)


def test_a_recovery_is_accounted_for_and_its_row_edited_is_reported(
    svc: Services, cast: Cast, clock: Clock, tmp_path: Path
) -> None:
    svc = anchored(svc, tmp_path)
    plan_id = approved_and_paid(svc, cast, clock)
    item = plans.get(svc, cast.shi, plan_id).items[0]
    recoveries.recover(svc, cast.rui, item.id, 1_000_000, "部分出口额不实")
    done = report(svc)
    assert done.problems == [] and done.ledger.rows == 3
    assert done.ledger.stored_fen == done.ledger.audited_fen == 21_200_000 - 1_000_000
    with svc.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET amount_fen = -1 WHERE kind = 'recovery'"))
    assert any("edited" in p and "-10,000.00" in p for p in report(svc).problems)


def test_the_settings_place_the_key_and_checkpoints_beside_the_data_and_refuse_weak_keys(
    tmp_path: Path,
) -> None:
    import secrets

    from pydantic import ValidationError

    from huiqi.config import Settings
    from huiqi.service.anchors import anchor_from

    default = anchor_from(Settings(data_dir=tmp_path))
    assert default is not None and default.secret is None
    assert (default.path, default.key_file) == (
        tmp_path / "audit-checkpoints.jsonl",
        tmp_path / "audit.key",
    )
    key = secrets.token_hex(32)
    given = anchor_from(Settings(data_dir=tmp_path, audit_key=key, audit_checkpoint_every=0))
    assert given is not None and (given.secret, given.key_file, given.every) == (
        key.encode(),
        None,
        0,
    )
    assert anchor_from(Settings(audit_anchor=False)) is None
    assert anchor_from(Settings(database_url="sqlite://")) is None
    for weak in ("changeme" * 4, "short-but-random-7f3a"):
        with pytest.raises(ValidationError, match="HUIQI_AUDIT_KEY"):
            Settings(audit_key=weak)
