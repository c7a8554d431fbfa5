"""Signing in: Argon2 passwords, server-side sessions, revocable bearer tokens, throttling.

Only hashes of session cookies and bearer tokens are stored, so a copy of the
database lets nobody sign in. Every sign-in makes a fresh session (no fixation);
failed attempts are counted per user name and per address and slow an attacker down.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select

from huiqi.db.tables import ApiToken, LoginFailure, User, WebSession
from huiqi.errors import Problem
from huiqi.fulfilment.roles import Role
from huiqi.service import audit
from huiqi.service.actors import BY_USER_ID, Actor, actor_query, find_actor, load_actor, require
from huiqi.service.errors import Invalid, NotFound, ServiceError
from huiqi.service.uow import Services

SESSION_HOURS = 8
FAILURES_PER_USER = 5  # within the window, then wait
FAILURES_PER_ADDRESS = 30
WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 10

_hasher = PasswordHasher()


class TooManyAttempts(ServiceError):  # noqa: N818
    status = 429


class NotSignedIn(ServiceError):  # noqa: N818
    status = 401


@cache
def _decoy() -> str:
    """A hash of a random password, checked when the user does not exist."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            "密码太短",
            "the password is too short",
            [
                Problem(
                    "password",
                    None,
                    f"至少 {MIN_PASSWORD} 个字符",
                    f"at least {MIN_PASSWORD} characters",
                )
            ],
        )
    return _hasher.hash(password)


@dataclass(frozen=True)
class SignedIn:
    token: str  # the cookie's value; shown once
    csrf_token: str
    actor: Actor


def login(svc: Services, username: str, password: str, address: str) -> SignedIn:
    """A fresh session for a correct password, unless too many attempts failed lately."""
    now = svc.clock()
    with svc.transaction() as s:
        since = now - WINDOW
        by_user = (
            s.scalar(
                select(func.count())
                .select_from(LoginFailure)
                .where(LoginFailure.username == username, LoginFailure.at >= since)
            )
            or 0
        )
        by_address = (
            s.scalar(
                select(func.count())
                .select_from(LoginFailure)
                .where(LoginFailure.address == address, LoginFailure.at >= since)
            )
            or 0
        )
        if by_user >= FAILURES_PER_USER or by_address >= FAILURES_PER_ADDRESS:
            raise TooManyAttempts(
                "登录失败次数过多，请15分钟后再试",
                "too many failed sign-ins; try again in 15 minutes",
            )
        user = s.scalar(select(User).where(User.username == username))
        ok = False
        # Always verify one hash, so an unknown user name takes as long as a wrong password.
        stored = user.password_hash if user is not None and user.password_hash else _decoy()
        try:
            ok = _hasher.verify(stored, password) and user is not None and user.active
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None:
            s.add(LoginFailure(username=username[:64], address=address[:64], at=now))
            s.commit()  # the failure is counted even though the call fails
            raise NotSignedIn("用户名或密码错误", "wrong user name or password")
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        s.add(
            WebSession(
                token_hash=_digest(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + timedelta(hours=SESSION_HOURS),
            )
        )
        s.execute(delete(LoginFailure).where(LoginFailure.username == username))
        actor = load_actor(s, username)
        audit.record(
            s,
            at=now,
            actor=username,
            action="auth.login",
            object_type="user",
            object_id=user.id,
            after={"address": address},
        )
        return SignedIn(token, csrf, actor)


def session(svc: Services, token: str) -> tuple[Actor, str] | None:
    """The actor and CSRF token of a live session, or None."""
    with svc.reading() as s:
        row = s.get(WebSession, _digest(token))
        if row is None or _aware(row.expires_at) <= svc.clock():
            return None
        actor = find_actor(s, BY_USER_ID, {"user_id": row.user_id})
        return None if actor is None else (actor, row.csrf_token)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def logout(svc: Services, token: str) -> None:
    with svc.transaction() as s:
        s.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    created_at: str
    revoked: bool


def create_token(svc: Services, actor: Actor, name: str) -> tuple[TokenView, str]:
    """A bearer token for a machine client acting as ``actor``; the secret is shown once."""
    if not name.strip() or len(name) > 100:
        raise Invalid(
            "令牌名称有误",
            "bad token name",
            [Problem("name", name, "1–100个字符", "1–100 characters")],
        )
    secret = "hq_" + secrets.token_urlsafe(32)
    now = svc.clock()
    with svc.transaction() as s:
        row = ApiToken(
            user_id=actor.user_id, name=name.strip(), token_hash=_digest(secret), created_at=now
        )
        s.add(row)
        s.flush()
        audit.record(
            s,
            at=now,
            actor=actor.username,
            action="token.create",
            object_type="api_token",
            object_id=row.id,
            after={"name": row.name},
        )
        return TokenView(row.id, row.name, now.isoformat(), False), secret


def revoke_token(svc: Services, actor: Actor, token_id: int) -> TokenView:
    """Revoke one of one's own tokens (an administrator may revoke anyone's)."""
    now = svc.clock()
    with svc.transaction() as s:
        row = s.get(ApiToken, token_id)
        if row is None or (row.user_id != actor.user_id and not actor.has(Role.ADMIN)):
            raise NotFound("令牌不存在", "no such token")
        row.revoked_at = row.revoked_at or now
        audit.record(
            s,
            at=now,
            actor=actor.username,
            action="token.revoke",
            object_type="api_token",
            object_id=row.id,
        )
        return TokenView(row.id, row.name, str(row.created_at), True)


_BY_TOKEN = (
    actor_query()
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None))
)


def token_actor(svc: Services, secret: str) -> Actor | None:
    """The actor a live (unrevoked) token stands for, or None."""
    with svc.reading() as s:
        return find_actor(s, _BY_TOKEN, {"digest": _digest(secret)})


def set_password(svc: Services, actor: Actor | None, username: str, password: str) -> None:
    """An administrator sets a password (``actor`` None: the command line on the server)."""
    if actor is not None:
        require(actor, Role.ADMIN)
    digest = hash_password(password)
    with svc.transaction() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"用户 {username} 不存在", f"no user {username}")
        user.password_hash = digest
        s.execute(delete(WebSession).where(WebSession.user_id == user.id))
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username if actor else "cli",
            action="user.set_password",
            object_type="user",
            object_id=user.id,
        )
