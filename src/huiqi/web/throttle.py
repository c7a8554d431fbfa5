"""Rate limits on what anyone may ask without an account: evaluations and objections.

Counted per client address (:func:`client_address`) in a moving window by the ``limits``
library, in memory by default or in a shared storage (``Settings.rate_limit_storage``).
A signed-in user (a valid bearer token or session) is not counted. Past the limit the
answer is 429, an RFC 9457 problem (or the error page) in both languages, with
``Retry-After`` in seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.concurrency import run_in_threadpool

from huiqi.config import Settings
from huiqi.service import auth
from huiqi.web.deps import SESSION_COOKIE, get_services

#: What is limited, by name: the setting that holds its rate.
LIMITED = {"evaluate": "anonymous_evaluate_rate", "objection": "anonymous_objection_rate"}


class RateLimitError(Exception):
    """Too many anonymous requests of one kind from one address."""

    def __init__(self, name: str, retry_after: int) -> None:
        super().__init__(f"{name}: retry after {retry_after} s")
        self.name = name
        self.retry_after = retry_after


def client_address(request: Request) -> str:
    """The address a request is counted under (rate limits, sign-in throttling): the peer of
    the connection, or — when the peer is one of ``HUIQI_TRUSTED_PROXIES`` — the client it
    forwarded for (the app's outermost layer rewrites the peer; see ``huiqi.web.app``)."""
    return request.client.host if request.client else "unknown"


class Throttle:
    """The limiter of one app, built from its settings."""

    def __init__(self, settings: Settings) -> None:
        uri = settings.rate_limit_storage
        self.limiter = MovingWindowRateLimiter(
            storage_from_string(uri if uri.startswith("async+") else f"async+{uri}")
        )
        self.rates: dict[str, list[RateLimitItem]] = {
            name: parse_many(getattr(settings, setting)) for name, setting in LIMITED.items()
        }

    async def hit(self, name: str, address: str) -> None:
        """Count one request of ``name`` from ``address``, or raise :class:`RateLimitError`."""
        for rate in self.rates[name]:
            if not await self.limiter.hit(rate, name, address):
                stats = await self.limiter.get_window_stats(rate, name, address)
                raise RateLimitError(name, max(1, math.ceil(stats.reset_time - time.time())))


async def _signed_in(request: Request) -> bool:
    """Does the request carry a valid bearer token or session (a database read, on a
    request thread)? Only to spare it the anonymous limit: what it may do is decided
    by the route, as ever."""
    svc = get_services(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return await run_in_threadpool(auth.token_actor, svc, header[7:].strip()) is not None
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return False
    return await run_in_threadpool(auth.session, svc, cookie) is not None


def anonymous_limit(name: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency that counts an anonymous request of ``name`` against its limit."""

    async def limit(request: Request) -> None:
        if await _signed_in(request):
            return
        throttle: Throttle = request.app.state.throttle
        await throttle.hit(name, client_address(request))

    limit.__name__ = f"limit_anonymous_{name}"
    return limit


limit_evaluate = anonymous_limit("evaluate")
limit_objection = anonymous_limit("objection")
