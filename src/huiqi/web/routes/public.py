"""No account needed: the public policy calculator, the clauses, the facts schema."""

from __future__ import annotations

from datetime import date
from functools import cache, partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic_core import to_json

from huiqi.db import migrate
from huiqi.engine import clause_sort_key, evaluate
from huiqi.engine.context import param_value
from huiqi.engine.render import explain_clause
from huiqi.errors import InputError, Problem
from huiqi.facts import facts_json_schema, parse_facts
from huiqi.facts.load import json_path
from huiqi.policy import PolicyPackage
from huiqi.service.errors import NotFound
from huiqi.web.deps import Svc, on_engine_thread
from huiqi.web.exact import BodyError, ExactRoute, decode_json
from huiqi.web.throttle import limit_evaluate
from huiqi.web.types import YearQ, has_nul

router = APIRouter(tags=["public 公开"], route_class=ExactRoute)

Lang = Annotated[str, Query(pattern="^(zh|en)$", description="zh 或 en")]
Year = YearQ


async def _json_body(request: Request) -> Any:
    """The body as JSON with exact decimals (money is never a binary float), whatever
    content type it came with."""
    raw = await request.body()
    try:
        data = decode_json(raw or b"null")
    except BodyError as exc:
        where = json_path(exc.loc)
        raise InputError([Problem(where, exc.value, exc.zh, exc.en)]) from None
    # In UTF-8 JSON a NUL can only come escaped ("\u0000"; a raw one is refused above), so
    # look inside only when the text holds that escape (or zero bytes: UTF-16 or -32 JSON).
    if (b"\\u0000" in raw or b"\x00" in raw) and has_nul(data):
        raise InputError([Problem("body", None, "不允许包含空字符", "NUL characters not allowed")])
    return data


@router.get("/health", summary="健康检查 / health")
async def health(svc: Svc) -> dict[str, str]:
    """The process is up (it answers without touching the database)."""
    return {"status": "ok", "policy": svc.package.id, "version": svc.package.version}


@cache
def _head() -> str | None:
    return migrate.head()  # reads the migration scripts: once per process


class Readiness(BaseModel):
    ready: bool
    database: str  # "ok", or what is wrong
    migration: str | None  # the database's revision
    expected: str | None  # the code's latest revision


@router.get(
    "/ready",
    summary="就绪检查：数据库可达且已迁移 / readiness: the database answers and is migrated",
    responses={503: {"description": "未就绪 / not ready", "model": Readiness}},
)
def ready(svc: Svc) -> JSONResponse:
    """For a load balancer: 200 when the database answers and is at the code's migration,
    else 503 saying which (the process may be up while its database is not)."""
    expected = _head()
    try:
        revision = migrate.current(svc.engine)
    except Exception as exc:
        state = Readiness(
            ready=False, database=type(exc).__name__, migration=None, expected=expected
        )
        return JSONResponse(state.model_dump(), status_code=503)
    state = Readiness(
        ready=revision == expected,
        database="ok",
        migration=revision,
        expected=expected,
    )
    return JSONResponse(state.model_dump(), status_code=200 if state.ready else 503)


class EngineJSON(JSONResponse):
    """The engine's result is plain JSON data already (amounts as strings, exact): written
    out in one pass by pydantic-core, not checked again against a schema first — it is the
    largest body the API sends, on its busiest endpoint."""

    def render(self, content: Any) -> bytes:
        return to_json(content)


@router.post(
    "/evaluate",
    summary="政策计算器：评估一个主体一个年度 / the public calculator",
    response_class=EngineJSON,
    dependencies=[Depends(limit_evaluate)],
    responses={
        200: {
            "description": "每个条款的结果及其解释 / every clause's result and its explanation",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Facts"}}},
        }
    },
)
async def evaluate_facts(
    request: Request,
    svc: Svc,
    year: Year = None,
    lang: Lang = "zh",
    text: Annotated[
        bool, Query(description="附上各条款解释的文字 / add each clause's text")
    ] = False,
) -> EngineJSON:
    """Evaluate facts (schema ``Facts``) against every clause; nothing is stored."""
    data = await _json_body(request)
    # Validating and evaluating are the engine's work, on its threads: never the event loop.
    return await on_engine_thread(partial(_evaluate, svc.package, data, year, lang, text))


def _evaluate(
    package: PolicyPackage, data: Any, year: int | None, lang: str, text: bool
) -> EngineJSON:
    result = evaluate(package, parse_facts(data), year)
    body = result.as_dict()
    if text:
        for clause, row in zip(result.clauses, body["clauses"], strict=True):
            row["explanation_text"] = explain_clause(clause, lang)
    return EngineJSON(body)


@router.get("/clauses", summary="全部条款 / every clause")
def clauses(svc: Svc, year: Year = None) -> list[dict[str, Any]]:
    package = svc.package
    on = date(year or package.policy.validity.last_award_year, 12, 31)
    return [
        {
            **package.clauses[cid].model_dump(mode="json", by_alias=True, exclude_none=True),
            "kind": package.clauses[cid].kind.value,
            "in_force": {
                n: str(param_value(p, on)) for n, p in package.clauses[cid].parameters.items()
            },
        }
        for cid in sorted(package.clauses, key=clause_sort_key)
    ]


@router.get("/clauses/{clause_id}", summary="一个条款 / one clause")
def clause(clause_id: str, svc: Svc) -> dict[str, Any]:
    found = svc.package.clauses.get(clause_id)
    if found is None:
        raise NotFound(f"没有第{clause_id}条", f"no clause {clause_id}")
    return {
        **found.model_dump(mode="json", by_alias=True, exclude_none=True),
        "kind": found.kind.value,
    }


@router.get("/policy", summary="政策包版本与开关 / policy package")
def policy(svc: Svc) -> dict[str, Any]:
    package = svc.package
    return {
        "id": package.id,
        "document_no": package.policy.document_no,
        "title": package.policy.title.both,
        "version": package.version,
        "sha256": package.sha256,
        "validity": package.policy.validity.model_dump(mode="json"),
        "switches": {n: package.switch(n) for n in package.policy.switches},
    }


@router.get("/schema/facts", summary="输入事实的 JSON Schema / facts schema")
def schema() -> dict[str, Any]:
    return facts_json_schema()
