"""The authorisation matrix: every route of the app × every role, generated from ``app.routes``.

Each route points at a real object of organisation A (the exporter, applicant ``alice``) in
a state where the right role can act, with a body that passes validation. ``RULES`` (the
API, called with bearer tokens) and ``PAGES`` (every other route: the HTML pages, their forms
posted with the session cookie and its CSRF token as a browser does, the OpenAPI document,
the static files) say, for each route, what it acts on and who may use it. Who may act is
read from the permission table written by hand from the policy (``tests/permissions.py``),
never from the production workflow tables, so a change there that the table does not share
fails here. A route added to the app without an expectation fails here until its author adds
one. Then, for every role, on the API:

* anonymous callers get 401 on every route that is not public;
* the applicant of organisation B never gets a 2xx on anything of A, and no response it
  gets (lists included) carries A's credit code or name;
* auditors never get a 2xx on a write (anything but GET), their own sign-out and tokens aside;
* the administrator never decides: verify, approve, review and disburse are 403;
* a role the rule does not allow gets 403 or 409 (404 where the record is hidden from it) —
  never a 2xx, never a 500;
* and the roles the rule allows do get a 2xx (so the refusals above are not vacuous).

On the pages, the same, as a browser sees it: a visitor who is not signed in is sent to sign
in (303 to /login); a role that may use the page gets it (2xx) or its form accepted (a 303
elsewhere); any other gets 403 or 409 (404 where the record is hidden), never a 500; B never
sees A's code or name; and every form that needs an account, posted without the session's
CSRF token, is refused.

Writes that are expected to succeed run on a fresh copy of the world; everything else shares
one copy per database for the module (a refused request writes nothing). Every case runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from starlette.routing import Mount, Route

from huiqi.config import Settings
from huiqi.credit_code import complete
from huiqi.db.tables import ApplicationLine
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import AppState
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import PolicyPackage, load_package
from huiqi.service import auth
from huiqi.service.uow import Services
from huiqi.web.app import create_app
from huiqi.web.deps import SESSION_COOKIE
from huiqi.web.openapi import api_routes
from huiqi.web.pages.common import LANG_COOKIE

from ..permissions import may
from .conftest import (
    API,
    MAX_UPLOAD,
    PASSWORD,
    PDF,
    PgTemplate,
    Template,
    Web,
    World,
    assert_problem,
    close_web,
    pg_copy,
    sqlite_copy,
)

# -- roles -------------------------------------------------------------------------------------

#: Who acts, by role: the demo user holding it (None: nobody signed in).
ROLES: dict[str, str | None] = {
    "applicant_of_A": "alice",
    "applicant_of_B": "charlie",
    "commerce_reviewer": "rui",
    "plan_drafter": "dai",
    "finance_reviewer": "fang",
    "office_reviewer": "ou",
    "city_approver": "shi",
    "auditor": "shen",
    "admin": "admin",
    "anonymous": None,
}
OWN = "applicant_of_A"
OTHER = "applicant_of_B"
OWN_USER = "alice"
STAFF_ROLE = {
    Role.COMMERCE_REVIEWER: "commerce_reviewer",
    Role.PLAN_DRAFTER: "plan_drafter",
    Role.FINANCE_REVIEWER: "finance_reviewer",
    Role.OFFICE_REVIEWER: "office_reviewer",
    Role.CITY_APPROVER: "city_approver",
    Role.AUDITOR: "auditor",
    Role.ADMIN: "admin",
}
SIGNED_IN = frozenset(r for r in ROLES if r != "anonymous")
EVERYONE = frozenset(ROLES)
#: Staff who read everything (queries.READERS): every staff role but the administrator.
READERS = frozenset(STAFF_ROLE[r] for r in Role if r not in (Role.APPLICANT, Role.ADMIN))


def allowed(record: str, state: str, action: str) -> frozenset[str]:
    """The roles the hand-written permission table (tests/permissions.py) allows, an
    applicant meaning A's own applicant — never the production tables, so a change there
    that the table does not share fails here."""
    by_role = {r.value: name for r, name in STAFF_ROLE.items()} | {Role.APPLICANT.value: OWN}
    return frozenset(by_role[r] for r in may(record, state, action))


# -- the rules: what each route acts on and who may get a 2xx ---------------------------------

Params = Callable[[World], dict[str, Any]]
Body = Callable[[World], Any]


def no_params(w: World) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Rule:
    #: What the route acts on: "public" (no account needed), "self" (the caller's own
    #: session or tokens), "list" (filtered to what the caller may see), or the object of
    #: organisation A it is pointed at.
    owner: str
    #: The roles that get a 2xx here.
    may: frozenset[str]
    params: Params = no_params
    body: Body | None = None
    upload: bool = False
    #: A decision: the administrator must get exactly 403.
    decision: bool = False
    #: Refused as 404 to whoever may not see it (its existence is not revealed); elsewhere
    #: only applicants asking about another organisation's records get 404.
    hides: bool = False


def _app(name: str) -> Params:
    return lambda w: {"application_id": getattr(w, name)}


def _plan(name: str) -> Params:
    return lambda w: {"plan_id": getattr(w, name)}


SUBMITTED, RESUBMITTED, RETURNED, DRAFT = (
    AppState.SUBMITTED,
    AppState.RESUBMITTED,
    AppState.RETURNED,
    AppState.DRAFT,
)
NEW_ORG_CODE = complete("91431000MA4T77777")

RULES: dict[tuple[str, str], Rule] = {
    # public: the calculator, the clauses, signing in, objecting to a plan under notice
    ("GET", "/health"): Rule("public", EVERYONE),
    ("GET", "/ready"): Rule("public", EVERYONE),
    ("POST", "/evaluate"): Rule(
        "public", EVERYONE, body=lambda w: {**w.facts(), "award_year": 2025}
    ),
    ("GET", "/clauses"): Rule("public", EVERYONE),
    ("GET", "/clauses/{clause_id}"): Rule("public", EVERYONE, lambda w: {"clause_id": "4.1a"}),
    ("GET", "/policy"): Rule("public", EVERYONE),
    ("GET", "/schema/facts"): Rule("public", EVERYONE),
    ("POST", "/auth/login"): Rule(
        "public", EVERYONE, body=lambda w: {"username": "alice", "password": PASSWORD}
    ),
    ("POST", "/plans/{plan_id}/objections"): Rule(
        "public",
        EVERYONE,
        _plan("notice_plan"),
        body=lambda w: {"submitted_by": "市民李女士", "text": "请核实", "item_id": w.notice_item},
    ),
    # one's own session and tokens
    ("POST", "/auth/logout"): Rule("self", SIGNED_IN),
    ("GET", "/auth/me"): Rule("self", SIGNED_IN),
    ("POST", "/tokens"): Rule("self", SIGNED_IN, body=lambda w: {"name": "脚本"}),
    ("DELETE", "/tokens/{token_id}"): Rule(
        "token of A's applicant",
        frozenset({OWN, "admin"}),
        lambda w: {"token_id": w.revocable_token},
        hides=True,
    ),
    # organisations and users
    ("GET", "/organisations"): Rule("list", SIGNED_IN),
    ("POST", "/organisations"): Rule(
        "registry",
        allowed("organisation", "-", "register"),
        body=lambda w: {
            "credit_code": NEW_ORG_CODE,
            "name": "郴州新登记跨境电商有限公司",
            "kind": "cbec_enterprise",
            "division": w.org_a_division,
        },
    ),
    ("POST", "/users"): Rule(
        "a user of A",
        allowed("user", "-", "create"),
        body=lambda w: {
            "username": "alice2",
            "display_name": "甲公司新经办人",
            "roles": ["applicant"],
            "org_code": w.org_a_code,
            "password": "a-long-password-1",
        },
    ),
    ("GET", "/users"): Rule("every user", allowed("user", "-", "list")),
    ("POST", "/users/{username}/disable"): Rule(
        "a user of A", allowed("user", "-", "disable"), lambda w: {"username": OWN_USER}
    ),
    ("POST", "/users/{username}/enable"): Rule(
        "a user of A", allowed("user", "-", "enable"), lambda w: {"username": OWN_USER}
    ),
    ("GET", "/users/{username}/tokens"): Rule(
        "tokens of A's applicant", allowed("user", "-", "tokens"), lambda w: {"username": OWN_USER}
    ),
    # applications
    ("GET", "/applications"): Rule("list", SIGNED_IN),
    ("POST", "/applications"): Rule(
        "A (org_code)",
        frozenset({OWN}),
        body=lambda w: {
            "org_code": w.org_a_code,
            "award_year": 2025,
            "clauses": ["7.1"],
            "facts": w.facts(staff_training={"costs_cny": "5000"}),
        },
    ),
    ("GET", "/applications/{application_id}"): Rule(
        "application of A", READERS | {OWN}, _app("submitted_app"), hides=True
    ),
    ("GET", "/applications/{application_id}/replay"): Rule(
        "verified application of A", READERS, _app("verified_app")
    ),
    ("PATCH", "/applications/{application_id}"): Rule(
        "draft of A",
        frozenset({OWN}),
        _app("draft_app"),
        body=lambda w: {"facts": w.facts(staff_training={"costs_cny": "12000"})},
    ),
    ("POST", "/applications/{application_id}/submit"): Rule(
        "draft of A", allowed("application", "draft", "submit"), _app("draft_app")
    ),
    ("POST", "/applications/{application_id}/resubmit"): Rule(
        "returned application of A",
        allowed("application", "returned", "resubmit"),
        _app("returned_app"),
    ),
    ("POST", "/applications/{application_id}/return"): Rule(
        "submitted application of A",
        allowed("application", "submitted", "return"),
        _app("submitted_app"),
        body=lambda w: {"reason": "请补充培训发票"},
        decision=True,
    ),
    ("POST", "/applications/{application_id}/reject"): Rule(
        "submitted application of A",
        allowed("application", "submitted", "reject"),
        _app("submitted_app"),
        body=lambda w: {"reason": "不符合条件"},
        decision=True,
    ),
    ("POST", "/applications/{application_id}/verify"): Rule(
        "submitted application of A",
        allowed("application", "submitted", "verify"),
        _app("submitted_app"),
        body=lambda w: w.verify_body,
        decision=True,
    ),
    ("POST", "/lines/{line_id}/office-decision"): Rule(
        "line of A awaiting the office",
        allowed("line", "pending", "office"),
        lambda w: {"line_id": w.office_line},
        body=lambda w: {"approve": True, "reason": "同意"},
        decision=True,
    ),
    ("GET", "/applications/{application_id}/attachments"): Rule(
        "draft of A", READERS | {OWN}, _app("draft_app"), hides=True
    ),
    ("POST", "/applications/{application_id}/attachments"): Rule(
        "draft of A", frozenset({OWN}), _app("draft_app"), upload=True
    ),
    ("GET", "/attachments/{attachment_id}"): Rule(
        "attachment of A",
        READERS | {OWN},
        lambda w: {"attachment_id": w.attachment},
        hides=True,
    ),
    # plans (staff only; their items are A's)
    ("GET", "/plans"): Rule("list", READERS),
    ("POST", "/plans"): Rule(
        "A's unplanned verified line",
        allowed("planning", "-", "draft"),
        body=lambda w: {"award_year": w.unplanned_year, "title": "补充分配方案"},
    ),
    ("GET", "/plans/{plan_id}"): Rule("plan with items of A", READERS, _plan("notice_plan")),
    ("POST", "/plans/{plan_id}/reallocate"): Rule(
        "draft plan with items of A",
        allowed("planning", "draft", "reallocate"),
        _plan("draft_plan"),
        body=lambda w: {"rule": "pro_rata_all"},
        decision=True,
    ),
    ("POST", "/plans/{plan_id}/notice"): Rule(
        "draft plan with items of A",
        allowed("plan", "draft", "open_notice"),
        _plan("draft_plan"),
        body=lambda w: {"days": 5},
        decision=True,
    ),
    ("POST", "/objections/{objection_id}/resolve"): Rule(
        "objection to a plan with items of A",
        allowed("objection", "unresolved", "resolve"),
        lambda w: {"objection_id": w.objection},
        body=lambda w: {"uphold": False, "resolution": "经核实无误"},
        decision=True,
    ),
    ("POST", "/plans/{plan_id}/close-notice"): Rule(
        "plan of A whose notice is over",
        allowed("plan", "notice", "close_notice"),
        _plan("notice_over_plan"),
        decision=True,
    ),
    ("POST", "/plans/{plan_id}/review"): Rule(
        "plan of A under review",
        allowed("plan", "review", "review"),
        _plan("review_plan"),
        body=lambda w: {"approve": True, "reason": "同意"},
        decision=True,
    ),
    ("POST", "/plans/{plan_id}/approve"): Rule(
        "reviewed plan of A",
        allowed("plan", "review", "approve"),
        _plan("approvable_plan"),
        decision=True,
    ),
    ("POST", "/plan-items/{item_id}/disbursements"): Rule(
        "approved item of A",
        allowed("item", "approved", "disburse"),
        lambda w: {"item_id": w.approved_item},
        body=lambda w: {"amount_fen": 100, "paid_on": "2026-03-02", "reference": "BH-2026-1"},
        decision=True,
    ),
    ("POST", "/plans/{plan_id}/close"): Rule(
        "paid plan of A",
        allowed("plan", "approved", "close"),
        _plan("paid_plan"),
        decision=True,
    ),
    ("PUT", "/budgets/{division}/{year}"): Rule(
        "budget of A's division",
        allowed("budget", "-", "set"),
        lambda w: {"division": w.org_a_division, "year": 2025},
        body=lambda w: {"amount_fen": 150_000_000},
    ),
    # records
    ("GET", "/ledger"): Rule("list", READERS | {OWN, OTHER}),
    ("GET", "/audit"): Rule("list", READERS),
    ("GET", "/audit/verify"): Rule("audit trail", READERS),
    ("GET", "/reports/summary"): Rule("all organisations' totals", READERS),
}

#: The decisions the administrator must be refused outright (403), whatever the state.
ADMIN_NEVER = {
    ("POST", "/applications/{application_id}/verify"),
    ("POST", "/plans/{plan_id}/approve"),
    ("POST", "/plans/{plan_id}/review"),
    ("POST", "/plan-items/{item_id}/disbursements"),
}


# -- the routes, from the app itself ----------------------------------------------------------


def _route_app() -> Any:
    """An app to read the routes from (at collection time; it serves nothing)."""
    engine = create_engine("sqlite://")
    services = Services(engine=engine, package=load_package(DEFAULT_POLICY))
    return create_app(Settings(database_url="sqlite://"), services=services)


ROUTE_APP = _route_app()
#: The API's routes (path without the prefix). The HTML pages outside it are the pages
#: issue's; they are not in the OpenAPI document and have their own tests.
ROUTES = sorted(
    {(m, p.removeprefix(API)) for m, p, _ in api_routes(ROUTE_APP) if p.startswith(API)}
)


def test_every_route_is_in_the_matrix_and_every_rule_is_a_route() -> None:
    unclassified = [r for r in ROUTES if r not in RULES]
    stale = [r for r in RULES if r not in ROUTES]
    assert not unclassified, f"routes without a rule — classify them in RULES: {unclassified}"
    assert not stale, f"rules for routes that no longer exist: {stale}"


def test_every_route_outside_the_api_is_a_page_left_out_of_the_openapi_document() -> None:
    outside = [(m, p, r) for m, p, r in api_routes(ROUTE_APP) if not p.startswith(API + "/")]
    assert [(m, p) for m, p, r in outside if r.include_in_schema] == []


def test_the_routes_read_from_the_app_are_those_of_the_openapi_document() -> None:
    document = ROUTE_APP.openapi()
    from_openapi = {
        (method.upper(), path.removeprefix(API))
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert from_openapi == set(ROUTES)
    assert len(ROUTES) >= 40  # the issue's endpoints; a collapse to a few would be a bug


def test_the_rules_never_let_an_auditor_write_nor_the_administrator_decide() -> None:
    for (method, path), rule in RULES.items():
        if method != "GET" and rule.owner not in ("public", "self"):
            assert "auditor" not in rule.may, (method, path)
        if rule.decision:
            assert "admin" not in rule.may, (method, path)
        if rule.owner != "public":
            assert "anonymous" not in rule.may, (method, path)
            assert OTHER not in rule.may or rule.owner in ("list", "self"), (method, path)


# -- running one case ---------------------------------------------------------------------------


def request(web: Web, method: str, path: str, role: str) -> httpx.Response:
    rule = RULES[method, path]
    url = API + path.format(**rule.params(web.world))
    headers = web.bearer(ROLES[role])
    kwargs: dict[str, Any] = {"headers": headers}
    if rule.upload:
        kwargs["files"] = {"file": ("培训照片.pdf", PDF, "application/pdf")}
    elif rule.body is not None:
        kwargs["json"] = rule.body(web.world)
    response: httpx.Response = web.client.request(method, url, **kwargs)
    return response


def writes(method: str, path: str, role: str) -> bool:
    """Whether the case is expected to change an object the other cases point at (and so
    needs its own copy). Signing in, objecting, signing out and creating tokens only add
    rows nobody else looks at."""
    rule = RULES.get((method, path))
    if rule is None or method == "GET" or rule.owner in ("public", "self"):
        return False
    return role in rule.may


def check(web: Web, method: str, path: str, role: str) -> None:
    rule = RULES.get((method, path))
    if rule is None:
        pytest.fail(f"{method} {path} has no rule in RULES: classify it (owner, who may write)")
    response = request(web, method, path, role)
    status, body = response.status_code, response.text
    where = f"{method} {path} as {role} ({ROLES[role]}): {status} {body[:300]}"
    assert status < 500, where
    if status >= 400:
        assert_problem(response)  # every refusal: a problem, in Chinese by default
    if role == "anonymous" and rule.owner != "public":
        assert status == 401, where
        return
    if role == OTHER and rule.owner != "public":
        assert web.world.org_a_code not in body, f"A's credit code shown to B: {where}"
        assert web.world.org_a_name not in body, f"A's name shown to B: {where}"
    if rule.owner == "list" and role in (OWN, OTHER) and status == 200:
        # not vacuous: each applicant does see its own organisation's rows
        own_code = web.world.org_a_code if role == OWN else web.world.org_b_code
        assert own_code in body, f"own rows missing: {where}"
    if role == "admin" and (method, path) in ADMIN_NEVER:
        assert status == 403, where
    if role == "auditor" and method != "GET" and rule.owner not in ("public", "self"):
        assert not 200 <= status < 300, where
    if role in rule.may:
        assert 200 <= status < 300, where
    else:
        hidden = role in (OWN, OTHER) or rule.hides
        assert status in ((403, 404, 409) if hidden else (403, 409)), where


# -- the matrix on SQLite and on PostgreSQL -------------------------------------------------


class Copies:
    """One shared copy of the world per database for the module, and fresh ones on demand."""

    def __init__(self, request: pytest.FixtureRequest, root: Path, package: PolicyPackage):
        self.request, self.root, self.package = request, root, package
        self.shared: dict[str, tuple[Web, Callable[[], None]]] = {}
        self.count = 0
        # Dropping a PostgreSQL database waits for a checkpoint: do it while the next cases run.
        self.dropper = ThreadPoolExecutor(max_workers=2)
        self.dropping: list[Future[None]] = []

    def fresh(self, backend: str) -> tuple[Web, Callable[[], None]]:
        self.count += 1
        where = self.root / f"{backend}{self.count}"
        if backend == "sqlite":
            template: Template = self.request.getfixturevalue("sqlite_world")
            web = sqlite_copy(template, where, self.package, MAX_UPLOAD)
            return web, lambda: close_web(web)
        pg: PgTemplate = self.request.getfixturevalue("pg_world")
        return pg_copy(pg, where, self.package, MAX_UPLOAD)

    @contextmanager
    def use(self, backend: str, write: bool) -> Iterator[Web]:
        """A fresh copy for a case that writes (dropped after it), else the shared one."""
        if write:
            web, cleanup = self.fresh(backend)
            try:
                yield web
            finally:
                self.dropping.append(self.dropper.submit(cleanup))
            return
        if backend not in self.shared:
            self.shared[backend] = self.fresh(backend)
        yield self.shared[backend][0]

    def close(self) -> None:
        for _, cleanup in self.shared.values():
            cleanup()
        for dropped in self.dropping:
            dropped.result()
        self.dropper.shutdown()


@pytest.fixture(scope="module")
def copies(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    chenzhou: PolicyPackage,
) -> Iterator[Copies]:
    found = Copies(request, tmp_path_factory.mktemp("matrix"), chenzhou)
    yield found
    found.close()


#: Cases that fail today, each a reported bug; strict, so a fix makes them fail until removed.
KNOWN: dict[tuple[str, str, str], str] = {}

CASES = [
    pytest.param(
        backend,
        method,
        path,
        role,
        id=f"{backend}-{method} {path}-{role}",
        marks=[pytest.mark.xfail(reason=KNOWN[method, path, role])]
        if (method, path, role) in KNOWN
        else [],
    )
    for backend in ("sqlite", "postgresql")
    for method, path in ROUTES
    for role in ROLES
]


@pytest.mark.parametrize(("backend", "method", "path", "role"), CASES)
def test_authorisation(copies: Copies, backend: str, method: str, path: str, role: str) -> None:
    with copies.use(backend, writes(method, path, role)) as web:
        check(web, method, path, role)


# -- the pages: every route outside the API, as a browser uses them ----------------------------
#
# A browser without JavaScript: a session cookie (the world signs every user in once), the
# session's CSRF token in every form it posts (as the pages' own forms carry it), forms as
# ``application/x-www-form-urlencoded`` (multipart for a file). A page that may be used
# answers 2xx, or 303 to anywhere but the sign-in page; a refusal is 403 or 409 (404 where the
# record is hidden), never a 2xx, never a 500; an anonymous visitor is sent to sign in (303 to
# /login) or, for a console form, refused with 401.

Form = Callable[[Web, TestClient], list[tuple[str, str]]]


def no_form(web: Web, client: TestClient) -> list[tuple[str, str]]:
    return []


def _fields(**values: str) -> Form:
    return lambda web, client: list(values.items())


@dataclass(frozen=True)
class Page:
    #: As ``Rule.owner``; "public" pages need no account.
    owner: str
    #: The roles that get a 2xx (or a 303 that is not to the sign-in page).
    may: frozenset[str]
    params: Params = no_params
    form: Form = no_form
    query: str = ""
    upload: bool = False
    #: Refused as 404 to whoever may not see it (the console's pages of one application
    #: hide it from the administrator, as the API does).
    hides: bool = False
    #: The case changes what the others share even when it only touches its own session
    #: (signing out ends the session the other cases use).
    fresh: bool = False


def _login_form(web: Web, client: TestClient) -> list[tuple[str, str]]:
    """What a browser posts to sign in: the token the sign-in page just gave it."""
    page = client.get("/login")
    found = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and found, page.text[:300]
    return [("username", "alice"), ("password", PASSWORD), ("login_token", found.group(1))]


def _verify_form(web: Web, client: TestClient) -> list[tuple[str, str]]:
    """Approve every line of the submitted application, as the review page's form does."""
    with web.svc.reading() as s:
        line_ids = s.scalars(
            select(ApplicationLine.id).where(
                ApplicationLine.application_id == web.world.submitted_app
            )
        ).all()
    assert line_ids
    return [(f"line-{line}-approve", "yes") for line in line_ids]


CONSOLE_READERS = READERS
APPLICANTS = frozenset({OWN, OTHER})
CALCULATOR = _fields(year="2025", kind="cbec_enterprise", clause="4.1a")

PAGES: dict[tuple[str, str], Page] = {
    # public: the home page, signing in, the calculator, notices and objections, the language
    ("GET", "/"): Page("public", EVERYONE),
    ("GET", "/api/openapi.json"): Page("public", EVERYONE),
    ("GET", "/static/{path}"): Page("public", EVERYONE, lambda w: {"path": "huiqi.css"}),
    ("GET", "/favicon.ico"): Page("public", EVERYONE),
    ("POST", "/lang/{lang}"): Page("public", EVERYONE, lambda w: {"lang": "en"}, _fields(next="/")),
    ("GET", "/login"): Page("public", EVERYONE),
    ("POST", "/login"): Page("public", EVERYONE, form=_login_form),
    ("GET", "/notices/{plan_id}"): Page("public", EVERYONE, _plan("notice_plan")),
    ("POST", "/notices/{plan_id}/objections"): Page(
        "public",
        EVERYONE,
        _plan("notice_plan"),
        lambda web, client: [
            ("submitted_by", "市民李女士"),
            ("text", "请核实"),
            ("item_id", str(web.world.notice_item)),
        ],
    ),
    ("GET", "/calculator"): Page("public", EVERYONE),
    ("GET", "/calculator/facts"): Page(
        "public", EVERYONE, query="year=2025&kind=cbec_enterprise&clause=4.1a"
    ),
    ("POST", "/calculator/result"): Page(
        "public", EVERYONE, form=_fields(year="2025", kind="cbec_enterprise", clause="4.1a")
    ),
    # "apply with these facts": the answers kept in a cookie, then the portal (or sign in first)
    ("POST", "/calculator/apply"): Page("public", SIGNED_IN, form=CALCULATOR),
    # one's own session
    ("POST", "/logout"): Page("self", EVERYONE, fresh=True),  # nobody signed in: sent home
    # the enterprise portal: applicants, each its own organisation's
    ("GET", "/portal"): Page("list", APPLICANTS),
    ("GET", "/portal/new"): Page("list", APPLICANTS),
    ("POST", "/portal/new"): Page(
        "own organisation (a refreshed form, nothing saved)",
        APPLICANTS,
        form=_fields(year="2025", clause="7.1", _action="refresh"),
    ),
    ("GET", "/portal/applications/{app_id}"): Page(
        "application of A", frozenset({OWN}), lambda w: {"app_id": w.submitted_app}
    ),
    ("GET", "/portal/applications/{app_id}/edit"): Page(
        "draft of A", frozenset({OWN}), lambda w: {"app_id": w.draft_app}
    ),
    ("POST", "/portal/applications/{app_id}/edit"): Page(
        "draft of A (a refreshed form, nothing saved)",
        frozenset({OWN}),
        lambda w: {"app_id": w.draft_app},
        _fields(clause="7.1", _action="refresh"),
    ),
    ("POST", "/portal/applications/{app_id}/submit"): Page(
        "draft of A",
        allowed("application", "draft", "submit"),
        lambda w: {"app_id": w.draft_app},
    ),
    ("POST", "/portal/applications/{app_id}/attachments"): Page(
        "draft of A", frozenset({OWN}), lambda w: {"app_id": w.draft_app}, upload=True
    ),
    # the staff console: reading
    ("GET", "/console"): Page("work queues", CONSOLE_READERS | {"admin"}),
    # the administrator's users page (issue 11.8): list, disable, enable
    ("GET", "/console/users"): Page("every user", allowed("user", "-", "list")),
    ("POST", "/console/users/{username}/disable"): Page(
        "a user of A", allowed("user", "-", "disable"), lambda w: {"username": OWN_USER}
    ),
    ("POST", "/console/users/{username}/enable"): Page(
        "a user of A", allowed("user", "-", "enable"), lambda w: {"username": OWN_USER}
    ),
    ("GET", "/console/audit"): Page("list", CONSOLE_READERS),
    ("GET", "/console/dashboard"): Page("all organisations' totals", CONSOLE_READERS),
    ("GET", "/console/plans"): Page("list", CONSOLE_READERS),
    ("GET", "/console/plans/{plan_id}"): Page(
        "plan with items of A", CONSOLE_READERS, _plan("notice_plan")
    ),
    ("GET", "/console/applications/{app_id}"): Page(
        "application of A",
        CONSOLE_READERS,
        lambda w: {"app_id": w.submitted_app},
        hides=True,
    ),
    ("GET", "/console/applications/{app_id}/replay"): Page(
        "verified application of A", CONSOLE_READERS, lambda w: {"app_id": w.verified_app}
    ),
    # the staff console: the review of applications (市商务局) and the office's approval
    ("POST", "/console/applications/{app_id}/verify"): Page(
        "submitted application of A",
        allowed("application", "submitted", "verify"),
        lambda w: {"app_id": w.submitted_app},
        _verify_form,
        hides=True,
    ),
    ("POST", "/console/applications/{app_id}/return"): Page(
        "submitted application of A",
        allowed("application", "submitted", "return"),
        lambda w: {"app_id": w.submitted_app},
        _fields(reason="请补充培训发票"),
        hides=True,
    ),
    ("POST", "/console/applications/{app_id}/reject"): Page(
        "submitted application of A",
        allowed("application", "submitted", "reject"),
        lambda w: {"app_id": w.submitted_app},
        _fields(reason="不符合条件"),
        hides=True,
    ),
    ("POST", "/console/lines/{line_id}/office-decision"): Page(
        "line of A awaiting the office",
        allowed("line", "pending", "office"),
        lambda w: {"line_id": w.office_line},
        _fields(decision="approve", reason="同意"),
        hides=True,
    ),
    # the staff console: plans, from drafting to closing
    ("POST", "/console/plans"): Page(
        "A's unplanned verified line",
        allowed("planning", "-", "draft"),
        form=lambda web, client: [("year", str(web.world.unplanned_year)), ("title", "补充方案")],
    ),
    ("POST", "/console/plans/{plan_id}/reallocate"): Page(
        "draft plan with items of A",
        allowed("planning", "draft", "reallocate"),
        _plan("draft_plan"),
        _fields(rule="pro_rata_all"),
    ),
    ("POST", "/console/plans/{plan_id}/notice"): Page(
        "draft plan with items of A",
        allowed("plan", "draft", "open_notice"),
        _plan("draft_plan"),
        _fields(start="2026-03-03", days="5"),
    ),
    ("POST", "/console/objections/{objection_id}/resolve"): Page(
        "objection to a plan with items of A",
        allowed("objection", "unresolved", "resolve"),
        lambda w: {"objection_id": w.objection},
        _fields(decision="dismiss", resolution="经核实无误"),
    ),
    ("POST", "/console/plans/{plan_id}/close-notice"): Page(
        "plan of A whose notice is over",
        allowed("plan", "notice", "close_notice"),
        _plan("notice_over_plan"),
    ),
    ("POST", "/console/plans/{plan_id}/review"): Page(
        "plan of A under review",
        allowed("plan", "review", "review"),
        _plan("review_plan"),
        _fields(decision="approve", reason="同意"),
    ),
    ("POST", "/console/plans/{plan_id}/approve"): Page(
        "reviewed plan of A",
        allowed("plan", "review", "approve"),
        _plan("approvable_plan"),
    ),
    ("POST", "/console/plan-items/{item_id}/disbursements"): Page(
        "approved item of A",
        allowed("item", "approved", "disburse"),
        lambda w: {"item_id": w.approved_item},
        _fields(amount="1.00", paid_on="2026-03-02", reference="BH-2026-1"),
    ),
    ("POST", "/console/plans/{plan_id}/close"): Page(
        "paid plan of A",
        allowed("plan", "approved", "close"),
        _plan("paid_plan"),
    ),
}


def all_routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) the app answers: its API routes and pages, the OpenAPI document
    and the static files (one route for the whole mount)."""
    found = {(m, p) for m, p, _ in api_routes(app)}
    for route in app.routes:
        if isinstance(route, Mount):
            found.add(("GET", route.path + "/{path}"))
        elif isinstance(route, Route) and not isinstance(route, APIRoute):
            found |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
    return sorted(found)


#: Every route outside the API: the pages, the OpenAPI document, the static files.
PAGE_ROUTES = [(m, p) for m, p in all_routes(ROUTE_APP) if not p.startswith(API + "/")]


def test_every_route_of_the_app_has_an_expectation_and_every_expectation_a_route() -> None:
    everything = all_routes(ROUTE_APP)
    covered = {(m, API + p) for m, p in RULES} | set(PAGES)
    missing = [r for r in everything if r not in covered]
    assert not missing, (
        "routes without an expectation in tests/web/test_authorisation_matrix.py — add each "
        "to RULES (under /api/v1) or PAGES (everything else), with who may use it taken from "
        f"tests/permissions.py: {missing}"
    )
    stale = [r for r in covered if r not in everything]
    assert not stale, f"expectations for routes that no longer exist: {stale}"
    assert len(PAGE_ROUTES) >= 38  # the pages of today; a collapse to a few would be a bug


#: The one kind of page form the administrator posts: managing users (管理员：用户与参数).
ADMIN_PAGES = {
    ("POST", "/console/users/{username}/disable"),
    ("POST", "/console/users/{username}/enable"),
}


def test_the_page_rules_never_let_an_auditor_or_the_administrator_act() -> None:
    for (method, path), page in PAGES.items():
        if method == "POST" and page.owner not in ("public", "self"):
            assert not page.may & {"auditor", "anonymous"}, (method, path)
            if (method, path) in ADMIN_PAGES:
                assert page.may == {"admin"}, (method, path)
            else:
                assert "admin" not in page.may, (method, path)


def page_client(web: Web, role: str) -> TestClient:
    """A browser of its own, signed in as the role's user (or nobody), Chinese."""
    client = web.client_for()
    client.cookies.set(LANG_COOKIE, "zh")
    user = ROLES[role]
    if user is not None:
        client.cookies.set(SESSION_COOKIE, web.world.sessions[user][0])
    return client


def page_request(
    web: Web, method: str, path: str, role: str, *, csrf: bool = True
) -> httpx.Response:
    page = PAGES[method, path]
    client = page_client(web, role)
    url = path.format(**page.params(web.world)) + (f"?{page.query}" if page.query else "")
    if method == "GET":
        response: httpx.Response = client.get(url, follow_redirects=False)
        return response
    fields = page.form(web, client)
    user = ROLES[role]
    if csrf and user is not None:
        fields.append(("csrf_token", web.world.sessions[user][1]))
    data: dict[str, Any] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    files = {"file": ("培训照片.pdf", PDF, "application/pdf")} if page.upload else None
    response = client.post(url, data=data, files=files, follow_redirects=False)
    return response


def to_login(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/login")


def used(response: httpx.Response) -> bool:
    """The page was served or the form accepted (a redirect, but not to sign in)."""
    status = response.status_code
    return 200 <= status < 300 or (status == 303 and not to_login(response))


def page_writes(method: str, path: str, role: str) -> bool:
    page = PAGES.get((method, path))
    if page is None or method == "GET":
        return False
    if page.fresh:
        return True
    return page.owner not in ("public", "self") and role in page.may


def check_page(web: Web, method: str, path: str, role: str) -> None:
    page = PAGES.get((method, path))
    if page is None:
        pytest.fail(
            f"{method} {path} has no expectation in PAGES: add who may use it "
            "(tests/permissions.py for actions)"
        )
    response = page_request(web, method, path, role)
    status, body = response.status_code, response.text
    where = f"{method} {path} as {role} ({ROLES[role]}): {status} {body[:300]}"
    assert status < 500, where
    if role == OTHER and page.owner != "public":
        assert web.world.org_a_code not in body, f"A's credit code shown to B: {where}"
        assert web.world.org_a_name not in body, f"A's name shown to B: {where}"
    if role == "anonymous" and role not in page.may:
        assert to_login(response), where  # a page or a form: sent to sign in, then back
        return
    if role in page.may:
        assert used(response), where
        return
    hidden = role in (OWN, OTHER) or page.hides
    assert status in ((403, 404, 409) if hidden else (403, 409)), where


PAGE_CASES = [
    pytest.param(backend, method, path, role, id=f"{backend}-{method} {path}-{role}")
    for backend in ("sqlite", "postgresql")
    for method, path in PAGE_ROUTES
    for role in ROLES
]


@pytest.mark.parametrize(("backend", "method", "path", "role"), PAGE_CASES)
def test_page_authorisation(
    copies: Copies, backend: str, method: str, path: str, role: str
) -> None:
    with copies.use(backend, page_writes(method, path, role)) as web:
        check_page(web, method, path, role)


#: Forms posted with a session but without its CSRF token: one role that may post each.
CSRF_CASES = [
    (path, sorted(page.may)[0])
    for (method, path), page in PAGES.items()
    if method == "POST" and page.owner not in ("public",) and page.may
]


@pytest.mark.parametrize(("path", "role"), CSRF_CASES, ids=[p for p, _ in CSRF_CASES])
def test_a_form_posted_without_the_sessions_csrf_token_is_refused(
    copies: Copies, path: str, role: str
) -> None:
    with copies.use("sqlite", write=True) as web:
        response = page_request(web, "POST", path, role, csrf=False)
        where = f"{path} as {role}: {response.status_code} {response.text[:300]}"
        if path == "/logout":  # ignored, not refused: the session goes on
            assert response.status_code == 303, where
            assert auth.session(web.svc, web.world.sessions[ROLES[role] or ""][0]), where
        else:
            assert response.status_code == 403, where
            assert "CSRF" in response.text, where
        # and the same form with its token is accepted
        assert used(page_request(web, "POST", path, role)), path
