"""Single-case engine speed: one applicant-year, every clause, with its explanation tree.

Prints, for each bundled example and over all of them, the median and 95th percentile of
``evaluate`` (tree as data) and of ``evaluate`` + rendering every clause's explanation in
Chinese. Run: ``make bench`` (or ``.venv/bin/python bench/single_case.py [--runs N]``).
Goal (issue 7): median < 1 ms for an evaluation with its full explanation — checked on
the evaluation *and* the rendering of every clause's explanation in Chinese (the tree alone
is printed too, but is not the goal). The exit status is 1 when the goal is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from huiqi.engine import evaluate
from huiqi.engine.render import explain_clause
from huiqi.facts import load_facts
from huiqi.facts.model import Facts
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import PolicyPackage, load_package

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def timings(fn: Callable[[], object], runs: int) -> list[float]:
    for _ in range(20):  # warm caches the way a running service would have them
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def render_all(package: PolicyPackage, facts: Facts) -> None:
    result = evaluate(package, facts)
    for clause in result.clauses:
        explain_clause(clause, "zh")


def row(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"{name:<28}{statistics.median(ms):>10.3f}{p95:>10.3f}{len(ms):>8}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000, help="timed runs per example")
    args = parser.parse_args()
    package = load_package(DEFAULT_POLICY)
    print(f"policy {package.id} {package.version}, {len(package.clauses)} clauses")
    print(f"{'case':<28}{'median ms':>10}{'p95 ms':>10}{'runs':>8}")
    tree_all: list[float] = []
    text_all: list[float] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        facts = load_facts(path)
        tree_ms = timings(partial(evaluate, package, facts), args.runs)
        text_ms = timings(partial(render_all, package, facts), args.runs // 4)
        tree_all += tree_ms
        text_all += text_ms
        print(row(f"{path.stem} (tree)", tree_ms))
        print(row(f"{path.stem} (+ zh text)", text_ms))
    print(row("all examples (tree)", tree_all))
    print(row("all examples (+ zh text)", text_all))
    median = statistics.median(text_all)
    goal = median < 1.0
    print(
        f"goal: median evaluation with its explanation rendered (zh) < 1 ms: "
        f"{'met' if goal else 'NOT met'} ({median:.3f} ms)"
    )
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
