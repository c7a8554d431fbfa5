"""Persistence fixtures: every test here runs on SQLite and on PostgreSQL.

PostgreSQL is reached at ``HUIQI_TEST_PG_URL`` (default: 127.0.0.1:5432, database
``test``); the tests create their own schema and drop it at the end. If PostgreSQL
cannot be reached the tests fail — they are never skipped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from huiqi.db.engine import make_engine
from huiqi.db.migrate import upgrade
from huiqi.db.tables import Base
from huiqi.fulfilment.calendar import end_of_day
from huiqi.fulfilment.roles import Role
from huiqi.policy import PolicyPackage
from huiqi.service import orgs
from huiqi.service.actors import Actor
from huiqi.service.uow import Services

PG_URL = os.environ.get("HUIQI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)

    def past(self, last_day: date | None) -> None:
        """Move to 09:00 Beijing time on the day after ``last_day`` (a notice's last day)."""
        assert last_day is not None
        self.now = end_of_day(last_day).astimezone(UTC) + timedelta(hours=9)


def pg_schema_engine(schema: str) -> Engine:
    return make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    schema = f"huiqi_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {exc}", pytrace=False)
    engine = pg_schema_engine(schema)
    upgrade(engine)
    engine.dispose()
    yield schema
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "huiqi.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "huiqi.sqlite3"
        shutil.copy(template, path)
        engine = make_engine(f"sqlite:///{path}")
    else:
        schema = request.getfixturevalue("pg_schema")
        engine = pg_schema_engine(schema)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2023, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def svc(engine: Engine, chenzhou: PolicyPackage, clock: Clock) -> Services:
    return Services(engine=engine, package=chenzhou, clock=clock)


ORG_A = "91431000MA4T123451"  # alice's and bob's company
ORG_B = "91431000MA4T2D0X51"  # charlie's company
PARK = "12431000MB12345679"


@dataclass
class Cast:
    """A small fixed cast: one person for each staff role, and three applicants.

    alice and bob work for company A, charlie for company B; nobody else may touch
    another organisation's data.
    """

    admin: Actor
    rui: Actor  # 市商务局审核人
    dai: Actor  # 市商务局方案拟定人
    fang: Actor  # 市财政局（审核方案）
    cai: Actor  # 市财政局（登记拨付：审核与拨付由两人办理）
    ou: Actor  # 领导小组办公室
    shi: Actor  # 市人民政府
    shen: Actor  # 审计
    alice: Actor
    bob: Actor
    charlie: Actor


@pytest.fixture
def cast(svc: Services) -> Cast:
    from huiqi.service.actors import load_actor

    orgs.add_user(svc, None, username="admin", display_name="管理员", roles=[Role.ADMIN])
    with svc.reading() as s:
        admin = load_actor(s, "admin")
    orgs.add_org(
        svc,
        admin,
        code=ORG_A,
        name="郴州甲跨境电商有限公司",
        kind="cbec_enterprise",
        division="北湖区",
        platform_filed=True,
        platform_connected=True,
    )
    orgs.add_org(
        svc,
        admin,
        code=ORG_B,
        name="郴州乙跨境物流有限公司",
        kind="service_enterprise",
        division="苏仙区",
        platform_filed=True,
        platform_connected=True,
    )
    orgs.add_org(
        svc, admin, code=PARK, name="郴州跨境电商产业园", kind="park", division="郴州高新区"
    )
    people = {
        "rui": ([Role.COMMERCE_REVIEWER], None),
        "dai": ([Role.PLAN_DRAFTER], None),
        "fang": ([Role.FINANCE_REVIEWER], None),
        "cai": ([Role.FINANCE_REVIEWER], None),
        "ou": ([Role.OFFICE_REVIEWER], None),
        "shi": ([Role.CITY_APPROVER], None),
        "shen": ([Role.AUDITOR], None),
        "alice": ([Role.APPLICANT], ORG_A),
        "bob": ([Role.APPLICANT], ORG_A),
        "charlie": ([Role.APPLICANT], ORG_B),
    }
    for name, (roles, org) in people.items():
        orgs.add_user(svc, admin, username=name, display_name=name, roles=roles, org_code=org)
    with svc.reading() as s:
        actors = {name: load_actor(s, name) for name in ["admin", *people]}
    return Cast(**actors)


def unclaimed_year(svc: Services, *prefer: int) -> int:
    """An award year the test database has no application for yet (one open claim per
    organisation, clause, subject and year: a test that applies again picks another year)."""
    from sqlalchemy import select

    from huiqi.db.tables import Application

    with svc.reading() as s:
        used = set(s.scalars(select(Application.award_year)))
    return next(y for y in (*prefer, 2021, 2022, 2023, 2024, 2025) if y not in used)
