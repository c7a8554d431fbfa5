"""The demo year in a SQLite file, served in-process, with a bearer token per identity.

Loaded once per session: the schemathesis run mutates it as it goes (drafts, plans,
budgets, users), which is fine: every check holds whatever state the demo is in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from huiqi.config import Settings
from huiqi.db.tables import Organisation
from huiqi.fulfilment.roles import Role
from huiqi.service import auth, demo
from huiqi.service.actors import load_actor
from huiqi.service.bootstrap import build_services
from huiqi.web.app import create_app

#: The demo's "today": its 2025 plan is under public notice from this day.
TODAY = date(2026, 3, 2)
#: Every request afterwards happens at this instant (a fixed clock keeps runs repeatable).
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)

#: A demo user holding each staff role (one account holds one body's roles only, so each
#: role is tried in turn); the applicant is the demo's exporter (alice).
ROLE_USERS = {
    Role.ADMIN: "admin",
    Role.COMMERCE_REVIEWER: "rui",
    Role.PLAN_DRAFTER: "dai",
    Role.FINANCE_REVIEWER: "fang",
    Role.OFFICE_REVIEWER: "ou",
    Role.CITY_APPROVER: "shi",
    Role.AUDITOR: "shen",
}


@dataclass(frozen=True)
class DemoApi:
    app: FastAPI
    tokens: dict[str, str]  # identity -> bearer secret
    token_ids: frozenset[int]  # the identities' own tokens (never revoked by the run)
    spare_token_id: int  # a token the run may revoke instead
    exporter: str  # the applicant's organisation (credit code)
    exporter_name: str


@pytest.fixture(scope="session")
def demo_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoApi]:
    root = tmp_path_factory.mktemp("web_schema")
    settings = Settings(database_url=f"sqlite:///{root / 'demo.sqlite3'}", data_dir=root / "data")
    svc = build_services(settings)
    demo.load(svc, TODAY)
    svc.clock = lambda: NOW
    with svc.reading() as s:
        alice = load_actor(s, "alice")
        exporter = s.get(Organisation, alice.org_id)
        assert exporter is not None
        exporter_code, exporter_name = exporter.credit_code, exporter.name
    tokens: dict[str, str] = {}
    token_ids: set[int] = set()
    users = {"applicant": alice}
    with svc.reading() as s:
        users |= {role.value: load_actor(s, name) for role, name in ROLE_USERS.items()}
    for identity, actor in users.items():
        token, secret = auth.create_token(svc, actor, f"schemathesis {identity}")
        tokens[identity] = secret
        token_ids.add(token.id)
    spare, _ = auth.create_token(svc, alice, "schemathesis spare")
    yield DemoApi(
        app=create_app(settings, svc),
        tokens=tokens,
        token_ids=frozenset(token_ids),
        spare_token_id=spare.id,
        exporter=exporter_code,
        exporter_name=exporter_name,
    )
    svc.engine.dispose()


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy schemas read ``node._nodeid``, which pytest 9 renamed."""
    node: Any = request.node
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid
