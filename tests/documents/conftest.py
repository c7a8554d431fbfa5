"""Document fixtures: the demo, with the bundled sample customs and logistics files imported,
built once per session on SQLite and on PostgreSQL. Document tests only read it.

PDFs are read back with ``pdftotext`` and rendered with ``pdftoppm`` (Debian poppler-utils);
rendered pages are kept under ``artifacts/documents/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from huiqi.db.engine import make_engine
from huiqi.db.migrate import upgrade
from huiqi.policy import PolicyPackage
from huiqi.service import demo, imports
from huiqi.service.actors import Actor, load_actor
from huiqi.service.uow import Services
from tests.db.conftest import PG_URL, pg_schema_engine

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
ARTIFACTS = ROOT / "artifacts" / "documents"
TODAY = date(2026, 3, 2)  # a Monday: the demo's 2025 plan is under notice all week
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass
class World:
    backend: str
    svc: Services
    ids: dict[str, int]

    def actor(self, name: str) -> Actor:
        with self.svc.reading() as s:
            return load_actor(s, name)


def _fill(svc: Services) -> dict[str, int]:
    ids = demo.load(svc, TODAY)
    svc.clock = lambda: NOW
    rui = load_actor_now(svc, "rui")
    for name, kind in (("customs-2025.xlsx", "customs"), ("logistics-2025.csv", "logistics")):
        data = (EXAMPLES / name).read_bytes()
        imports.import_file(svc, rui, data=data, file_name=name, kind=kind)
    return ids


def load_actor_now(svc: Services, name: str) -> Actor:
    with svc.reading() as s:
        return load_actor(s, name)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    chenzhou: PolicyPackage,
) -> Iterator[World]:
    backend = str(request.param)
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("documents") / "huiqi.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        svc = Services(engine=engine, package=chenzhou)
        yield World(backend, svc, _fill(svc))
        engine.dispose()
        return
    schema = f"huiqi_docs_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {exc}", pytrace=False)
    engine = pg_schema_engine(schema)
    try:
        upgrade(engine)
        svc = Services(engine=engine, package=chenzhou)
        yield World(backend, svc, _fill(svc))
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- reading PDFs back --------------------------------------------------------------------------


def pdf_text(path: Path) -> str:
    """The PDF's text as ``pdftotext`` extracts it (so: as a reader's copy-and-paste sees it)."""
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    )
    return done.stdout


def squashed(text: str) -> str:
    """Text without any white space: table cells wrap, words do not."""
    return re.sub(r"\s+", "", text)


def render_pages(pdf: Path, stem: str, *, first: int = 1, last: int = 1) -> list[Path]:
    """Render pages to PNG at 80 dpi into artifacts/documents/; returns the files written."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{stem}-*.png"):
        old.unlink()
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "80",
            "-png",
            "-f",
            str(first),
            "-l",
            str(last),
            str(pdf),
            str(ARTIFACTS / stem),
        ],
        check=True,
    )
    return sorted(ARTIFACTS.glob(f"{stem}-*.png"))


def keep(path: Path, name: str) -> Path:
    """Copy a produced file into artifacts/documents/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / name
    shutil.copyfile(path, target)
    return target
