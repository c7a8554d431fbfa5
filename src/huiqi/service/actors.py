"""Who is acting, and the permission checks that every service call makes through here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.db.tables import User
from huiqi.fulfilment.roles import Role
from huiqi.service.errors import Forbidden, NotFound

STAFF = frozenset(Role) - {Role.APPLICANT}


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    roles: frozenset[Role]
    org_id: int | None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))


def load_actor(session: Session, username: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise NotFound(f"用户 {username} 不存在或已停用", f"no active user {username}")
    return Actor(user.id, user.username, frozenset(r.role for r in user.roles), user.org_id)


def require(actor: Actor, *roles: Role) -> None:
    if not actor.has(*roles):
        zh = "、".join(r.zh for r in roles)
        en = ", ".join(r.en for r in roles)
        raise Forbidden(f"此操作需要以下角色之一：{zh}", f"this needs one of the roles: {en}")


def require_org(actor: Actor, org_id: int, *, write: bool = False) -> None:
    """Applicants see and change only their own organisation; auditors only read."""
    if actor.has(Role.APPLICANT) and actor.org_id == org_id:
        return
    if actor.has(Role.APPLICANT) and not actor.roles & STAFF:
        # An applicant asking about another organisation learns nothing, not even that it
        # exists: reading and writing alike get "not found".
        raise NotFound("未找到该记录", "not found")
    if write:
        raise Forbidden("只能修改本单位的数据", "you may change only your own organisation's data")
    if actor.roles & (STAFF - {Role.ADMIN}):
        return
    raise NotFound("未找到该记录", "not found")
