"""What the OpenAPI document promises is what the server does (issue 17): strict types in
request bodies, every answer a route can give declared, and a 405 that names every method
its path allows. The schemathesis run (tests/web_schema) checks the same over generated
requests; these are the cases it once found, kept as plain examples."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import API, Web, assert_problem


@pytest.mark.parametrize(
    ("value", "kind"),
    [(0, "bool_type"), (1, "bool_type"), ("false", "bool_type"), (None, "bool_type")],
)
def test_a_boolean_is_true_or_false_never_a_number_or_text(web: Web, value: Any, kind: str) -> None:
    response = web.client.post(
        f"{API}/objections/{web.world.objection}/resolve",
        json={"uphold": value, "resolution": "经核实无误"},
        headers=web.bearer("dai"),
    )
    assert response.status_code == 422, response.text
    errors = assert_problem(response)["errors"]
    assert [e["field"] for e in errors] == ["body:$.uphold"]
    assert errors[0]["zh"] == "应为 true 或 false"


@pytest.mark.parametrize("days", ["5", True, 5.5, "NaN"])
def test_an_integer_is_a_json_integer_never_text_or_a_boolean(web: Web, days: Any) -> None:
    response = web.client.post(
        f"{API}/plans/{web.world.draft_plan}/notice", json={"days": days}, headers=web.bearer("dai")
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in assert_problem(response)["errors"]] == ["body:$.days"]


def test_a_whole_number_written_with_a_point_is_an_integer(web: Web) -> None:
    """JSON has one kind of number, and JSON Schema reads 5.0 as the integer 5."""
    response = web.client.post(
        f"{API}/plans/{web.world.draft_plan}/notice",
        content=b'{"days": 20.0}',
        headers={**web.bearer("dai"), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/applications", "GET, POST"),
        ("PUT", "/organisations", "GET, POST"),
        ("PUT", "/users", "GET, POST"),
        ("DELETE", "/applications/1", "GET, PATCH"),
        ("GET", "/auth/login", "POST"),
        ("POST", "/plans/1", "GET"),
    ],
)
def test_a_405_names_every_method_the_path_allows(
    web: Web, method: str, path: str, allowed: str
) -> None:
    response = web.client.request(method, f"{API}{path}", headers=web.bearer("admin"))
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert_problem(response)


def _responses(web: Web, method: str, path: str) -> set[str]:
    document = web.client.get("/api/openapi.json").json()
    return set(document["paths"][f"{API}{path}"][method]["responses"])


def test_the_document_declares_what_the_routes_answer(web: Web) -> None:
    assert {"400", "413", "422"} <= _responses(web, "post", "/applications")
    assert "401" in _responses(web, "post", "/auth/login")  # wrong user name or password
    assert "409" in _responses(web, "post", "/plans/{plan_id}/objections")  # not under notice
    assert "400" not in _responses(web, "get", "/applications")  # no body, nothing to misread


def test_filters_are_declared_as_the_values_they_take(web: Web) -> None:
    document = web.client.get("/api/openapi.json").json()
    parameters = document["paths"][f"{API}/plans"]["get"]["parameters"]
    (state,) = [p for p in parameters if p["name"] == "state"]
    assert {"$ref": "#/components/schemas/PlanState"} in state["schema"]["anyOf"]
    assert "notice" in document["components"]["schemas"]["PlanState"]["enum"]
    response = web.client.get(f"{API}/plans?state=nonsense", headers=web.bearer("dai"))
    assert response.status_code == 422
    assert [e["field"] for e in assert_problem(response)["errors"]] == ["query:$.state"]
