"""Columnar simulation speed: N applicant-years, every clause, with the ledger.

For each N (default 10,000 / 100,000 / 1,000,000 / 5,000,000; ``--sizes`` picks) this
prints the median of ``--runs`` runs of:

* reading the Parquet files (decoding, checking every value, linking the tables) — apart;
* evaluating every clause for every applicant-year (results per row, per listed item);
* rows per second; peak memory; the single-case engine (``huiqi.engine.evaluate``, with
  its explanation tree) on the first ``--single-cap`` rows of the same population, as a
  ratio; and a memory-bandwidth floor: one NumPy pass summing every input column.

Each size runs in fresh processes: one writes the synthetic population (``huiqi synth``'s
generator), one reads and evaluates it and reports its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss`` — the process's high-water mark, which
counts Polars' and NumPy's native memory; tracemalloc would miss Polars' Rust heap), one
runs the single-case engine. Run: ``.venv/bin/python bench/simulate.py [--sizes 1000000]``.

Goals (issue 7), on a 2-core machine: 1,000,000 applicant-years in under 0.3 s of
evaluation and under 2 GiB peak; at least 100× the single-case engine's rows per second.
Each is checked at the end (the first two on the run with N = 1,000,000, "not checked" when
that size was not run; the ratio at the largest N) and the exit status is 1 when one is missed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GIB = 1024**3


def _make(n: int, folder: Path, seed: int) -> dict[str, Any]:
    from huiqi.policies import DEFAULT_POLICY
    from huiqi.policy import load_package
    from huiqi.simulate.files import write_population
    from huiqi.simulate.synth import synthesise

    start = time.perf_counter()
    pop = synthesise(n, seed, load_package(DEFAULT_POLICY))
    made = time.perf_counter() - start
    write_population(pop, folder)
    items = sum(t.height for t in pop.items.values())
    return {"synth_s": made, "items": items, "ledger": pop.ledger.height + pop.other_awards.height}


def _floor_arrays(pop: Any) -> list[Any]:
    """Every numeric, flag and date input column as a NumPy array (text columns excluded)."""
    import polars as pl

    arrays = []
    for name in (
        "applicants",
        "stores",
        "warehouses",
        "events",
        "loans",
        "talents",
        "ledger",
        "other_awards",
    ):
        table = pop.table(name)
        for column in table.columns:
            series = table[column]
            if series.dtype in (pl.String, pl.Categorical) or isinstance(series.dtype, pl.Enum):
                continue
            physical = series.to_physical().fill_null(0)
            arrays.append(physical.to_numpy())
    return arrays


def _measure(folder: Path, runs: int) -> dict[str, Any]:
    import numpy as np
    import polars as pl

    from huiqi.policies import DEFAULT_POLICY
    from huiqi.policy import load_package
    from huiqi.simulate.evaluate import evaluate
    from huiqi.simulate.files import read_population

    package = load_package(DEFAULT_POLICY)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    reads = []
    pop = None
    for _ in range(runs):
        pop = None  # one population in memory at a time
        gc.collect()
        start = time.perf_counter()
        pop = read_population(folder)
        reads.append(time.perf_counter() - start)
    assert pop is not None
    read_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    evaluate(pop, package)  # warm: the first call loads Polars' kernels
    walls, cpus = [], []
    results = None
    for _ in range(runs):
        results = None
        start, cpu = time.perf_counter(), time.process_time()
        results = evaluate(pop, package)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert results is not None
    total = int(
        results.rows.select(
            pl.sum_horizontal(pl.col(f"fen:{c}").fill_null(0) for c in results.clause_ids).sum()
        ).item()
    )
    arrays = _floor_arrays(pop)
    floors = []
    for _ in range(max(runs, 5)):
        start = time.perf_counter()
        for array in arrays:
            np.sum(array)
        floors.append(time.perf_counter() - start)
    return {
        "rows": len(pop),
        "read_s": statistics.median(reads),
        "eval_s": statistics.median(walls),
        "eval_cpu_s": statistics.median(cpus),
        "floor_s": statistics.median(floors),
        "floor_bytes": sum(a.nbytes for a in arrays),
        "peak_rss": peak,
        "base_rss": base_rss,
        "read_rss": read_rss,
        "total_fen": total,
        "threads": pl.thread_pool_size(),
    }


def _single(folder: Path, limit: int) -> dict[str, Any]:
    from huiqi.engine import evaluate
    from huiqi.policies import DEFAULT_POLICY
    from huiqi.policy import load_package
    from huiqi.simulate.convert import to_facts
    from huiqi.simulate.files import read_population

    package = load_package(DEFAULT_POLICY)
    facts = [f for _, f in to_facts(read_population(folder), limit)]
    for f in facts[:200]:
        evaluate(package, f)
    start = time.perf_counter()
    for f in facts:
        evaluate(package, f)
    seconds = time.perf_counter() - start
    return {"rows": len(facts), "seconds": seconds}


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'N':>10} {'read s':>8} {'eval s':>8} {'eval cpu':>9} {'rows/s':>12} "
        f"{'peak GiB':>9} {'single r/s':>11} {'× single':>9} {'floor s':>8} {'× floor':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        m, s = r["measure"], r["single"]
        rate = m["rows"] / m["eval_s"]
        single_rate = s["rows"] / s["seconds"]
        print(
            f"{m['rows']:>10,} {m['read_s']:>8.3f} {m['eval_s']:>8.3f} {m['eval_cpu_s']:>9.3f} "
            f"{rate:>12,.0f} {m['peak_rss'] / GIB:>9.2f} {single_rate:>11,.0f} "
            f"{rate / single_rate:>9.0f} {m['floor_s']:>8.4f} {m['eval_s'] / m['floor_s']:>8.1f}"
        )


GOAL_ROWS = 1_000_000
GOAL_EVAL_S = 0.3
GOAL_PEAK_GIB = 2.0
GOAL_RATIO = 100


def goals(rows: list[dict[str, Any]]) -> bool:
    """Print each goal of issue 7 as met, NOT met or not checked; True unless one was missed."""
    at_goal = next((r for r in rows if r["n"] == GOAL_ROWS), None)
    checks: list[tuple[str, bool | None, str]] = []
    if at_goal is None:
        why = f"N = {GOAL_ROWS:,} not run"
        checks += [
            (f"{GOAL_ROWS:,} rows evaluated in < {GOAL_EVAL_S} s", None, why),
            (f"{GOAL_ROWS:,} rows in < {GOAL_PEAK_GIB:g} GiB peak", None, why),
        ]
    else:
        m = at_goal["measure"]
        checks += [
            (
                f"{GOAL_ROWS:,} rows evaluated in < {GOAL_EVAL_S} s",
                m["eval_s"] < GOAL_EVAL_S,
                f"{m['eval_s']:.3f} s",
            ),
            (
                f"{GOAL_ROWS:,} rows in < {GOAL_PEAK_GIB:g} GiB peak",
                m["peak_rss"] / GIB < GOAL_PEAK_GIB,
                f"{m['peak_rss'] / GIB:.2f} GiB",
            ),
        ]
    largest = max(rows, key=lambda r: r["n"])
    m, single = largest["measure"], largest["single"]
    ratio = (m["rows"] / m["eval_s"]) / (single["rows"] / single["seconds"])
    checks.append(
        (
            f"≥ {GOAL_RATIO}× the single-case engine's rows/s (N = {largest['n']:,})",
            ratio >= GOAL_RATIO,
            f"{ratio:.0f}×",
        )
    )
    for name, met, figure in checks:
        verdict = "not checked" if met is None else ("met" if met else "NOT met")
        print(f"goal: {name}: {verdict} ({figure})")
    return all(met is not False for _, met, _ in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000,5000000",
        help="comma-separated N (applicant-years)",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per size (median)")
    parser.add_argument(
        "--single-cap",
        type=int,
        default=100_000,
        help="rows the single-case engine evaluates (at most)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--make", nargs=2, metavar=("N", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--single", nargs=2, metavar=("DIR", "LIMIT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        print(json.dumps(_make(int(args.make[0]), Path(args.make[1]), args.seed)))
        return 0
    if args.measure:
        print(json.dumps(_measure(Path(args.measure), args.runs)))
        return 0
    if args.single:
        print(json.dumps(_single(Path(args.single[0]), int(args.single[1]))))
        return 0
    import polars as pl

    print(
        f"{platform.platform()}; {os.cpu_count()} CPUs; Python {platform.python_version()}; "
        f"Polars {pl.__version__}; load average {os.getloadavg()[0]:.2f} at start"
    )
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="huiqi-bench-") as tmp:
            made = _child("--make", str(n), tmp, "--seed", str(args.seed))
            measure = _child("--measure", tmp, "--runs", str(args.runs))
            single = _child("--single", tmp, str(min(n, args.single_cap)))
        rows.append({"n": n, "made": made, "measure": measure, "single": single})
        print(
            f"N={n:,}: {made['items']:,} listed items, {made['ledger']:,} ledger entries; "
            f"total {measure['total_fen'] / 100:,.2f} yuan; {measure['threads']} threads; "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    print()
    _table(rows)
    print(
        f"\nload average {os.getloadavg()[0]:.2f} at the end. eval s / rows/s: median of "
        f"{args.runs} runs (wall); eval cpu: CPU seconds of all threads; peak: ru_maxrss of "
        "the process that read and evaluated; floor: one NumPy sum over every input column."
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if goals(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
