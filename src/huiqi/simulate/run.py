"""Running scenarios over a population, whole or partition by partition, and merging.

A partitioned population is evaluated one partition at a time — exactly what a Spark or
Dask worker would do with its share — and the per-partition results are concatenated:
each applicant-year is in one partition with everything it needs, so the merged result
is the one-run result (a test checks it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from huiqi.simulate.evaluate import Results, evaluate
from huiqi.simulate.files import partition_label, partitions, read_population
from huiqi.simulate.reform import Scenario


@dataclass
class Timings:
    """Seconds spent reading files and evaluating each scenario."""

    read: float = 0.0
    evaluate: dict[str, float] = field(default_factory=dict)
    rows: int = 0


def merge(parts: Sequence[Results]) -> Results:
    """One result from per-partition results (rows and items concatenated)."""
    kinds: dict[str, str] = {}
    tiers: dict[str, list[str]] = {}
    for part in parts:
        kinds.update(part.kinds)
        tiers.update(part.tiers)
    return Results(
        pl.concat([p.rows for p in parts], how="diagonal_relaxed"),
        pl.concat([p.items for p in parts]),
        kinds,
        tiers,
    )


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Progress]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
    )
    with bar:
        yield bar


def run(
    path: Path, scenarios: Sequence[Scenario], progress: Progress | None = None
) -> tuple[dict[str, Results], Timings]:
    """Evaluate every scenario over the population at ``path``."""
    parts: list[str | None] = list(partitions(path)) or [None]
    timings = Timings(evaluate={s.name: 0.0 for s in scenarios})
    collected: dict[str, list[Results]] = {s.name: [] for s in scenarios}
    task = None
    if progress is not None:
        task = progress.add_task("评估 / evaluating", total=len(parts) * (1 + len(scenarios)))
    for part in parts:
        label = partition_label(part) if part else path.name
        if progress is not None and task is not None:
            progress.update(task, description=f"读取 / reading {label}")
        start = time.perf_counter()
        pop = read_population(path, part)
        timings.read += time.perf_counter() - start
        timings.rows += len(pop)
        if progress is not None and task is not None:
            progress.advance(task)
        for scenario in scenarios:
            if progress is not None and task is not None:
                progress.update(task, description=f"{scenario.name} · {label}")
            start = time.perf_counter()
            collected[scenario.name].append(evaluate(pop, scenario))
            timings.evaluate[scenario.name] += time.perf_counter() - start
            if progress is not None and task is not None:
                progress.advance(task)
    return {name: merge(results) for name, results in collected.items()}, timings
