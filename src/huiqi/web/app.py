"""The ASGI application: ``create_app()`` builds it; nothing is created at import time."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from huiqi import __version__
from huiqi.config import Settings, get_settings
from huiqi.service import audit_check
from huiqi.service.bootstrap import build_services
from huiqi.service.uow import Services
from huiqi.web import problems
from huiqi.web.guard import Guard, TooLargeAsProblem
from huiqi.web.openapi import build as document
from huiqi.web.pages import page_routers, portal
from huiqi.web.routes import applications, auth, orgs, plans, public, records
from huiqi.web.throttle import Throttle

API = "/api/v1"
#: Room for a multipart upload's boundaries, headers and the CSRF field around the file.
UPLOAD_OVERHEAD = 64 * 1024


class _FastAPI(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Around everything, FastAPI's own body limit included (see TooLargeAsProblem).
        stack: ASGIApp = TooLargeAsProblem(super().build_middleware_stack())
        proxies = [p.strip() for p in self.state.settings.trusted_proxies.split(",") if p.strip()]
        if proxies:
            # Outermost: the client's address and scheme as the trusted proxy forwarded them,
            # for everything inside (rate limits, sign-in throttling, logs, Secure cookies).
            # A request from any other peer keeps its own address, forwarded headers or not.
            stack = ProxyHeadersMiddleware(stack, trusted_hosts=proxies)  # type: ignore[arg-type,assignment]
        return stack


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The service over HTTP. The API's interactive docs need a CDN, so only the OpenAPI
    document itself is served (``/api/openapi.json``): government intranets are offline."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Request threads: as many as the database pool keeps connections for (see Settings).
        to_thread.current_default_thread_limiter().total_tokens = settings.threads
        # What is loaded by now (the policy package, the routes, the libraries) lives as long as
        # the process: keep it out of the garbage collector's full passes, which would otherwise
        # walk all of it again and again and stall requests by tens of milliseconds.
        gc.collect()
        gc.freeze()
        await to_thread.run_sync(audit_check.checkpoint_at_start, app.state.services)
        yield
        gc.unfreeze()

    app = _FastAPI(
        lifespan=lifespan,
        title="惠企 huiqi API",
        version=__version__,
        description="郴政办发〔2021〕3号：政策计算、申报、审核、分配方案、公示、审批与拨付。"
        "Errors are RFC 9457 problem details in Chinese and English.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        # Every body is capped before it is read (FastAPI's limit: 413 at once when the
        # Content-Length is over, else as soon as the bytes received are); uploads below.
        max_body_size=settings.max_body_bytes,
    )
    app.state.settings = settings
    app.state.services = services or build_services(settings)
    app.state.throttle = Throttle(settings)
    problems.install(app)
    for module in (public, auth, orgs, applications, plans, records):
        app.include_router(module.router, prefix=API)
    # An attachment may be as large as the setting allows, with its multipart wrapping.
    upload_cap = settings.max_upload_bytes + UPLOAD_OVERHEAD
    app.include_router(applications.uploads, prefix=API, max_body_size=upload_cap)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in page_routers():
        app.include_router(router)
    app.include_router(portal.uploads, max_body_size=upload_cap)

    app.add_middleware(Guard, https=settings.https)

    original = app.openapi

    def openapi() -> dict:  # type: ignore[type-arg]
        if app.openapi_schema is None:
            app.openapi_schema = document(app, original())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
