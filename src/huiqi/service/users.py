"""Users as the administrator sees them: who they are, and disabling and enabling them.

A disabled user cannot sign in, and its sessions and bearer tokens stop working at once:
the one query that loads who is asking (``actors.actor_query``) loads active users only, and
disabling also ends the sessions and revokes the tokens, so enabling the user again restores
signing in with its password but brings no old session or token back. The last active
administrator cannot be disabled (nobody could then manage users from the web or API).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.db.tables import Organisation, User, UserRole
from huiqi.fulfilment.roles import Role
from huiqi.service import audit
from huiqi.service.actors import Actor, require
from huiqi.service.auth import end_credentials
from huiqi.service.errors import Conflict, NotFound
from huiqi.service.uow import Services


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    display_name: str
    roles: list[str]
    org_code: str | None
    active: bool
    disabled_at: str | None
    disabled_by: str | None


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).isoformat()


def _view(user: User, org_code: str | None) -> UserView:
    return UserView(
        user.id,
        user.username,
        user.display_name,
        sorted(r.role.value for r in user.roles),
        org_code,
        user.active,
        _iso(user.disabled_at),
        user.disabled_by,
    )


def list_users(svc: Services, actor: Actor) -> list[UserView]:
    """Every user with roles, organisation and whether it is disabled (administrator)."""
    require(actor, Role.ADMIN)
    with svc.reading() as s:
        rows = s.execute(
            select(User, Organisation.credit_code)
            .outerjoin(Organisation, Organisation.id == User.org_id)
            .order_by(User.username)
        ).all()
        return [_view(user, code) for user, code in rows]


#: Active administrators, locked in id order (every disable of an administrator takes the
#: same locks in the same order, so two of them cannot both see "another one is left").
_ACTIVE_ADMINS = (
    select(User.id)
    .join(UserRole, UserRole.user_id == User.id)
    .where(UserRole.role == Role.ADMIN, User.active.is_(True))
    .order_by(User.id)
    .with_for_update(of=User)
)


def _locked_user(s: Session, username: str) -> User:
    user = s.scalar(
        select(User)
        .where(User.username == username)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user is None:
        raise NotFound(f"用户 {username} 不存在", f"no user {username}")
    return user


def disable_user(svc: Services, actor: Actor | None, username: str) -> UserView:
    """Disable a user: its sessions end and its tokens are revoked at once, and it cannot sign
    in until enabled (``actor`` None: the command line on the server). Already disabled: no
    change."""
    if actor is not None:
        require(actor, Role.ADMIN)
    now = svc.clock()
    with svc.transaction() as s:
        holds_admin = s.scalar(
            select(UserRole.user_id)
            .join(User, User.id == UserRole.user_id)
            .where(User.username == username, UserRole.role == Role.ADMIN)
        )
        admins = list(s.scalars(_ACTIVE_ADMINS)) if holds_admin is not None else []
        user = _locked_user(s, username)
        if not user.active:
            return _view(user, _org_code(s, user))
        if holds_admin is not None and admins == [user.id]:
            raise Conflict(
                "不能停用最后一位在用的管理员", "the last active administrator cannot be disabled"
            )
        user.active = False
        user.disabled_at = now
        user.disabled_by = actor.username if actor else "cli"
        ended = end_credentials(s, user.id, now)
        s.flush()
        audit.record(
            s,
            at=now,
            actor=user.disabled_by,
            action="user.disable",
            object_type="user",
            object_id=user.id,
            before={"active": True},
            after={"active": False, **ended},
        )
        return _view(user, _org_code(s, user))


def enable_user(svc: Services, actor: Actor | None, username: str) -> UserView:
    """Let a disabled user sign in again with its password (old sessions and tokens stay
    ended). Already active: no change."""
    if actor is not None:
        require(actor, Role.ADMIN)
    now = svc.clock()
    with svc.transaction() as s:
        user = _locked_user(s, username)
        if user.active:
            return _view(user, _org_code(s, user))
        before = {"active": False, "disabled_at": _iso(user.disabled_at), "by": user.disabled_by}
        user.active = True
        user.disabled_at = None
        user.disabled_by = None
        s.flush()
        audit.record(
            s,
            at=now,
            actor=actor.username if actor else "cli",
            action="user.enable",
            object_type="user",
            object_id=user.id,
            before=before,
            after={"active": True},
        )
        return _view(user, _org_code(s, user))


def _org_code(s: Session, user: User) -> str | None:
    if user.org_id is None:
        return None
    return s.scalar(select(Organisation.credit_code).where(Organisation.id == user.org_id))
