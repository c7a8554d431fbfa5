"""Schemathesis over the OpenAPI document, every check: the document is what the server does.

Every operation of ``/api/openapi.json`` is called with generated requests — valid ones
and deliberately invalid ones — anonymously and with a bearer token of each role in turn
(the demo's exporter, and a demo user of each staff role), against the demo year loaded
into SQLite. Every schemathesis check must pass: no server error; every status, content
type, header and body as declared; valid requests accepted and invalid ones refused;
``Allow`` on a 405; authentication honoured (issue 17).

Bounded and repeatable for CI: a fixed seed, derandomized generation, no example
database, at most ``MAX_EXAMPLES`` generated requests per operation and identity.
Generation is nudged towards what exists, so that requests get past "not found" into
the workflow: ids are often those of demo objects (1–15), and a new application often
names the applicant's own organisation (with generated facts, or with a complete valid
application). Stateful sequences (links) are not run: see the phases below.
"""

from __future__ import annotations

import json
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis.strategies import SearchStrategy

from huiqi import credit_code
from huiqi.facts.types import CREDIT_CODE_FORMAT
from huiqi.web.types import MAX_ID

from .conftest import ROLE_USERS, DemoApi

MAX_EXAMPLES = 20
SEED = 2021_0302  # 郴政办发〔2021〕3号

#: Path parameters that name a stored object; generation often picks a demo object's id.
OBJECT_IDS = (
    "application_id",
    "line_id",
    "attachment_id",
    "plan_id",
    "item_id",
    "objection_id",
    "token_id",
)
DEMO_IDS = st.integers(min_value=1, max_value=15)

#: The document's format for a unified social credit code: 17 characters and their check.
schemathesis.openapi.format(
    CREDIT_CODE_FORMAT,
    st.text(alphabet=credit_code.ALPHABET, min_size=17, max_size=17).map(credit_code.complete),
)

#: Operations whose bodies are held to rules of the policy or of procedure that JSON Schema
#: cannot state, each answered by a 422 that names the rule (and described in prose in
#: the document): for these alone a schema-valid body may be refused with 422. Every other
#: check, and this one for every other operation, stands as schemathesis defines it.
BUSINESS_RULES = {
    # the award year is given in the body or as ?year=; the facts are checked against the
    # policy (the years it covers, what each kind of applicant may claim)
    ("POST", "/api/v1/evaluate"),
    ("POST", "/api/v1/applications"),
    ("PATCH", "/api/v1/applications/{application_id}"),
    # a decision for every line of the application, each amount within what the line allows
    ("POST", "/api/v1/applications/{application_id}/verify"),
    # a notice starts the day it is published (Beijing time), for at least the set period
    ("POST", "/api/v1/plans/{plan_id}/notice"),
    # separation of duties: one account holds the roles of one body only
    ("POST", "/api/v1/users"),
    # a file is accepted by its content (PDF, JPEG, PNG, XLSX), not by its name
    ("POST", "/api/v1/applications/{application_id}/attachments"),
}
POSITIVE_EXPECTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "operations": [
            {
                "include-name": f"{method} {path}",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": [*POSITIVE_EXPECTED, 422]}
                },
            }
            for method, path in sorted(BUSINESS_RULES)
        ],
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)


def _valid_new_application(body: dict[str, Any]) -> bool:
    """Whether a generated body is what the document calls valid (the route's own model)."""
    from pydantic import ValidationError

    from huiqi.web.routes.applications import NewApplication

    try:
        NewApplication.model_validate(body)
    except ValidationError:
        return False
    return "\\u0000" not in json.dumps(body)  # the document refuses a NUL in any text


def _valid_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def valid_application(demo_api: DemoApi) -> dict[str, Any]:
    """A complete application the applicant may make: 2025, export award and marketplace fees."""
    applicant = {
        "credit_code": demo_api.exporter,
        "name": demo_api.exporter_name,
        "kind": "cbec_enterprise",
        "registered_locally": True,
        "tax_paying_locally": True,
        "independent_legal_person": True,
        "in_customs_cbec_statistics": True,
    }
    facts = {
        "applicant": applicant,
        "trade": {"export_usd": "268500", "import_usd": "12000"},
        "marketplaces": {"promotion_fees_cny": "186400.50"},
    }
    return {
        "org_code": demo_api.exporter,
        "award_year": 2025,
        "clauses": ["4.1a", "4.1b"],
        "facts": facts,
    }


#: Who calls: nobody (no token), the demo's exporter, and a demo user of each staff role.
IDENTITIES = ["anonymous", "applicant", *(role.value for role in ROLE_USERS)]


@pytest.fixture(params=IDENTITIES)
def identity(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def api_schema(demo_api: DemoApi, identity: str) -> Any:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", demo_api.app, config=CONFIG)
    valid = valid_application(demo_api)

    @schema.hook
    def flatmap_path_parameters(
        context: schemathesis.HookContext, path_parameters: Any
    ) -> SearchStrategy[Any]:
        if not isinstance(path_parameters, dict):
            return st.just(path_parameters)
        # Only ids generated valid: an invalid one (a negative case) stays invalid.
        ints = [k for k in OBJECT_IDS if _valid_id(path_parameters.get(k))]
        if not ints:
            return st.just(path_parameters)
        return st.one_of(
            st.just(path_parameters),
            DEMO_IDS.map(lambda i: {**path_parameters, **dict.fromkeys(ints, i)}),
        )

    @schema.hook
    def flatmap_body(context: schemathesis.HookContext, body: Any) -> SearchStrategy[Any]:
        operation = context.operation
        if (
            operation is None
            or (operation.method.upper(), operation.path) != ("POST", "/api/v1/applications")
            or not isinstance(body, dict)
            or not _valid_new_application(body)
        ):
            # A body generated invalid (a negative case) stays as generated: nudging it to a
            # valid application would make the server rightly accept what the case calls invalid.
            return st.just(body)
        own = {**body, "org_code": demo_api.exporter}
        return st.one_of(st.just(body), st.just(own), st.just(valid))

    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_check_passes(case: schemathesis.Case[Any], identity: str, demo_api: DemoApi) -> None:
    if case.path_parameters and case.path_parameters.get("token_id") in demo_api.token_ids:
        # Revoking the run's own tokens would turn every later call into a 401.
        case.path_parameters["token_id"] = demo_api.spare_token_id
    token = demo_api.tokens.get(identity)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    case.call_and_validate(headers=headers)
