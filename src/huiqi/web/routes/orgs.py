"""Organisations and users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field, Strict

from huiqi.facts.model import ApplicantKind
from huiqi.facts.types import CREDIT_CODE_FORMAT
from huiqi.fulfilment.roles import Role
from huiqi.service import auth, orgs, queries, users
from huiqi.service.orgs import OrgView
from huiqi.service.users import UserView
from huiqi.web.deps import Svc, User
from huiqi.web.exact import ExactRoute
from huiqi.web.types import USERNAME, Body, LimitQ, OffsetQ, Username

router = APIRouter(tags=["organisations 单位与用户"], route_class=ExactRoute)


#: Text with something besides spaces in it, and no NUL.
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"


class NewOrg(Body):
    credit_code: str = Field(
        min_length=1, max_length=18, json_schema_extra={"format": CREDIT_CODE_FORMAT}
    )
    # Not blank (the service refuses text of spaces only), no NUL.
    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    kind: ApplicantKind = Field(strict=False)  # JSON text, an enum
    division: str = Field(
        min_length=1,
        max_length=100,
        pattern=NOT_BLANK,
        description="税收申报缴纳地：政策包县市区（园区）名单之一"
        " / one of the policy's paying divisions",
    )
    platform_filed: bool = False
    platform_connected: bool = False


@router.get("/organisations", summary="单位列表 / organisations")
def list_orgs(
    svc: Svc,
    actor: User,
    division: Annotated[str | None, Query(max_length=100)] = None,
    kind: Annotated[ApplicantKind | None, Query(description="单位类别 / kind")] = None,
    limit: LimitQ = 50,
    offset: OffsetQ = 0,
) -> list[OrgView]:
    return queries.organisations(
        svc, actor, division=division, kind=kind, page=queries.Page(limit, offset)
    )


@router.post("/organisations", summary="登记单位 / register an organisation", status_code=201)
def add_org(body: NewOrg, svc: Svc, actor: User) -> OrgView:
    return orgs.add_org(
        svc,
        actor,
        code=body.credit_code,
        name=body.name,
        kind=body.kind,
        division=body.division,
        platform_filed=body.platform_filed,
        platform_connected=body.platform_connected,
    )


class NewUser(Body):
    username: str = Field(min_length=1, max_length=64, pattern=USERNAME)
    display_name: str = Field(min_length=1, max_length=100)
    roles: list[Annotated[Role, Strict(False)]] = Field(min_length=1, max_length=8)  # JSON text
    org_code: str | None = Field(default=None, max_length=18)
    password: str | None = Field(default=None, min_length=10, max_length=200)


@router.post("/users", summary="创建用户（管理员） / create a user (admin)", status_code=201)
def add_user(body: NewUser, svc: Svc, actor: User) -> dict[str, int]:
    digest = auth.hash_password(body.password) if body.password else None
    user_id = orgs.add_user(
        svc,
        actor,
        username=body.username,
        display_name=body.display_name,
        roles=body.roles,
        org_code=body.org_code,
        password_hash=digest,
    )
    return {"id": user_id}


@router.get("/users", summary="用户列表（管理员） / users (admin)")
def list_users(svc: Svc, actor: User) -> list[UserView]:
    return users.list_users(svc, actor)


@router.post(
    "/users/{username}/disable",
    summary="停用用户，其会话与令牌随即失效（管理员） / disable a user: its sessions and "
    "tokens end at once (admin)",
)
def disable_user(username: Username, svc: Svc, actor: User) -> UserView:
    return users.disable_user(svc, actor, username)


@router.post("/users/{username}/enable", summary="启用用户（管理员） / enable a user (admin)")
def enable_user(username: Username, svc: Svc, actor: User) -> UserView:
    return users.enable_user(svc, actor, username)


@router.get(
    "/users/{username}/tokens",
    summary="用户的访问令牌，不含令牌本身（管理员） / a user's tokens, never the secret (admin)",
)
def list_tokens(username: Username, svc: Svc, actor: User) -> list[auth.TokenView]:
    return auth.list_tokens(svc, actor, username)
