"""The audit trail's hash chain: each entry hashes its predecessor, so an edit shows."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64


def canonical(entry: dict[str, Any]) -> str:
    """The entry as canonical JSON: sorted keys, no spaces, UTF-8 text kept."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(previous: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256((previous + canonical(entry)).encode("utf-8")).hexdigest()


def verify_chain(entries: list[tuple[int, dict[str, Any], str, str]]) -> list[str]:
    """Given ``(seq, content, prev_hash, hash)`` in order, the problems found (none if intact).

    A deleted entry shows as a gap in the sequence or a broken link; an edited
    entry as a hash that no longer matches its content.
    """
    problems: list[str] = []
    previous = GENESIS
    expected_seq = 1
    for seq, content, prev_hash, digest in entries:
        if seq != expected_seq:
            problems.append(f"#{expected_seq}: missing (next present is #{seq}) / 缺失记录")
        if prev_hash != previous:
            problems.append(f"#{seq}: link to previous entry broken / 与前一条的链接断开")
        if chain_hash(prev_hash, content) != digest:
            problems.append(f"#{seq}: content does not match its hash (edited) / 内容被改动")
        previous = digest
        expected_seq = seq + 1
    return problems


# -- anchors: keyed checkpoints kept outside the database -------------------------------------


class AnchorKind(StrEnum):
    #: The chain had this entry at this number when the checkpoint was written.
    CHECKPOINT = "checkpoint"
    #: The chain was deliberately restarted here (a restore, a demo reset): checkpoints
    #: written before this line describe a chain that is no longer the database's.
    RESTART = "restart"


class AnchorReason(StrEnum):
    APPROVAL = "plan.approve"
    EVERY = "every"
    COMMAND = "command"
    START = "start"
    RESTORE = "restore"
    RESTORE_FORCED = "restore.forced"
    RESET = "reset"


@dataclass(frozen=True)
class Checkpoint:
    """One line of the checkpoint file: (seq, hash of entry seq, time, why) and its HMAC."""

    kind: AnchorKind
    seq: int
    hash: str
    at: str
    why: str
    mac: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at,
            "why": self.why,
        }

    def signed(self, key: bytes) -> Checkpoint:
        return Checkpoint(self.kind, self.seq, self.hash, self.at, self.why, self.mac_with(key))

    def mac_with(self, key: bytes) -> str:
        return hmac.new(key, canonical(self.body()).encode("utf-8"), hashlib.sha256).hexdigest()

    def valid(self, key: bytes) -> bool:
        return hmac.compare_digest(self.mac_with(key), self.mac)

    def line(self) -> str:
        return canonical({**self.body(), "mac": self.mac})

    @classmethod
    def parse(cls, text: str) -> Checkpoint | None:
        """A line of the file, or None if it is not a checkpoint at all."""
        try:
            data = json.loads(text)
            return cls(
                AnchorKind(data["kind"]),
                int(data["seq"]),
                str(data["hash"]),
                str(data["at"]),
                str(data["why"]),
                str(data["mac"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


def check_anchors(
    lines: list[str],
    key: bytes,
    hashes: Mapping[int, str],
    head: int,
    *,
    older_copy: bool = False,
) -> tuple[list[str], list[Checkpoint]]:
    """The chain (``hashes``: seq → hash of every entry up to ``head``) against the checkpoint
    file's ``lines``: (problems, the checkpoints that apply). Every line must carry a valid
    HMAC; after the last restart, each checkpoint's entry must still have its hash and the
    chain must reach it. A chain cut short and its head moved back, or an old entry edited
    and every later hash recomputed, both show here, as neither can forge the HMAC.

    An ``older_copy`` (a backup about to be restored) may end before later checkpoints:
    those are left out of the answer, not reported."""
    problems: list[str] = []
    current: list[tuple[int, Checkpoint]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        point = Checkpoint.parse(text)
        if point is None:
            problems.append(f"checkpoint line {number}: unreadable / 第 {number} 行检查点无法读取")
        elif not point.valid(key):
            problems.append(
                f"checkpoint line {number}: its HMAC does not match the key (wrong key or a"
                f" forged line) / 第 {number} 行检查点的校验码与密钥不符（密钥错误或伪造）"
            )
        elif point.kind is AnchorKind.RESTART:
            current = [(number, point)]
        else:
            current.append((number, point))
    if older_copy:
        current = [(number, point) for number, point in current if point.seq <= head]
    for number, point in current:
        where = f"checkpoint line {number} ({point.at}, {point.why})"
        if point.seq > head:
            problems.append(
                f"{where} anchors #{point.seq} but the chain ends at #{head}: entries removed"
                f" from the end and the head moved back / 检查点记录到第 {point.seq} 条，"
                f"链只到第 {head} 条：末尾记录被删除"
            )
        elif (GENESIS if point.seq == 0 else hashes.get(point.seq)) != point.hash:
            problems.append(
                f"{where}: #{point.seq} no longer has the hash it had (entries up to it were"
                f" rewritten) / 第 {point.seq} 条与检查点不符：此前的记录被改写"
            )
    return problems, [point for _, point in current]
