"""The administrator's page of users: who holds which roles, and disabling or enabling a user
(its sessions and tokens end at once). Creating users and setting passwords stay on the
command line (``huiqi user add|password``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from huiqi.fulfilment.roles import Role
from huiqi.service import users
from huiqi.service.actors import Actor, require
from huiqi.service.errors import Conflict, NotFound
from huiqi.web.deps import User, get_services
from huiqi.web.pages.common import lang_of, redirect, render
from huiqi.web.pages.console_common import FormErrors, login_redirect, page_staff, refused
from huiqi.web.types import Username

router = APIRouter(include_in_schema=False)


def _page(
    request: Request, actor: Actor, status: int = 200, errors: FormErrors | None = None
) -> Response:
    listed = users.list_users(get_services(request), actor)
    roles = {r.value: r for r in Role}
    return render(
        request,
        "console_users.html",
        status=status,
        users=listed,
        roles=roles,
        errors=errors or FormErrors(),
    )


@router.get("/console/users")
def user_list(request: Request) -> Response:
    actor = page_staff(request)
    if actor is None:
        return login_redirect(request)
    require(actor, Role.ADMIN)
    return _page(request, actor)


def _act(request: Request, actor: Actor, username: str, disable: bool) -> Response:
    require(actor, Role.ADMIN)
    svc = get_services(request)
    try:
        if disable:
            users.disable_user(svc, actor, username)
        else:
            users.enable_user(svc, actor, username)
    except (Conflict, NotFound) as exc:
        return _page(request, actor, exc.status, refused(exc, lang_of(request), "users"))
    return redirect("/console/users", "done")


@router.post("/console/users/{username}/disable")
def disable(username: Username, request: Request, actor: User) -> Response:
    return _act(request, actor, username, disable=True)


@router.post("/console/users/{username}/enable")
def enable(username: Username, request: Request, actor: User) -> Response:
    return _act(request, actor, username, disable=False)
