"""Anchoring the audit chain outside the database: keyed checkpoints in an append-only file.

The hash chain shows an entry edited or removed by someone who cannot recompute hashes;
someone with write access to the database can: delete the last entries and move the head
back, or edit an old entry and recompute every later hash. A checkpoint is the number and
hash of the chain's last entry at a moment, with an HMAC-SHA256 under a key the database
never holds, appended as one JSON line to a file the database cannot rewrite
(``HUIQI_AUDIT_CHECKPOINTS``, default ``<data_dir>/audit-checkpoints.jsonl``; on Linux make
it append-only with ``chattr +a``, and keep a copy elsewhere). ``huiqi audit verify`` checks
the chain against every checkpoint. Checkpoints are written

- at every plan approval (after its commit), and the latest is shown on public notices;
- every ``HUIQI_AUDIT_CHECKPOINT_EVERY`` entries (default 100), after that entry's commit;
- when a server starts, and by ``huiqi audit checkpoint`` (for cron, e.g. hourly);
- as a *restart* line when a backup is restored or the demo reset: the chain before it is
  no longer the database's, so earlier checkpoints no longer apply (the restore first
  checks the backup against them).

The key is ``HUIQI_AUDIT_KEY`` or the file ``HUIQI_AUDIT_KEY_FILE`` (default
``<data_dir>/audit.key``, generated with mode 600 at the first checkpoint: right for a
demo; in production keep it readable only by huiqi's user, on a machine the database's
administrators cannot reach, and back it up apart from the database).
``HUIQI_AUDIT_ANCHOR=false`` turns anchoring off; ``huiqi audit verify`` then says so.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from huiqi.config import Settings
from huiqi.db.tables import AuditHead
from huiqi.fulfilment.audit import GENESIS, AnchorKind, AnchorReason, Checkpoint
from huiqi.service.errors import Invalid

log = logging.getLogger("huiqi.audit")


class AnchorError(Invalid):
    """The checkpoint file or key cannot be used, and why, in Chinese and English."""


@dataclass(frozen=True)
class Anchor:
    """Where checkpoints go and the key that signs them."""

    path: Path
    key_file: Path | None = None
    secret: bytes | None = None  # HUIQI_AUDIT_KEY, if given
    every: int = 100

    @property
    def key_source(self) -> str:
        return "HUIQI_AUDIT_KEY" if self.secret is not None else str(self.key_file)

    def key(self, *, create: bool = False) -> bytes | None:
        """The key; None if the key file is not there yet (made when ``create``)."""
        if self.secret is not None:
            return self.secret
        assert self.key_file is not None
        if create and not self.key_file.exists():
            self.key_file.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first: use theirs
            else:
                with os.fdopen(fd, "w", encoding="ascii") as f:
                    f.write(secrets.token_hex(32) + "\n")
        try:
            text = self.key_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AnchorError(
                f"无法读取审计密钥文件 {self.key_file}：{exc}",
                f"cannot read the audit key file {self.key_file}: {exc}",
            ) from None
        if len(text) < 32:
            raise AnchorError(
                f"审计密钥文件 {self.key_file} 的密钥太短（至少32个字符）",
                f"the audit key in {self.key_file} is too short (at least 32 characters)",
            )
        return text.encode("utf-8")

    def lines(self) -> list[str]:
        """The checkpoint file's lines (none if there is no file yet)."""
        try:
            return self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise AnchorError(
                f"无法读取审计检查点文件 {self.path}：{exc}",
                f"cannot read the audit checkpoint file {self.path}: {exc}",
            ) from None


def anchor_from(settings: Settings) -> Anchor | None:
    """The anchor the settings describe, or None when anchoring is off (or the database is
    an in-memory one, gone with its process)."""
    if not settings.audit_anchor or settings.database_url in ("sqlite://", "sqlite:///:memory:"):
        return None
    secret = settings.audit_key.get_secret_value().encode("utf-8") if settings.audit_key else None
    return Anchor(
        path=settings.audit_checkpoints or settings.data_dir / "audit-checkpoints.jsonl",
        key_file=None if secret else settings.audit_key_file or settings.data_dir / "audit.key",
        secret=secret,
        every=settings.audit_checkpoint_every,
    )


def append(
    anchor: Anchor,
    seq: int,
    digest: str,
    why: AnchorReason,
    *,
    kind: AnchorKind = AnchorKind.CHECKPOINT,
    at: datetime | None = None,
) -> Checkpoint:
    """Sign and append one checkpoint: one ``write`` on a file opened ``O_APPEND``, then fsync."""
    key = anchor.key(create=True)
    assert key is not None
    when = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
    point = Checkpoint(kind, seq, digest, when, why.value).signed(key)
    anchor.path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(anchor.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (point.line() + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return point


def head_of(session: Session) -> tuple[int, str]:
    row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


def checkpoint(session: Session, anchor: Anchor, why: AnchorReason) -> Checkpoint:
    """A checkpoint of the chain's head as ``session`` sees it (committed entries only)."""
    seq, digest = head_of(session)
    return append(anchor, seq, digest, why)


def on_commit(session: Session, why: AnchorReason = AnchorReason.APPROVAL) -> None:
    """Once this transaction commits, checkpoint the head it wrote. Call it after the
    transaction's audit entry. A checkpoint of an entry that might still roll back would
    raise a false alarm, so nothing is written before the commit; a file that cannot be
    written does not undo the commit (it is logged; the next checkpoint covers it)."""
    anchor: Anchor | None = session.info.get("anchor")
    if anchor is None:
        return
    seq, digest = head_of(session)
    after(session, anchor, seq, digest, why)


def after(session: Session, anchor: Anchor, seq: int, digest: str, why: AnchorReason) -> None:
    def write(_: Session) -> None:
        try:
            append(anchor, seq, digest, why)
        except (OSError, AnchorError) as exc:
            log.error("audit checkpoint #%s not written to %s: %s", seq, anchor.path, exc)

    event.listen(session, "after_commit", write, once=True)


def latest(anchor: Anchor | None) -> Checkpoint | None:
    """The last line of the file, if it is a checkpoint (for the public notice's footer).
    Only the file's end is read: it grows for years, and every notice view asks."""
    if anchor is None:
        return None
    try:
        with anchor.path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [line for line in tail.splitlines() if line.strip()]
    return Checkpoint.parse(lines[-1]) if lines else None
