"""Serve ``huiqi.web.asgi:app`` in one process under a sampling profiler (for bench/load.py).

cProfile sees only the thread it was started in, but FastAPI runs the synchronous
endpoints in a thread pool; py-spy is not installed. So a thread samples every other
thread's Python stack every few milliseconds (``sys._current_frames``), skips threads that
are only waiting (event loop in ``select``, pool threads waiting for work), and on exit
writes, apart, where threads wait for PostgreSQL (by the huiqi function waiting) and
the functions most often on the stack while running Python — *self* (at the top) and
*inclusive* (anywhere on it) — plus the most frequent stacks, collapsed, one a line. The
sampling itself costs CPU in the server process: compare CPU figures with a run without it.

    python bench/load/sampler.py REPORT HOST PORT

Sampling starts on SIGUSR1 (bench/load.py sends it once the warm-up is over).

The asyncio loop is used (not uvloop), so an idle event loop is visible as ``select``.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType

import uvicorn

INTERVAL = 0.005
#: A thread whose innermost frame is one of these is waiting for PostgreSQL's answer (a
#: query running, or a lock such as the audit chain's advisory lock), not using this CPU.
DATABASE = {("connection.py", "wait"), ("waiting.py", "wait_conn"), ("waiting.py", "wait_c")}
#: A thread whose innermost frame is one of these is waiting, not working.
IDLE = {
    ("selectors.py", "select"),
    ("threading.py", "wait"),
    ("queue.py", "get"),
    ("thread.py", "_worker"),
    ("_asyncio.py", "run_sync_in_worker_thread"),
}


def where(frame: FrameType) -> str:
    code = frame.f_code
    path = Path(code.co_filename)
    parts = path.parts
    short = "/".join(parts[parts.index("huiqi") :]) if "huiqi" in parts else "/".join(parts[-2:])
    return f"{short}:{code.co_name}"


class Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True, name="sampler")
        self.stop = threading.Event()
        self.go = threading.Event()  # set by SIGUSR1: warm-up over, start counting
        self.own: Counter[str] = Counter()
        self.inclusive: Counter[str] = Counter()
        self.stacks: Counter[str] = Counter()
        self.waits: Counter[str] = Counter()
        self.samples = 0
        self.idle = 0

    def run(self) -> None:
        me = threading.get_ident()
        while not self.go.wait(0.1):
            if self.stop.is_set():
                return
        while not self.stop.is_set():
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                top = frame.f_code
                if (Path(top.co_filename).name, top.co_name) in IDLE:
                    self.idle += 1
                    continue
                stack: list[str] = []
                walk: FrameType | None = frame
                while walk is not None:
                    stack.append(where(walk))
                    walk = walk.f_back
                if (Path(top.co_filename).name, top.co_name) in DATABASE:
                    # Who is waiting: the innermost huiqi frame (else the endpoint).
                    mine = [f for f in stack if f.startswith("huiqi/")]
                    self.waits[mine[0] if mine else stack[0]] += 1
                    continue
                self.samples += 1
                self.own[stack[0]] += 1
                for name in set(stack):
                    self.inclusive[name] += 1
                self.stacks[";".join(reversed(stack))] += 1
            time.sleep(INTERVAL)

    def report(self) -> str:
        total = max(self.samples, 1)
        waited = sum(self.waits.values())
        lines = [
            f"every {INTERVAL * 1000:.0f} ms: {self.samples} samples running Python, {waited} "
            f"waiting for PostgreSQL, {self.idle} idle",
            "",
            "waiting for PostgreSQL, by the innermost huiqi function",
        ]
        lines += [f"  {n / max(waited, 1):6.1%}  {name}" for name, n in self.waits.most_common(15)]
        lines += ["", "running Python: inclusive (anywhere on the stack)"]
        lines += [f"  {n / total:6.1%}  {name}" for name, n in self.inclusive.most_common(40)]
        lines += ["", "running Python: self (top of the stack)"]
        lines += [f"  {n / total:6.1%}  {name}" for name, n in self.own.most_common(30)]
        lines += ["", "running Python: most frequent stacks (collapsed)"]
        lines += [f"{n} {stack}" for stack, n in self.stacks.most_common(30)]
        return "\n".join(lines) + "\n"


def main() -> None:
    report, host, port = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    sampler = Sampler()
    signal.signal(signal.SIGUSR1, lambda *_: sampler.go.set())
    sampler.start()
    try:
        uvicorn.run(
            "huiqi.web.asgi:app",
            host=host,
            port=port,
            loop="asyncio",
            log_level="warning",
            access_log=False,
        )
    finally:
        sampler.stop.set()
        sampler.join()
        report.write_text(sampler.report(), encoding="utf-8")


if __name__ == "__main__":
    main()
