"""The ASGI application: ``create_app()`` builds it; nothing is created at import time."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from huiqi import __version__
from huiqi.config import Settings, get_settings
from huiqi.service import audit_check
from huiqi.service.bootstrap import build_services
from huiqi.service.uow import Services
from huiqi.web import problems
from huiqi.web.guard import Guard
from huiqi.web.openapi import build as document
from huiqi.web.pages import page_routers
from huiqi.web.routes import applications, auth, orgs, plans, public, records

API = "/api/v1"


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

    app = FastAPI(
        lifespan=lifespan,
        title="惠企 huiqi API",
        version=__version__,
        description="郴政办发〔2021〕3号：政策计算、申报、审核、分配方案、公示、审批与拨付。"
        "Errors are RFC 9457 problem details in Chinese and English.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.services = services or build_services(settings)
    problems.install(app)
    for module in (public, auth, orgs, applications, plans, records):
        app.include_router(module.router, prefix=API)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in page_routers():
        app.include_router(router)

    app.add_middleware(Guard)

    original = app.openapi

    def openapi() -> dict:  # type: ignore[type-arg]
        if app.openapi_schema is None:
            app.openapi_schema = document(app, original())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
