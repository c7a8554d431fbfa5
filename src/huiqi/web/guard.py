"""The outermost layer of every request: NUL characters refused, safe headers added.

A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``, which wraps every request
and response in extra tasks and streams: measurable on a public endpoint that must answer
hundreds of requests a second)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huiqi.web import problems

#: Added to every response that does not set them itself.
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _has_nul(scope: Scope) -> bool:
    """A NUL in the path or query cannot reach the database (PostgreSQL refuses it)."""
    raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    return (
        "\x00" in scope["path"]
        or b"%00" in raw
        or b"%00" in scope.get("query_string", b"")
        or b"\x00" in scope.get("query_string", b"")
    )


class Guard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SAFE_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

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
