"""Backups restore every row: the SQLite file by the online backup API, PostgreSQL by pg_dump.

A database is filled by the real workflow (as in test_workflow.py: applied, reviewed,
noticed, approved, paid, closed, plus work in progress), backed up, restored elsewhere, and
compared with the original table by table, row by row; the restored audit chain verifies,
and the restored database takes new work.
"""

from __future__ import annotations

import hashlib
import io
import json
import shlex
import shutil
import sqlite3
import struct
import tarfile
import threading
import uuid
import zlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from huiqi import credit_code
from huiqi.db.backup import (
    BackupRefused,
    backup_sqlite,
    pg_dump_command,
    pg_environment,
    pg_restore_command,
    restore_sqlite,
    run_pg_tool,
)
from huiqi.db.engine import make_engine
from huiqi.db.migrate import current, head
from huiqi.db.tables import AuditEntry, Base, Organisation
from huiqi.fulfilment.audit import chain_hash
from huiqi.service import applications, attachments, audit_check, backups, orgs, plans
from huiqi.service import audit as audit_service
from huiqi.service.anchors import Anchor
from huiqi.service.uow import Services

from .conftest import ORG_A, ORG_B, PG_URL, Cast, Clock
from .test_workflow import FACTS, approve_all

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def populate(svc: Services, cast: Cast, clock: Clock) -> None:
    """A year paid and closed, an objection, a budget, and applications still in progress."""
    plans.set_budget(svc, cast.fang, division="北湖区", year=2022, amount_fen=50_000_000)
    first = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a", "7.1"], facts=FACTS
    )
    view = applications.submit(svc, cast.alice, first.id)
    applications.verify(svc, cast.rui, first.id, approve_all(view))
    plan = plans.draft(svc, cast.dai, year=2022, title="2022年度跨境电商扶持资金分配方案")
    noticed = plans.open_notice(svc, cast.dai, plan.id, days=5)
    objection = plans.object_to(svc, plan.id, submitted_by="市民张某", text="请核实出口额")
    plans.resolve_objection(svc, cast.dai, objection, uphold=False, resolution="经核实无误")
    clock.past(noticed.notice_end)
    plans.close_notice(svc, cast.dai, plan.id)
    plans.review(svc, cast.ou, plan.id, approve=True)
    plans.review(svc, cast.fang, plan.id, approve=True)
    approved = plans.approve(svc, cast.shi, plan.id)
    for item in approved.items:
        plans.disburse(
            svc,
            cast.cai,
            item.id,
            amount_fen=item.granted_fen,
            paid_on=date(2023, 4, 1),
            reference=f"BH-{item.id}",
        )
    plans.close(svc, cast.fang, plan.id)
    # Work in progress: a returned application and a draft of another company.
    second = applications.create_draft(
        svc, cast.bob, org_code=ORG_A, year=2023, clauses=["7.1"], facts=FACTS
    )
    applications.submit(svc, cast.bob, second.id)
    applications.return_for_correction(svc, cast.rui, second.id, "请补充培训发票")
    facts_b = {
        **FACTS,
        "applicant": {**FACTS["applicant"], "credit_code": ORG_B, "kind": "service_enterprise"},
    }
    applications.create_draft(
        svc, cast.charlie, org_code=ORG_B, year=2023, clauses=["7.1"], facts=facts_b
    )


def all_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the schema, rows in primary-key order, plus Alembic's version."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(r) for r in conn.execute(query)]
        rows["alembic_version"] = [
            tuple(r) for r in conn.execute(text("SELECT version_num FROM alembic_version"))
        ]
    return rows


def chain(engine: Engine, svc: Services) -> tuple[int, list[str]]:
    other = Services(engine=engine, package=svc.package, clock=svc.clock)
    with other.reading() as s:
        return audit_service.verify(s)


def takes_new_work(engine: Engine, svc: Services, cast: Cast) -> None:
    """The restored database goes on: ids continue, the chain grows and still verifies."""
    other = Services(engine=engine, package=svc.package, clock=svc.clock)
    before, _ = chain(engine, svc)
    draft = applications.create_draft(
        other, cast.alice, org_code=ORG_A, year=2024, clauses=["7.1"], facts=FACTS
    )
    assert applications.submit(other, cast.alice, draft.id).state == "submitted"
    after, problems = chain(engine, svc)
    assert problems == [] and after == before + 2


# -- SQLite ------------------------------------------------------------------------------------


@SQLITE
def test_a_sqlite_backup_restores_every_row_and_an_intact_audit_chain(
    svc: Services, cast: Cast, clock: Clock, engine: Engine, tmp_path: Path
) -> None:
    populate(svc, cast, clock)
    original = all_rows(engine)
    count, problems = chain(engine, svc)
    assert problems == [] and count > 30

    backup = backup_sqlite(engine, tmp_path / "backups" / "huiqi-2023-03-08.sqlite3")
    assert (backup.revision, backup.audit_entries) == (head(), count)
    restored = restore_sqlite(backup.path, tmp_path / "restored" / "huiqi.sqlite3")
    assert restored.audit_entries == count

    again = make_engine(f"sqlite:///{restored.path}")
    try:
        assert all_rows(again) == original
        assert len(original["ledger_entries"]) == 2 and len(original["disbursements"]) == 2
        assert chain(again, svc) == (count, [])
        takes_new_work(again, svc, cast)
    finally:
        again.dispose()
    assert all_rows(engine) == original  # the live database is untouched by all this


@SQLITE
def test_a_backup_taken_while_transactions_commit_holds_each_wholly_or_not_at_all(
    svc: Services, cast: Cast, engine: Engine, tmp_path: Path
) -> None:
    writer = Services(engine=make_engine(str(engine.url)), package=svc.package, clock=svc.clock)
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        n = 0
        while not stop.is_set() and n < 5000:
            orgs.add_org(
                writer,
                cast.admin,
                code=credit_code.complete(f"91431000MA4W{n:05d}"),
                name=f"备份期间登记{n}",
                kind="service_enterprise",
                division="苏仙区",
            )
            n += 1
            written.append(n)

    thread = threading.Thread(target=keep_writing)
    thread.start()
    seen: list[int] = []
    try:
        for i in range(12):
            backup = backup_sqlite(engine.url.database or "", tmp_path / f"b{i}.sqlite3")
            copy = make_engine(f"sqlite:///{backup.path}")
            try:
                with copy.connect() as conn:
                    assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
                    orgs_count = conn.scalar(select(func.count()).select_from(Organisation))
                    added = conn.scalar(
                        select(func.count())
                        .select_from(AuditEntry)
                        .where(AuditEntry.action == "org.add")
                    )
                assert orgs_count == added  # every organisation with its audit entry, no half
                assert chain(copy, svc)[1] == []
                seen.append(orgs_count or 0)
            finally:
                copy.dispose()
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=60)
        writer.engine.dispose()
    assert seen == sorted(seen) and seen[-1] > seen[0]  # the writer really ran meanwhile


def refusal(call: Any) -> BackupRefused:
    with pytest.raises(BackupRefused) as raised:
        call()
    error = raised.value
    assert error.zh and error.en and error.zh != error.en  # both languages, always
    return error


def test_a_restore_refuses_what_is_not_a_huiqi_database_at_this_migration(
    sqlite_template: Path, tmp_path: Path
) -> None:
    target = tmp_path / "restored.sqlite3"

    text_file = tmp_path / "notes.txt"
    text_file.write_text("不是数据库\n", encoding="utf-8")
    error = refusal(lambda: restore_sqlite(text_file, target))
    assert "不是 SQLite 数据库文件" in error.zh and "not a SQLite database file" in error.en

    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    error = refusal(lambda: restore_sqlite(other, target))
    assert "不是惠企数据库" in error.zh and "not a huiqi database" in error.en

    old = tmp_path / "old.sqlite3"
    shutil.copy(sqlite_template, old)
    with sqlite3.connect(old) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000_older'")
    error = refusal(lambda: restore_sqlite(old, target))
    assert "0000_older" in error.zh and f"this program at {head()}" in error.en

    damaged = tmp_path / "damaged.sqlite3"
    shutil.copy(sqlite_template, damaged)
    with damaged.open("r+b") as f:
        f.seek(4096 * 2)  # page 3 onwards: table pages, overwritten with noise
        f.write(b"\xa5" * 4096 * 4)
    error = refusal(lambda: restore_sqlite(damaged, target))
    assert "不能恢复" in error.zh and "cannot restore" in error.en

    # Nothing was written by any refusal: no target, no temporary file beside it.
    assert [p.name for p in tmp_path.iterdir() if "restored" in p.name] == []


def test_a_restore_overwrites_an_existing_database_only_when_told_and_when_idle(
    sqlite_template: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(sqlite_template, backup)
    target = tmp_path / "huiqi.sqlite3"
    live = make_engine(f"sqlite:///{target}")
    from huiqi.db.migrate import upgrade

    upgrade(live)
    with live.begin() as conn:
        conn.execute(text("INSERT INTO award_years (year, open) VALUES (2030, 1)"))

    error = refusal(lambda: restore_sqlite(backup, target))
    assert "replace=True" in error.en and "已存在" in error.zh

    with live.connect():  # a process still has it open
        error = refusal(lambda: restore_sqlite(backup, target, replace=True))
        assert "in use" in error.en and "正在被使用" in error.zh
    with live.connect() as conn:
        assert conn.execute(text("SELECT year FROM award_years")).scalars().all() == [2030]
    live.dispose()

    restore_sqlite(backup, target, replace=True)
    assert not target.with_name("huiqi.sqlite3-wal").exists()  # no old log to replay
    again = make_engine(f"sqlite:///{target}")
    try:
        with again.connect() as conn:
            assert conn.execute(text("SELECT year FROM award_years")).scalars().all() == []
        assert current(again) == head()
    finally:
        again.dispose()


def test_a_postgresql_engine_is_not_backed_up_as_a_file(tmp_path: Path) -> None:
    engine = create_engine(PG_URL)
    try:
        error = refusal(lambda: backup_sqlite(engine, tmp_path / "x.sqlite3"))
    finally:
        engine.dispose()
    assert "pg_dump" in error.en and "pg_dump" in error.zh


# -- PostgreSQL --------------------------------------------------------------------------------


def test_the_pg_commands_keep_the_password_off_the_command_line() -> None:
    url = "postgresql+psycopg://huiqi:s3cret@db.example:5433/huiqi?sslmode=require"
    dump = pg_dump_command(url, "huiqi", Path("/backups/huiqi.dump"))
    assert dump == [
        "pg_dump",
        "--format=custom",
        "--file=/backups/huiqi.dump",
        "--schema=huiqi",
        "--dbname=postgresql://huiqi@db.example:5433/huiqi?sslmode=require",
    ]
    restore = pg_restore_command(url, "/backups/huiqi.dump", clean=True)
    assert restore == [
        "pg_restore",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--clean",
        "--if-exists",
        "--dbname=postgresql://huiqi@db.example:5433/huiqi?sslmode=require",
        "/backups/huiqi.dump",
    ]
    assert not any("s3cret" in arg for arg in dump + restore)
    assert pg_environment(url) == {"PGPASSWORD": "s3cret"}
    assert pg_environment("postgresql+psycopg://postgres@127.0.0.1/test") == {}
    assert pg_dump_command(url, None, "d")[-2:] == ["--file=d", f"--dbname={dump[-1][9:]}"]
    error = refusal(lambda: pg_dump_command("sqlite:///var/huiqi.sqlite3", None, "d"))
    assert "backup_sqlite" in error.en


@POSTGRESQL
def test_a_pg_dump_of_the_schema_restores_every_row_into_a_fresh_database(
    svc: Services, cast: Cast, clock: Clock, engine: Engine, pg_schema: str, tmp_path: Path
) -> None:
    populate(svc, cast, clock)
    original = all_rows(engine)
    count, problems = chain(engine, svc)
    assert problems == [] and count > 30

    dump = tmp_path / "huiqi.dump"
    run_pg_tool(pg_dump_command(PG_URL, pg_schema, dump), PG_URL)
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format

    database = f"huiqi_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    target_url = make_url(PG_URL).set(database=database).render_as_string(hide_password=False)
    restored = None
    try:
        run_pg_tool(pg_restore_command(target_url, dump), target_url)
        restored = make_engine(target_url, connect_args={"options": f"-csearch_path={pg_schema}"})
        assert current(restored) == head()
        assert all_rows(restored) == original
        assert len(original["ledger_entries"]) == 2 and len(original["disbursements"]) == 2
        assert chain(restored, svc) == (count, [])
        takes_new_work(restored, svc, cast)  # sequences were restored too: no id collides
        # A second restore over the restored copy, told to clean, gives the dump's rows again.
        run_pg_tool(pg_restore_command(target_url, dump, clean=True), target_url)
        assert all_rows(restored) == original
    finally:
        if restored is not None:
            restored.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
    assert all_rows(engine) == original


# -- whole backups: the database and its attachments, checked before a restore ------------------


def png(seed: int) -> bytes:
    """A real one-pixel PNG, different for each seed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = zlib.compress(bytes([0, seed % 256, 80, 160]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixel) + chunk(b"IEND", b"")
    )


def with_attachments(svc: Services, cast: Cast, data_dir: Path) -> dict[str, bytes]:
    """Two files uploaded to a draft; returns their stored names and bytes."""
    facts_b = {
        **FACTS,
        "applicant": {**FACTS["applicant"], "credit_code": ORG_B, "kind": "service_enterprise"},
    }
    draft = applications.create_draft(
        svc, cast.charlie, org_code=ORG_B, year=2024, clauses=["7.1"], facts=facts_b
    )
    stored = {}
    for seed in (1, 2):
        content = png(seed)
        view = attachments.upload(
            svc, cast.charlie, draft.id, filename=f"发票{seed}.png", content=content,
            data_dir=data_dir, max_bytes=1 << 20,
        )  # fmt: skip
        stored[f"attachments/{view.sha256[:2]}/{view.sha256}"] = content
    return stored


def anchor_in(folder: Path) -> Anchor:
    return Anchor(path=folder / "audit-checkpoints.jsonl", secret=b"backup-key-" * 4)


def anchored(svc: Services, anchor: Anchor) -> Services:
    return Services(engine=svc.engine, package=svc.package, clock=svc.clock, anchor=anchor)


def rewrite_history(engine: Engine) -> None:
    """A forger with database access: one old entry changed, every later hash recomputed."""
    with Session(engine) as s:
        entries = [
            audit_service.content_of(e)
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        ]
    previous = "0" * 64
    with engine.begin() as conn:
        for content in entries:
            if content["action"] == "plan.approve":
                content["actor"] = "mallory"
            digest = chain_hash(previous, content)
            conn.execute(
                text("UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"a": content["actor"], "p": previous, "h": digest, "s": content["seq"]},
            )
            previous = digest
        conn.execute(
            text("UPDATE audit_head SET hash = :h, prev_hash = (SELECT prev_hash FROM audit_log"
                 " WHERE seq = :s) WHERE id = 1"),
            {"h": previous, "s": entries[-1]["seq"]},
        )  # fmt: skip


def restart_lines(anchor: Anchor) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in anchor.path.read_text().splitlines()]
    return [line for line in lines if line["kind"] == "restart"]


@SQLITE
def test_a_sqlite_bundle_restores_the_database_and_the_attachments_and_checks_the_chain(
    svc: Services, cast: Cast, clock: Clock, engine: Engine, tmp_path: Path
) -> None:
    live_data, anchor = tmp_path / "live", anchor_in(tmp_path / "anchors")
    svc = anchored(svc, anchor)
    populate(svc, cast, clock)
    files = with_attachments(svc, cast, live_data)
    original = all_rows(engine)

    bundle = backups.backup(str(engine.url), live_data, tmp_path / "b" / "huiqi.tar.gz")
    assert (bundle.database, bundle.attachments) == ("sqlite", 2)
    with tarfile.open(bundle.path) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[0] == "manifest.json" and set(names[1:]) == {"database.sqlite3", *files}
    assert (
        manifest["files"][next(iter(files))] == hashlib.sha256(files[next(iter(files))]).hexdigest()
    )

    target, data = tmp_path / "restored" / "huiqi.sqlite3", tmp_path / "restored" / "data"
    info = backups.restore(f"sqlite:///{target}", data, bundle.path, anchor=anchor)
    assert (info.attachments, info.problems) == (2, [])
    for name, content in files.items():
        assert (data / name).read_bytes() == content
    again = make_engine(f"sqlite:///{target}")
    try:
        assert all_rows(again) == original
        assert audit_check.verify(anchored(Services(again, svc.package), anchor)).problems == []
    finally:
        again.dispose()
    assert [line["why"] for line in restart_lines(anchor)] == ["restore"]


@SQLITE
def test_a_backup_of_a_rewritten_chain_is_refused_unless_forced(
    svc: Services, cast: Cast, clock: Clock, engine: Engine, tmp_path: Path
) -> None:
    anchor = anchor_in(tmp_path / "anchors")
    populate(anchored(svc, anchor), cast, clock)  # its approval wrote a checkpoint
    rewrite_history(engine)
    bundle = backups.backup(str(engine.url), tmp_path / "live", tmp_path / "huiqi.tar.gz")
    target = tmp_path / "restored" / "huiqi.sqlite3"

    error = refusal(
        lambda: backups.restore(f"sqlite:///{target}", tmp_path / "d", bundle.path, anchor=anchor)
    )
    assert "--force" in error.en and "rewritten" in error.en and "审计核查" in error.zh
    assert not target.exists()

    forced = backups.restore(
        f"sqlite:///{target}", tmp_path / "d", bundle.path, anchor=anchor, force=True
    )
    assert forced.problems and target.exists()
    assert [line["why"] for line in restart_lines(anchor)] == ["restore.forced"]


@SQLITE
def test_a_bundle_altered_after_the_backup_is_refused(
    svc: Services, cast: Cast, clock: Clock, engine: Engine, tmp_path: Path
) -> None:
    populate(svc, cast, clock)
    with_attachments(svc, cast, tmp_path / "live")
    bundle = backups.backup(str(engine.url), tmp_path / "live", tmp_path / "huiqi.tar.gz")
    altered = tmp_path / "altered.tar.gz"
    with tarfile.open(bundle.path) as src, tarfile.open(altered, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.startswith("attachments/"):
                data = data[:-1] + b"\x00"
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    target = f"sqlite:///{tmp_path / 'r' / 'huiqi.sqlite3'}"
    error = refusal(lambda: backups.restore(target, tmp_path / "d", altered, anchor=None))
    assert "SHA-256" in error.en and "被改动" in error.zh


@SQLITE
def test_an_older_backup_restores_past_later_checkpoints_and_rebases_them(
    svc: Services, cast: Cast, clock: Clock, engine: Engine, tmp_path: Path
) -> None:
    anchor = anchor_in(tmp_path / "anchors")
    svc = anchored(svc, anchor)
    bundle = backups.backup(str(engine.url), tmp_path / "live", tmp_path / "huiqi.tar.gz")
    populate(svc, cast, clock)  # later work, and a checkpoint past the backup's end
    engine.dispose()
    info = backups.restore(
        str(engine.url), tmp_path / "live", bundle.path, anchor=anchor, replace=True
    )
    assert info.problems == []
    assert audit_check.verify(svc).problems == []  # the restart line rebased the checkpoints


def test_without_pg_dump_a_backup_refuses_with_the_exact_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("huiqi.service.backups.shutil.which", lambda _: None)
    url = "postgresql+psycopg://huiqi@db.example:5432/huiqi?options=-csearch_path%3Dhuiqi"
    error = refusal(lambda: backups.backup(url, tmp_path, tmp_path / "b.tar.gz"))
    dump = shlex.join(pg_dump_command(url, "huiqi", tmp_path / "b.dump"))
    assert dump in error.en and dump in error.zh and "--schema=huiqi" in dump


@POSTGRESQL
def test_a_pg_bundle_round_trips_and_a_rewritten_one_is_refused_and_taken_out_again(
    svc: Services, cast: Cast, clock: Clock, engine: Engine, pg_schema: str, tmp_path: Path
) -> None:
    anchor = anchor_in(tmp_path / "anchors")
    svc = anchored(svc, anchor)
    populate(svc, cast, clock)
    files = with_attachments(svc, cast, tmp_path / "live")
    original = all_rows(engine)
    bundle = backups.backup(PG_URL, tmp_path / "live", tmp_path / "pg.tar.gz", schema=pg_schema)
    assert (bundle.database, bundle.attachments) == ("postgresql", 2)

    database = f"huiqi_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    target = make_url(PG_URL).set(database=database).render_as_string(hide_password=False)
    restored = make_engine(target, connect_args={"options": f"-csearch_path={pg_schema}"})
    try:
        info = backups.restore(
            target, tmp_path / "data", bundle.path, anchor=anchor, schema=pg_schema
        )
        assert (info.problems, info.attachments) == ([], 2)
        assert all_rows(restored) == original
        assert (tmp_path / "data" / next(iter(files))).read_bytes() == files[next(iter(files))]
        error = refusal(
            lambda: backups.restore(
                target, tmp_path / "data", bundle.path, anchor=anchor, schema=pg_schema
            )
        )
        assert "empty" in error.en  # never over a database that has data

        rewrite_history(engine)
        forged = backups.backup(PG_URL, tmp_path / "live", tmp_path / "f.tar.gz", schema=pg_schema)
        with restored.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{pg_schema}" CASCADE'))
        error = refusal(
            lambda: backups.restore(
                target, tmp_path / "data", forged.path, anchor=anchor, schema=pg_schema
            )
        )
        assert "rewritten" in error.en
        with restored.connect() as conn:  # the refused restore was taken out again
            assert (
                conn.execute(
                    text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": pg_schema}
                ).scalar()
                == 0
            )
    finally:
        restored.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
