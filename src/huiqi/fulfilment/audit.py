"""The audit trail's hash chain: each entry hashes its predecessor, so an edit shows."""

from __future__ import annotations

import hashlib
import json
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
