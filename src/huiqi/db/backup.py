"""Backup and restore: the SQLite file, and a PostgreSQL dump/restore round-trip.

The commands are ``huiqi db backup FILE`` and ``huiqi db restore FILE`` (see
:mod:`huiqi.service.backups`): one bundle with the database, the attachments and a manifest,
and a restore that checks the audit chain before it keeps the copy. This module holds the
pieces they use, and the procedure by hand.

SQLite (the default database, ``var/huiqi.sqlite3``)
----------------------------------------------------
A backup is taken with SQLite's online backup API: one consistent snapshot of the
database as it was at one instant, taken while the system keeps running (writers are
not stopped and are never half-copied). The copy is a single self-contained file.

Back up (while huiqi is running)::

    .venv/bin/huiqi db backup backups/huiqi-2023-04-01.tar.gz

Restore (stop every huiqi process first; the restore refuses a database in use)::

    .venv/bin/huiqi db restore backups/huiqi-2023-04-01.tar.gz --replace
    .venv/bin/huiqi audit verify          # the restored audit chain is intact

A restore refuses, in Chinese and English, a file that is not a SQLite database, a
SQLite database that is not huiqi's, a damaged one, or one at another migration than
this program's (restore it with the program version that made it, then run
``huiqi db upgrade``). Without ``replace=True`` it never overwrites an existing file.
It writes a temporary file beside the target and renames it into place, so a restore
that is interrupted leaves the old database as it was.

PostgreSQL (``HUIQI_DATABASE_URL=postgresql+psycopg://…``)
-----------------------------------------------------------
Use the PostgreSQL client tools (Debian: ``apt-get install postgresql-client``; their
major version must be at least the server's). ``huiqi db backup FILE`` runs ``pg_dump
-Fc`` and bundles the dump with the attachments (without ``pg_dump`` it refuses and prints
the exact command); ``huiqi db restore FILE`` runs ``pg_restore`` into an empty database
(or a schema that does not exist yet), checks the audit chain there and drops it again if
the check fails (unless ``--force``). :func:`pg_dump_command` and
:func:`pg_restore_command` build the argument lists; :func:`pg_environment` gives the
password, if the URL has one, as ``PGPASSWORD`` rather than on the command line. By
hand, for a database ``huiqi`` on the local server::

    # back up, while running: a consistent snapshot in pg_dump's custom format
    pg_dump --format=custom --file=huiqi-2023-04-01.dump \\
        --dbname=postgresql://postgres@127.0.0.1:5432/huiqi
    tar -czf huiqi-2023-04-01-attachments.tar.gz -C var attachments
    # restore into a new, empty database (all or nothing: one transaction)
    createdb -h 127.0.0.1 -U postgres huiqi_restored
    pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \\
        --dbname=postgresql://postgres@127.0.0.1:5432/huiqi_restored huiqi-2023-04-01.dump
    HUIQI_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/huiqi_restored \\
        .venv/bin/huiqi audit verify

When huiqi lives in one schema of a shared database, add ``--schema=NAME`` to
``pg_dump`` (``pg_dump_command(url, "NAME", dest)``): the dump then holds that schema
only and ``pg_restore`` recreates it under the same name in the target database.
``tests/db/test_backup.py`` runs both round-trips and compares every table row by row.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from huiqi.db.migrate import head
from huiqi.db.tables import Base
from huiqi.service.errors import Invalid

SQLITE_HEADER = b"SQLite format 3\x00"


class BackupRefused(Invalid):
    """A backup or restore that was not done, and why, in Chinese and English."""


@dataclass(frozen=True)
class BackupInfo:
    """What a backup or restore produced."""

    path: Path
    revision: str
    audit_entries: int
    size_bytes: int


# -- SQLite ------------------------------------------------------------------------------------


def backup_sqlite(source: Engine | str | Path, dest: str | Path) -> BackupInfo:
    """Copy a live SQLite database to ``dest`` as one consistent snapshot.

    ``source`` is the database file or a SQLite engine on it. The copy is made with
    ``sqlite3.Connection.backup`` in a single step, under one read transaction: writers
    in other connections go on (WAL), and the copy holds each of their transactions
    wholly or not at all. ``dest`` is replaced atomically if it exists.
    """
    path = _sqlite_file(source)
    if not path.is_file():
        raise BackupRefused(
            f"找不到要备份的数据库文件：{path}", f"no database file to back up: {path}"
        )
    dest = Path(dest)
    if dest.resolve() == path.resolve():
        raise BackupRefused("备份文件不能是数据库本身", "the backup cannot be the database itself")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _connect(path) as live:
        _copy(live, dest)
    return _check(dest, "backup")


def restore_sqlite(src: str | Path, dest: str | Path, *, replace: bool = False) -> BackupInfo:
    """Restore the backup ``src`` as the database file ``dest``.

    ``src`` must be a sound huiqi database at this program's migration. An existing
    ``dest`` is overwritten only with ``replace=True``, and only when no process has it
    open; the new file is renamed into place, so ``dest`` is never half-written.
    """
    src, dest = Path(src), Path(dest)
    info = _check(src, "restore")
    if dest.exists():
        if not replace:
            raise BackupRefused(
                f"目标数据库 {dest} 已存在；确认覆盖请指定 replace=True",
                f"{dest} exists; pass replace=True to overwrite it",
            )
        _quiesce(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _connect(src, readonly=True) as backup:
        _copy(backup, dest)
    restored = _check(dest, "restore")
    assert restored.revision == info.revision
    return restored


def _sqlite_file(source: Engine | str | Path) -> Path:
    if isinstance(source, Engine):
        if source.dialect.name != "sqlite" or not source.url.database:
            raise BackupRefused(
                "只能这样备份 SQLite 数据库文件；PostgreSQL 请用 pg_dump",
                "only a SQLite database file is backed up this way; use pg_dump for PostgreSQL",
            )
        return Path(source.url.database)
    return Path(source)


@contextlib.contextmanager
def _connect(path: Path, *, readonly: bool = False) -> Iterator[sqlite3.Connection]:
    uri = f"file:{path.resolve()}?mode=ro" if readonly else f"file:{path.resolve()}?mode=rw"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupRefused(
            f"无法打开数据库文件 {path}：{exc}", f"cannot open the database file {path}: {exc}"
        ) from None
    try:
        yield conn
    finally:
        conn.close()


def _copy(source: sqlite3.Connection, dest: Path) -> None:
    """Snapshot ``source`` into a temporary file beside ``dest``, then rename it into place."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    for leftover in _family(tmp):
        leftover.unlink(missing_ok=True)
    try:
        target = sqlite3.connect(tmp, isolation_level=None)
        try:
            source.backup(target, pages=-1)  # one step: one read transaction, one snapshot
            # A single self-contained file: no write-ahead log beside it.
            target.execute("PRAGMA journal_mode=DELETE")
            ok = target.execute("PRAGMA integrity_check").fetchone()
        finally:
            target.close()
        if ok != ("ok",):
            raise BackupRefused(
                f"复制后的数据库校验未通过：{ok}", f"the copy failed its integrity check: {ok}"
            )
        _fsync(tmp)
        os.replace(tmp, dest)
        _fsync(dest.parent)
    finally:
        for leftover in _family(tmp):
            leftover.unlink(missing_ok=True)


def _family(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + s) for s in ("-journal", "-wal", "-shm"))]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _quiesce(dest: Path) -> None:
    """Fold the old database's write-ahead log in and remove it, or refuse if it is in use.

    A stale ``-wal`` file beside the restored file would be replayed onto it.
    """
    try:
        conn = sqlite3.connect(dest, timeout=2, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
            # Changing the journal mode needs the database to ourselves.
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupRefused(
            f"目标数据库 {dest} 正在被使用，请先停止所有惠企进程再恢复（{exc}）",
            f"{dest} is in use; stop every huiqi process before restoring ({exc})",
        ) from None
    if mode != ("delete",) or dest.with_name(dest.name + "-wal").exists():
        raise BackupRefused(
            f"目标数据库 {dest} 正在被使用，请先停止所有惠企进程再恢复",
            f"{dest} is in use; stop every huiqi process before restoring",
        )


def _check(path: Path, purpose: str) -> BackupInfo:
    """A sound huiqi database at this program's migration, or a bilingual refusal."""
    what_zh, what_en = ("备份", "backup") if purpose == "backup" else ("恢复", "restore")
    if not path.is_file():
        raise BackupRefused(f"找不到文件：{path}", f"no such file: {path}")
    with path.open("rb") as f:
        if f.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupRefused(
                f"{path} 不是 SQLite 数据库文件，不能{what_zh}",
                f"{path} is not a SQLite database file; cannot {what_en} it",
            )
    with _connect(path, readonly=True) as conn:
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.Error as exc:
            raise BackupRefused(
                f"{path} 已损坏，不能{what_zh}（{exc}）",
                f"{path} is damaged; cannot {what_en} it ({exc})",
            ) from None
        if ok != ("ok",):
            raise BackupRefused(
                f"{path} 未通过完整性校验（{ok[0] if ok else '?'}），不能{what_zh}",
                f"{path} fails its integrity check ({ok[0] if ok else '?'}); cannot {what_en} it",
            )
        missing = sorted(set(Base.metadata.tables) - tables)
        if "alembic_version" not in tables or missing:
            shown = ", ".join(missing[:5]) or "alembic_version"
            raise BackupRefused(
                f"{path} 不是惠企数据库（缺少数据表：{shown}），不能{what_zh}",
                f"{path} is not a huiqi database (tables missing: {shown}); cannot {what_en} it",
            )
        revisions = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
        wanted = head()
        if revisions != [wanted]:
            found = ", ".join(revisions) or "（无 / none）"
            raise BackupRefused(
                f"{path} 的数据库结构版本为 {found}，本程序为 {wanted}，不能{what_zh}；"
                "请用生成它的程序版本恢复后再运行 huiqi db upgrade",
                f"{path} is at migration {found}, this program at {wanted}; cannot "
                f"{what_en} it. Restore it with the program version that made it, then run "
                "huiqi db upgrade",
            )
        audit_entries = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    return BackupInfo(path, wanted or "", int(audit_entries), path.stat().st_size)


# -- PostgreSQL --------------------------------------------------------------------------------


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection URI, without its password."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise BackupRefused(
            "pg_dump 和 pg_restore 只用于 PostgreSQL；SQLite 请用 backup_sqlite",
            "pg_dump and pg_restore are for PostgreSQL; use backup_sqlite for SQLite",
        )
    # (``URL.set(password=None)`` would keep the password: None there means "unchanged".)
    plain = parsed._replace(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False)


def pg_environment(url: str) -> dict[str, str]:
    """Environment for the client tools: the URL's password, kept off the command line."""
    password = make_url(url).password
    return {"PGPASSWORD": str(password)} if password else {}


def pg_dump_command(url: str, schema: str | None, dest: str | Path) -> list[str]:
    """``pg_dump -Fc`` of the database (or of one schema of it) into the file ``dest``."""
    command = ["pg_dump", "--format=custom", f"--file={dest}"]
    if schema:
        command.append(f"--schema={schema}")
    return [*command, f"--dbname={_libpq(url)}"]


def pg_restore_command(url: str, src: str | Path, *, clean: bool = False) -> list[str]:
    """``pg_restore`` of a custom-format dump into the database at ``url``, all or nothing.

    With ``clean``, objects of the dump that already exist are dropped first (restoring
    over an old copy); without it the target should be empty of them.
    """
    command = [
        "pg_restore",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
    ]
    if clean:
        command += ["--clean", "--if-exists"]
    return [*command, f"--dbname={_libpq(url)}", str(src)]


def run_pg_tool(command: list[str], url: str) -> None:
    """Run a command from :func:`pg_dump_command` or :func:`pg_restore_command`."""
    if shutil.which(command[0]) is None:
        raise BackupRefused(
            f"未找到 {command[0]}，请安装 PostgreSQL 客户端（apt-get install postgresql-client）",
            f"{command[0]} not found; install the PostgreSQL client tools "
            "(apt-get install postgresql-client)",
        )
    done = subprocess.run(
        command,
        env={**os.environ, **pg_environment(url)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise BackupRefused(
            f"{command[0]} 失败（退出码 {done.returncode}）：{detail}",
            f"{command[0]} failed (exit {done.returncode}): {detail}",
        )
