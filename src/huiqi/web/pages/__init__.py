"""Server-rendered pages (Jinja2): every page works without JavaScript, Chinese first."""

from __future__ import annotations

from fastapi import APIRouter


def page_routers() -> list[APIRouter]:
    """Every page router, in the order they are mounted."""
    from huiqi.web.pages import calculator, console, dashboard, portal, public

    return [public.router, calculator.router, portal.router, console.router, dashboard.router]
