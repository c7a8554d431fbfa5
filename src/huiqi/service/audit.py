"""Appending to and verifying the tamper-evident audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from huiqi.db.tables import AuditEntry
from huiqi.fulfilment.audit import GENESIS, chain_hash, verify_chain

#: Any constant: the PostgreSQL advisory lock that serialises audit appends.
_AUDIT_LOCK = 7_130_212


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    """Append one entry, chained to the last; call it last in a transaction (it serialises)."""
    session.flush()  # the transaction's other writes go before the lock is taken, not under it
    if session.bind is not None and session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK})
    # Only the last link (not its whole row): this runs while the lock is held.
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    content = {
        "seq": seq,
        "at": _utc_text(at),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "before": before,
        "after": after,
        "reason": reason,
    }
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        reason=reason,
        prev_hash=prev,
        hash=chain_hash(prev, content),
    )
    session.add(entry)
    session.flush()
    return entry


def _utc_text(at: datetime) -> str:
    """One spelling of an instant, whatever time zone the database hands back."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat()


def content_of(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": _utc_text(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
    }


def verify(session: Session) -> tuple[int, list[str]]:
    """(entries checked, problems); no problems means the chain is intact."""
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    rows = [(e.seq, content_of(e), e.prev_hash, e.hash) for e in entries]
    return len(rows), verify_chain(rows)
