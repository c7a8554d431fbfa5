"""``huiqi audit verify``: the chain, its checkpoints outside the database, the ledger."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from huiqi.fulfilment.audit import AnchorKind, AnchorReason, Checkpoint, check_anchors
from huiqi.service import anchors, audit, audit_ledger
from huiqi.service.anchors import Anchor, AnchorError
from huiqi.service.audit_ledger import Coverage
from huiqi.service.errors import ServiceError
from huiqi.service.uow import Services


@dataclass
class AuditReport:
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    #: How the chain is anchored, in both languages (or why it is not).
    anchoring: str = ""
    checkpoints: list[Checkpoint] = field(default_factory=list)
    ledger: Coverage = field(default_factory=Coverage)
    payments: Coverage = field(default_factory=Coverage)

    @property
    def intact(self) -> bool:
        return not self.problems


def check(session: Session, anchor: Anchor | None, *, older_copy: bool = False) -> AuditReport:
    """Everything ``huiqi audit verify`` checks, on one session's view of the database.

    The checkpoint file is read before the head: every checkpoint in it was written after
    its entry committed, so each is at or before the head read next. An ``older_copy`` (a
    backup being restored) may end before the latest checkpoints."""
    report = AuditReport()
    lines: list[str] = []
    key: bytes | None = None
    if anchor is None:
        report.anchoring = (
            "锚定未开启：审计链只能发现未重算哈希的改动；设置 HUIQI_AUDIT_ANCHOR=true 并配置 "
            "HUIQI_AUDIT_KEY 或 HUIQI_AUDIT_KEY_FILE 开启 / anchoring is off: the chain alone "
            "cannot show entries rewritten with recomputed hashes; set HUIQI_AUDIT_ANCHOR=true "
            "and HUIQI_AUDIT_KEY or HUIQI_AUDIT_KEY_FILE to turn it on"
        )
    else:
        try:
            lines = anchor.lines()
            key = anchor.key()
        except AnchorError as exc:
            report.problems.append(f"{exc.zh} / {exc.en}")
    entries, problems = audit.load_chain(session)
    report.entries = len(entries)
    report.problems += problems
    if anchor is not None and key is None and any(line.strip() for line in lines):
        report.problems.append(
            f"审计密钥 {anchor.key_source} 缺失，无法核对 {anchor.path} 中的检查点 / the audit key "
            f"({anchor.key_source}) is missing: the checkpoints in {anchor.path} cannot be checked"
        )
    elif anchor is not None and key is not None:
        reach = entries[-1].seq if entries else 0
        hashes = {e.seq: e.hash for e in entries}
        found, report.checkpoints = check_anchors(lines, key, hashes, reach, older_copy=older_copy)
        report.problems += found
    if anchor is not None and not report.anchoring:
        latest = report.checkpoints[-1] if report.checkpoints else None
        report.anchoring = (
            f"锚定：{len(report.checkpoints)} 个检查点（{anchor.path}，密钥 {anchor.key_source}）"
            f"{f'，最新为第 {latest.seq} 条（{latest.at}）' if latest else '，尚无检查点'} / "
            f"anchored: {len(report.checkpoints)} checkpoints in {anchor.path}, key "
            f"{anchor.key_source}"
            + (f", latest #{latest.seq} at {latest.at}" if latest else ", none yet")
        )
    report.ledger, report.payments = audit_ledger.ledger_coverage(session, entries)
    report.problems += report.ledger.problems + report.payments.problems
    return report


def verify(svc: Services) -> AuditReport:
    with svc.reading() as s:
        return check(s, svc.anchor)


def checkpoint(svc: Services, why: AnchorReason = AnchorReason.COMMAND) -> Checkpoint:
    """Write a checkpoint of the chain's head now (``huiqi audit checkpoint``, a server start)."""
    if svc.anchor is None:
        raise AnchorError(
            "锚定未开启（HUIQI_AUDIT_ANCHOR=false），不能写检查点",
            "anchoring is off (HUIQI_AUDIT_ANCHOR=false); no checkpoint written",
        )
    with svc.reading() as s:
        return anchors.checkpoint(s, svc.anchor, why)


def checkpoint_at_start(svc: Services) -> None:
    """A server's start is a checkpoint too; one that cannot be written is logged, not fatal."""
    if svc.anchor is None:
        return
    try:
        checkpoint(svc, AnchorReason.START)
    except (OSError, ServiceError) as exc:
        logging.getLogger("huiqi.audit").error("audit checkpoint at start not written: %s", exc)


def restart(session: Session, anchor: Anchor | None, why: AnchorReason) -> Checkpoint | None:
    """Mark in the checkpoint file that the database's chain starts over from its head as
    ``session`` sees it (a restore, a reset): checkpoints before the mark no longer apply."""
    if anchor is None:
        return None
    seq, digest = anchors.head_of(session)
    return anchors.append(anchor, seq, digest, why, kind=AnchorKind.RESTART)


def restart_after_reset(svc: Services) -> None:
    """After ``huiqi demo --reset`` emptied the database: a restart line in the file."""
    with svc.reading() as s:
        restart(s, svc.anchor, AnchorReason.RESET)
