"""Load benchmark: a real server on PostgreSQL, driven over loopback by concurrent clients.

The script creates its own PostgreSQL schema (and drops it at the end), migrates it, registers
``--applicants`` enterprises each with an applicant user and a bearer token, plus a commerce
reviewer, then starts ``uvicorn huiqi.web.asgi:app`` (``--workers``, 127.0.0.1 only, settings
from ``HUIQI_*`` variables) and drives it from this process with a small asyncio HTTP/1.1
client (keep-alive, one connection per client). Three scenarios, each bounded in time:

- ``evaluate``: the public calculator, ``POST /api/v1/evaluate`` with the bundled examples
  (each request a little different, so that no cache of answers could flatter it);
- ``submit``: every applicant at once creates an application (``POST /applications``) and
  submits it (``POST /applications/{id}/submit``), again and again;
- ``apply``: the same, in one request each (``POST /applications`` with ``"submit": true``,
  one transaction: what a machine client that has all its facts sends);
- ``review``: reviewers fetch and verify (``POST /applications/{id}/verify``) the
  applications submitted before.

Each scenario runs twice: *saturated* (closed loop: every client sends its next request as
soon as the last one is answered — the server's capacity) and *paced* at the issue's target
rate (``--eval-rate``, ``--submit-rate``: each client on a fixed schedule, latency counted
from the scheduled instant, so a stalled server is not flattered). It prints requests/s,
p50/p95/p99 latency and errors (any status other than the expected one, or a broken
connection) per scenario; where the CPU went (cores busy: the server, its PostgreSQL
backends, this load generator, and everything else — the machine may be shared) and the
server's CPU time per request, the figure that does not depend on the neighbours. After
the load it counts the rows: every successful submit must be exactly one application in
state ``submitted`` (or ``verified``, if reviewed), every successful create exactly one
row, no row without its response; and it verifies the audit chain.

Run it (PostgreSQL at 127.0.0.1:5432, database ``test``, as the tests use)::

    .venv/bin/python bench/load.py [--workers 2] [--duration 15] [--applicants 200]
    .venv/bin/python bench/load.py --profile /tmp/profile.txt   # 1 worker, sampled

The goals it checks, printed at the end as met or NOT met: no request failed, no submission
lost or duplicated, the audit chain intact; the exit status is 1 if one is missed. Throughput
and latency are printed, not judged: on a shared machine they depend on the neighbours, so
the paced rates are printed as "not checked" goals (compare "CPU per request" instead).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, select, text

from huiqi import credit_code
from huiqi.db.engine import make_engine
from huiqi.db.migrate import upgrade
from huiqi.db.tables import Application, Organisation
from huiqi.fulfilment.roles import Role
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import load_package
from huiqi.service import audit as audit_service
from huiqi.service import auth, orgs
from huiqi.service.actors import Actor, load_actor
from huiqi.service.uow import Services
from huiqi.yamlio import read_data

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HOST = "127.0.0.1"
BENCH = Path(__file__).resolve().parent
EXAMPLES = BENCH.parent / "examples"
API = "/api/v1"
AWARD_YEAR = 2025
APPLICATION_NAME = "huiqi-load"
CLAUSES = ["4.1a", "4.1b"]  # 出口突破奖励 and 平台推广费补贴: both computed on submit


# -- a small HTTP/1.1 client ------------------------------------------------------------------


class ProtocolError(Exception):
    pass


class Connection:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes = b"", token: str | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        if token:
            head.append(f"Authorization: Bearer {token}")
        if body or method in ("POST", "PUT", "PATCH"):
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        try:
            status, payload, keep = await self._response(self.reader)
        except (OSError, asyncio.IncompleteReadError, ProtocolError, ValueError):
            await self.close()
            raise
        if not keep or status >= 500:
            # uvicorn drops a connection after an unhandled exception, without saying so.
            await self.close()
        return status, payload

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        line = await reader.readline()
        parts = line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"bad status line {line!r}")
        status = int(parts[1])
        length, chunked, keep = 0, False, True
        while True:
            header = await reader.readline()
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.partition(b":")
            key, value = name.strip().lower(), value.strip().lower()
            if key == b"content-length":
                length = int(value)
            elif key == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif key == b"connection" and value == b"close":
                keep = False
        if not chunked:
            return status, await reader.readexactly(length), keep
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                return status, b"".join(chunks), keep
            chunks.append(await reader.readexactly(size))
            await reader.readline()


# -- measurements ------------------------------------------------------------------------------


@dataclass
class Recorder:
    """Latencies (seconds) of the successful requests of one kind, and the failures."""

    name: str
    composite: bool = False  # several requests (not counted again in the CPU per request)
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] += 1

    @property
    def count(self) -> int:
        return len(self.latencies)

    def line(self) -> str:
        values = sorted(self.latencies)
        rate = len(values) / self.elapsed if self.elapsed else 0.0
        errors = sum(self.errors.values())
        detail = f" {dict(self.errors)}" if errors else ""
        return (
            f"  {self.name:<24} {len(values):>7} ok {rate:>8.1f}/s   p50 {ms(values, 50):>7}"
            f"  p95 {ms(values, 95):>7}  p99 {ms(values, 99):>7}  max {ms(values, 100):>7}"
            f"   errors {errors}{detail}"
        )


def percentile(values: list[float], p: float) -> float:
    """Nearest rank on sorted values."""
    if not values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def ms(values: list[float], p: float) -> str:
    value = percentile(values, p)
    return "-" if math.isnan(value) else f"{value * 1000:.1f}ms"


def expect(status: int, payload: bytes, wanted: int, recorder: Recorder) -> Any:
    """The decoded body if ``status`` is the wanted one; otherwise the failure is counted."""
    if status != wanted:
        kind = f"HTTP {status}"
        with contextlib.suppress(ValueError, AttributeError):
            kind += f" {json.loads(payload).get('en', '')}"[:90]
        recorder.error(kind)
        return None
    return json.loads(payload)


# -- CPU accounting (Linux /proc) ------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[str, int, float] | None:
    """(command, parent pid, CPU seconds) of one process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    command = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return command, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _machine_busy() -> float:
    """CPU seconds every core of the machine spent busy so far (``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / TICKS


class CpuMeter:
    """Where the CPU went: the server (its process and workers), this load generator, the
    PostgreSQL backends serving the server (found by ``application_name``), everything else
    on the machine (other people's work included: the machine may be shared).

    Backends come and go (SQLAlchemy closes the connections it opened beyond its pool), so
    a thread looks for them every 0.2 s and keeps the last CPU time of each; a backend that
    lived less than that is missed, so PostgreSQL's figure is a lower bound."""

    def __init__(self, server_pid: int, admin: Engine) -> None:
        self.server_pid, self.admin = server_pid, admin
        self.backends: dict[int, float] = {}
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        with self.admin.connect() as conn:
            while not self.done.wait(0.2):
                pids = conn.scalars(
                    text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                    {"n": APPLICATION_NAME},
                ).all()
                conn.rollback()
                for pid in pids:
                    stat = _proc_stat(pid)
                    if stat is not None:
                        with self.lock:
                            self.backends[pid] = stat[2]

    def _backends(self) -> dict[int, float]:
        with self.lock:
            return dict(self.backends)

    def close(self) -> None:
        self.done.set()
        self.thread.join()

    def snapshot(self) -> dict[str, Any]:
        stats = {int(p): _proc_stat(int(p)) for p in os.listdir("/proc") if p.isdigit()}
        children: dict[int, list[int]] = {}
        for pid, stat in stats.items():
            if stat is not None:
                children.setdefault(stat[1], []).append(pid)
        server, todo = 0.0, [self.server_pid]
        while todo:
            pid = todo.pop()
            stat = stats.get(pid)
            if stat is not None:
                server += stat[2]
            todo += children.get(pid, [])
        return {
            "server": server,
            "postgres": self._backends(),
            "loadgen": time.process_time(),
            "machine": _machine_busy(),
        }

    @staticmethod
    def spent(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
        pg = sum(v - before["postgres"].get(pid, 0.0) for pid, v in after["postgres"].items())
        spent = {
            "server": after["server"] - before["server"],
            "postgres": pg,
            "loadgen": after["loadgen"] - before["loadgen"],
        }
        spent["others"] = max(0.0, after["machine"] - before["machine"] - sum(spent.values()))
        return spent

    @staticmethod
    def connections(before: dict[str, Any], after: dict[str, Any]) -> int:
        """PostgreSQL connections the server opened in between (as far as seen)."""
        return len(set(after["postgres"]) - set(before["postgres"]))


# -- the database and the server -------------------------------------------------------------


@dataclass(frozen=True)
class Applicant:
    code: str
    name: str
    token: str


@dataclass(frozen=True)
class Cast:
    applicants: list[Applicant]
    reviewer_token: str
    org_ids: list[int]


def schema_url(url: str, schema: str) -> str:
    """``url`` on ``schema``, its connections named so that their CPU can be told apart."""
    joiner = "&" if "?" in url else "?"
    options = quote(f"-csearch_path={schema}", safe="")
    return f"{url}{joiner}options={options}&application_name={APPLICATION_NAME}"


def seed(engine: Engine, applicants: int) -> Cast:
    """An administrator, a commerce reviewer, and ``applicants`` enterprises with a user each."""
    svc = Services(engine=engine, package=load_package(DEFAULT_POLICY))
    orgs.add_user(svc, None, username="admin", display_name="管理员", roles=[Role.ADMIN])
    with svc.reading() as s:
        admin = load_actor(s, "admin")
    orgs.add_user(svc, admin, username="rui", display_name="芮审核", roles=[Role.COMMERCE_REVIEWER])
    with svc.reading() as s:
        rui = load_actor(s, "rui")
    _, reviewer_token = auth.create_token(svc, rui, "load benchmark reviewer")
    people: list[Applicant] = []
    for n in range(applicants):
        code = credit_code.complete(f"91431000MA4B{n:05d}")
        name = f"郴州压测跨境电商有限公司{n:03d}"
        orgs.add_org(
            svc,
            admin,
            code=code,
            name=name,
            kind="cbec_enterprise",
            division="北湖区",
            platform_filed=True,
            platform_connected=True,
        )
        username = f"load{n:03d}"
        orgs.add_user(
            svc, admin, username=username, display_name=name,
            roles=[Role.APPLICANT], org_code=code,
        )  # fmt: skip
        with svc.reading() as s:
            actor: Actor = load_actor(s, username)
        _, token = auth.create_token(svc, actor, "load benchmark")
        people.append(Applicant(code, name, token))
    with svc.reading() as s:
        codes = [p.code for p in people]
        ids = list(s.scalars(select(Organisation.id).where(Organisation.credit_code.in_(codes))))
    return Cast(people, reviewer_token, ids)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(
    database_url: str, port: int, workers: int, data_dir: Path, profile: Path | None
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HUIQI_DATABASE_URL": database_url, "HUIQI_DATA_DIR": str(data_dir)}
    env.pop("HUIQI_CRASH_AT", None)
    if profile is not None:
        command = [
            sys.executable,
            str(BENCH / "load" / "sampler.py"),
            str(profile),
            HOST,
            str(port),
        ]
    else:
        command = [
            sys.executable, "-m", "uvicorn", "huiqi.web.asgi:app",
            "--host", HOST, "--port", str(port), "--workers", str(workers),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
    # Its own session, so that the workers can be stopped with it; cwd away from any .env.
    return subprocess.Popen(command, env=env, cwd=data_dir, start_new_session=True)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # the group this script started
        server.wait()


async def wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        conn = Connection(port)
        try:
            status, _ = await conn.request("GET", f"{API}/health")
            if status == 200:
                return
        except OSError:
            pass
        finally:
            await conn.close()
        await asyncio.sleep(0.2)
    raise SystemExit("the server did not answer /health in time")


# -- scenarios --------------------------------------------------------------------------------

Step = Callable[[Connection, int, float], Awaitable[None]]


async def run_clients(
    port: int, clients: int, duration: float, step: Step, rate: float | None
) -> float:
    """``clients`` loops calling ``step(conn, client, scheduled)`` until ``duration`` is over.

    Without ``rate``: closed loop. With ``rate`` (iterations per second in all): each client
    has a fixed schedule, ``clients / rate`` seconds apart, staggered; ``scheduled`` is the
    instant the iteration was due, from which its first request's latency is counted.
    Returns the elapsed time."""
    start = time.perf_counter()
    end = start + duration
    interval = clients / rate if rate else 0.0

    async def client(i: int) -> None:
        conn = Connection(port)
        due = start + (interval * i / clients if rate else 0.0)
        try:
            while True:
                if rate:
                    if due >= end:  # the schedule is over: do not sleep until its next slot
                        return
                    pause = due - time.perf_counter()
                    if pause > 0:
                        await asyncio.sleep(pause)
                now = time.perf_counter()
                if now >= end:
                    return
                await step(conn, i, due if rate else now)
                due += interval
        finally:
            await conn.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return time.perf_counter() - start


async def timed(
    conn: Connection,
    recorder: Recorder,
    since: float,
    method: str,
    path: str,
    body: bytes = b"",
    token: str | None = None,
) -> tuple[int, bytes] | None:
    """One request; its latency is counted from ``since``. None if the connection failed."""
    try:
        status, payload = await conn.request(method, path, body, token)
    except (OSError, asyncio.IncompleteReadError, ProtocolError, ValueError) as exc:
        recorder.error(type(exc).__name__)
        return None
    if 200 <= status < 300:
        recorder.latencies.append(time.perf_counter() - since)
    return status, payload


def example_bodies(variants: int = 1) -> list[bytes]:
    """The bundled examples as request bodies; with ``variants``, that many of each, told
    apart by the applicant's name, so that no two requests are the same (as with real
    visitors: a cache of answers by request would not flatter the figures)."""

    def plain(value: Any) -> Any:
        if isinstance(value, date | datetime | Decimal):
            return str(value)
        raise TypeError(type(value))

    examples = [
        json.dumps(read_data(path), default=plain, ensure_ascii=False)
        for path in sorted(EXAMPLES.glob("*.yaml"))
    ]
    bodies = []
    for n in range(variants):
        for text_ in examples:
            facts = json.loads(text_)
            if n:
                facts["applicant"]["name"] += f"（{n}）"
            bodies.append(json.dumps(facts, ensure_ascii=False).encode())
    return bodies


async def evaluate_scenario(
    port: int, clients: int, duration: float, rate: float | None
) -> list[Recorder]:
    bodies = example_bodies(variants=2500)
    rec = Recorder("POST /evaluate")
    sent = [0]

    async def step(conn: Connection, i: int, since: float) -> None:
        sent[0] += 1
        n = sent[0]
        body = bodies[n % len(bodies)]
        got = await timed(conn, rec, since, "POST", f"{API}/evaluate", body)
        if got is None:
            return
        status, payload = got
        if status != 200 or n % 50 == 0:
            # Decoding ~50 KB of JSON costs this process about as much CPU as the server
            # spends answering, on the same two cores: every 50th answer (and every failure)
            # is decoded and checked whole; the others must at least be a complete result.
            result = expect(status, payload, 200, rec)
            if result is not None and len(result.get("clauses", ())) < 20:
                rec.error("answer without its clauses")
        elif not (payload.startswith(b'{"policy":') and payload.endswith(b"}")):
            rec.error("answer is not a whole result")

    rec.elapsed = await run_clients(port, clients, duration, step, rate)
    return [rec]


def application_body(applicant: Applicant, n: int, at_once: bool = False) -> bytes:
    facts = {
        "applicant": {
            "credit_code": applicant.code,
            "name": applicant.name,
            "kind": "cbec_enterprise",
            "registered_locally": True,
            "tax_paying_locally": True,
            "independent_legal_person": True,
            "in_customs_cbec_statistics": True,
        },
        "trade": {"export_usd": str(80_000 + 7 * n), "import_usd": "12000"},
        "marketplaces": {"promotion_fees_cny": f"{64000 + n}.50"},
    }
    body = {"org_code": applicant.code, "award_year": AWARD_YEAR, "clauses": CLAUSES}
    if at_once:
        body["submit"] = True
    return json.dumps({**body, "facts": facts}, ensure_ascii=False).encode()


@dataclass
class Submissions:
    """What the server answered: ids created, ids submitted, ids still to review."""

    created: list[int] = field(default_factory=list)
    submitted: list[int] = field(default_factory=list)
    to_review: deque[int] = field(default_factory=deque)


async def submit_scenario(
    port: int, cast: Cast, duration: float, rate: float | None, seen: Submissions
) -> list[Recorder]:
    create, submit = Recorder("POST /applications"), Recorder("POST …/submit")
    whole = Recorder("submission (both)", composite=True)
    counter = [0]

    async def step(conn: Connection, i: int, since: float) -> None:
        applicant = cast.applicants[i]
        counter[0] += 1
        body = application_body(applicant, counter[0])
        got = await timed(conn, create, since, "POST", f"{API}/applications", body, applicant.token)
        draft = got and expect(*got, 201, create)
        if not draft:
            return
        seen.created.append(int(draft["id"]))
        path = f"{API}/applications/{draft['id']}/submit"
        got = await timed(conn, submit, time.perf_counter(), "POST", path, b"", applicant.token)
        done = got and expect(*got, 200, submit)
        if not done:
            return
        if done["state"] != "submitted" or done["id"] != draft["id"]:
            submit.error(f"answered state {done['state']} id {done['id']}")
            return
        whole.latencies.append(time.perf_counter() - since)
        seen.submitted.append(int(done["id"]))
        seen.to_review.append(int(done["id"]))

    elapsed = await run_clients(port, len(cast.applicants), duration, step, rate)
    for rec in (create, submit, whole):
        rec.elapsed = elapsed
    return [create, submit, whole]


async def apply_scenario(
    port: int, cast: Cast, duration: float, rate: float | None, seen: Submissions
) -> list[Recorder]:
    """The same submissions in one request each (``"submit": true``): what a machine client
    with all its facts sends."""
    rec = Recorder("POST /applications submit")
    counter = [0]

    async def step(conn: Connection, i: int, since: float) -> None:
        applicant = cast.applicants[i]
        counter[0] += 1
        body = application_body(applicant, counter[0], at_once=True)
        got = await timed(conn, rec, since, "POST", f"{API}/applications", body, applicant.token)
        done = got and expect(*got, 201, rec)
        if not done:
            return
        if done["state"] != "submitted":
            rec.error(f"answered state {done['state']}")
            return
        seen.created.append(int(done["id"]))
        seen.submitted.append(int(done["id"]))
        seen.to_review.append(int(done["id"]))

    rec.elapsed = await run_clients(port, len(cast.applicants), duration, step, rate)
    return [rec]


async def review_scenario(
    port: int, cast: Cast, clients: int, duration: float, seen: Submissions
) -> tuple[list[Recorder], list[int]]:
    read, verify = Recorder("GET /applications/{id}"), Recorder("POST …/verify")
    verified: list[int] = []
    end = time.perf_counter() + duration

    async def step(conn: Connection, i: int, since: float) -> None:
        if not seen.to_review:
            await asyncio.sleep(end - time.perf_counter())  # nothing left: idle to the end
            return
        app_id = seen.to_review.popleft()
        token = cast.reviewer_token
        got = await timed(conn, read, since, "GET", f"{API}/applications/{app_id}", b"", token)
        view = got and expect(*got, 200, read)
        if not view:
            return
        decisions = [
            {
                "clause": ln["clause_id"],
                "subject": ln["subject_id"],
                "approve": bool(ln["eligible"]),
                "amount_fen": ln["engine_fen"] if ln["eligible"] else None,
                "reason": "材料齐全，符合政策" if ln["eligible"] else "不符合政策条件",
            }
            for ln in view["lines"]
        ]
        body = json.dumps({"decisions": decisions}, ensure_ascii=False).encode()
        path = f"{API}/applications/{app_id}/verify"
        got = await timed(conn, verify, time.perf_counter(), "POST", path, body, token)
        done = got and expect(*got, 200, verify)
        if done:
            if done["state"] == "verified":
                verified.append(app_id)
            else:
                verify.error(f"answered state {done['state']}")

    elapsed = await run_clients(port, clients, duration, step, None)
    read.elapsed = verify.elapsed = elapsed
    return [read, verify], verified


# -- the count after the load ------------------------------------------------------------------


def count_rows(engine: Engine, cast: Cast, seen: Submissions, verified: list[int]) -> list[str]:
    """Problems: a response without its row, a row without its response, or a duplicate."""
    problems: list[str] = []
    with engine.connect() as conn:
        rows = conn.execute(
            select(Application.id, Application.state).where(Application.org_id.in_(cast.org_ids))
        ).all()
    states = {int(r.id): str(getattr(r.state, "value", r.state)) for r in rows}
    created, submitted = set(seen.created), set(seen.submitted)
    if len(created) != len(seen.created):
        problems.append(f"{len(seen.created) - len(created)} create responses repeat an id")
    if len(submitted) != len(seen.submitted):
        problems.append(f"{len(seen.submitted) - len(submitted)} submit responses repeat an id")
    if set(states) != created:
        problems.append(
            f"rows without a create response: {sorted(set(states) - created)[:10]}; "
            f"create responses without a row: {sorted(created - set(states))[:10]}"
        )
    done = set(verified)
    for app_id in submitted:
        want = "verified" if app_id in done else "submitted"
        if states.get(app_id) != want:
            problems.append(f"application {app_id} answered {want} but is {states.get(app_id)}")
    for app_id, state in states.items():
        if state in ("submitted", "verified") and app_id not in submitted:
            problems.append(f"application {app_id} is {state} but no submit was answered")
    by_state = Counter(states.values())
    print(
        f"  rows: {len(states)} applications ({dict(by_state)}); create responses "
        f"{len(seen.created)}, submit responses {len(seen.submitted)}, verify responses "
        f"{len(verified)}"
    )
    return problems


# -- main ---------------------------------------------------------------------------------------


def report(title: str, recorders: list[Recorder], meter: CpuMeter, before: dict[str, Any]) -> None:
    """The figures of one run, with where the CPU went (in cores: 1.00 is one core all along)
    and the server's CPU time per answered request — the figure that does not depend on
    what else the machine was doing."""
    after = meter.snapshot()
    spent = meter.spent(before, after)
    elapsed = max(r.elapsed for r in recorders)
    requests = sum(r.count + sum(r.errors.values()) for r in recorders if not r.composite)
    share = ", ".join(f"{k} {v / elapsed:.2f}" for k, v in spent.items())
    per = spent["server"] / requests * 1000 if requests else math.nan
    pg = spent["postgres"] / requests * 1000 if requests else math.nan
    print(f"\n{title}  [{elapsed:.1f}s; cores busy: {share}]")
    opened = meter.connections(before, after)
    print(
        f"  CPU per request: server {per:.1f}ms, PostgreSQL {pg:.1f}ms (at least); "
        f"PostgreSQL connections opened: {opened}"
    )
    for rec in recorders:
        print(rec.line())


async def scenarios(
    args: argparse.Namespace, cast: Cast, port: int, meter: CpuMeter
) -> tuple[Submissions, list[int], int]:
    errors = 0
    seen = Submissions()
    runs: list[tuple[str, Callable[[], Awaitable[list[Recorder]]]]] = []
    if "evaluate" in args.scenarios:
        runs += [
            (
                f"(a) public evaluations, {args.clients} clients, saturated",
                lambda: evaluate_scenario(port, args.clients, args.duration, None),
            ),
            (
                f"(a) public evaluations, {args.clients} clients, paced at {args.eval_rate:g}/s",
                lambda: evaluate_scenario(port, args.clients, args.duration, args.eval_rate),
            ),
        ]
    if "submit" in args.scenarios:
        n = len(cast.applicants)
        runs += [
            (
                f"(b) submissions, {n} applicants, saturated",
                lambda: submit_scenario(port, cast, args.duration, None, seen),
            ),
            (
                f"(b) submissions, {n} applicants, paced at {args.submit_rate:g} submissions/s",
                lambda: submit_scenario(port, cast, args.duration, args.submit_rate, seen),
            ),
        ]
    if "apply" in args.scenarios:
        n = len(cast.applicants)
        runs += [
            (
                f"(b') submissions in one request, {n} applicants, saturated",
                lambda: apply_scenario(port, cast, args.duration, None, seen),
            ),
            (
                f"(b') submissions in one request, {n} applicants, paced at {args.submit_rate:g}/s",
                lambda: apply_scenario(port, cast, args.duration, args.submit_rate, seen),
            ),
        ]
    for title, run in runs:
        before = meter.snapshot()
        recorders = await run()
        report(title, recorders, meter, before)
        errors += sum(sum(r.errors.values()) for r in recorders)
    verified: list[int] = []
    if "review" in args.scenarios:
        before = meter.snapshot()
        recorders, verified = await review_scenario(port, cast, args.reviewers, args.duration, seen)
        title = f"(c) reviews, {args.reviewers} reviewer clients, saturated"
        report(title, recorders, meter, before)
        errors += sum(sum(r.errors.values()) for r in recorders)
    return seen, verified, errors


async def warm_up(port: int, cast: Cast, workers: int) -> None:
    """Every worker builds its app on its first request; do that before measuring."""
    bodies = example_bodies()
    token = cast.reviewer_token

    async def client() -> None:
        conn = Connection(port)
        try:
            for body in bodies * 5:
                await conn.request("POST", f"{API}/evaluate", body)
                await conn.request("GET", f"{API}/applications?limit=1", b"", token)
        finally:
            await conn.close()

    await asyncio.gather(*(client() for _ in range(8 * workers)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL (a schema is made here)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per scenario run")
    parser.add_argument("--clients", type=int, default=50, help="clients of the calculator")
    parser.add_argument("--applicants", type=int, default=200, help="concurrent applicants")
    parser.add_argument("--reviewers", type=int, default=10, help="concurrent reviewer clients")
    parser.add_argument("--eval-rate", type=float, default=500.0, help="paced evaluations/s")
    parser.add_argument("--submit-rate", type=float, default=150.0, help="paced submissions/s")
    parser.add_argument(
        "--scenarios", default="evaluate,submit,apply,review", help="comma-separated subset"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="REPORT",
        help="run 1 worker under bench/load/sampler.py and write its report here",
    )  # fmt: skip
    parser.add_argument("--keep-schema", action="store_true", help="do not drop the schema")
    args = parser.parse_args()
    args.scenarios = set(args.scenarios.split(","))
    if args.profile is not None:
        args.workers = 1
        args.profile = args.profile.resolve()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    schema = f"huiqi_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = schema_url(args.url, schema)
    engine = make_engine(url)
    server: subprocess.Popen[bytes] | None = None
    failed = False
    try:
        upgrade(engine)
        started = time.perf_counter()
        cast = seed(engine, args.applicants)
        print(
            f"schema {schema}: migrated; {args.applicants} enterprises, applicants and tokens "
            f"registered in {time.perf_counter() - started:.1f}s"
        )
        with tempfile.TemporaryDirectory(prefix="huiqi-load-") as data_dir:
            port = free_port()
            server = start_server(url, port, args.workers, Path(data_dir), args.profile)
            asyncio.run(wait_ready(port, server))
            asyncio.run(warm_up(port, cast, args.workers))
            if args.profile is not None:
                server.send_signal(signal.SIGUSR1)  # the sampler starts counting now
            print(
                f"server: uvicorn huiqi.web.asgi:app, {args.workers} worker(s), {HOST}:{port}; "
                f"{os.cpu_count()} CPUs shared with PostgreSQL and this load generator; "
                f"load average now {os.getloadavg()[0]:.1f}"
            )
            meter = CpuMeter(server.pid, admin)
            try:
                seen, verified, errors = asyncio.run(scenarios(args, cast, port, meter))
            finally:
                meter.close()
            stop_server(server)
            server = None
        print("\nAfter the load:")
        problems = count_rows(engine, cast, seen, verified) if seen.created else []
        with Services(engine=engine, package=load_package(DEFAULT_POLICY)).reading() as s:
            entries, broken = audit_service.verify(s)
        print(f"  audit chain: {entries} entries, {'intact' if not broken else broken[:3]}")
        for problem in problems[:20]:
            print(f"  LOST/DUPLICATED: {problem}")
        print(f"  errors: {errors}; lost or duplicated submissions: {len(problems)}")
        failed = bool(errors or problems or broken)
        for name, met in (
            ("no request failed", not errors),
            ("no submission lost or duplicated", not problems),
            ("audit chain intact", not broken),
        ):
            print(f"goal: {name}: {'met' if met else 'NOT met'}")
        print(
            f"goal: paced {args.eval_rate:g} evaluations/s and {args.submit_rate:g} "
            "submissions/s sustained: not checked (see the paced runs' rates above)"
        )
        if args.profile is not None:
            print(f"\nprofile: {args.profile}")
            print(args.profile.read_text(encoding="utf-8")[:6000])
    finally:
        if server is not None:
            stop_server(server)
        engine.dispose()
        if not args.keep_schema:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
