"""The outer layers of every request: NUL characters refused, safe headers added, and the
body limit's refusal worded like every other.

A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``, which wraps every request
and response in extra tasks and streams: measurable on a public endpoint that must answer
hundreds of requests a second)."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huiqi.web import logs, problems

#: Added to every response that does not set them itself. The pages need no inline script
#: and no other origin (government intranets are offline): the policy says so, and a test
#: keeps the templates to it.
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
#: Sent when the deployment is served over HTTPS (a year; subdomains are the operator's call).
HSTS = "max-age=31536000"
#: An id a caller (or the proxy in front) gave the request is kept if it looks like one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def _has_nul(scope: Scope) -> bool:
    """A NUL in the path or query cannot reach the database (PostgreSQL refuses it)."""
    raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    return (
        "\x00" in scope["path"]
        or b"%00" in raw
        or b"%00" in scope.get("query_string", b"")
        or b"\x00" in scope.get("query_string", b"")
    )


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given: str = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(given):
                return given
    return uuid.uuid4().hex


class Guard:
    """Every response gets the safe headers (HSTS too when served over HTTPS) and the
    request's id (``X-Request-ID``), which every log line of the request carries."""

    def __init__(self, app: ASGIApp, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        token = logs.request_id.set(rid)
        https = self.https or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SAFE_HEADERS.items():
                    headers.setdefault(name, value)
                headers["X-Request-ID"] = rid
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        try:
            await self._guarded(scope, receive, send_with_headers)
        finally:
            logs.request_id.reset(token)

    async def _guarded(self, scope: Scope, receive: Receive, send_with_headers: Send) -> None:
        if _has_nul(scope):
            response = problems.problem(
                Request(scope, receive),
                422,
                "请求中不允许包含空字符",
                "NUL characters are not allowed in the request",
            )
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


class TooLargeAsProblem:
    """FastAPI's body limit (outermost, around everything else) answers a request whose
    Content-Length is over the cap with a plain-text 413, whatever the app would have sent:
    this puts the same refusal in the words of every other one (an RFC 9457 problem, or
    the error page, in both languages, saying the cap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replacing = False

        async def send_problem(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] == 413:
                plain = MutableHeaders(scope=message).get("content-type", "")
                replacing = plain.startswith("text/plain")
                if replacing:
                    cap = scope.get(MAX_BODY_SIZE_SCOPE_KEY)
                    response = problems.problem(
                        Request(scope, receive),
                        413,
                        f"请求内容超过上限（{cap} 字节）",
                        f"the request body is larger than the limit ({cap} bytes)",
                    )
                    headers = MutableHeaders(raw=response.raw_headers)
                    for name, value in SAFE_HEADERS.items():
                        headers.setdefault(name, value)
                    await send(
                        {"type": message["type"], "status": 413, "headers": response.raw_headers}
                    )
                    await send({"type": "http.response.body", "body": response.body})
                    return
            if replacing:
                return  # the plain text's body: already answered
            await send(message)

        await self.app(scope, receive, send_problem)
