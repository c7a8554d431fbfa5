"""Appending to and verifying the tamper-evident audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from huiqi.db.tables import AuditEntry, AuditHead
from huiqi.fulfilment.audit import GENESIS, AnchorReason, canonical, chain_hash, verify_chain
from huiqi.service import anchors

#: Appending on PostgreSQL, in one statement: the head row moves one link forward (its row
#: lock, held to commit, puts concurrent appends in line; waiting for it, PostgreSQL re-reads
#: the head as the previous append left it) and the entry is written with the new link. The
#: hash is ``sha256(prev_hash + canonical(content))`` as :func:`chain_hash` computes it: the
#: content's canonical JSON is made in Python before, all but its last key, ``seq`` (keys
#: are sorted and "seq" sorts last), which only the head knows. No Python runs between
#: taking the lock and the commit but the turn from this statement to the COMMIT.
_APPEND_PG = text(
    """
    WITH link AS (
        UPDATE audit_head
        SET seq = seq + 1,
            prev_hash = hash,
            hash = encode(sha256(convert_to(
                hash || :head || ',"seq":' || CAST(seq + 1 AS TEXT) || '}', 'UTF8')), 'hex')
        WHERE id = 1
        RETURNING seq, prev_hash, hash
    )
    INSERT INTO audit_log
        (seq, at, actor, action, object_type, object_id, before, after, reason, prev_hash, hash)
    SELECT seq, :at, :actor, :action, :object_type, :object_id, :before, :after, :reason,
           prev_hash, hash
    FROM link
    RETURNING seq, hash
    """
).bindparams(
    bindparam("at", type_=DateTime(timezone=True)),
    bindparam("before", type_=JSON),
    bindparam("after", type_=JSON),
)


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
) -> int:
    """Append one entry, chained to the last, and return its number. Call it last in a
    transaction: from here to the commit, other appends wait."""
    session.flush()  # the transaction's other writes go first, not while others wait
    values = {
        "at": at,
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "before": before,
        "after": after,
        "reason": reason,
    }
    content = {**values, "at": _utc_text(at)}
    # The database appends ',"seq":N}' to the canonical JSON of the rest: right only while
    # "seq" sorts after every other key.
    assert all(key < "seq" for key in content), "the audit content's keys must sort before seq"
    if session.get_bind().dialect.name == "postgresql":
        params = {**values, "head": canonical(content)[:-1]}
        link = session.execute(_APPEND_PG, params).first()
        if link is None:  # no head row yet (a log emptied by hand): start it, then append
            _start_head(session)
            link = session.execute(_APPEND_PG, params).first()
        assert link is not None
        seq, digest = int(link.seq), str(link.hash)
    else:
        # SQLite: writers are serialised already (BEGIN IMMEDIATE); the same link, in Python.
        head = session.get(AuditHead, 1) or _start_head(session)
        seq, prev = head.seq + 1, head.hash
        digest = chain_hash(prev, {**content, "seq": seq})
        head.seq, head.prev_hash, head.hash = seq, prev, digest
        session.add(AuditEntry(seq=seq, **values, prev_hash=prev, hash=digest))
        session.flush()
    anchor: anchors.Anchor | None = session.info.get("anchor")
    if anchor is not None and anchor.every and seq % anchor.every == 0:
        anchors.after(session, anchor, seq, digest, AnchorReason.EVERY)
    return seq


def _start_head(session: Session) -> AuditHead:
    """The head row, made from the log's last entry where there is none (a new or emptied
    database); whoever makes it first wins, the others use theirs."""
    seq, prev, digest = _last_link(session) or (0, GENESIS, GENESIS)
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(AuditHead)
        .values(id=1, seq=seq, prev_hash=prev, hash=digest)
        .on_conflict_do_nothing()
    )
    head = session.get(AuditHead, 1, populate_existing=True)
    assert head is not None
    return head


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
    """(entries checked, problems); no problems means the chain is intact.

    The head is read first and the log up to it: an entry and the head's move to it commit
    together, so all of those are there to read, while appends go on (later ones are left
    for the next check). Entries past the head can only come from a writer that bypassed it."""
    entries, problems = load_chain(session)
    return len(entries), problems


def load_chain(session: Session) -> tuple[list[AuditEntry], list[str]]:
    """The log up to its head, in order, and the chain's problems (see :func:`verify`)."""
    head = session.get(AuditHead, 1)
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if head is not None:
        query = query.where(AuditEntry.seq <= head.seq)
    entries = list(session.scalars(query).all())
    rows = [(e.seq, content_of(e), e.prev_hash, e.hash) for e in entries]
    return entries, verify_chain(rows) + _head_problems(head, rows[-1] if rows else None)


def _head_problems(head: AuditHead | None, last: tuple[int, Any, str, str] | None) -> list[str]:
    """The log must end where its head says: entries cut off the end show here."""
    if head is None:
        return [] if last is None else ["the chain's head is missing / 链头记录缺失"]
    if last is None and head.seq == 0:
        return []
    if last is None or (last[0], last[3]) != (head.seq, head.hash):
        ends = "nothing" if last is None else f"#{last[0]}"
        return [
            f"the log ends at {ends} but its head is #{head.seq}: entries removed from the end"
            f" / 日志末尾的记录被删除（链头为第 {head.seq} 条）"
        ]
    return []


def catch_up_head(session: Session) -> int:
    """Move the head to the log's last entry if entries were appended without it (by a
    server still running the code from before the head, say, while the database was being
    upgraded); otherwise every later append would collide with them. Moving the head forward
    hides nothing: each entry is still checked against its predecessor, and entries cut off
    the end still show as a log that stops short of its head. Returns entries caught up."""
    head = session.get(AuditHead, 1)
    last = _last_link(session)
    if head is None or last is None or last[0] <= head.seq:
        return 0
    behind = last[0] - head.seq
    head.seq, head.prev_hash, head.hash = last
    return behind


def _last_link(session: Session) -> tuple[int, str, str] | None:
    """The log's last entry as (seq, prev_hash, hash), or None for an empty log."""
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.hash)
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    return None if last is None else (int(last.seq), str(last.prev_hash), str(last.hash))
