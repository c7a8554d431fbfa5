"""What every page shares: templates, the language, the signed-in user, CSRF, messages.

The language comes from the ``huiqi_lang`` cookie (set by the switch in the header),
else from ``Accept-Language``, else Chinese. Every string a page shows is looked up in
``ui.yaml`` in both languages; money and states use the engine's own formatting.
"""

from __future__ import annotations

import secrets
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import STATE_LABELS
from huiqi.money import format_yuan
from huiqi.service import auth
from huiqi.service.actors import Actor
from huiqi.web.deps import SESSION_COOKIE, get_services
from huiqi.yamlio import loads_yaml

LANG_COOKIE = "huiqi_lang"
LOGIN_COOKIE = "huiqi_login_csrf"
HERE = Path(__file__).resolve().parent.parent


@cache
def catalog() -> dict[str, dict[str, str]]:
    """Every ``ui*.yaml`` of the web package merged; a key defined twice is a mistake."""
    merged: dict[str, dict[str, str]] = {}
    for entry in sorted(resources.files("huiqi.web").iterdir(), key=lambda e: e.name):
        if entry.name.startswith("ui") and entry.name.endswith(".yaml"):
            data: dict[str, dict[str, str]] = loads_yaml(entry.read_text(encoding="utf-8"))
            clash = set(data) & set(merged)
            if clash:
                raise ValueError(f"{entry.name} defines again: {sorted(clash)}")
            merged.update(data)
    return merged


def lang_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in ("zh", "en"):
        return chosen
    accept = request.headers.get("accept-language", "").split(",")[0].strip().lower()
    return "en" if accept.startswith("en") else "zh"


def page_user(request: Request) -> tuple[Actor | None, str | None]:
    """The signed-in user of a page request and the session's CSRF token (no bearer here)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None, None
    found = auth.session(get_services(request), token)
    return (found[0], found[1]) if found else (None, None)


@cache
def templates() -> Jinja2Templates:
    env = Jinja2Templates(directory=str(HERE / "templates"))
    env.env.globals.update(format_yuan=format_yuan, Role=Role)
    return env


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the language, the user, the CSRF token and ``t()`` for strings."""
    lang = lang_of(request)
    user, csrf = page_user(request)
    messages = catalog()

    def t(key: str, **args: Any) -> str:
        entry = messages.get(key)
        if entry is None:
            return key
        return entry[lang].format(**args) if args else entry[lang]

    def state(value: str) -> str:
        zh, en = STATE_LABELS.get(value, (value, value))
        return zh if lang == "zh" else en

    def money(fen: int | None) -> str:
        return "—" if fen is None else format_yuan(fen, lang)

    def both(pair: dict[str, str] | None) -> str:
        return "" if not pair else pair.get(lang, pair.get("zh", ""))

    svc = get_services(request)
    response = templates().TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "user": user,
            "csrf_token": csrf,
            "csrf_field": Markup(f'<input type="hidden" name="csrf_token" value="{csrf or ""}">'),
            "t": t,
            "state": state,
            "money": money,
            "both": both,
            "policy": svc.package,
            "path": request.url.path,
            "here": _here(request),
            "message": t(f"msg.{request.query_params['msg']}")
            if request.query_params.get("msg", "") in _MESSAGES
            else None,
            **context,
        },
        status_code=status,
    )
    return response


#: Messages a redirect may ask a page to show (``?msg=saved``); only these keys, never text.
_MESSAGES = frozenset(
    {
        "saved",
        "submitted",
        "signed_out",
        "verified",
        "returned",
        "rejected",
        "uploaded",
        "objection",
        "done",
    }
)


def _here(request: Request) -> str:
    """Where the language switch should return to: this page if it can be fetched again
    (a GET), else the page the visitor came from on this site, else the home page."""
    if request.method == "GET":
        query = f"?{request.url.query}" if request.url.query else ""
        return request.url.path + query
    referer = request.headers.get("referer", "")
    host = f"{request.url.scheme}://{request.url.netloc}"
    if referer.startswith(host + "/"):
        return referer[len(host) :]
    return "/"


def redirect(url: str, msg: str | None = None) -> RedirectResponse:
    """Post/redirect/get, optionally with one of the known messages."""
    if msg:
        url += ("&" if "?" in url else "?") + f"msg={msg}"
    return RedirectResponse(url, status_code=303)


def new_login_token() -> str:
    return secrets.token_urlsafe(24)
