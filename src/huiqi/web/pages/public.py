"""Pages anyone may see: home, sign-in, the language switch, public notices."""

from __future__ import annotations

import hmac
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from huiqi.service import anchors, auth, plans
from huiqi.service.auth import NotSignedIn, TooManyAttempts
from huiqi.service.errors import NotFound
from huiqi.web.deps import SESSION_COOKIE, get_services, on_sign_in_thread, secure_cookies
from huiqi.web.pages.common import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    new_login_token,
    page_user,
    redirect,
    render,
)
from huiqi.web.throttle import client_address, limit_objection
from huiqi.web.types import Id

STATIC = Path(__file__).parent.parent / "static"

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    """Only a local path may follow sign-in (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """Browsers ask for it on every first visit; answered from the package, cached a day."""
    return FileResponse(
        STATIC / "favicon.ico",
        media_type="image/vnd.microsoft.icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "home.html", notices=plans.open_notices(get_services(request)))


@router.post("/lang/{lang}")
def switch_language(
    lang: str, request: Request, next: Annotated[str, Form()] = "/"
) -> RedirectResponse:
    response = redirect(_safe_next(next))
    if lang in ("zh", "en"):
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            samesite="lax",
            httponly=True,
            secure=secure_cookies(request),
        )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    token = new_login_token()
    response = render(request, "login.html", login_token=token, next=_safe_next(next))
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        max_age=1800,
    )
    return response


@router.post("/login", response_model=None)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    login_token: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    return await on_sign_in_thread(partial(_login, request, username, password, login_token, next))


def _login(request: Request, username: str, password: str, login_token: str, next: str) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, login_token):
        return render(
            request,
            "login.html",
            status=400,
            error="login.expired",
            login_token=new_login_token(),
            next=_safe_next(next),
        )
    address = client_address(request)
    try:
        signed = auth.login(get_services(request), username, password, address)
    except (NotSignedIn, TooManyAttempts) as exc:
        key = "login.throttled" if isinstance(exc, TooManyAttempts) else "login.failed"
        token = new_login_token()
        response = render(
            request,
            "login.html",
            status=exc.status,
            error=key,
            login_token=token,
            next=_safe_next(next),
            username=username,
        )
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request),
            max_age=1800,
        )
        return response
    target = _safe_next(next)
    if target == "/":
        target = "/portal" if signed.actor.org_id else "/console"
    done = redirect(target)
    done.set_cookie(
        SESSION_COOKIE,
        signed.token,
        httponly=True,
        samesite="lax",
        path="/",
        secure=secure_cookies(request),
        max_age=auth.SESSION_HOURS * 3600,
    )
    done.delete_cookie(LOGIN_COOKIE)
    return done


@router.post("/logout")
def logout(
    request: Request, csrf_token: Annotated[str, Form(max_length=64)] = ""
) -> RedirectResponse:
    user, csrf = page_user(request)
    token = request.cookies.get(SESSION_COOKIE)
    if user and token and csrf and hmac.compare_digest(csrf, csrf_token):
        auth.logout(get_services(request), token)
    response = redirect("/", "signed_out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/notices/{plan_id}", response_class=HTMLResponse)
def notice(plan_id: Id, request: Request) -> HTMLResponse:
    """The public notice (公示) of a plan: beneficiaries, items, amounts, period, how to object."""
    svc = get_services(request)
    view = plans.public_notice(svc, plan_id)
    if view is None:
        raise NotFound("该方案未在公示", "this plan is not published")
    is_open = view.notice_running(svc.clock())
    titles = {cid: c.title.both for cid, c in svc.package.clauses.items()}
    anchor = anchors.latest(svc.anchor)  # the audit chain's latest checkpoint, in the footer
    return render(
        request, "notice.html", plan=view, open=is_open, clause_titles=titles, anchor=anchor
    )


@router.post("/notices/{plan_id}/objections", dependencies=[Depends(limit_objection)])
def object_to(
    plan_id: Id,
    request: Request,
    submitted_by: Annotated[str, Form(max_length=100)],
    text: Annotated[str, Form(max_length=5000)],
    contact: Annotated[str, Form(max_length=100)] = "",
    item_id: Annotated[str, Form(max_length=12)] = "",
) -> RedirectResponse:
    """Anyone may object during the notice (no account)."""
    item = int(item_id) if item_id.isdigit() and 0 < int(item_id) < 2**31 else None
    plans.object_to(
        get_services(request),
        plan_id,
        submitted_by=submitted_by,
        text=text,
        contact=contact or None,
        item_id=item,
    )
    return redirect(f"/notices/{plan_id}", "objection")
