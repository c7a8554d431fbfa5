"""Input that must never be a 5xx, and anonymous requests that must not stall the server.

Money sent as a JSON number with decimals is taken exactly as its decimal text; NaN and
Infinity are refused naming the field; a lone surrogate (``"\\ud800"``) anywhere is a 422
naming where, never a 500; every list of the facts has a bound; a body over the cap is
refused 413 before it is read to the end; an anonymous upload is refused unread;
anonymous evaluations and objections are rate-limited per address (429, Retry-After);
an evaluation runs off the event loop, so ``/health`` answers meanwhile.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from huiqi.credit_code import complete
from huiqi.db.tables import Application
from huiqi.facts import facts_json_schema
from huiqi.facts.model import MAX_ITEMS
from huiqi.web.app import create_app

from .conftest import API, Web, assert_problem

JSON = {"content-type": "application/json"}
CODE = complete("91431000MA0000000")


def raw_json(template: dict[str, Any], raw: str) -> bytes:
    """``template`` as JSON with the string ``"@@"`` replaced by ``raw`` (a JSON token
    that a Python value cannot spell: ``268500.5`` as typed, ``NaN``, ``"\\ud800"``)."""
    return json.dumps(template, ensure_ascii=False).replace('"@@"', raw).encode("utf-8")


def calculator_facts(**extra: Any) -> dict[str, Any]:
    applicant = {"credit_code": CODE, "name": "甲公司", "kind": "cbec_enterprise"}
    return {"award_year": 2025, "applicant": applicant, **extra}


def stored_facts(web: Web, application_id: int) -> dict[str, Any]:
    with web.svc.reading() as s:
        facts = s.scalar(select(Application.facts).where(Application.id == application_id))
    assert facts is not None
    return dict(facts)


# -- decimals as JSON numbers ------------------------------------------------------------------


def test_a_json_number_with_decimals_is_taken_exactly_on_post_and_patch(web_any: Web) -> None:
    web, world = web_any, web_any.world
    facts = world.facts(trade={"export_usd": "@@"}, staff_training={"costs_cny": "@@"})
    body = {"org_code": world.org_a_code, "award_year": 2025, "clauses": ["7.1"], "facts": facts}
    headers = {**web.bearer("alice"), **JSON}
    created = web.client.post(
        f"{API}/applications", content=raw_json(body, "268500.5"), headers=headers
    )
    assert created.status_code == 201, created.text
    stored = stored_facts(web, created.json()["id"])
    assert stored["trade"] == {"export_usd": "268500.5"}
    assert stored["staff_training"] == {"costs_cny": "268500.5"}

    changed = web.client.patch(
        f"{API}/applications/{world.draft_app}",
        content=raw_json({"facts": world.facts(trade={"export_usd": "@@"})}, "1234567.89"),
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert stored_facts(web, world.draft_app)["trade"] == {"export_usd": "1234567.89"}


def test_a_json_number_is_never_rounded_through_a_binary_float(web: Web) -> None:
    """0.10000000000000001 is 0.1 as a float: read exactly it has more than two decimals."""
    facts = web.world.facts(trade={"export_usd": "@@"})
    response = web.client.patch(
        f"{API}/applications/{web.world.draft_app}",
        content=raw_json({"facts": facts}, "50000.10000000000000001"),
        headers={**web.bearer("alice"), **JSON},
    )
    problem = assert_problem(response)
    assert response.status_code == 422
    assert "$.trade.export_usd" in [e["field"] for e in problem["errors"]]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_naming_the_field(web: Web, token: str) -> None:
    body = raw_json(calculator_facts(trade={"export_usd": "@@"}), token)
    response = web.client.post(f"{API}/evaluate", content=body, headers=JSON)
    problem = assert_problem(response)
    assert response.status_code == 422
    fields = {e["field"]: e for e in problem["errors"]}
    assert "$.trade.export_usd" in fields
    assert fields["$.trade.export_usd"]["value"] == token


# -- lone surrogates -----------------------------------------------------------------------------


def _surrogate_requests(web: Web) -> list[tuple[str, str, dict[str, Any], str, dict[str, str]]]:
    """(method, path, body with "@@" where the surrogate goes, the field named, headers)."""
    world = web.world
    admin, alice = web.bearer("admin"), web.bearer("alice")
    org = {"credit_code": world.org_b_code, "name": "@@", "kind": "park", "division": "北湖区"}
    app_body = {
        "org_code": world.org_a_code,
        "award_year": 2025,
        "clauses": ["7.1"],
        "facts": world.facts(applicant={"credit_code": world.org_a_code, "name": "@@"}),
    }
    return [
        ("POST", "/auth/login", {"username": "@@", "password": "x"}, "$.username", {}),
        ("POST", "/evaluate", calculator_facts(trade={"export_cny": "@@"}), "export_cny", {}),
        ("POST", "/applications", app_body, "$.facts.applicant.name", alice),
        (
            "POST",
            f"/plans/{world.notice_plan}/objections",
            {"submitted_by": "市民", "text": "@@"},
            "$.text",
            {},
        ),
        ("POST", "/organisations", org, "$.name", admin),
    ]


@pytest.mark.parametrize("surrogate", ['"\\ud800"', '"前\\udfff后"', '"\\udc00\\ud800"'])
def test_a_lone_surrogate_is_a_422_naming_the_field_wherever_it_is(
    web: Web, surrogate: str
) -> None:
    for method, path, body, field, headers in _surrogate_requests(web):
        response = web.client.request(
            method, f"{API}{path}", content=raw_json(body, surrogate), headers={**headers, **JSON}
        )
        problem = assert_problem(response)
        assert response.status_code == 422, (path, response.text)
        assert any(field in e["field"] for e in problem["errors"]), (path, problem)


def test_a_surrogate_pair_is_ordinary_text(web: Web) -> None:
    body = raw_json(calculator_facts(applicant={"name": "@@"}), '"\\ud83d\\ude00"')
    # (the applicant is only a name here: refused for its missing fields, not its text)
    response = web.client.post(f"{API}/evaluate", content=body, headers=JSON)
    problem = assert_problem(response)
    assert "😀" not in json.dumps(problem["errors"])  # nothing said about the name
    assert all("name" not in e["field"] for e in problem["errors"])


def test_a_surrogate_in_a_key_is_named_without_breaking_the_problem(web: Web) -> None:
    body = b'{"applicant": {}, "\\ud800x": 1}'
    response = web.client.post(f"{API}/evaluate", content=body, headers=JSON)
    problem = assert_problem(response)
    assert response.status_code == 422
    assert "\\ud800x" in json.dumps(problem["errors"])


def test_the_calculator_page_with_a_surrogate_in_its_carried_facts_is_no_error(web: Web) -> None:
    """The result page's hidden field carries the facts as JSON; an escape in it must not
    reach a page (which could not be written as UTF-8)."""
    carried = '{"applicant": {"name": "\\ud800"}, "trade": {"export_usd": NaN}}'
    form = {
        "year": "2025",
        "kind": "cbec_enterprise",
        "clause": "all",
        "_action": "edit",
        "facts_json": carried,
    }
    response = web.client.post("/calculator/result", data=form)
    assert response.status_code < 500, response.text[:500]
    assert "\ud800" not in response.text


# -- a fuzz test over these classes --------------------------------------------------------------

#: JSON tokens of each class the server once failed on, and their harmless neighbours.
TOKENS = st.one_of(
    st.integers(0, 20)
    .flatmap(lambda places: st.decimals(allow_nan=False, allow_infinity=False, places=places))
    .map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(
        ["NaN", "Infinity", "-Infinity", "1e400", "-0.0", "1E-7", "12345678901234.567"]
    ),
    st.sampled_from(['"\\ud800"', '"\\udfff"', '"a\\ud83d"', '"\\ude00b"', '"\\ud83d\\ude00"']),
    st.text(max_size=5).map(lambda t: json.dumps(t)),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(token=TOKENS, which=st.integers(0, 6), where=st.integers(0, 3))
def test_fuzz_no_input_of_these_classes_is_a_server_error(
    web: Web, token: str, which: int, where: int
) -> None:
    world = web.world
    places: list[dict[str, Any]] = [
        {"trade": {"export_usd": "@@"}},
        {"staff_training": {"costs_cny": "@@"}},
        {"stores": [{"id": "@@", "kind": "community", "area_m2": "@@"}]},
        {"loans": [{"id": "L1", "principal_cny": "@@", "drawdown_date": "2025-01-01"}]},
    ]
    facts = world.facts(**places[where])
    draft = {"org_code": world.org_a_code, "award_year": "@@", "clauses": ["7.1"], "facts": facts}
    requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        ("POST", "/evaluate", calculator_facts(**places[where]), {}),
        ("POST", "/applications", draft, web.bearer("alice")),
        ("PATCH", f"/applications/{world.draft_app}", {"facts": facts}, web.bearer("alice")),
        ("POST", "/auth/login", {"username": "@@", "password": "@@"}, {}),
        (
            "POST",
            f"/plans/{world.notice_plan}/objections",
            {"submitted_by": "@@", "text": "@@"},
            {},
        ),
        (
            "POST",
            "/organisations",
            {"credit_code": "@@", "name": "@@", "kind": "park", "division": "@@"},
            web.bearer("admin"),
        ),
        (
            "POST",
            f"/plan-items/{world.approved_item}/disbursements",
            {"amount_fen": "@@", "paid_on": "2026-03-01", "reference": "@@"},
            web.bearer("fang"),
        ),
    ]
    method, path, body, headers = requests[which]
    response = web.client.request(
        method, f"{API}{path}", content=raw_json(body, token), headers={**headers, **JSON}
    )
    assert response.status_code < 500, (method, path, token, response.text[:500])
    if response.status_code >= 400:
        assert_problem(response)


# -- bounded lists -------------------------------------------------------------------------------


def test_every_list_of_the_facts_schema_has_a_documented_bound() -> None:
    properties = facts_json_schema()["properties"]
    lists = {name for name, p in properties.items() if p.get("type") == "array"}
    assert lists == set(MAX_ITEMS)
    for name in lists:
        assert properties[name]["maxItems"] == MAX_ITEMS[name], name


def test_facts_with_more_stores_than_the_bound_are_refused_at_once(web: Web) -> None:
    stores = [{"id": f"S{i}", "kind": "community"} for i in range(MAX_ITEMS["stores"] + 1)]
    started = time.perf_counter()
    response = web.client.post(f"{API}/evaluate", json=calculator_facts(stores=stores))
    elapsed = time.perf_counter() - started
    problem = assert_problem(response)
    assert response.status_code == 422
    assert "$.stores" in [e["field"] for e in problem["errors"]]
    assert elapsed < 2, elapsed


def test_facts_with_as_many_stores_as_the_bound_are_evaluated(web: Web) -> None:
    stores = [{"id": f"S{i}", "kind": "community"} for i in range(MAX_ITEMS["stores"])]
    response = web.client.post(f"{API}/evaluate", json=calculator_facts(stores=stores))
    assert response.status_code == 200, response.text[:500]


# -- body caps, read before parsing --------------------------------------------------------------


def asgi_post(
    app: Any, path: str, chunks: Iterator[bytes], headers: dict[str, str]
) -> tuple[int, int]:
    """POST ``chunks`` to ``app`` as a streamed body, straight over ASGI (the test client
    reads a whole body before it starts); returns the status and how many chunks the app
    asked for before it answered."""
    pulled = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if status:
            return {"type": "http.disconnect"}
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.9", 50000),
        "server": ("testserver", 80),
    }
    # On a thread of its own: a browser test run earlier in this process (pytest-xdist mixes
    # the files) may have left an event loop running on this one.
    with ThreadPoolExecutor(1) as runner:
        runner.submit(anyio.run, app, scope, receive, send).result()
    return status, pulled


MiB = 1024 * 1024


def megabytes(count: int) -> Iterator[bytes]:
    return (b" " * MiB for _ in range(count))


def test_a_json_body_over_the_cap_is_refused_413_before_it_is_read(web: Web) -> None:
    started = time.perf_counter()
    length = {"content-length": str(50 * MiB), **JSON}
    status, pulled = asgi_post(web.app, f"{API}/evaluate", megabytes(50), length)
    assert (status, pulled) == (413, 0)
    # Without a length: as soon as the bytes received pass the cap.
    status, pulled = asgi_post(web.app, f"{API}/evaluate", megabytes(50), JSON)
    assert status == 413
    assert pulled <= web.settings.max_body_bytes // MiB + 1
    assert time.perf_counter() - started < 5


def test_a_body_over_the_cap_is_refused_with_a_problem_in_both_languages(web: Web) -> None:
    body = b" " * (web.settings.max_body_bytes + 1)
    response = web.client.post(f"{API}/evaluate", content=body, headers=JSON)
    problem = assert_problem(response)
    assert response.status_code == 413
    assert str(web.settings.max_body_bytes) in problem["en"]


@pytest.mark.parametrize("declared", [True, False])
def test_an_anonymous_large_upload_is_refused_unread(web: Web, declared: bool) -> None:
    """300 MB to the upload endpoint without signing in: refused before the body is read
    (today's 28 seconds of parsing before the 401)."""
    headers = {"content-type": "multipart/form-data; boundary=x"}
    if declared:
        headers["content-length"] = str(300 * MiB)
    path = f"{API}/applications/{web.world.draft_app}/attachments"
    started = time.perf_counter()
    status, pulled = asgi_post(web.app, path, megabytes(300), headers)
    assert status in (401, 413)
    assert pulled <= 1
    assert time.perf_counter() - started < 5


def test_a_signed_in_upload_over_the_cap_is_refused_413(web: Web) -> None:
    headers = {
        "content-type": "multipart/form-data; boundary=x",
        "content-length": str(300 * MiB),
        **web.bearer("alice"),
    }
    path = f"{API}/applications/{web.world.draft_app}/attachments"
    status, pulled = asgi_post(web.app, path, megabytes(300), headers)
    assert (status, pulled) == (413, 0)


def test_an_upload_may_be_larger_than_the_json_cap(web: Web) -> None:
    """Uploads have their own cap (the attachment size setting), above the JSON one."""
    content = b"%PDF-1.4\n" + b"0" * (web.settings.max_body_bytes + 1000) + b"\n%%EOF\n"
    response = web.client.post(
        f"{API}/applications/{web.world.draft_app}/attachments",
        files={"file": ("big.pdf", content, "application/pdf")},
        headers=web.bearer("alice"),
    )
    assert response.status_code != 413, response.text


# -- rate limits on anonymous requests ---------------------------------------------------------


def limited_app(web: Web, **rates: str) -> TestClient:
    settings = web.settings.model_copy(update=rates)
    return TestClient(create_app(settings, services=web.svc), raise_server_exceptions=False)


def test_anonymous_evaluations_past_the_limit_are_429_with_retry_after(web: Web) -> None:
    client = limited_app(web, anonymous_evaluate_rate="3/minute")
    facts = calculator_facts()
    answers = [client.post(f"{API}/evaluate", json=facts) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    for lang in ("zh", "en"):
        refused = client.post(f"{API}/evaluate", json=facts, headers={"Accept-Language": lang})
        assert refused.status_code == 429
        assert_problem(refused, lang)
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Signed-in users are not counted against the anonymous limit.
    staff = [
        client.post(f"{API}/evaluate", json=facts, headers=web.bearer("rui")) for _ in range(4)
    ]
    assert [a.status_code for a in staff] == [200] * 4


def test_the_calculator_page_is_limited_like_the_api(web: Web) -> None:
    client = limited_app(web, anonymous_evaluate_rate="1/minute")
    form = {"year": "2025", "kind": "cbec_enterprise", "clause": "all"}
    assert client.post("/calculator/result", data=form).status_code != 429
    refused = client.post("/calculator/result", data=form)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert int(refused.headers["Retry-After"]) >= 1


def test_anonymous_objections_past_the_limit_are_429_on_the_api_and_the_page(web: Web) -> None:
    client = limited_app(web, anonymous_objection_rate="2/minute")
    plan = web.world.notice_plan
    body = {"submitted_by": "市民", "text": "金额有误"}
    answers = [client.post(f"{API}/plans/{plan}/objections", json=body) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert_problem(answers[-1])
    assert int(answers[-1].headers["Retry-After"]) >= 1
    page = client.post(f"/notices/{plan}/objections", data=body, follow_redirects=False)
    assert page.status_code == 429
    assert "Retry-After" in page.headers


def test_the_limits_are_per_client_address(web: Web) -> None:
    client = limited_app(web, anonymous_evaluate_rate="1/minute")
    facts = raw_json(calculator_facts(), '""')
    path = f"{API}/evaluate"
    assert client.post(path, content=facts, headers=JSON).status_code == 200
    assert client.post(path, content=facts, headers=JSON).status_code == 429
    status, _ = asgi_post(client.app, path, iter([facts]), JSON)  # another address
    assert status == 200


# -- the event loop stays free -------------------------------------------------------------------


def test_health_answers_while_an_evaluation_runs(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from huiqi.engine import evaluate as real

    started, release = threading.Event(), threading.Event()

    def slow_evaluate(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(timeout=10)  # a long evaluation, until the test has asked /health
        return real(*args, **kwargs)

    monkeypatch.setattr("huiqi.web.routes.public.evaluate", slow_evaluate)
    with TestClient(web.app, raise_server_exceptions=False) as client:  # one event loop
        results: dict[str, Any] = {}

        def evaluate() -> None:
            results["evaluate"] = client.post(f"{API}/evaluate", json=calculator_facts())

        def health() -> None:
            results["health"] = client.get(f"{API}/health")

        worker = threading.Thread(target=evaluate)
        worker.start()
        assert started.wait(timeout=10)
        asking = threading.Thread(target=health)
        asking.start()
        asking.join(timeout=3)
        answered = not asking.is_alive()
        release.set()
        worker.join(timeout=20)
        asking.join(timeout=20)
    assert answered, "/health did not answer while an evaluation ran"
    assert results["health"].status_code == 200
    assert results["evaluate"].status_code == 200
