"""The object ``uvicorn huiqi.web.asgi:app`` serves (built lazily, from the environment)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from huiqi.web.app import create_app

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
_app: Any = None


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Build the real app on the first event (not at import), then hand everything to it."""
    global _app
    if _app is None:
        _app = create_app()
    await _app(scope, receive, send)
