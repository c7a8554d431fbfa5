"""Replaying a decision (issue 15.6): re-run the engine on exactly what it read then, under the
policy package it ran under then, and say whether the result is the same, byte for byte.

An application keeps what its last evaluation read (``evaluated_input``: the declared facts,
the organisation's master data, its ledger and other policies' awards as they stood) and the
hash of the package (``policy_sha256``), whose files are kept whole in ``policy_snapshots``.
The replay loads that snapshot into a temporary folder, checks that it hashes to the same
value, evaluates the stored input and compares the canonical JSON of both results."""

from __future__ import annotations

import difflib
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import undefer

from huiqi.db.tables import Application, Organisation, PolicySnapshot
from huiqi.fulfilment.audit import canonical
from huiqi.policy import PolicyPackage, load_package
from huiqi.service.actors import Actor, require, require_org
from huiqi.service.errors import Conflict, NotFound
from huiqi.service.queries import READERS
from huiqi.service.records import evaluate_document
from huiqi.service.uow import Services


@dataclass(frozen=True)
class Replay:
    application_id: int
    org_code: str
    award_year: int
    state: str
    policy_sha256: str
    identical: bool
    stored_sha256: str  # sha256 of the stored result's canonical JSON
    replayed_sha256: str
    #: A unified diff of the two results' canonical JSON, pretty-printed (empty when identical).
    difference: list[str]


def replay(svc: Services, actor: Actor, app_id: int) -> Replay:
    """Re-evaluate application ``app_id``'s stored decision; staff and auditors may."""
    require(actor, *READERS)
    with svc.reading() as s:
        found = s.execute(
            select(Application, Organisation)
            .join(Organisation, Organisation.id == Application.org_id)
            .where(Application.id == app_id)
            .options(undefer(Application.evaluated_input))
        ).first()
        if found is None:
            raise NotFound("未找到该记录", "not found")
        app, org = found
        require_org(actor, org.id)
        if app.evaluation is None or app.policy_sha256 is None:
            raise Conflict(
                "该申报尚未测算（草稿），无可重放的决定", "not evaluated yet: nothing to replay"
            )
        if app.evaluated_input is None:
            raise Conflict(
                "该申报测算于保存测算输入之前（迁移 0011），无法逐字重放",
                "evaluated before its input was kept (migration 0011): it cannot be replayed",
            )
        package = _package(svc, s.get(PolicySnapshot, app.policy_sha256), app.policy_sha256)
        stored, document = app.evaluation, dict(app.evaluated_input)
        clauses, view = list(app.clauses), (app.id, org.credit_code, app.award_year, app.state)
    _, _, evaluation = evaluate_document(package, document)
    replayed = _plain(evaluation.as_dict(clauses=clauses))
    before, after = canonical(stored), canonical(replayed)
    return Replay(
        application_id=view[0],
        org_code=view[1],
        award_year=view[2],
        state=view[3].value,
        policy_sha256=package.sha256,
        identical=before == after,
        stored_sha256=_sha(before),
        replayed_sha256=_sha(after),
        difference=[] if before == after else _diff(stored, replayed),
    )


def _package(svc: Services, snapshot: PolicySnapshot | None, sha256: str) -> PolicyPackage:
    if sha256 == svc.package.sha256:
        return svc.package
    if snapshot is None:
        raise Conflict(
            f"缺少政策包快照 {sha256[:12]}，无法重放", f"no snapshot of package {sha256[:12]}"
        )
    with tempfile.TemporaryDirectory(prefix="huiqi-replay-") as folder:
        for name, content in snapshot.files.items():
            path = Path(folder) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        package = load_package(Path(folder))
    if package.sha256 != sha256:
        raise Conflict(
            f"政策包快照 {sha256[:12]} 内容与其哈希不符", f"snapshot {sha256[:12]} does not match"
        )
    return package


def _plain(result: dict[str, Any]) -> Any:
    """The result as the database gives it back (JSON), so both sides compare alike."""
    return json.loads(canonical(result))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _diff(stored: Any, replayed: Any) -> list[str]:
    def lines(value: Any) -> list[str]:
        return json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False).splitlines()

    return list(
        difflib.unified_diff(lines(stored), lines(replayed), "stored", "replayed", lineterm="")
    )[:400]
