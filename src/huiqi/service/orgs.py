"""Organisations and users: who applies and who decides."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from huiqi import credit_code
from huiqi.db.tables import Organisation, User, UserRole
from huiqi.errors import Problem
from huiqi.facts.model import ApplicantKind
from huiqi.fulfilment.duties import Body, DutyConflict, body_of
from huiqi.fulfilment.roles import Role
from huiqi.service import audit, divisions
from huiqi.service.actors import Actor, require
from huiqi.service.errors import Conflict, Invalid, NotFound
from huiqi.service.uow import Services


@dataclass(frozen=True)
class OrgView:
    id: int
    credit_code: str
    name: str
    kind: str
    division: str
    platform_filed: bool
    platform_connected: bool


def view_org(org: Organisation) -> OrgView:
    return OrgView(
        org.id,
        org.credit_code,
        org.name,
        org.kind.value,
        org.division,
        org.platform_filed,
        org.platform_connected,
    )


def add_org(
    svc: Services,
    actor: Actor,
    *,
    code: str,
    name: str,
    kind: str,
    division: str,
    platform_filed: bool = False,
    platform_connected: bool = False,
) -> OrgView:
    """Register an organisation (administrator or commerce bureau staff)."""
    require(actor, Role.ADMIN, Role.COMMERCE_REVIEWER)
    problems = []
    try:
        code = credit_code.validate(code)
    except credit_code.CreditCodeError as exc:
        problems.append(Problem("credit_code", code, exc.zh, exc.en))
    if kind not in {k.value for k in ApplicantKind}:
        allowed = ", ".join(k.value for k in ApplicantKind)
        problems.append(Problem("kind", kind, f"主体类型应为 {allowed}", f"kind must be {allowed}"))
    if not name.strip():
        problems.append(Problem("name", name, "单位名称不能为空", "name is empty"))
    division = division.strip()
    if (wrong := divisions.problem(svc.package, division)) is not None:
        problems.append(wrong)
    if problems:
        raise Invalid("单位信息有误", "bad organisation details", problems)
    with svc.transaction() as s:
        if s.scalar(select(Organisation).where(Organisation.credit_code == code)) is not None:
            raise Conflict(f"统一社会信用代码 {code} 已登记", f"{code} is already registered")
        org = Organisation(
            credit_code=code,
            name=name.strip(),
            kind=ApplicantKind(kind),
            division=division,
            platform_filed=platform_filed,
            platform_connected=platform_connected,
            created_at=svc.clock(),
        )
        s.add(org)
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="org.add",
            object_type="organisation",
            object_id=org.id,
            after=view_org(org).__dict__,
        )
        return view_org(org)


def add_user(
    svc: Services,
    actor: Actor | None,
    *,
    username: str,
    display_name: str,
    roles: list[Role],
    org_code: str | None = None,
    password_hash: str | None = None,
) -> int:
    """Create a user with roles. ``actor`` None is the bootstrap of the first administrator."""
    with svc.transaction() as s:
        if actor is None:
            if s.scalar(select(User).limit(1)) is not None:
                raise Conflict(
                    "已有用户，须由管理员创建", "users exist: an administrator creates them"
                )
        else:
            require(actor, Role.ADMIN)
        body = _body_of(roles)
        org_id = None
        if body is Body.APPLICANT:
            if org_code is None:
                raise Invalid(
                    "申报单位用户须指定所属单位",
                    "an applicant user needs an organisation",
                    [Problem("org", None, "缺少所属单位", "organisation missing")],
                )
            org = s.scalar(select(Organisation).where(Organisation.credit_code == org_code))
            if org is None:
                raise NotFound(f"未登记的单位 {org_code}", f"no organisation {org_code}")
            org_id = org.id
        user = User(
            username=username,
            display_name=display_name,
            org_id=org_id,
            password_hash=password_hash,
            active=True,
            created_at=svc.clock(),
            body=body.value,
            roles=[UserRole(role=r, body=body.value) for r in dict.fromkeys(roles)],
        )
        s.add(user)
        try:
            s.flush()
        except IntegrityError:
            raise Conflict(f"用户名 {username} 已存在", f"username {username} is taken") from None
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username if actor else username,
            action="user.add",
            object_type="user",
            object_id=user.id,
            after={"username": username, "roles": [r.value for r in roles], "org_id": org_id},
        )
        return user.id


def _body_of(roles: list[Role]) -> Body:
    """The one body an account works for; a mix of bodies is refused (separation of duties)."""
    try:
        return body_of(roles)
    except DutyConflict as exc:
        raise Invalid(
            exc.zh,
            exc.en,
            [Problem("roles", [r.value for r in roles], exc.zh, exc.en)],
        ) from None
