"""One error format: every refusal is an RFC 9457 problem with Chinese and English, Chinese by
default and English when asked; a 422 names each bad field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.types import Message, Scope

from huiqi.config import Settings

from .conftest import API, PASSWORD, Web, assert_problem

Send = Callable[[Web, dict[str, str]], httpx.Response]


def _throttled(web: Web, headers: dict[str, str]) -> httpx.Response:
    for _ in range(5):
        web.client.post(f"{API}/auth/login", json={"username": "alice", "password": "x"})
    response: httpx.Response = web.client.post(
        f"{API}/auth/login", json={"username": "alice", "password": PASSWORD}, headers=headers
    )
    return response


def _csrf_missing(web: Web, headers: dict[str, str]) -> httpx.Response:
    web.login(web.client, "alice")
    response: httpx.Response = web.client.post(f"{API}/tokens", json={"name": "x"}, headers=headers)
    return response


def _as(
    user: str | None, method: str, path: str, extra: dict[str, str] | None = None, **kwargs: Any
) -> Send:
    def send(web: Web, headers: dict[str, str]) -> httpx.Response:
        url = API + path.format(w=web.world)
        sent = {**web.bearer(user), **(extra or {}), **headers}
        response: httpx.Response = web.client.request(method, url, headers=sent, **kwargs)
        return response

    return send


REFUSALS: dict[str, tuple[int, Send]] = {
    "not signed in": (401, _as(None, "GET", "/applications")),
    "forged bearer token": (
        401,
        lambda web, h: web.client.get(
            f"{API}/auth/me", headers={"Authorization": "Bearer hq_nope", **h}
        ),
    ),
    "wrong password": (
        401,
        _as(None, "POST", "/auth/login", json={"username": "alice", "password": "wrong"}),
    ),
    "role not allowed": (
        403,
        _as("charlie", "POST", "/plans", json={"award_year": 2025, "title": "x"}),
    ),
    "missing CSRF token": (403, _csrf_missing),
    "another organisation's application": (
        404,
        _as("charlie", "GET", "/applications/{w.draft_app}"),
    ),
    "no such application": (404, _as("rui", "GET", "/applications/999999")),
    "no such clause": (404, _as(None, "GET", "/clauses/9.9")),
    "no such route": (404, _as(None, "GET", "/no-such-thing")),
    "method not allowed": (405, _as(None, "DELETE", "/health")),
    "wrong state": (409, _as("alice", "POST", "/applications/{w.submitted_app}/submit")),
    "missing field": (422, _as("alice", "POST", "/tokens", json={})),
    "malformed JSON": (
        422,
        _as(
            "alice",
            "POST",
            "/tokens",
            {"Content-Type": "application/json"},
            content=b"{not json",
        ),
    ),
    "NUL in the path": (422, _as("rui", "GET", "/applications/1%00")),
    "query out of range": (422, _as("rui", "GET", "/applications?limit=0")),
    "too many sign-ins": (429, _throttled),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refusal_is_a_problem_in_chinese_by_default(web: Web, case: str) -> None:
    status, send = REFUSALS[case]
    response = send(web, {})
    assert response.status_code == status, response.text
    assert_problem(response, "zh")


@pytest.mark.parametrize("case", list(REFUSALS))
@pytest.mark.parametrize("accept", ["en", "en-GB,en;q=0.9,zh-CN;q=0.5"])
def test_a_refusal_is_in_english_when_asked(web: Web, case: str, accept: str) -> None:
    status, send = REFUSALS[case]
    response = send(web, {"Accept-Language": accept})
    assert response.status_code == status, response.text
    problem = assert_problem(response, "en")
    assert problem["detail"] == problem["en"] != problem["zh"]


@pytest.mark.parametrize("accept", ["zh-CN,zh;q=0.9,en;q=0.8", "zh", "fr-FR", "", "*"])
def test_chinese_is_the_answer_unless_english_comes_first(web: Web, accept: str) -> None:
    response = web.client.get(f"{API}/applications", headers={"Accept-Language": accept})
    assert response.status_code == 401, response.text
    assert_problem(response, "zh")


def test_the_problem_type_and_instance_identify_the_refusal(web: Web) -> None:
    response = web.client.get(f"{API}/applications/999999", headers=web.bearer("rui"))
    assert response.status_code == 404, response.text
    problem = assert_problem(response)
    assert problem["type"] == "urn:huiqi:problem:404"
    assert problem["instance"] == f"{API}/applications/999999"


# -- a 422 names the field -----------------------------------------------------------------------


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    problem = assert_problem(response)
    for error in problem["errors"]:
        assert error["zh"] and error["en"]
    return [str(e["field"]) for e in problem["errors"]]


def test_a_missing_field_is_named(web: Web) -> None:
    body = {"org_code": web.world.org_a_code, "clauses": ["7.1"], "facts": web.world.facts()}
    response = web.client.post(f"{API}/applications", json=body, headers=web.bearer("alice"))
    assert [f for f in fields(response) if f.endswith("award_year")]
    error = response.json()["errors"][0]
    assert error["zh"] == "缺少必填字段"


def test_an_unknown_field_is_named(web: Web) -> None:
    response = web.client.post(
        f"{API}/tokens", json={"name": "x", "admin": True}, headers=web.bearer("alice")
    )
    assert [f for f in fields(response) if f.endswith("admin")]


def test_a_wrong_type_in_a_nested_list_is_named_with_its_place(web: Web) -> None:
    body = {"decisions": [{"clause": "7.1", "subject": "x", "approve": "perhaps"}]}
    response = web.client.post(
        f"{API}/applications/{web.world.submitted_app}/verify", json=body, headers=web.bearer("rui")
    )
    assert "body:$.decisions[0].approve" in fields(response)


def test_a_bad_query_parameter_is_named(web: Web) -> None:
    response = web.client.get(f"{API}/ledger?year=abc", headers=web.bearer("rui"))
    assert [f for f in fields(response) if f.startswith("query") and f.endswith("year")]


def test_a_bad_fact_in_an_application_is_named_by_its_path(web: Web) -> None:
    body = {
        "org_code": web.world.org_a_code,
        "award_year": 2025,
        "clauses": ["7.1"],
        "facts": web.world.facts(trade={"export_usd": "many"}),
    }
    response = web.client.post(f"{API}/applications", json=body, headers=web.bearer("alice"))
    assert [f for f in fields(response) if "trade" in f and "export_usd" in f]


def test_an_unknown_clause_is_named(web: Web) -> None:
    body = {
        "org_code": web.world.org_a_code,
        "award_year": 2025,
        "clauses": ["9.9"],
        "facts": web.world.facts(),
    }
    response = web.client.post(f"{API}/applications", json=body, headers=web.bearer("alice"))
    assert "clauses" in fields(response)


def test_a_bad_fact_in_the_public_calculator_is_named(web: Web) -> None:
    facts = {**web.world.facts(trade={"export_usd": "-5"}), "award_year": 2025}
    response = web.client.post(f"{API}/evaluate", json=facts)
    assert [f for f in fields(response) if "export_usd" in f]


def test_a_decision_for_a_line_the_application_lacks_is_named(web: Web) -> None:
    body = {"decisions": [{"clause": "4.1a", "subject": "nobody", "approve": True}]}
    response = web.client.post(
        f"{API}/applications/{web.world.submitted_app}/verify", json=body, headers=web.bearer("rui")
    )
    named = fields(response)
    assert "decisions[4.1a/nobody]" in named
    assert [f for f in named if f.startswith("decisions[7.1/")]  # the line left undecided


def test_an_unexpected_error_is_a_plain_500_problem_without_a_trace(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huiqi.service import queries

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals: /srv/huiqi/db password=hunter2")

    monkeypatch.setattr(queries, "summary", broken)
    response = web.client.get(f"{API}/reports/summary", headers=web.bearer("rui"))
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 500 and problem["zh"] and problem["en"]
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "RuntimeError" not in response.text


def test_the_document_declares_every_refusal_as_a_problem() -> None:
    """No operation advertises FastAPI's own validation schema: what the API sends is a
    problem; signed-in operations name their refusals and how to sign in."""
    from huiqi.web.app import create_app

    document = create_app(Settings(database_url="sqlite://")).openapi()
    assert "HTTPValidationError" not in str(document)
    assert set(document["components"]["securitySchemes"]) == {"bearer", "session"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            refusals = {c: r for c, r in operation["responses"].items() if c.startswith("4")}
            assert "422" in refusals, (method, path)
            for response in refusals.values():
                assert list(response["content"]) == ["application/problem+json"], (method, path)
            if "security" in operation and {} not in operation["security"]:
                assert {"401", "403"} <= set(refusals), (method, path)
    submit = document["paths"]["/api/v1/applications/{application_id}/submit"]["post"]
    assert {"401", "403", "404", "409", "422"} <= set(submit["responses"])
    assert "security" not in document["paths"]["/api/v1/evaluate"]["post"]


def test_a_client_that_hangs_up_mid_body_is_not_logged_as_a_server_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio
    import logging
    import threading

    from huiqi.web.app import create_app

    app = create_app(Settings(database_url="sqlite://"))
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"applicant": {', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{API}/evaluate",
        "raw_path": f"{API}/evaluate".encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "root_path": "",
    }
    with caplog.at_level(logging.INFO, logger="huiqi.web"):
        # On a thread of its own: another test's browser may have left an event loop here.
        runner = threading.Thread(target=lambda: asyncio.run(app(scope, receive, send)))
        runner.start()
        runner.join()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("disconnected" in r.getMessage() for r in caplog.records)
    assert sent and sent[0]["status"] == 400
