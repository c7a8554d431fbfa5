"""Signing in: Argon2 passwords, server-side sessions, revocable bearer tokens, throttling.

Only hashes of session cookies and bearer tokens are stored, so a copy of the
database lets nobody sign in. Every sign-in makes a fresh session (no fixation).

Throttling (every attempt is counted before its password is checked, and forgotten only
when it proves right; unknown user names are counted like known ones):

* lock-out per user name *and* address: after ``FAILURES_PER_USER_AND_ADDRESS`` failures
  within ``WINDOW`` that pair is refused — the right password too — until they age out of
  the window. The same user from another address is not affected, so an attacker cannot
  lock a clerk out;
* slowdown per user name (every address): once it has ``SLOWDOWN_FROM`` failures within the
  window, an address that has itself failed for that name within the window must wait after
  its last failure — 1 s, doubling with each further failure of the name, at most
  ``SLOWDOWN_MAX`` — before it may try that name again. An address with no failure for the
  name (a clerk at their own desk) is never held, so a correct password from there always
  gets through;
* per address (every name): after ``FAILURES_PER_ADDRESS`` failures within the window the
  address is refused, so one address cannot sweep many names.

Argon2 runs outside any transaction: on SQLite a transaction holds the database's write
lock from its start, and a hash takes a good fraction of a second.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from huiqi.db.tables import ApiToken, LoginFailure, User, WebSession
from huiqi.errors import Problem
from huiqi.fulfilment.roles import Role
from huiqi.service import audit
from huiqi.service.actors import BY_USER_ID, Actor, actor_query, find_actor, load_actor, require
from huiqi.service.errors import Invalid, NotFound, ServiceError
from huiqi.service.uow import Services

SESSION_HOURS = 8
WINDOW = timedelta(minutes=15)
#: Failures of one user name from one address within the window, then that pair is locked.
FAILURES_PER_USER_AND_ADDRESS = 5
#: Failures of one user name from all addresses within the window from which it slows down.
SLOWDOWN_FROM = 5
SLOWDOWN_MAX = timedelta(minutes=2)
#: Failures from one address, whatever the user names, within the window, then it is locked.
FAILURES_PER_ADDRESS = 30
MIN_PASSWORD = 10

_hasher = PasswordHasher()


class TooManyAttempts(ServiceError):  # noqa: N818
    status = 429


class NotSignedIn(ServiceError):  # noqa: N818
    status = 401


def _wrong() -> NotSignedIn:
    """One answer for a wrong password, an unknown name and a disabled user alike."""
    return NotSignedIn("用户名或密码错误", "wrong user name or password")


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


@dataclass(frozen=True)
class _Attempt:
    """An attempt counted (as a failure, until it proves right) and the user it names."""

    user_id: int | None
    password_hash: str | None
    active: bool


def login(svc: Services, username: str, password: str, address: str) -> SignedIn:
    """A fresh session for a correct password, unless too many attempts failed lately."""
    username, address = username[:64], address[:64]
    attempt = _count_attempt(svc, username, address)
    stored = attempt.password_hash or _decoy()
    # Always verify one hash, so an unknown user name takes as long as a wrong password.
    ok: bool
    try:
        ok = _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or attempt.user_id is None or not attempt.active:
        raise _wrong()  # the attempt stays counted as a failure
    return _open_session(svc, attempt, username, address)


_PAIR = and_(
    LoginFailure.username == bindparam("username"), LoginFailure.address == bindparam("address")
)
#: Within the window: failures of the pair, of the name, of the address; the pair's last one.
_COUNTS = select(
    func.coalesce(func.sum(case((_PAIR, 1), else_=0)), 0),
    func.coalesce(func.sum(case((LoginFailure.username == bindparam("username"), 1), else_=0)), 0),
    func.coalesce(func.sum(case((LoginFailure.address == bindparam("address"), 1), else_=0)), 0),
    func.max(case((_PAIR, LoginFailure.at))),
).where(
    or_(
        LoginFailure.username == bindparam("username"),
        LoginFailure.address == bindparam("address"),
    ),
    LoginFailure.at >= bindparam("since"),
)


def _count_attempt(svc: Services, username: str, address: str) -> _Attempt:
    """Refuse the attempt if the throttle says so; else count it as a failure (committed,
    so a crash or a slow hash cannot hide it) and read the user it names. Attempts for one
    name are counted one at a time: SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory lock."""
    now = svc.clock()
    with svc.transaction() as s:
        if s.get_bind().dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(username.encode()).digest()[:8], "big", signed=True)
            s.execute(select(func.pg_advisory_xact_lock(key)))
        s.execute(
            delete(LoginFailure).where(
                LoginFailure.username == username, LoginFailure.at < now - WINDOW
            )
        )
        params = {"username": username, "address": address, "since": now - WINDOW}
        by_pair, by_user, by_address, last = s.execute(_COUNTS, params).one()
        _throttle(now, int(by_pair), int(by_user), int(by_address), last)
        user = s.execute(
            select(User.id, User.password_hash, User.active).where(User.username == username)
        ).one_or_none()
        s.add(LoginFailure(username=username, address=address, at=now))
        if user is None:
            return _Attempt(None, None, False)
        return _Attempt(user.id, user.password_hash, bool(user.active))


def slowdown(failures_of_user: int) -> timedelta:
    """How long an address that failed for a user waits after its last failure, given the
    user's failures from every address within the window."""
    if failures_of_user < SLOWDOWN_FROM:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures_of_user - SLOWDOWN_FROM, 20)), SLOWDOWN_MAX)


def _throttle(
    now: datetime, by_pair: int, by_user: int, by_address: int, last: datetime | None
) -> None:
    if by_pair >= FAILURES_PER_USER_AND_ADDRESS or by_address >= FAILURES_PER_ADDRESS:
        raise TooManyAttempts(
            "登录失败次数过多，请15分钟后再试",
            "too many failed sign-ins; try again in 15 minutes",
        )
    if last is None:
        return  # this address has not failed for this user lately: never held
    ready = _aware(last) + slowdown(by_user)
    if now < ready:
        seconds = max(1, int((ready - now).total_seconds() + 0.999))
        raise TooManyAttempts(
            f"该用户登录失败次数过多，请 {seconds} 秒后再试",
            f"too many failed sign-ins for this user; try again in {seconds} seconds",
        )


def _open_session(svc: Services, attempt: _Attempt, username: str, address: str) -> SignedIn:
    """The session of a proven attempt, unless the user was disabled or its password changed
    while the hash was checked (the user's row is locked: a disable or a password change
    either came first, and is seen here, or comes after and ends this session too)."""
    now = svc.clock()
    with svc.transaction() as s:
        user = s.scalar(select(User).where(User.id == attempt.user_id).with_for_update())
        if user is None or not user.active or user.password_hash != attempt.password_hash:
            raise _wrong()
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
        # This address proved it knows the password: its failures (this attempt's too) are
        # forgotten; other addresses' failures for the name stay counted.
        s.execute(
            delete(LoginFailure).where(
                LoginFailure.username == username, LoginFailure.address == address
            )
        )
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
    """A bearer token as listed: never its secret (only its hash is stored anyway). When it
    was last used is not recorded: that would write on every request a token makes."""

    id: int
    name: str
    created_at: str
    revoked: bool
    revoked_at: str | None = None


def _token_view(row: ApiToken) -> TokenView:
    revoked = None if row.revoked_at is None else _aware(row.revoked_at).isoformat()
    created = _aware(row.created_at).isoformat()
    return TokenView(row.id, row.name, created, revoked is not None, revoked)


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
        # The user's row locked: a disable or a password change that committed meanwhile is
        # seen here; one that comes later revokes this token with the others.
        active = s.scalar(select(User.active).where(User.id == actor.user_id).with_for_update())
        if not active:
            raise NotSignedIn("登录已失效，请重新登录", "your sign-in has ended; sign in again")
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
        return _token_view(row), secret


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
        return _token_view(row)


def list_tokens(svc: Services, actor: Actor, username: str) -> list[TokenView]:
    """Every token of a user, revoked ones too, oldest first (administrator)."""
    require(actor, Role.ADMIN)
    with svc.reading() as s:
        user_id = s.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise NotFound(f"用户 {username} 不存在", f"no user {username}")
        rows = s.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))
        return [_token_view(row) for row in rows]


_BY_TOKEN = (
    actor_query()
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None))
)


def token_actor(svc: Services, secret: str) -> Actor | None:
    """The actor a live (unrevoked) token of an active user stands for, or None."""
    with svc.reading() as s:
        return find_actor(s, _BY_TOKEN, {"digest": _digest(secret)})


def end_credentials(s: Session, user_id: int, now: datetime) -> dict[str, int]:
    """End every session and revoke every live token of a user (in the caller's transaction,
    after it locked the user's row); returns how many of each, for the audit entry."""
    sessions = cast(
        CursorResult[Any], s.execute(delete(WebSession).where(WebSession.user_id == user_id))
    )
    tokens = cast(
        CursorResult[Any],
        s.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        ),
    )
    return {"sessions_ended": sessions.rowcount, "tokens_revoked": tokens.rowcount}


def set_password(svc: Services, actor: Actor | None, username: str, password: str) -> None:
    """An administrator sets a password (``actor`` None: the command line on the server).
    Every session and bearer token of the user ends with the old password."""
    if actor is not None:
        require(actor, Role.ADMIN)
    digest = hash_password(password)
    now = svc.clock()
    with svc.transaction() as s:
        user = s.scalar(select(User).where(User.username == username).with_for_update())
        if user is None:
            raise NotFound(f"用户 {username} 不存在", f"no user {username}")
        user.password_hash = digest
        ended = end_credentials(s, user.id, now)
        audit.record(
            s,
            at=now,
            actor=actor.username if actor else "cli",
            action="user.set_password",
            object_type="user",
            object_id=user.id,
            after=ended,
        )
