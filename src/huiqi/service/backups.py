"""Whole backups: the database and the attachments in one bundle, checked before a restore.

``huiqi db backup FILE`` writes a gzip'd tar: ``manifest.json`` (format, database kind,
migration, the audit chain's head, the SHA-256 of every other member), then the database
— ``database.sqlite3`` (SQLite's online backup) or ``database.dump`` (``pg_dump -Fc``) — and
``attachments/ab/abcdef…`` (the files under ``<data_dir>/attachments``, kept by content
hash). Without ``pg_dump`` on PostgreSQL it refuses and prints the exact command.

``huiqi db restore FILE`` checks every member against the manifest, then the restored
database's audit chain, its checkpoints outside the database (when anchoring is on) and its
ledger, before the copy is put in place (SQLite) or kept (PostgreSQL: restored into an
empty database or schema, dropped again if the check fails). A backup that fails is
refused unless ``--force``; either way the restore writes a *restart* line to the
checkpoint file, so the checkpoints of the chain it replaced no longer apply. Attachments
are copied back beside those already there. A plain ``.sqlite3`` file (from before
bundles) restores too, without attachments.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from huiqi.db import backup as files
from huiqi.db import migrate
from huiqi.db.backup import BackupRefused
from huiqi.db.engine import make_engine
from huiqi.fulfilment.audit import AnchorReason
from huiqi.service import anchors, audit_check
from huiqi.service.anchors import Anchor

FORMAT = "huiqi-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.dump"


@dataclass(frozen=True)
class BundleInfo:
    path: Path
    database: str
    revision: str
    audit_entries: int
    attachments: int
    size_bytes: int


@dataclass(frozen=True)
class RestoreInfo:
    database: str
    audit_entries: int
    attachments: int
    #: What the check found; empty unless the restore was forced.
    problems: list[str] = field(default_factory=list)


def schema_of(url: str) -> str | None:
    """The schema a PostgreSQL URL selects with ``?options=-csearch_path=NAME``, if any."""
    options = str(make_url(url).query.get("options", ""))
    found = re.search(r"search_path\s*=\s*([A-Za-z_][A-Za-z0-9_]*)", options)
    return found.group(1) if found else None


def _engine(url: str, schema: str | None) -> Engine:
    if schema and schema_of(url) != schema:
        return make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    return make_engine(url)


# -- backing up --------------------------------------------------------------------------------


def backup(url: str, data_dir: Path, dest: Path, *, schema: str | None = None) -> BundleInfo:
    """Bundle the database at ``url`` and the attachments under ``data_dir`` into ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".huiqi-backup-") as tmp:
        staging = Path(tmp)
        if url.startswith("sqlite"):
            info = files.backup_sqlite(_sqlite_path(url), staging / SQLITE_MEMBER)
            kind, member = "sqlite", SQLITE_MEMBER
            revision, entries = info.revision, info.audit_entries
        else:
            kind, member = "postgresql", PG_MEMBER
            schema = schema or schema_of(url)
            by_hand = dest.with_name(dest.name.split(".")[0] + ".dump")
            command = files.pg_dump_command(url, schema, by_hand)
            if shutil.which("pg_dump") is None:
                raise BackupRefused(
                    "未找到 pg_dump（apt-get install postgresql-client）。可手工备份数据库："
                    f"{shlex.join(command)}，并另行备份附件目录 {data_dir / 'attachments'}",
                    "pg_dump not found (apt-get install postgresql-client). Back the database "
                    f"up by hand: {shlex.join(command)} and the folder "
                    f"{data_dir / 'attachments'} with it",
                )
            engine = _engine(url, schema)
            try:
                revision = migrate.current(engine) or ""
                with Session(engine) as s:
                    entries = anchors.head_of(s)[0]
            finally:
                engine.dispose()
            dump = staging / PG_MEMBER
            files.run_pg_tool(files.pg_dump_command(url, schema, dump), url)
        attachments = _attachments(data_dir)
        manifest = {
            "format": FORMAT,
            "database": kind,
            "revision": revision,
            "audit_entries": entries,
            "created_at": datetime.now(UTC).isoformat(),
            "files": {member: _sha256(staging / member)}
            | {name: _sha256(path) for name, path in attachments},
        }
        partial = staging / "bundle.tar.gz"
        with tarfile.open(partial, "w:gz") as bundle:
            body = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
            entry = tarfile.TarInfo(MANIFEST)
            entry.size, entry.mtime = len(body), int(datetime.now(UTC).timestamp())
            bundle.addfile(entry, io.BytesIO(body))
            bundle.add(staging / member, arcname=member)
            for name, path in attachments:
                bundle.add(path, arcname=name)
        os.replace(partial, dest)
    return BundleInfo(dest, kind, revision, entries, len(attachments), dest.stat().st_size)


def _sqlite_path(url: str) -> Path:
    path = url.removeprefix("sqlite:///")
    if not url.startswith("sqlite:///") or not path or path == ":memory:":
        raise BackupRefused("内存数据库无法备份", "an in-memory database cannot be backed up")
    return Path(path)


def _attachments(data_dir: Path) -> list[tuple[str, Path]]:
    root = data_dir / "attachments"
    if not root.is_dir():
        return []
    return [
        (f"attachments/{path.relative_to(root).as_posix()}", path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    ]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- restoring ---------------------------------------------------------------------------------


def restore(
    url: str,
    data_dir: Path,
    src: Path,
    *,
    anchor: Anchor | None,
    replace: bool = False,
    force: bool = False,
    schema: str | None = None,
) -> RestoreInfo:
    """Restore the bundle ``src`` into the database at ``url`` and ``data_dir``: checked first,
    refused if its audit chain, checkpoints or ledger do not hold (unless ``force``)."""
    src = Path(src)
    if not src.is_file():
        raise BackupRefused(f"找不到备份文件：{src}", f"no such backup file: {src}")
    data_dir.mkdir(parents=True, exist_ok=True)
    with _unpacked(src, data_dir) as (manifest, staging):
        kind = manifest["database"]
        if url.startswith("sqlite") != (kind == "sqlite"):
            raise BackupRefused(
                f"这是 {kind} 的备份，不能恢复到当前配置的数据库",
                f"this is a {kind} backup; it does not restore into the configured database",
            )
        if kind == "sqlite":
            problems, entries = _restore_sqlite(url, staging, anchor, replace, force)
        else:
            problems, entries = _restore_pg(url, schema or schema_of(url), staging, anchor, force)
        copied = _put_attachments(staging, data_dir, manifest)
    return RestoreInfo(kind, entries, copied, problems)


@contextmanager
def _unpacked(src: Path, near: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """The bundle's members in a temporary folder, each checked against the manifest."""
    with tempfile.TemporaryDirectory(dir=near, prefix=".huiqi-restore-") as tmp:
        staging = Path(tmp)
        with src.open("rb") as f:
            if f.read(len(files.SQLITE_HEADER)) == files.SQLITE_HEADER:  # a bare database file
                shutil.copyfile(src, staging / SQLITE_MEMBER)
                yield {"database": "sqlite", "files": {}}, staging
                return
        if not tarfile.is_tarfile(src):
            raise BackupRefused(
                f"{src} 不是惠企备份文件", f"{src} is not a huiqi backup (nor a SQLite file)"
            )
        with tarfile.open(src, "r:*") as bundle:
            manifest = _manifest(bundle, src)
            wanted: dict[str, str] = manifest["files"]
            seen: set[str] = set()
            for member in bundle:
                if member.name == MANIFEST:
                    continue
                if member.name not in wanted or not member.isfile():
                    raise BackupRefused(
                        f"备份中有清单外的内容：{member.name}",
                        f"the backup holds something its manifest does not list: {member.name}",
                    )
                out = staging / member.name
                out.parent.mkdir(parents=True, exist_ok=True)
                reader = bundle.extractfile(member)
                assert reader is not None
                with out.open("wb") as w:
                    shutil.copyfileobj(reader, w)
                if _sha256(out) != wanted[member.name]:
                    raise BackupRefused(
                        f"备份中的 {member.name} 与清单的 SHA-256 不符（文件损坏或被改动）",
                        f"{member.name} does not match its SHA-256 in the manifest "
                        "(damaged or altered)",
                    )
                seen.add(member.name)
        missing = sorted(set(wanted) - seen)
        if missing:
            raise BackupRefused(
                f"备份缺少清单所列文件：{', '.join(missing[:5])}",
                f"the backup lacks files its manifest lists: {', '.join(missing[:5])}",
            )
        yield manifest, staging


def _manifest(bundle: tarfile.TarFile, src: Path) -> dict[str, Any]:
    try:
        member = bundle.getmember(MANIFEST)
        reader = bundle.extractfile(member)
        assert reader is not None
        manifest: dict[str, Any] = json.loads(reader.read().decode("utf-8"))
    except (KeyError, ValueError, AssertionError):
        manifest = {}
    names = manifest.get("files")
    if manifest.get("format") != FORMAT or not isinstance(names, dict):
        raise BackupRefused(
            f"{src} 不是惠企备份文件（没有可读的清单）",
            f"{src} is not a huiqi backup (no readable manifest)",
        )
    for name in names:
        parts = Path(name).parts
        safe = name in (SQLITE_MEMBER, PG_MEMBER) or (
            len(parts) == 3 and parts[0] == "attachments" and all(_plain(p) for p in parts[1:])
        )
        if not safe:
            raise BackupRefused(
                f"备份清单中的文件名不安全：{name}", f"an unsafe name in the manifest: {name}"
            )
    return manifest


def _plain(part: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{2,64}", part))


def _checked(engine: Engine, anchor: Anchor | None, force: bool) -> tuple[list[str], int]:
    """The restored copy's audit check; a refusal listing its problems unless forced."""
    with Session(engine) as s:
        report = audit_check.check(s, anchor, older_copy=True)
    if report.problems and not force:
        raise BackupRefused(
            "备份未通过审计核查，未恢复（确认仍要恢复请加 --force）：" + "；".join(report.problems),
            "the backup fails the audit check; not restored (add --force to restore it "
            "anyway): " + "; ".join(report.problems),
        )
    return report.problems, report.entries


def _mark(engine: Engine, anchor: Anchor | None, forced: bool) -> None:
    with Session(engine) as s:
        why = AnchorReason.RESTORE_FORCED if forced else AnchorReason.RESTORE
        audit_check.restart(s, anchor, why)


def _restore_sqlite(
    url: str, staging: Path, anchor: Anchor | None, replace: bool, force: bool
) -> tuple[list[str], int]:
    copy = staging / SQLITE_MEMBER
    files.restore_sqlite(copy, staging / "checked.sqlite3")  # sound, huiqi's, this migration
    engine = make_engine(f"sqlite:///{staging / 'checked.sqlite3'}")
    try:
        problems, entries = _checked(engine, anchor, force)
    finally:
        engine.dispose()
    target = _sqlite_path(url)
    files.restore_sqlite(copy, target, replace=replace)
    engine = make_engine(f"sqlite:///{target}")
    try:
        _mark(engine, anchor, bool(problems))
    finally:
        engine.dispose()
    return problems, entries


def _restore_pg(
    url: str, schema: str | None, staging: Path, anchor: Anchor | None, force: bool
) -> tuple[list[str], int]:
    engine = _engine(url, schema)
    try:
        _refuse_unless_empty(engine, schema)
        command = files.pg_restore_command(url, staging / PG_MEMBER)
        files.run_pg_tool(command, url)
        try:
            problems, entries = _checked(engine, anchor, force)
        except BackupRefused:
            _undo(engine, schema)
            raise
        _mark(engine, anchor, bool(problems))
        return problems, entries
    finally:
        engine.dispose()


def _refuse_unless_empty(engine: Engine, schema: str | None) -> None:
    """pg_restore goes into an empty database or schema only; a schema that exists and holds
    nothing is dropped first, as the dump recreates it."""
    names = inspect(engine).get_schema_names()
    if schema and schema in names:
        if inspect(engine).get_table_names(schema=schema):
            _not_empty(schema)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}"'))
    elif not schema and inspect(engine).get_table_names():
        _not_empty("public")


def _not_empty(where: str) -> None:
    raise BackupRefused(
        f"PostgreSQL 恢复只能恢复到空的数据库或模式，而 {where} 中已有数据表；请新建数据库后再恢复",
        f"a PostgreSQL restore goes into an empty database or schema; {where} has tables. "
        "Create a new database (createdb) and restore into it",
    )


def _undo(engine: Engine, schema: str | None) -> None:
    """Take a refused restore out again: the target was empty before it."""
    if schema:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    else:
        migrate.drop_everything(engine)


def _put_attachments(staging: Path, data_dir: Path, manifest: dict[str, Any]) -> int:
    """The bundle's attachments into ``<data_dir>/attachments``, each renamed into place."""
    copied = 0
    for name in manifest["files"]:
        if not name.startswith("attachments/"):
            continue
        source, target = staging / name, data_dir / name
        if target.is_file() and _sha256(target) == manifest["files"][name]:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.restore")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        copied += 1
    return copied
