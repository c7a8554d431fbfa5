"""SQL and script injection in every text field of every JSON body, generated from the OpenAPI
document; and every text field at its longest, on both databases.

Each string property of each request body (the facts of an application included, by the
``Facts`` schema) gets each payload, sent by a role that may make the request, with the
matrix's valid body around it. Never a 500; the users table is still there afterwards; and
where the text is stored, it reads back through the API byte for byte (JSON is not HTML, so
nothing is escaped there — the pages escape when they render).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from huiqi.policy import PolicyPackage
from huiqi.policy.model import Division
from huiqi.web.openapi import NO_NUL
from huiqi.web.routes.orgs import NOT_BLANK

from .conftest import API, MAX_UPLOAD, MakeWeb, Template, Web, close_web, sqlite_copy
from .test_authorisation_matrix import ROLES, ROUTE_APP, RULES, Rule

SQL = ["'; DROP TABLE users; --", "1' OR '1'='1"]
SCRIPT = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
PAYLOADS = SQL + SCRIPT
ALL_IN_ONE = " ".join(PAYLOADS)  # 90 characters: every payload in one stored text

DOCUMENT = ROUTE_APP.openapi()
COMPONENTS: dict[str, Any] = DOCUMENT["components"]["schemas"]
FACTS_BODIES = {"NewApplication", "ApplicationChange"}  # their "facts" is a Facts object

Path = tuple[str | int, ...]


def resolve(schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    name = None
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = COMPONENTS[name]
    return name, schema


def string_fields(
    schema: dict[str, Any], at: Path = (), depth: int = 0
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every string leaf of a schema: (path into the body, its schema)."""
    name, schema = resolve(schema)
    if depth > 10:
        return
    for option in schema.get("anyOf", []):
        yield from string_fields(option, at, depth + 1)
    kind = schema.get("type")
    if kind == "string":
        yield at, schema
    elif kind == "array":
        yield from string_fields(schema.get("items", {}), (*at, 0), depth + 1)
    for key, sub in schema.get("properties", {}).items():
        if name in FACTS_BODIES and key == "facts":
            facts = {
                k: v for k, v in COMPONENTS["Facts"]["properties"].items() if k != "award_year"
            }
            yield from string_fields({"type": "object", "properties": facts}, (*at, key), depth + 1)
        else:
            yield from string_fields(sub, (*at, key), depth + 1)


@dataclass(frozen=True)
class Field:
    method: str
    path: str  # without the API prefix
    at: Path
    schema: dict[str, Any]

    @property
    def name(self) -> str:
        return ".".join(str(p) for p in self.at)

    @property
    def in_facts(self) -> bool:
        return self.path == "/evaluate" or self.at[:1] == ("facts",)

    @property
    def free_text(self) -> bool:
        """Text a person writes (not a code, a choice, a date or a password)."""
        coded = {
            "credit_code",
            "org_code",
            "kind",
            "clauses",
            "clause",
            "subject",
            "username",
            "division",  # one of the policy package's paying divisions
        }
        # A pattern that only refuses NUL (or blank text) still leaves the text free.
        pattern = self.schema.get("pattern")
        limiting = pattern is not None and pattern not in (NO_NUL, NOT_BLANK)
        return not (
            limiting
            or {"format", "enum"} & set(self.schema)
            or coded & {str(p) for p in self.at}
            or self.at == ("password",)
            or self.in_facts
        )


def body_fields() -> list[Field]:
    found = []
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            for at, schema in string_fields(content["application/json"]["schema"]):
                found.append(Field(method.upper(), path.removeprefix(API), at, schema))
    return found


FIELDS = body_fields()


def test_the_generated_fields_cover_every_json_body_and_the_facts() -> None:
    operations = {(f.method, f.path) for f in FIELDS}
    assert ("POST", "/evaluate") in operations
    assert ("POST", "/plans/{plan_id}/objections") in operations
    names = {(f.path, f.name) for f in FIELDS}
    assert ("/applications/{application_id}", "facts.applicant.name") in names
    assert ("/applications/{application_id}/verify", "decisions.0.reason") in names
    assert sum(1 for f in FIELDS if not f.in_facts) >= 30
    assert sum(1 for f in FIELDS if f.path == "/evaluate") >= 40


# -- sending ---------------------------------------------------------------------------------


def put(body: Any, at: Path, value: Any) -> Any:
    """A copy of ``body`` with ``value`` at ``at`` (missing containers made on the way;
    an array gets its first element set)."""
    body = copy.deepcopy(body) if body is not None else {}
    node = body
    for i, key in enumerate(at):
        last = i == len(at) - 1
        child = value if last else ([] if isinstance(at[i + 1], int) else {})
        if isinstance(key, int):
            assert isinstance(node, list)
            if not node:
                node.append(child)
            elif last or not isinstance(node[0], dict | list):
                node[0] = child
            node = node[0]
        else:
            assert isinstance(node, dict)
            if last or not isinstance(node.get(key), dict | list):
                node[key] = child
            node = node[key]
    return body


def actor(rule: Rule, method: str) -> str | None:
    """Someone the rule lets make the request (nobody for public routes but sign-in)."""
    if rule.owner == "public":
        return None
    return next(ROLES[r] for r in ROLES if r in rule.may)


def send(web: Web, method: str, path: str, body: Any) -> httpx.Response:
    rule = RULES[method, path]
    url = API + path.format(**rule.params(web.world))
    headers = web.bearer(actor(rule, method))
    response: httpx.Response = web.client.request(method, url, json=body, headers=headers)
    return response


def still_intact(web: Web) -> None:
    assert web.table_exists("users")
    assert web.client.get(f"{API}/auth/me", headers=web.bearer("alice")).status_code == 200
    audit = web.client.get(f"{API}/audit/verify", headers=web.bearer("shen")).json()
    assert audit["intact"], audit


def base_body(web: Web, field: Field) -> Any:
    rule = RULES[field.method, field.path]
    return rule.body(web.world) if rule.body else {}


#: Operations after which the object the matrix points at has moved on (a second request
#: would meet another state): each case of theirs gets its own copy of the world.
def consumes(method: str, path: str) -> bool:
    rule = RULES[method, path]
    return rule.owner not in ("public", "self") and (method, path) not in {
        ("POST", "/applications"),
        ("PATCH", "/applications/{application_id}"),
        ("POST", "/plans/{plan_id}/reallocate"),
    }


# -- reading stored text back through the API -------------------------------------------------


def audit_rows(web: Web, object_type: str, object_id: object) -> list[dict[str, Any]]:
    response = web.client.get(
        f"{API}/audit",
        params={"object_type": object_type, "object_id": str(object_id), "limit": 500},
        headers=web.bearer("shen"),
    )
    rows: list[dict[str, Any]] = response.json()
    return rows


def application(web: Web, app_id: int) -> dict[str, Any]:
    found: dict[str, Any] = web.client.get(
        f"{API}/applications/{app_id}", headers=web.bearer("rui")
    ).json()
    return found


Reader = Callable[[Web, httpx.Response], Any]


def _org(key: str) -> Reader:
    def read(web: Web, response: httpx.Response) -> Any:
        orgs = web.client.get(
            f"{API}/organisations", params={"limit": 500}, headers=web.bearer("admin")
        ).json()
        return next(o[key] for o in orgs if o["id"] == response.json()["id"])

    return read


def _token_name(web: Web, response: httpx.Response) -> Any:
    token = response.json()["id"]
    return web.client.delete(f"{API}/tokens/{token}", headers=web.bearer("alice")).json()["name"]


def _return_reason(web: Web, response: httpx.Response) -> Any:
    return application(web, web.world.submitted_app)["return_reason"]


def _line_reason(web: Web, response: httpx.Response) -> Any:
    return application(web, web.world.submitted_app)["lines"][0]["reason"]


def _office_reason(web: Web, response: httpx.Response) -> Any:
    return audit_rows(web, "application_line", web.world.office_line)[-1]["reason"]


def _plan_title(web: Web, response: httpx.Response) -> Any:
    plan = web.client.get(f"{API}/plans/{response.json()['id']}", headers=web.bearer("dai"))
    return plan.json()["title"]


def _objection_text(web: Web, response: httpx.Response) -> Any:
    return audit_rows(web, "objection", response.json()["id"])[-1]["after"]["text"]


def _resolution(web: Web, response: httpx.Response) -> Any:
    return audit_rows(web, "objection", web.world.objection)[-1]["reason"]


def _review_reason(web: Web, response: httpx.Response) -> Any:
    plan = web.client.get(f"{API}/plans/{web.world.review_plan}", headers=web.bearer("dai"))
    return plan.json()["reviews"][-1][2]


def _reference(web: Web, response: httpx.Response) -> Any:
    return audit_rows(web, "plan_item", web.world.approved_item)[-1]["after"]["reference"]


def _applicant_name(web: Web, response: httpx.Response) -> Any:
    rows = audit_rows(web, "application", web.world.draft_app)
    return [r for r in rows if r["action"] == "application.update"][-1]["after"]["facts"][
        "applicant"
    ]["name"]


READ_BACK: dict[tuple[str, str, str], Reader] = {
    ("POST", "/organisations", "name"): _org("name"),
    ("POST", "/tokens", "name"): _token_name,
    ("POST", "/applications/{application_id}/return", "reason"): _return_reason,
    ("POST", "/applications/{application_id}/reject", "reason"): _line_reason,
    ("POST", "/applications/{application_id}/verify", "decisions.0.reason"): _line_reason,
    ("POST", "/lines/{line_id}/office-decision", "reason"): _office_reason,
    ("POST", "/plans", "title"): _plan_title,
    ("POST", "/plans/{plan_id}/objections", "text"): _objection_text,
    ("POST", "/objections/{objection_id}/resolve", "resolution"): _resolution,
    ("POST", "/plans/{plan_id}/review", "reason"): _review_reason,
    ("POST", "/plan-items/{item_id}/disbursements", "reference"): _reference,
    ("PATCH", "/applications/{application_id}", "facts.applicant.name"): _applicant_name,
}


def test_every_stored_text_with_a_reader_is_a_generated_field() -> None:
    generated = {(f.method, f.path, f.name) for f in FIELDS}
    assert set(READ_BACK) <= generated


# -- payloads in every text field -------------------------------------------------------------

CASES = [
    pytest.param(f, p, id=f"{f.method} {f.path} {f.name} {i}")
    for f in FIELDS
    if not f.in_facts
    for i, p in enumerate(PAYLOADS)
]


@pytest.mark.parametrize(("field", "payload"), CASES)
def test_a_payload_in_a_text_field_is_refused_or_stored_as_sent(
    make_web: MakeWeb, field: Field, payload: str
) -> None:
    web = make_web()
    response = send(web, field.method, field.path, put(base_body(web, field), field.at, payload))
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    reader = READ_BACK.get((field.method, field.path, field.name))
    if reader is not None:
        assert response.status_code < 300, response.text
        assert reader(web, response) == payload
    still_intact(web)


@pytest.fixture(scope="module")
def shared(
    sqlite_world: Template, tmp_path_factory: pytest.TempPathFactory, chenzhou: PolicyPackage
) -> Iterator[Web]:
    """One copy of the world for the facts cases (evaluating, drafting, changing a draft)."""
    root = tmp_path_factory.mktemp("injection")
    web = sqlite_copy(sqlite_world, root / "copy", chenzhou, MAX_UPLOAD)
    yield web
    close_web(web)


FACTS_CASES = [pytest.param(f, id=f"{f.method} {f.path} {f.name}") for f in FIELDS if f.in_facts]


@pytest.mark.parametrize("field", FACTS_CASES)
def test_payloads_in_the_facts_never_cause_a_server_error(shared: Web, field: Field) -> None:
    for payload in PAYLOADS:
        body = put(base_body(shared, field), field.at, payload)
        response = send(shared, field.method, field.path, body)
        assert response.status_code < 500, (payload, response.text)
        reader = READ_BACK.get((field.method, field.path, field.name))
        if reader is not None:
            assert response.status_code < 300, response.text
            assert reader(shared, response) == payload
    still_intact(shared)


# -- query and path parameters ------------------------------------------------------------------


def string_parameters() -> list[tuple[str, str, str, str]]:
    found = []
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                options = [schema, *schema.get("anyOf", [])]
                # Filters declared as enums are components: a text all the same.
                options += [
                    DOCUMENT["components"]["schemas"][s["$ref"].rsplit("/", 1)[1]]
                    for s in options
                    if "$ref" in s
                ]
                kinds = {s.get("type") for s in options}
                if "string" in kinds:
                    found.append(
                        (method.upper(), path.removeprefix(API), parameter["in"], parameter["name"])
                    )
    return found


PARAMETERS = string_parameters()

PARAMETER_CASES = [pytest.param(*p, id=f"{p[0]} {p[1]} {p[2]}:{p[3]}") for p in PARAMETERS]


def test_the_generated_parameters_include_the_list_filters() -> None:
    names = {(p[1], p[3]) for p in PARAMETERS}
    assert {("/applications", "state"), ("/plans", "state"), ("/organisations", "kind")} <= names
    assert ("/budgets/{division}/{year}", "division") in names


def send_parameter(
    web: Web, method: str, path: str, where: str, name: str, value: str
) -> httpx.Response:
    rule = RULES[method, path]
    params = rule.params(web.world)
    query = {}
    if where == "path":
        params[name] = quote(value, safe="")
    else:
        query[name] = value
    url = API + path.format(**params)
    body = rule.body(web.world) if rule.body else None
    headers = web.bearer(actor(rule, method) or "rui")
    response: httpx.Response = web.client.request(
        method, url, params=query, json=body, headers=headers
    )
    return response


@pytest.mark.parametrize(("method", "path", "where", "name"), PARAMETER_CASES)
def test_payloads_in_query_and_path_parameters_never_cause_a_server_error(
    web_any: Web, method: str, path: str, where: str, name: str
) -> None:
    for payload in PAYLOADS:
        response = send_parameter(web_any, method, path, where, name, payload)
        assert response.status_code < 500, (payload, response.text)
        assert response.status_code in (200, 404, 422) or method != "GET", response.text
    still_intact(web_any)


# -- on both databases: every payload at once, and every text at its longest --------------------


STORED = sorted(READ_BACK)


@pytest.mark.parametrize(("method", "path", "name"), STORED, ids=lambda v: str(v))
def test_all_payloads_at_once_read_back_byte_for_byte_on_both_databases(
    web_any: Web, method: str, path: str, name: str
) -> None:
    field = next(f for f in FIELDS if (f.method, f.path, f.name) == (method, path, name))
    response = send(web_any, method, path, put(base_body(web_any, field), field.at, ALL_IN_ONE))
    assert response.status_code < 300, response.text
    assert READ_BACK[method, path, name](web_any, response) == ALL_IN_ONE
    still_intact(web_any)


def longest(field: Field) -> str:
    """The longest text the field takes: Chinese (three bytes a character in UTF-8)."""
    limit = field.schema.get("maxLength") or 5000
    return ("惠企'\"<>;" * limit)[:limit]


OPERATIONS = sorted({(f.method, f.path) for f in FIELDS if f.free_text})


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=lambda v: str(v))
def test_every_text_at_its_longest_is_stored_on_both_databases(
    web_any: Web, method: str, path: str
) -> None:
    fields = [f for f in FIELDS if (f.method, f.path) == (method, path) and f.free_text]
    body = base_body(web_any, fields[0])
    for field in fields:
        body = put(body, field.at, longest(field))
    response = send(web_any, method, path, body)
    assert response.status_code < 300, response.text
    for field in fields:
        reader = READ_BACK.get((method, path, field.name))
        if reader is not None:
            assert reader(web_any, response) == longest(field), field.name
    still_intact(web_any)


LONGEST_DIVISION = ("郴州高新技术产业开发区" * 10)[:100]  # the longest the route allows


def with_longest_division(web: Web) -> None:
    """A package whose list of paying divisions names one as long as the route allows."""
    package = web.svc.package
    longest = Division(id="longest", zh=LONGEST_DIVISION, en="the longest name")
    policy = package.policy.model_copy(update={"divisions": [*package.policy.divisions, longest]})
    web.svc.package = package.model_copy(update={"policy": policy})


def test_a_division_outside_the_packages_list_is_refused_naming_it(web: Web) -> None:
    org = {"credit_code": "91431000MA4T3C6F8E", "name": "x", "kind": "park", "division": "北湖"}
    response = web.client.post(f"{API}/organisations", json=org, headers=web.bearer("admin"))
    assert response.status_code == 422, response.text
    assert "北湖" in response.text and "division" in response.text
    response = put_budget(web, "北湖")
    assert response.status_code == 422, response.text
    assert "北湖" in response.text and "division" in response.text


def put_budget(web: Web, division: str) -> httpx.Response:
    with_longest_division(web)
    response: httpx.Response = web.client.put(
        f"{API}/budgets/{quote(division, safe='')}/2025",
        json={"amount_fen": 100},
        headers=web.bearer("fang"),
    )
    return response


def test_a_budget_for_a_division_name_of_the_longest_allowed_length_is_stored(
    web_any: Web,
) -> None:
    """The audit trail names the budget "<division>/<year>": that must fit as well."""
    response = put_budget(web_any, LONGEST_DIVISION)
    assert response.status_code == 200, response.text
    assert response.json()["division"] == LONGEST_DIVISION
    still_intact(web_any)


def test_the_audit_entries_of_a_budget_with_the_longest_division_can_be_looked_up(
    web: Web,
) -> None:
    assert put_budget(web, LONGEST_DIVISION).status_code == 200
    response = web.client.get(
        f"{API}/audit",
        params={"object_type": "budget", "object_id": f"{LONGEST_DIVISION}/2025"},
        headers=web.bearer("shen"),
    )
    assert response.status_code == 200, response.text
    assert [r["after"] for r in response.json()] == [{"amount_fen": 100}]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_a_nul_escaped_in_the_calculators_json_is_refused_in_any_encoding(
    web: Web, encoding: str
) -> None:
    facts = web.world.facts()
    facts["applicant"]["name"] = "甲公司\x00"
    raw = json.dumps(facts, ensure_ascii=False).encode(encoding)
    response = web.client.post(
        f"{API}/evaluate", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["errors"][0]["en"]
