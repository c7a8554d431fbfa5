"""Who is acting, and the permission checks that every service call makes through here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from huiqi.db.tables import User, UserRole
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


#: A user's id, username, organisation and one of its roles (None if it has none).
ActorQuery = Select[int, str, int | None, Role]


def load_actor(session: Session, username: str) -> Actor:
    actor = find_actor(session, _BY_USERNAME, {"username": username})
    if actor is None:
        raise NotFound(f"用户 {username} 不存在或已停用", f"no active user {username}")
    return actor


def actor_query() -> ActorQuery:
    """An active user with its roles, one row per role, in one query (a request's sign-in
    check runs on every call: one round trip, not one for the user and one for its roles).
    Add the ``where`` that picks the user; build it once, with bound parameters."""
    return (
        select(User.id, User.username, User.org_id, UserRole.role)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(User.active.is_(True))
    )


def find_actor(session: Session, query: ActorQuery, params: dict[str, object]) -> Actor | None:
    rows = session.execute(query, params).all()
    if not rows:
        return None
    user_id, username, org_id, _ = rows[0]
    return Actor(user_id, username, frozenset(r.role for r in rows if r.role is not None), org_id)


_BY_USERNAME = actor_query().where(User.username == bindparam("username"))
#: The user a session belongs to (by its id).
BY_USER_ID = actor_query().where(User.id == bindparam("user_id"))


def require(actor: Actor, *roles: Role) -> None:
    if not actor.has(*roles):
        zh = "、".join(r.zh for r in roles)
        en = ", ".join(r.en for r in roles)
        raise Forbidden(f"此操作需要以下角色之一：{zh}", f"this needs one of the roles: {en}")


def _hidden() -> NotFound:
    """ "Not found", saying nothing of what was asked for."""
    return NotFound("未找到该记录", "not found")


def require_org(actor: Actor, org_id: int, *, write: bool = False) -> None:
    """Applicants see and change only their own organisation; auditors only read."""
    if actor.has(Role.APPLICANT) and actor.org_id == org_id:
        return
    if actor.has(Role.APPLICANT) and not actor.roles & STAFF:
        # An applicant asking about another organisation learns nothing, not even that it
        # exists: reading and writing alike get "not found".
        raise _hidden()
    if write:
        raise Forbidden("只能修改本单位的数据", "you may change only your own organisation's data")
    if actor.roles & (STAFF - {Role.ADMIN}):
        return
    raise _hidden()


def unknown_org(actor: Actor | None, code: str) -> NotFound:
    """No organisation has this credit code. Staff (and the server's command line, ``actor``
    None) are told so; anyone else gets the answer :func:`require_org` gives for another
    organisation's records, so nobody outside the staff learns which codes are registered."""
    if actor is None or actor.roles & STAFF:
        return NotFound(f"未登记的单位 {code}", f"no organisation {code}")
    return _hidden()
