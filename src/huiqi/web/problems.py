"""One error format for every refusal: RFC 9457 problem details, in Chinese and English.

``detail`` is in the language the client asked for (``Accept-Language``, Chinese by
default); ``zh`` and ``en`` carry both, and ``errors`` names each bad field and value.
Nothing else ever leaves the server: an unexpected error is a plain 500 problem with
no stack trace, and is logged.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from huiqi.errors import InputError, Problem
from huiqi.facts.load import json_path
from huiqi.policy import PackageError
from huiqi.service.errors import ServiceError

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
        return _page(request, status, zh, en, errors)
    return _json_problem(request, status, zh, en, errors, headers)


def _page(
    request: Request, status: int, zh: str, en: str, errors: list[Problem] | None
) -> Response:
    from huiqi.web.pages.common import lang_of as page_lang
    from huiqi.web.pages.common import redirect, render

    if status == 401:
        return redirect(f"/login?next={quote(request.url.path)}")
    lang = page_lang(request)
    shown = [{"field": p.path, "text": p.zh if lang == "zh" else p.en} for p in errors or []]
    return render(
        request, "error.html", status=status, detail=zh if lang == "zh" else en, errors=shown
    )


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
            {"field": p.path, "value": _safe(p.as_dict()["value"]), "zh": p.zh, "en": p.en}
            for p in errors
        ]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value if not isinstance(value, str) else value[:200]
    return str(value)[:200]


_PYDANTIC_ZH = {
    "missing": "缺少必填字段",
    "extra_forbidden": "未知字段",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "bool_parsing": "应为 true 或 false",
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


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(request, exc.status, exc.zh, exc.en, exc.problems, headers)

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
            zh = _PYDANTIC_ZH.get(str(err.get("type")), "取值无效")
            errors.append(Problem(field, err.get("input"), zh, str(err.get("msg"))))
        return problem(request, 422, "请求内容有误", "the request is not valid", errors)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        zh, en = _TITLES.get(exc.status_code, (str(exc.detail), str(exc.detail)))
        return problem(request, exc.status_code, zh, en, headers=getattr(exc, "headers", None))

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
