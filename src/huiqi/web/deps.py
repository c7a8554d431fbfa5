"""Dependencies that make route signatures read well: the services, who is asking, CSRF."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from huiqi.config import Settings
from huiqi.service import auth
from huiqi.service.actors import Actor
from huiqi.service.auth import NotSignedIn
from huiqi.service.errors import Forbidden
from huiqi.service.uow import Services

T = TypeVar("T")
SESSION_COOKIE = "huiqi_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# As dependencies they are wrapped in ``async`` functions so that FastAPI calls them in place:
# a plain ``def`` dependency is sent to a worker thread and back, on every request, for one
# attribute read.
async def _services(request: Request) -> Services:
    return get_services(request)


async def _settings(request: Request) -> Settings:
    return get_settings(request)


Svc = Annotated[Services, Depends(_services)]
Config = Annotated[Settings, Depends(_settings)]


#: Signing in runs here, not on the request threads: an Argon2 check takes a good fraction
#: of a second of its own, and a few sign-ins (anyone may try one) must not hold up every
#: other request while they hash.
SIGN_IN_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="huiqi-sign-in")


async def on_sign_in_thread(work: Callable[[], T]) -> T:
    """Run ``work`` (a sign-in and what goes with it) on a sign-in thread."""
    return await asyncio.get_running_loop().run_in_executor(SIGN_IN_THREADS, work)


async def optional_actor(request: Request, svc: Svc) -> Actor | None:
    """Who is asking: a bearer token, or a session cookie (then CSRF is checked)."""
    # The lookups are database calls: on a request thread, never on the event loop.
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        actor = await run_in_threadpool(auth.token_actor, svc, header[7:].strip())
        if actor is None:
            raise NotSignedIn("令牌无效或已撤销", "the token is invalid or revoked")
        return actor
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = await run_in_threadpool(auth.session, svc, cookie)
    if found is None:
        return None
    actor, csrf = found
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else ""
        if not hmac.compare_digest(sent, csrf):
            raise Forbidden("缺少或错误的 CSRF 令牌", "missing or wrong CSRF token")
    request.state.csrf_token = csrf
    return actor


async def required_actor(actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    if actor is None:
        raise NotSignedIn("请先登录", "sign in first")
    return actor


MaybeUser = Annotated[Actor | None, Depends(optional_actor)]
User = Annotated[Actor, Depends(required_actor)]
