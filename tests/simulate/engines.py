"""Both engines on the same applicant-years, and every difference between them, named.

The single-case engine (``huiqi.engine.evaluate``) is the specification; the columnar
evaluator must give, per applicant-year and clause, the same eligibility, amount in fen
and tier, per listed item the same eligibility, tier, amount and allocated share, and
so the same totals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from huiqi.engine import Evaluation
from huiqi.engine import evaluate as single
from huiqi.facts.model import Facts
from huiqi.policy import PolicyPackage
from huiqi.simulate.convert import to_population
from huiqi.simulate.evaluate import Results, eligible_col, evaluate, fen_col, tier_col

PackageFor = Callable[[int], PolicyPackage]


def single_results(facts: Sequence[Facts], package_for: PackageFor) -> list[Evaluation]:
    out = []
    for f in facts:
        assert f.award_year is not None
        out.append(single(package_for(f.award_year), f, f.award_year))
    return out


def differences(facts: Sequence[Facts], package_for: PackageFor) -> tuple[list[str], int]:
    """Every disagreement (as text) and the number of clause results compared."""
    columnar = evaluate(to_population(facts), package_for)
    expected = single_results(facts, package_for)
    return diff(columnar, expected, package_for), len(facts) * len(columnar.kinds)


def diff(columnar: Results, expected: Sequence[Evaluation], package_for: PackageFor) -> list[str]:
    rows = {r["row_id"]: r for r in columnar.rows.iter_rows(named=True)}
    items = {(i["row_id"], i["clause"], i["id"]): i for i in columnar.items.iter_rows(named=True)}
    found: list[str] = []
    totals: dict[str, int] = {}
    seen_items = 0
    for row_id, evaluation in enumerate(expected):
        row = rows[row_id]
        for c in evaluation.clauses:
            cid = c.clause_id
            totals[cid] = totals.get(cid, 0) + (c.amount_fen or 0)
            clause = package_for(evaluation.award_year).clauses[cid]
            if clause.tiers and clause.for_each is None and tier_col(cid) not in row:
                found.append(f"row {row_id} clause {cid}: the columnar result has no tier column")
                continue
            # a clause without tiers, or tiered per listed item (compared with the items
            # below), has no tier column: its own tier is None in both engines
            got = (row[eligible_col(cid)], row[fen_col(cid)], row.get(tier_col(cid)))
            want = (c.eligible, c.amount_fen, c.tier)
            if got != want:
                found.append(f"row {row_id} clause {cid}: columnar {got}, single-case {want}")
            if package_for(evaluation.award_year).clauses[cid].for_each is not None:
                for item in c.items:
                    seen_items += 1
                    other = items.get((row_id, cid, item.subject))
                    got_i = (
                        None
                        if other is None
                        else (
                            other["eligible"],
                            other["tier"],
                            other["amount_fen"],
                            other["allocated_fen"],
                        )
                    )
                    want_i = (item.eligible, item.tier, item.amount_fen, item.allocated_fen)
                    if got_i != want_i:
                        found.append(
                            f"row {row_id} clause {cid} item {item.subject}: "
                            f"columnar {got_i}, single-case {want_i}"
                        )
    listed = columnar.items.height
    if listed != seen_items:
        found.append(f"columnar lists {listed} items, the single-case engine {seen_items}")
    for cid, total in totals.items():
        got_total = int(columnar.rows[fen_col(cid)].sum())
        if got_total != total:
            found.append(f"total of {cid}: columnar {got_total}, single-case {total}")
    return found
