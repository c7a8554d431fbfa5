"""One transaction per service call: commit at the end, roll back on anything else."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, event
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from huiqi.policy import PolicyPackage
from huiqi.service.anchors import Anchor
from huiqi.service.errors import Conflict, Invalid


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """What every service call needs: the database, the policy package and a clock."""

    engine: Engine
    package: PolicyPackage
    clock: Callable[[], datetime] = utc_now
    notice_days: int = 5
    #: Where the audit chain's keyed checkpoints go (None: anchoring off).
    anchor: Anchor | None = None
    #: Policy snapshots (by content hash) seen committed in the database: never asked again.
    stored_snapshots: set[str] = field(default_factory=set, init=False, repr=False)
    _sessions: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(
            self.engine, expire_on_commit=False, autoflush=True, info={"anchor": self.anchor}
        )
        event.listen(self._sessions, "before_flush", _refuse_writes_when_reading)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed only if the block ends normally."""
        session = self._sessions()
        try:
            yield session
            _crash_point("before_commit")
            session.commit()
        except (IntegrityError, StaleDataError, OperationalError) as exc:
            # Someone else changed the same records at the same moment (a race the database
            # caught: a unique key, a version, a deadlock or a busy lock): nothing was written.
            session.rollback()
            raise Conflict(
                "数据刚被其他人修改，本次操作未保存，请刷新后重试",
                "someone changed these records at the same moment; nothing was saved, try again",
            ) from exc
        except DataError as exc:
            session.rollback()
            raise Invalid(
                "数据超出允许范围，未保存", "a value is out of range; nothing was saved"
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session. On SQLite it takes no write lock. On PostgreSQL it runs in
        autocommit: under READ COMMITTED a transaction gives reads nothing more (each
        statement sees its own snapshot) and would cost a BEGIN and a ROLLBACK round trip."""
        session = self._sessions()
        session.info["readonly"] = True
        options: dict[str, object] = {"huiqi_readonly": True}
        if self.engine.dialect.name == "postgresql":
            options["isolation_level"] = "AUTOCOMMIT"
        session.connection(execution_options=options)
        try:
            yield session
        finally:
            session.rollback()
            session.close()


def _refuse_writes_when_reading(session: Session, *_: object) -> None:
    """A change made in a read-only session is a mistake: in autocommit it would be kept."""
    if session.info.get("readonly") and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a read-only session (Services.reading) cannot write")


def _crash_point(name: str) -> None:
    """For the 'nothing lost' tests: ``HUIQI_CRASH_AT=before_commit`` kills the process here."""
    if os.environ.get("HUIQI_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
