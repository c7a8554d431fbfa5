"""A synthetic population with a realistic shape (``huiqi synth N --seed S``).

Most applicants are small CBEC enterprises with modest exports (log-normal: a long
tail of large ones); a few are parks, logistics firms, training bodies, public service
bodies and warehouses' tenants. A share of every number the policy compares is put
exactly on one of the package's own thresholds, one hundredth below or above — so a
run exercises every boundary (以上/达到 include the number, 超过 excludes it). Earlier
awards fill the ledger the way years of the policy would: one-time awards waiting for a
top-up, training bodies near their lifetime cap, same-year awards for caps per year.

Everything is vectorised NumPy; the same ``seed`` gives the same population.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from huiqi import credit_code
from huiqi.policy.model import PolicyPackage
from huiqi.simulate import schema
from huiqi.simulate.population import Population
from huiqi.simulate.thresholds import thresholds

#: Chenzhou's counties and districts (GB/T 2260) and two zones; weights ~ their CBEC firms.
COUNTIES = (
    ("北湖区", "431002", 22),
    ("苏仙区", "431003", 18),
    ("郴州高新区", "431071", 12),
    ("郴州综合保税区", "431072", 6),
    ("资兴市", "431081", 8),
    ("桂阳县", "431021", 7),
    ("宜章县", "431022", 5),
    ("永兴县", "431023", 6),
    ("嘉禾县", "431024", 4),
    ("临武县", "431025", 4),
    ("汝城县", "431026", 3),
    ("桂东县", "431027", 2),
    ("安仁县", "431028", 3),
)
KINDS = (
    ("cbec_enterprise", 0.905),
    ("service_enterprise", 0.06),
    ("park", 0.0015),
    ("public_service_body", 0.0135),
    ("support_institution", 0.02),
)
CENT = 100


class Synth:
    """Draws columns for ``n`` applicant-years."""

    def __init__(self, n: int, seed: int, package: PolicyPackage) -> None:
        self.n = n
        self.rng = np.random.default_rng(seed)
        self.edges = thresholds(package)

    def money(self, median: float, sigma: float, size: int | None = None) -> np.ndarray:
        """Hundredths, log-normal around ``median`` units: most small, a long tail."""
        draw = self.rng.lognormal(np.log(median), sigma, size or self.n)
        return np.minimum(np.round(draw * CENT), 10**14).astype(np.int64)

    def clustered(self, values: np.ndarray, unit: str, share: float) -> np.ndarray:
        """Put ``share`` of the values on a threshold of ``unit``, or one step either side."""
        near = self.edges.get(unit)
        if not near:
            return values
        hit = self.rng.random(values.size) < share
        picks = self.rng.choice(np.array(near, dtype=np.int64), size=int(hit.sum()))
        out = values.copy()
        out[hit] = picks
        return out

    def flag(self, p: float, size: int | None = None) -> np.ndarray:
        return self.rng.random(size or self.n) < p

    def index(self, weights: Sequence[float], size: int | None = None) -> np.ndarray:
        """Indices drawn with the given weights."""
        w = np.asarray(weights, dtype=float)
        return self.rng.choice(len(w), size=size or self.n, p=w / w.sum())

    def choice(
        self, options: Sequence[Any], weights: Sequence[float], size: int | None = None
    ) -> pl.Series:
        """Values drawn with the given weights, as a Series (fast for text)."""
        return pl.Series(list(options)).gather(self.index(weights, size))

    def dates(self, start: date, end: date, size: int) -> np.ndarray:
        days = self.rng.integers(0, (end - start).days + 1, size)
        return np.datetime64(start, "D") + days


def _codes(s: Synth, county: np.ndarray) -> pl.Series:
    """Unique, valid unified social credit codes (GB 32100-2015 check characters).

    ``county`` indexes :data:`COUNTIES`; its division code fills positions 3–8.
    """
    alphabet = np.frombuffer(credit_code.ALPHABET.encode(), dtype=np.uint8)
    divisions = np.array([[int(c) for c in code] for _, code, _ in COUNTIES], dtype=np.int64)
    digits = np.zeros((s.n, 17), dtype=np.int64)
    digits[:, 0], digits[:, 1] = 9, 1  # 9 = registered by industry & commerce, 1 = enterprise
    digits[:, 2:8] = divisions[county]
    # i ↦ a·i + b mod 31⁹ is one-to-one (a is prime to 31): unique, random-looking codes
    offset = int(s.rng.integers(0, 31**9))
    serial = (np.arange(s.n, dtype=np.int64) * 104_729 + offset) % 31**9
    for i in range(9):
        digits[:, 16 - i] = (serial // 31**i) % 31
    weights = np.array(credit_code.WEIGHTS, dtype=np.int64)
    check = (31 - (digits @ weights) % 31) % 31
    chars = alphabet[np.concatenate([digits, check[:, None]], axis=1)]
    return pl.Series(chars.view("S18").ravel()).cast(pl.String)


def synthesise(
    n: int, seed: int, package: PolicyPackage, years: Sequence[int] = (2023,)
) -> Population:
    """``n`` applicant-years spread over ``years`` (each a different applicant)."""
    from huiqi.simulate.synth_tables import applicants, items, ledgers

    s = Synth(n, seed, package)
    apps = applicants(s, list(years))
    lists = items(s, apps)
    earlier, others = ledgers(s, apps, lists)
    return Population(apps, lists, earlier, others)


def yuan(value: Decimal | int) -> int:
    return int(Decimal(value) * CENT)


def as_column(name: str, table: str, values: Any, mask: np.ndarray | None = None) -> pl.Series:
    """A column in memory form (nulls where ``mask`` is false)."""
    col = schema.columns(table)[name]
    series = pl.Series(name, values)
    if mask is not None:
        series = pl.select(pl.when(pl.Series(mask)).then(series)).to_series().alias(name)
    return series.cast(col.memory_dtype)
