"""The OpenAPI document as the API really behaves: every error is an RFC 9457 problem
(``application/problem+json``, not FastAPI's default validation schema), each operation
lists the refusals it can answer, and who may call it (bearer token or session cookie)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from huiqi.facts.model import Facts
from huiqi.web.deps import SESSION_COOKIE, optional_actor, required_actor
from huiqi.web.problems import PROBLEM_JSON
from huiqi.web.throttle import limit_evaluate, limit_objection

PROBLEM = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details; detail in the language asked for, zh and en both",
    "required": ["type", "title", "status", "detail", "instance", "zh", "en"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "zh": {"type": "string"},
        "en": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "zh", "en"],
                "properties": {
                    "field": {"type": "string", "description": "where: body:$.a.b, query:year …"},
                    "value": {"description": "the value refused (shortened when long)"},
                    "zh": {"type": "string"},
                    "en": {"type": "string"},
                },
            },
        },
    },
}

#: What each refusal means, for the document.
MEANINGS = {
    "400": "请求内容无法读取（如 multipart 格式错误、未发送完整） / the body cannot be read "
    "(malformed multipart, not sent completely)",
    "401": "未登录或令牌无效 / not signed in, or the token is invalid or revoked",
    "403": "角色不允许 / not allowed for your roles",
    "404": "不存在，或不属于你的单位 / not found, or not your organisation's",
    "409": "当前状态不允许，或他人刚修改 / not in this state, or changed by someone meanwhile",
    "413": "内容过大 / content too large",
    "415": "不支持的文件类型 / file type not accepted",
    "422": "请求内容有误（逐项指明字段与取值） / the request is not valid (each field named)",
    "429": "尝试过于频繁（Retry-After 给出秒数） / too many attempts (Retry-After: seconds)",
}

RETRY_AFTER = {
    "description": "几秒后可再试 / seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 1},
}

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "API 令牌 / API token"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "页面登录会话；修改类请求须带 X-CSRF-Token / page session; writes need "
        "the X-CSRF-Token header",
    },
}


def api_routes(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    """Every (method, full path, route) the app serves with an APIRoute."""
    # FastAPI ≥ 0.165 keeps included routers lazily; iter_route_contexts flattens them.
    contexts: Any = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in contexts(app.routes) if contexts else app.routes:
        original = getattr(route, "original_route", route)
        if isinstance(original, APIRoute):
            for method in getattr(route, "methods", None) or ():
                yield method, str(getattr(route, "path", original.path)), original


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _refusals(calls: set[Any], path: str, method: str, has_body: bool) -> list[str]:
    """The refusals an operation can answer, from its dependencies (``calls``), its path
    and whether it reads a body."""
    codes = ["422"]
    if has_body:
        # A body that cannot be read; every body is capped (Settings.max_body_bytes, uploads').
        codes += ["400", "413"]
    if required_actor in calls:
        codes += ["401", "403"]
    elif optional_actor in calls:
        codes += ["401"]  # a bad token is refused even where none is needed
    if "{" in path or required_actor in calls:
        codes.append("404")
    if method != "get" and required_actor in calls:
        codes.append("409")  # a state that does not allow it, or someone else's change
    if path.endswith("/auth/login"):
        codes.append("401")  # wrong user name or password
    if path.endswith("/replay"):
        codes.append("409")  # not evaluated yet (a draft): nothing to replay
    if limit_objection in calls:
        codes.append("409")  # the plan is not under public notice
    if path.endswith("/attachments") and method == "post":
        codes += ["415"]
    if path.endswith("/auth/login") or calls & {limit_evaluate, limit_objection}:
        codes += ["429"]
    return sorted(set(codes))


#: No text anywhere in a request may hold a NUL (PostgreSQL cannot store one; see web.types).
NO_NUL = "^[^\\x00]*$"


def _no_nul(node: Any) -> None:
    """Say in every text schema under ``node`` that a NUL is refused (unless a pattern,
    an enum, a constant or a format already limits what the text may be)."""
    if isinstance(node, list):
        for item in node:
            _no_nul(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not node.keys() & {"pattern", "enum", "const", "format"}:
        node["pattern"] = NO_NUL
    for key, value in node.items():
        if key not in ("example", "examples", "default", "const", "enum"):
            _no_nul(value)


def build(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Complete FastAPI's document (``schema``, made from the routes) in place."""
    facts = Facts.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(facts.pop("$defs", {}))
    schemas["Facts"] = facts
    schemas["Problem"] = PROBLEM
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    components["securitySchemes"] = SECURITY_SCHEMES
    _divisions(app, schemas, schema.get("paths", {}))
    # What a request may carry; a problem echoes what was refused, NUL and all.
    _no_nul({name: s for name, s in schemas.items() if name != "Problem"})
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    paths = schema.get("paths", {})
    for method, path, route in api_routes(app):
        operation = paths.get(path, {}).get(method.lower())
        if operation is None:
            continue
        calls = _calls(route.dependant)
        responses = operation.setdefault("responses", {})
        has_body = "requestBody" in operation
        _no_nul(operation.get("requestBody"))
        _no_nul(operation.get("parameters"))  # the guard refuses a NUL in the path and query too
        for code in _refusals(calls, path, method.lower(), has_body):
            responses[code] = {"description": MEANINGS[code], "content": problem}
            if code == "429":
                responses[code]["headers"] = {"Retry-After": RETRY_AFTER}
        operation["responses"] = dict(sorted(responses.items()))
        if required_actor in calls:
            operation["security"] = [{"bearer": []}, {"session": []}]
        elif optional_actor in calls:
            operation["security"] = [{"bearer": []}, {"session": []}, {}]
    return schema


def _divisions(app: FastAPI, schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    """An organisation's division is one of the policy package's paying divisions: say which,
    so a client (and schemathesis) knows what is accepted (a package without a list: any)."""
    names = app.state.services.package.division_names
    if not names:
        return
    field = schemas.get("NewOrg", {}).get("properties", {}).get("division")
    if field is not None:
        field["enum"] = names
    for item in paths.values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == "division":
                    parameter["schema"]["enum"] = names
