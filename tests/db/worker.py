"""A separate process for the crash and process-race tests: one real client of the database.

Run as a script (``python tests/db/worker.py …``), never collected by pytest. The database
comes from the environment:

- ``HUIQI_WORKER_URL``: a SQLAlchemy URL (``sqlite:///…`` or ``postgresql+psycopg://…``);
- ``HUIQI_WORKER_SCHEMA``: on PostgreSQL, the schema to work in (its ``search_path``);
- ``HUIQI_WORKER_NOW``: optional ISO instant the service clock is fixed at.

``worker.py transition ACTION USER ID`` performs one transition (``submit``, ``verify`` with
every line approved as the engine says, or ``approve``) and prints a JSON outcome. With
``HUIQI_CRASH_AT=before_commit`` the service kills the process right before the commit.

``worker.py race USER`` reads commands from standard input, one a line: ``prep PLAN_ID``
(connect, answer ``ready``), ``go`` (approve that plan now, answer the JSON outcome) and
``quit``. The test writes ``go`` to every worker once all said ``ready``: a barrier across
processes.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Engine, text

from huiqi.db.engine import make_engine
from huiqi.fulfilment.decisions import LineDecision
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import load_package
from huiqi.service import applications, plans
from huiqi.service.actors import Actor, load_actor
from huiqi.service.errors import Conflict, ServiceError
from huiqi.service.uow import Services


def engine_from_env() -> Engine:
    url = os.environ["HUIQI_WORKER_URL"]
    schema = os.environ.get("HUIQI_WORKER_SCHEMA")
    if schema:
        return make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    return make_engine(url)


def services() -> Services:
    svc = Services(engine=engine_from_env(), package=load_package(DEFAULT_POLICY))
    now = os.environ.get("HUIQI_WORKER_NOW")
    if now:
        fixed = datetime.fromisoformat(now)
        svc.clock = lambda: fixed
    return svc


def actor(svc: Services, username: str) -> Actor:
    with svc.reading() as s:
        return load_actor(s, username)


def outcome(call: Any) -> dict[str, Any]:
    """Run a service call; say whether it won, met a Conflict, or failed otherwise."""
    try:
        call()
    except Conflict as exc:
        return {"outcome": "conflict", "type": type(exc).__name__, "message": exc.en}
    except ServiceError as exc:
        return {"outcome": "refused", "type": type(exc).__name__, "message": exc.en}
    except Exception as exc:
        return {"outcome": "error", "type": type(exc).__name__, "message": str(exc)[:500]}
    return {"outcome": "won"}


def transition(action: str, username: str, object_id: int) -> dict[str, Any]:
    svc = services()
    who = actor(svc, username)
    if action == "submit":
        return outcome(lambda: applications.submit(svc, who, object_id))
    if action == "verify":
        view = applications.get(svc, who, object_id)
        decisions = [
            LineDecision(ln.clause_id, ln.subject_id, True, ln.engine_fen, "符合政策")
            for ln in view.lines
        ]
        return outcome(lambda: applications.verify(svc, who, object_id, decisions))
    if action == "approve":
        return outcome(lambda: plans.approve(svc, who, object_id))
    raise SystemExit(f"unknown action {action}")


def race(username: str) -> None:
    svc = services()
    who = actor(svc, username)
    plan_id = 0
    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        if command[0] == "prep":
            plan_id = int(command[1])
            with svc.engine.connect() as conn:  # a warm pooled connection for the race
                conn.execute(text("SELECT 1"))
            print("ready", flush=True)
        elif command[0] == "go":
            result = outcome(partial(plans.approve, svc, who, plan_id))
            print(json.dumps(result), flush=True)
        elif command[0] == "quit":
            break
    svc.engine.dispose()


def main(argv: list[str]) -> None:
    if argv[:1] == ["transition"] and len(argv) == 4:
        print(json.dumps(transition(argv[1], argv[2], int(argv[3]))), flush=True)
    elif argv[:1] == ["race"] and len(argv) == 2:
        race(argv[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
