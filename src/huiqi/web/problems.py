"""One error format for every refusal: RFC 9457 problem details, in Chinese and English.

``detail`` is in the language the client asked for (``Accept-Language``, Chinese by
default); ``zh`` and ``en`` carry both, and ``errors`` names each bad field and value.
Nothing else ever leaves the server: an unexpected error is a plain 500 problem with
no stack trace, and is logged.
"""

from __future__ import annotations

import logging
import math
from typing import Any
from urllib.parse import quote

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import ClientDisconnect
from starlette.routing import compile_path

from huiqi.errors import InputError, Problem
from huiqi.facts.load import json_path
from huiqi.policy import PackageError
from huiqi.service.errors import ServiceError
from huiqi.web.exact import printable
from huiqi.web.throttle import RateLimitError

log = logging.getLogger("huiqi.web")
PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: ("请求有误", "Bad request"),
    401: ("请先登录", "Sign-in required"),
    403: ("无权操作", "Forbidden"),
    404: ("未找到", "Not found"),
    405: ("不支持的方法", "Method not allowed"),
    409: ("状态冲突", "Conflict"),
    413: ("内容过大", "Content too large"),
    415: ("不支持的内容类型", "Unsupported media type"),
    422: ("内容有误", "Unprocessable content"),
    429: ("请求过于频繁", "Too many requests"),
    500: ("服务器内部错误", "Internal server error"),
}


def lang_of(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    first = accept.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "zh"


def problem(
    request: Request,
    status: int,
    zh: str,
    en: str,
    errors: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem for the API; for a page, the same words on an HTML error page (and a
    sign-in page for 401)."""
    if not request.url.path.startswith("/api"):
        return _page(request, status, zh, en, errors, headers)
    return _json_problem(request, status, zh, en, errors, headers)


def _page(
    request: Request,
    status: int,
    zh: str,
    en: str,
    errors: list[Problem] | None,
    headers: dict[str, str] | None = None,
) -> Response:
    from huiqi.web.pages.common import lang_of as page_lang
    from huiqi.web.pages.common import redirect, render

    if status == 401:
        return redirect(f"/login?next={quote(request.url.path)}")
    lang = page_lang(request)
    shown = [
        {"field": printable(p.path), "text": printable(p.zh if lang == "zh" else p.en)}
        for p in errors or []
    ]
    detail = printable(zh if lang == "zh" else en)
    page = render(request, "error.html", status=status, detail=detail, errors=shown)
    page.headers.update(headers or {})
    return page


def _json_problem(
    request: Request,
    status: int,
    zh: str,
    en: str,
    errors: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    title_zh, title_en = _TITLES.get(status, _TITLES[400 if status < 500 else 500])
    lang = lang_of(request)
    zh, en = printable(zh), printable(en)
    body: dict[str, Any] = {
        "type": f"urn:huiqi:problem:{status}",
        "title": title_zh if lang == "zh" else title_en,
        "status": status,
        "detail": zh if lang == "zh" else en,
        "instance": request.url.path,
        "zh": zh,
        "en": en,
    }
    if errors:
        body["errors"] = [
            {
                "field": printable(p.path),
                "value": _safe(p.as_dict()["value"]),
                "zh": printable(p.zh),
                "en": printable(p.en),
            }
            for p in errors
        ]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _safe(value: Any) -> Any:
    """A refused value as the problem may echo it: short, finite, and text that is UTF-8
    (a lone surrogate shown as its escape, ``NaN`` as text)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return printable(value if isinstance(value, str) else str(value))[:200]


_PYDANTIC_ZH = {
    "missing": "缺少必填字段",
    "extra_forbidden": "未知字段",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数（不能带小数）",
    "finite_number": "应为有限的数（不能是 NaN 或 Infinity）",
    "too_long": "条目过多，超过上限",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为文本",
    "date_from_datetime_parsing": "日期无效",
    "date_parsing": "日期无效",
    "json_invalid": "JSON 格式错误",
    "model_attributes_type": "应为对象",
    "dict_type": "应为对象",
    "list_type": "应为列表",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "string_too_long": "文本过长",
    "string_too_short": "文本过短",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
}


#: What a rate limit counts, in both languages.
_LIMITED = {
    "evaluate": ("匿名计算请求", "anonymous evaluations"),
    "objection": ("匿名异议提交", "anonymous objections"),
}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path. Starlette's own ``Allow``
    names only the first route whose path matches, so a path served by two routes (``GET``
    and ``POST /applications``) would be said to allow one method only."""
    # FastAPI ≥ 0.165 keeps included routers lazily; iter_route_contexts flattens them.
    contexts: Any = getattr(fastapi.routing, "iter_route_contexts", None)
    path = request.scope.get("path", request.url.path)
    methods: set[str] = set()
    for route in contexts(request.app.routes) if contexts else request.app.routes:
        template = getattr(route, "path", None)
        served = getattr(route, "methods", None)
        if template and served and compile_path(template)[0].match(path):
            methods |= set(served)
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(request, exc.status, exc.zh, exc.en, exc.problems, headers)

    @app.exception_handler(RateLimitError)
    async def _limited(request: Request, exc: RateLimitError) -> Response:
        what_zh, what_en = _LIMITED[exc.name]
        return problem(
            request,
            429,
            f"{what_zh}过于频繁，请 {exc.retry_after} 秒后再试（登录后不受此限制）",
            f"too many {what_en} from your address; try again in {exc.retry_after} s "
            "(signed-in users are not limited)",
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> Response:
        return problem(request, 422, "输入有误", "bad input", exc.problems)

    @app.exception_handler(PackageError)
    async def _package(request: Request, exc: PackageError) -> Response:
        log.error("policy package refused: %s", exc)
        return problem(
            request,
            500,
            "政策包配置有误，请联系管理员",
            "the policy package is broken; contact the administrator",
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            where, rest = (
                (loc[0], loc[1:])
                if loc and loc[0] in ("body", "query", "path", "header", "cookie")
                else ("body", loc)
            )
            field = f"{where}:{json_path(tuple(rest))}"
            ctx = err.get("ctx") or {}
            zh = str(ctx.get("zh") or _PYDANTIC_ZH.get(str(err.get("type")), "取值无效"))
            errors.append(Problem(field, err.get("input"), zh, str(err.get("msg"))))
        return problem(request, 422, "请求内容有误", "the request is not valid", errors)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        zh, en = _TITLES.get(exc.status_code, (str(exc.detail), str(exc.detail)))
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        cap = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
        if exc.status_code == 413 and cap is not None:
            zh, en = (
                f"请求内容超过上限（{cap} 字节）",
                f"the request body is larger than the limit ({cap} bytes)",
            )
        return problem(request, exc.status_code, zh, en, headers=headers)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client hung up while sending its body: nothing to answer, nothing wrong here.
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return problem(request, 400, "请求未发送完整", "the request was not sent completely")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(
            request, 500, "服务器内部错误，已记录，请稍后再试", "internal error; it has been logged"
        )
