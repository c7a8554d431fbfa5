"""A process killed in the middle of a transition leaves the previous state intact.

A real child process (``tests/db/worker.py``) connects to the test's database — the same
SQLite file, or the same PostgreSQL schema — and performs one transition with
``HUIQI_CRASH_AT=before_commit``: the service SIGKILLs it after every row of the transition
is written and flushed, right before the commit. The test process then finds the state as it
was, the audit chain intact and without the transition, and the same transition, run again by
a healthy process, goes through.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    Application,
    ApplicationLine,
    AuditEntry,
    LedgerEntry,
    PolicySnapshot,
)
from huiqi.service import applications, plans
from huiqi.service import audit as audit_service
from huiqi.service.uow import Services

from .conftest import ORG_A, PG_URL, Cast, Clock
from .test_workflow import FACTS, approve_all

WORKER = Path(__file__).with_name("worker.py")


@pytest.fixture
def child_env(
    backend: str, engine: Engine, clock: Clock, request: pytest.FixtureRequest
) -> dict[str, str]:
    """How a child process reaches this test's database, at this test's time."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "HUIQI_CRASH_AT"}
    env["HUIQI_WORKER_NOW"] = clock.now.isoformat()
    if backend == "sqlite":
        env["HUIQI_WORKER_URL"] = engine.url.render_as_string(hide_password=False)
    else:
        env["HUIQI_WORKER_URL"] = PG_URL
        env["HUIQI_WORKER_SCHEMA"] = request.getfixturevalue("pg_schema")
    return env


def run_child(env: dict[str, str], *args: str, crash: bool) -> subprocess.CompletedProcess[str]:
    if crash:
        env = {**env, "HUIQI_CRASH_AT": "before_commit"}
    return subprocess.run(
        [sys.executable, str(WORKER), "transition", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def killed(env: dict[str, str], *args: str) -> None:
    done = run_child(env, *args, crash=True)
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""  # it never got to say it was done


def succeeds(env: dict[str, str], *args: str) -> None:
    done = run_child(env, *args, crash=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"outcome": "won"}


def audit_state(s: Session) -> tuple[int, list[str], list[tuple[str, str]]]:
    count, problems = audit_service.verify(s)
    actions = [(e.action, e.object_id) for e in s.scalars(select(AuditEntry))]
    return count, problems, actions


def intact_file(s: Session) -> None:
    """On SQLite, the file itself is sound after the kill."""
    if s.get_bind().dialect.name == "sqlite":
        assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"


def line_state(s: Session, app_id: int) -> list[tuple[Any, ...]]:
    rows = s.scalars(
        select(ApplicationLine)
        .where(ApplicationLine.application_id == app_id)
        .order_by(ApplicationLine.id)
    )
    return [(ln.clause_id, ln.engine_fen, ln.decision.value, ln.decided_fen) for ln in rows]


def test_a_submission_killed_before_commit_leaves_the_draft_untouched(
    svc: Services, cast: Cast, child_env: dict[str, str]
) -> None:
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a", "7.1"], facts=FACTS
    )
    with svc.reading() as s:
        before = audit_state(s)

    killed(child_env, "submit", "alice", str(draft.id))

    with svc.reading() as s:
        intact_file(s)
        app = s.get(Application, draft.id)
        assert app is not None
        assert (app.state.value, app.version, app.submitted_at) == ("draft", 1, None)
        assert app.policy_sha256 is None and app.evaluation is None
        assert line_state(s, draft.id) == []
        assert s.scalar(select(func.count()).select_from(PolicySnapshot)) == 0
        assert audit_state(s) == before  # verifies, and holds nothing of the killed submit
        assert before[1] == []

    succeeds(child_env, "submit", "alice", str(draft.id))
    view = applications.get(svc, cast.alice, draft.id)
    assert view.state == "submitted"
    assert [(ln.clause_id, ln.engine_fen) for ln in view.lines] == [
        ("4.1a", 20_000_000),  # USD 250,000 ≥ 200,000 → 20万
        ("7.1", 1_200_000),  # 30% × 40,000
    ]


def test_a_verification_killed_before_commit_leaves_the_application_submitted(
    svc: Services, cast: Cast, child_env: dict[str, str]
) -> None:
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a", "7.1"], facts=FACTS
    )
    applications.submit(svc, cast.alice, draft.id)
    with svc.reading() as s:
        before = audit_state(s)
        lines_before = line_state(s, draft.id)
    assert lines_before == [
        ("4.1a", 20_000_000, "pending", None),
        ("7.1", 1_200_000, "pending", None),
    ]

    killed(child_env, "verify", "rui", str(draft.id))

    with svc.reading() as s:
        intact_file(s)
        app = s.get(Application, draft.id)
        assert app is not None
        assert (app.state.value, app.decided_by, app.decided_at) == ("submitted", None, None)
        assert line_state(s, draft.id) == lines_before
        assert audit_state(s) == before
        assert ("application.verify", str(draft.id)) not in before[2]

    succeeds(child_env, "verify", "rui", str(draft.id))
    with svc.reading() as s:
        assert line_state(s, draft.id) == [
            ("4.1a", 20_000_000, "approved", 20_000_000),
            ("7.1", 1_200_000, "approved", 1_200_000),
        ]
        count, problems, actions = audit_state(s)
    assert problems == [] and count == before[0] + 1
    assert actions[-1] == ("application.verify", str(draft.id))


def test_an_approval_killed_before_commit_writes_no_ledger_and_can_be_repeated(
    svc: Services, cast: Cast, clock: Clock, child_env: dict[str, str]
) -> None:
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a", "7.1"], facts=FACTS
    )
    view = applications.submit(svc, cast.alice, draft.id)
    applications.verify(svc, cast.rui, draft.id, approve_all(view))
    plan = plans.draft(svc, cast.dai, year=2022, title="2022年度跨境电商扶持资金分配方案")
    clock.past(plans.open_notice(svc, cast.dai, plan.id).notice_end)
    plans.close_notice(svc, cast.dai, plan.id)
    plans.review(svc, cast.fang, plan.id, approve=True)
    plans.review(svc, cast.ou, plan.id, approve=True)
    with svc.reading() as s:
        before = audit_state(s)
    child_env = {**child_env, "HUIQI_WORKER_NOW": clock.now.isoformat()}

    killed(child_env, "approve", "shi", str(plan.id))

    after = plans.get(svc, cast.shen, plan.id)
    assert after.state == "review"
    assert [(i.clause_id, i.granted_fen, i.state) for i in after.items] == [
        ("4.1a", 20_000_000, "included"),
        ("7.1", 1_200_000, "included"),
    ]
    with svc.reading() as s:
        intact_file(s)
        assert s.scalars(select(LedgerEntry)).all() == []
        assert audit_state(s) == before
        assert not any(action == "plan.approve" for action, _ in before[2])

    succeeds(child_env, "approve", "shi", str(plan.id))
    assert plans.get(svc, cast.shen, plan.id).state == "approved"
    with svc.reading() as s:
        ledger = s.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        assert [(e.clause_id, e.amount_fen, e.plan_id) for e in ledger] == [
            ("4.1a", 20_000_000, plan.id),
            ("7.1", 1_200_000, plan.id),
        ]
        count, problems, actions = audit_state(s)
    assert problems == [] and count == before[0] + 1
    assert actions[-1] == ("plan.approve", str(plan.id))
