"""Signing in and out (cookie sessions for pages) and bearer tokens (machine clients)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from huiqi.service import auth
from huiqi.web.deps import SESSION_COOKIE, Svc, User, on_sign_in_thread
from huiqi.web.exact import ExactRoute
from huiqi.web.throttle import client_address
from huiqi.web.types import Body, Id

router = APIRouter(tags=["auth 登录"], route_class=ExactRoute)


class Credentials(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


@dataclass(frozen=True)
class Me:
    username: str
    roles: list[str]
    org_id: int | None
    csrf_token: str | None


@router.post("/auth/login", summary="登录 / sign in")
async def login(body: Credentials, request: Request, response: Response, svc: Svc) -> Me:
    address = client_address(request)
    signed = await on_sign_in_thread(
        partial(auth.login, svc, body.username, body.password, address)
    )
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        httponly=True,
        samesite="lax",
        path="/",
        secure=request.url.scheme == "https",
        max_age=auth.SESSION_HOURS * 3600,
    )
    actor = signed.actor
    return Me(actor.username, sorted(r.value for r in actor.roles), actor.org_id, signed.csrf_token)


@router.post("/auth/logout", summary="退出 / sign out", status_code=204)
def logout(request: Request, response: Response, svc: Svc, actor: User) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.logout(svc, token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", summary="当前用户 / who am I")
def me(request: Request, actor: User) -> Me:
    return Me(
        actor.username,
        sorted(r.value for r in actor.roles),
        actor.org_id,
        getattr(request.state, "csrf_token", None),
    )


class TokenRequest(Body):
    name: str = Field(min_length=1, max_length=100)


@router.post("/tokens", summary="创建访问令牌 / create a bearer token", status_code=201)
def create_token(body: TokenRequest, svc: Svc, actor: User) -> dict[str, Any]:
    view, secret = auth.create_token(svc, actor, body.name)
    return {
        "id": view.id,
        "name": view.name,
        "token": secret,
        "note": "令牌只显示这一次 / shown only once",
    }


@router.delete("/tokens/{token_id}", summary="撤销令牌 / revoke a token")
def revoke_token(token_id: Id, svc: Svc, actor: User) -> auth.TokenView:
    return auth.revoke_token(svc, actor, token_id)
