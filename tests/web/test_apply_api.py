"""POST /applications with ``submit``: a machine client applies in one request."""

from __future__ import annotations

from typing import Any

from .conftest import API, Web


def _body(web: Web, **extra: Any) -> dict[str, Any]:
    return {
        "org_code": web.world.org_a_code,
        "award_year": 2024,
        "clauses": ["4.1a", "7.1"],
        "facts": web.world.facts(staff_training={"costs_cny": "8000"}),
        **extra,
    }


def test_submit_true_answers_a_submitted_application_with_its_lines(web: Web) -> None:
    response = web.client.post(
        f"{API}/applications", json=_body(web, submit=True), headers=web.bearer("alice")
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["state"] == "submitted"
    assert {ln["clause_id"] for ln in made["lines"]} == {"4.1a", "7.1"}
    again = web.client.get(f"{API}/applications/{made['id']}", headers=web.bearer("rui"))
    assert again.json()["state"] == "submitted"


def test_without_submit_it_is_a_draft_as_before(web: Web) -> None:
    response = web.client.post(f"{API}/applications", json=_body(web), headers=web.bearer("alice"))
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "draft"


def test_submit_must_be_a_boolean(web: Web) -> None:
    response = web.client.post(
        f"{API}/applications", json=_body(web, submit="soon"), headers=web.bearer("alice")
    )
    assert response.status_code == 422
    assert any(e["field"].endswith("submit") for e in response.json()["errors"]), response.text


def test_a_second_claim_of_the_same_is_refused_with_409_naming_the_first(web: Web) -> None:
    first = web.client.post(
        f"{API}/applications", json=_body(web, submit=True), headers=web.bearer("alice")
    )
    assert first.status_code == 201, first.text
    number = first.json()["id"]
    second = web.client.post(
        f"{API}/applications", json=_body(web, submit=True), headers=web.bearer("alice")
    )
    assert second.status_code == 409, second.text
    problem = second.json()
    assert f"#{number}" in problem["zh"] and f"#{number}" in problem["en"]
    assert {e["value"] for e in problem["errors"]} == {"4.1a", "7.1"}
    # Rejected, the first is no longer open: a new claim goes in, and its reviewer sees the first.
    reject = web.client.post(
        f"{API}/applications/{number}/reject",
        json={"reason": "出口数据不实"},
        headers=web.bearer("rui"),
    )
    assert reject.status_code == 200, reject.text
    third = web.client.post(
        f"{API}/applications", json=_body(web, submit=True), headers=web.bearer("alice")
    )
    assert third.status_code == 201, third.text
    seen = web.client.get(f"{API}/applications/{third.json()['id']}", headers=web.bearer("rui"))
    others = seen.json()["other_claims"]
    paid = web.world.demo_ids["exporter_2024"]  # the demo's 2024 application, paid: settled
    assert {(c["application_id"], c["state"], c["open"]) for c in others} == {
        (number, "rejected", False),
        (paid, "verified", False),
    }
