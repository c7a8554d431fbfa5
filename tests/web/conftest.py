"""Web fixtures: the demo, plus objects of organisation A in every state the routes need.

The world is built once per test session into a template (a SQLite file, or a PostgreSQL
database used as ``TEMPLATE``) and copied for each test that may change it, so every test
starts from the same data and none sees another's writes.

Organisation A is the demo's exporter (applicant ``alice``); organisation B is the logistics
company (applicant ``charlie``). Every demo user also has a bearer token, so most requests
need no Argon2 sign-in.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, inspect, make_url, select, text

from huiqi.config import Settings
from huiqi.db.engine import make_engine
from huiqi.db.migrate import upgrade
from huiqi.db.tables import Objection, Organisation
from huiqi.fulfilment.decisions import LineDecision
from huiqi.policy import PolicyPackage
from huiqi.service import applications, attachments, auth, demo, plans, registry
from huiqi.service.actors import Actor, load_actor
from huiqi.service.uow import Services
from huiqi.web.app import create_app
from tests.samples import PDF as PDF  # the tests here upload it

PG_URL = os.environ.get("HUIQI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
API = "/api/v1"
TODAY = date(2026, 3, 2)  # a Monday: the demo's 2025 plan is under notice until Monday 9 March
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
#: A notice published then (five working days: 3–6 and 9 February) is over by TODAY.
PAST_NOTICE = datetime(2026, 2, 2, 10, 0, tzinfo=UTC)
OWN = "alice"  # applicant of organisation A (the exporter)
OTHER = "charlie"  # applicant of organisation B (the logistics company)
STAFF_USERS = ("rui", "dai", "fang", "ou", "shi", "shen", "admin")
USERS = (OWN, OTHER, *STAFF_USERS)
PASSWORD = demo.DEMO_PASSWORD


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass(frozen=True)
class World:
    """Ids of the objects the tests point at; all but the B ones belong to organisation A."""

    org_a_id: int
    org_a_code: str
    org_a_name: str
    org_a_division: str
    org_b_id: int
    org_b_code: str
    org_b_name: str
    demo_ids: dict[str, int]
    draft_app: int  # draft: can be changed, submitted, given attachments
    submitted_app: int  # submitted: can be returned, rejected or verified
    returned_app: int  # returned for correction: can be resubmitted
    verified_app: int  # verified, in the 2025 plan under notice
    office_app: int  # verified, one 6.1 line awaiting the office's approval
    office_line: int
    org_b_app: int  # organisation B's submitted 2025 application
    attachment: int  # a PDF on the draft
    notice_plan: int  # the demo's 2025 plan under public notice (objections accepted)
    objection: int  # an unresolved objection to it
    notice_item: int  # an item of A in it
    draft_plan: int  # 2023, draft: reallocate, open the notice
    notice_over_plan: int  # 2023, under notice that has run its course: close the notice
    review_plan: int  # 2023, under review, nobody has reviewed it yet
    approvable_plan: int  # 2023, both reviews done: the city may approve
    approved_plan: int  # 2022, approved, nothing paid: disburse
    approved_item: int
    paid_plan: int  # 2021, approved and paid in full: close
    unplanned_year: int  # a year with a verified line of A that no plan holds yet
    revocable_token: int  # a token of alice's (not the one the tests sign in with)
    verify_body: dict[str, Any]  # decisions that verify submitted_app
    tokens: dict[str, str] = field(default_factory=dict)  # user name → bearer secret
    #: user name → (session cookie, its CSRF token): a browser signed in on the pages
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)

    def facts(self, **extra: Any) -> dict[str, Any]:
        """Facts of organisation A (without the award year)."""
        return facts_of(self.org_a_code, self.org_a_name, extra)


def facts_of(code: str, name: str, extra: dict[str, Any]) -> dict[str, Any]:
    """An exporter within the policy's scope (it has cross-border exports this year)."""
    applicant = {"credit_code": code, "name": name, "kind": "cbec_enterprise", **demo.SCOPE}
    return {"applicant": applicant, "trade": {"export_usd": "50000"}, **extra}


def _approve_all(view: applications.ApplicationView) -> list[LineDecision]:
    return [
        LineDecision(ln.clause_id, ln.subject_id, True, ln.engine_fen, "材料齐全")
        for ln in view.lines
    ]


def build_world(svc: Services, data_dir: Path) -> World:
    """The demo, then A's objects in every state, then a token per user."""
    ids = demo.load(svc, TODAY)
    clock = Clock(datetime(2026, 3, 2, 11, 0, tzinfo=UTC))
    svc.clock = clock
    with svc.reading() as s:
        who: dict[str, Actor] = {u: load_actor(s, u) for u in USERS}
        # The demo's second finance officer reviews these plans, so that fang (whom the
        # tests sign in as for the finance bureau) may still pay them: one person does not
        # both review and pay a plan (separation of duties).
        cai = load_actor(s, "cai")
    a = next(o for o in demo.ORGS if o.user == OWN)
    b = next(o for o in demo.ORGS if o.user == OTHER)
    alice, rui, dai, fang, ou, shi = (who[u] for u in (OWN, "rui", "dai", "fang", "ou", "shi"))

    def facts(**extra: Any) -> dict[str, Any]:
        return facts_of(a.code, a.name, extra)

    def training(costs: int) -> dict[str, Any]:
        return facts(staff_training={"costs_cny": str(costs)})

    def warehouse(year: int, rent: int) -> dict[str, Any]:
        # 5.2b pays per warehouse: each plan's line claims a warehouse of its own, since an
        # organisation has one open claim per clause, subject and year (7.1's subject is the
        # organisation itself, so only one 7.1 claim of a year can be open at a time).
        leased = {"id": f"W-{year}-{rent}", "area_m2": "1200", "rent_cny": str(rent)}
        return facts(warehouses=[leased])

    def create(year: int, clauses: list[str], f: dict[str, Any]) -> int:
        return applications.create_draft(
            svc, alice, org_code=a.code, year=year, clauses=clauses, facts=f
        ).id

    # 7.1 of 2025 is claimed by the demo's application (under notice): A's other 7.1
    # applications are of other years, each year's claim in one of them.
    draft_app = create(2024, ["7.1"], training(10_000))
    attachment = attachments.upload(
        svc,
        alice,
        draft_app,
        filename="培训发票.pdf",
        content=PDF,
        data_dir=data_dir,
        max_bytes=10 * 1024 * 1024,
    ).id
    submitted_app = create(2023, ["7.1"], training(20_000))
    submitted = applications.submit(svc, alice, submitted_app)
    verify_body = {
        "decisions": [
            {
                "clause": d.clause_id,
                "subject": d.subject_id,
                "approve": d.approve,
                "amount_fen": d.amount_fen,
                "reason": d.reason,
            }
            for d in _approve_all(submitted)
        ]
    }
    returned_app = create(2022, ["7.1"], training(30_000))
    applications.submit(svc, alice, returned_app)
    applications.return_for_correction(svc, rui, returned_app, "请补充培训签到表")

    reference = "郴综试办〔2025〕88号"
    registry.record_pre_approval(
        svc, ou, a.code, reference, "exhibition", "郴品出海展示会", date(2025, 5, 1)
    )
    event = {
        "id": "E-A-01",
        "kind": "exhibition",
        "office_approval_ref": reference,
        "held_date": "2025-06-01",
    }
    office_app = create(2025, ["6.1"], facts(events=[event]))
    office_view = applications.submit(svc, alice, office_app)
    line = office_view.lines[0]
    verified = applications.verify(
        svc,
        rui,
        office_app,
        [LineDecision(line.clause_id, line.subject_id, True, 1_000_000, "按实际支出核定")],
    )
    assert verified.lines[0].office_state == "pending"

    def verified_line(year: int, costs: int) -> None:
        app = create(year, ["5.2b"], warehouse(year, costs))
        view = applications.submit(svc, alice, app)
        applications.verify(svc, rui, app, _approve_all(view))

    def plan_through(year: int, costs: int, until: str) -> plans.PlanView:
        verified_line(year, costs)
        plan = plans.draft(svc, dai, year=year, title=f"{year}年度补充分配方案（{until}）")
        if until == "draft":
            return plan
        now, clock.now = clock.now, PAST_NOTICE
        plans.open_notice(svc, dai, plan.id, days=5)
        clock.now = now
        if until == "notice":
            return plan
        plans.close_notice(svc, dai, plan.id)
        if until == "review":
            return plan
        plans.review(svc, cai, plan.id, approve=True, reason="资金已落实")
        plan = plans.review(svc, ou, plan.id, approve=True, reason="同意")
        if until == "reviewed":
            return plan
        plan = plans.approve(svc, shi, plan.id)
        if until == "approved":
            return plan
        for item in plan.items:
            plan = plans.disburse(
                svc,
                fang,
                item.id,
                amount_fen=item.granted_fen,
                paid_on=date(2026, 2, 27),
                reference=f"BH-{year}-{item.id}",
            )
        return plan

    paid = plan_through(2021, 10_000, "paid")
    approved = plan_through(2022, 10_000, "approved")
    approvable = plan_through(2023, 10_000, "reviewed")
    review = plan_through(2023, 12_000, "review")
    notice_over = plan_through(2023, 14_000, "notice")
    draft_plan = plan_through(2023, 16_000, "draft")
    verified_line(2024, 18_000)  # left for a new plan

    notice = plans.get(svc, dai, ids["plan_2025"])
    tokens = {u: auth.create_token(svc, who[u], "tests")[1] for u in USERS}
    signed = {u: auth.login(svc, u, PASSWORD, "127.0.0.1") for u in USERS}
    sessions = {u: (s.token, s.csrf_token) for u, s in signed.items()}
    revocable = auth.create_token(svc, alice, "to be revoked")[0].id
    with svc.reading() as s:
        objection = s.scalar(select(Objection.id).where(Objection.plan_id == notice.id))
        org_ids = {o.credit_code: o.id for o in s.scalars(select(Organisation))}
    assert objection is not None
    return World(
        org_a_id=org_ids[a.code],
        org_a_code=a.code,
        org_a_name=a.name,
        org_a_division=a.division,
        org_b_id=org_ids[b.code],
        org_b_code=b.code,
        org_b_name=b.name,
        demo_ids=ids,
        draft_app=draft_app,
        submitted_app=submitted_app,
        returned_app=returned_app,
        verified_app=ids["exporter_2025"],
        office_app=office_app,
        office_line=line.id,
        org_b_app=ids["logistics_2025"],
        attachment=attachment,
        notice_plan=notice.id,
        objection=objection,
        notice_item=next(i.id for i in notice.items if i.org_code == a.code),
        draft_plan=draft_plan.id,
        notice_over_plan=notice_over.id,
        review_plan=review.id,
        approvable_plan=approvable.id,
        approved_plan=approved.id,
        approved_item=approved.items[0].id,
        paid_plan=paid.id,
        unplanned_year=2024,
        revocable_token=revocable,
        verify_body=verify_body,
        tokens=tokens,
        sessions=sessions,
    )


@dataclass
class Web:
    """One test's copy of the world, served by a fresh app."""

    app: FastAPI
    client: TestClient
    world: World
    svc: Services
    settings: Settings
    clock: Clock
    backend: str

    def bearer(self, user: str | None) -> dict[str, str]:
        """Headers that act as ``user`` (None: nobody)."""
        return {} if user is None else {"Authorization": f"Bearer {self.world.tokens[user]}"}

    def client_for(self, **kwargs: Any) -> TestClient:
        """Another client on the same app (its own cookie jar), e.g. over https."""
        return TestClient(self.app, raise_server_exceptions=False, **kwargs)

    def login(self, client: TestClient, user: str, password: str = PASSWORD) -> str:
        """Sign ``client`` in with a cookie session; returns the CSRF token."""
        response = client.post(f"{API}/auth/login", json={"username": user, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["csrf_token"])

    def table_exists(self, name: str) -> bool:
        return name in inspect(self.svc.engine).get_table_names()


def _web(
    engine_url: str,
    world: World,
    data_dir: Path,
    package: PolicyPackage,
    backend: str,
    max_upload_bytes: int,
) -> Web:
    engine = make_engine(engine_url)
    clock = Clock(NOW)
    svc = Services(engine=engine, package=package, clock=clock)
    settings = Settings(
        database_url=engine_url, data_dir=data_dir, max_upload_bytes=max_upload_bytes
    )
    app = create_app(settings, services=svc)
    # A server error comes back as the 500 response a client would see (and is logged),
    # so a test can name the request that caused it.
    client = TestClient(app, raise_server_exceptions=False)
    return Web(app, client, world, svc, settings, clock, backend)


PROBLEM_KEYS = {"type", "title", "status", "detail", "zh", "en"}


def assert_problem(response: httpx.Response, lang: str = "zh") -> dict[str, Any]:
    """An RFC 9457 problem in both languages, ``detail`` in ``lang``; returns it."""
    where = f"{response.request.method} {response.request.url}: {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/problem+json"), where
    problem: dict[str, Any] = response.json()
    assert set(problem) >= PROBLEM_KEYS, where
    assert problem["status"] == response.status_code, where
    assert problem["detail"] == problem[lang], where
    assert problem["zh"] and problem["en"], where
    assert any("\u4e00" <= c <= "\u9fff" for c in problem["zh"]), where  # Chinese indeed
    if lang == "en":
        assert not any("\u4e00" <= c <= "\u9fff" for c in problem["title"]), where
    else:
        assert any("\u4e00" <= c <= "\u9fff" for c in problem["title"]), where
    assert "Traceback" not in response.text, where
    return problem


# -- SQLite: one template file for the session, a copy per test -----------------------------


@dataclass(frozen=True)
class Template:
    database: Path
    data_dir: Path
    world: World


@pytest.fixture(scope="session")
def sqlite_world(tmp_path_factory: pytest.TempPathFactory, chenzhou: PolicyPackage) -> Template:
    root = tmp_path_factory.mktemp("web_template")
    database, data_dir = root / "huiqi.sqlite3", root / "data"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    world = build_world(Services(engine=engine, package=chenzhou), data_dir)
    engine.dispose()
    return Template(database, data_dir, world)


def sqlite_copy(
    template: Template, where: Path, package: PolicyPackage, max_upload_bytes: int
) -> Web:
    """A copy of the template's database and data folder under ``where``, served afresh."""
    where.mkdir(parents=True)
    shutil.copy(template.database, where / "huiqi.sqlite3")
    shutil.copytree(template.data_dir, where / "data")
    url = f"sqlite:///{where / 'huiqi.sqlite3'}"
    return _web(url, template.world, where / "data", package, "sqlite", max_upload_bytes)


def close_web(web: Web) -> None:
    web.client.close()
    web.svc.engine.dispose()


MakeWeb = Callable[..., Web]
MAX_UPLOAD = 10 * 1024 * 1024


@pytest.fixture
def make_web(sqlite_world: Template, chenzhou: PolicyPackage, tmp_path: Path) -> Iterator[MakeWeb]:
    """A fresh copy of the world on SQLite; ``max_upload_bytes`` may be set small."""
    made: list[Web] = []

    def make(max_upload_bytes: int = MAX_UPLOAD) -> Web:
        web = sqlite_copy(sqlite_world, tmp_path / f"copy{len(made)}", chenzhou, max_upload_bytes)
        made.append(web)
        return web

    yield make
    for web in made:
        close_web(web)


@pytest.fixture
def web(make_web: MakeWeb) -> Web:
    return make_web()


# -- PostgreSQL: a template database for the session, CREATE DATABASE … TEMPLATE per copy ---


def _admin_engine() -> Engine:
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@dataclass(frozen=True)
class PgTemplate:
    name: str
    data_dir: Path
    world: World


@pytest.fixture(scope="session")
def pg_world(
    tmp_path_factory: pytest.TempPathFactory, chenzhou: PolicyPackage
) -> Iterator[PgTemplate]:
    name = f"huiqi_web_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {exc}", pytrace=False)
    try:
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        upgrade(engine)
        data_dir = tmp_path_factory.mktemp("pg_web_template") / "data"
        world = build_world(Services(engine=engine, package=chenzhou), data_dir)
        engine.dispose()
        yield PgTemplate(name, data_dir, world)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pg_copy(
    template: PgTemplate, where: Path, package: PolicyPackage, max_upload_bytes: int
) -> tuple[Web, Callable[[], None]]:
    """A database cloned from the template (and a copy of its data folder), served afresh;
    returns it with the function that drops it."""
    name = f"{template.name}_{uuid.uuid4().hex[:6]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.name}"'))
    shutil.copytree(template.data_dir, where / "data")
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    web = _web(url, template.world, where / "data", package, "postgresql", max_upload_bytes)

    def drop() -> None:
        close_web(web)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return web, drop


@pytest.fixture
def make_pg_web(pg_world: PgTemplate, chenzhou: PolicyPackage, tmp_path: Path) -> Iterator[MakeWeb]:
    """A fresh copy of the world on PostgreSQL (a database cloned from the template)."""
    drops: list[Callable[[], None]] = []

    def make(max_upload_bytes: int = MAX_UPLOAD) -> Web:
        web, drop = pg_copy(pg_world, tmp_path / f"pg{len(drops)}", chenzhou, max_upload_bytes)
        drops.append(drop)
        return web

    yield make
    for drop in drops:
        drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def web_any(request: pytest.FixtureRequest) -> Web:
    """A fresh copy of the world on each database in turn."""
    fixture = "make_web" if request.param == "sqlite" else "make_pg_web"
    make: MakeWeb = request.getfixturevalue(fixture)
    return make()
