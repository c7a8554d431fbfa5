"""Deliberate mutations, one at a time: does the test suite catch each?

Run before a release (not part of ``make test``; a full run takes a quarter of an hour on
two cores)::

    PYTHONPATH=src .venv/bin/python bench/mutate.py            # every mutation
    PYTHONPATH=src .venv/bin/python bench/mutate.py cap-used   # some, by id
    PYTHONPATH=src .venv/bin/python bench/mutate.py --list

Each mutation replaces one exact snippet of one source file (it must occur exactly once),
runs the tests named for it (a targeted selection, so each run takes a minute or two), and
puts the file back byte for byte whatever happens. The table printed at the end gives, per
mutation, the tests that failed; the kill rate is the share of mutations at least one test
caught. The exit status is non-zero when any mutation survived, or a file could not be
restored, so a release script can stop on it.

Hypothesis runs with a fixed seed, so a run is repeatable, and without shrinking (the profile
``mutation`` of tests/conftest.py): a failing property is reported as soon as it fails.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ENGINE = "src/huiqi/engine"
CASES = ["tests/test_policy_cases.py", "tests/test_boundaries.py"]
PROPERTIES = "tests/test_properties.py"
MATRIX = "tests/web/test_authorisation_matrix.py"


def prop(*names: str) -> tuple[str, ...]:
    """Property tests of tests/test_properties.py by name (every parameter of each)."""
    return tuple(f"{PROPERTIES}::test_{name}" for name in names)


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    original: str
    replacement: str
    description: str
    tests: tuple[str, ...]


MUTATIONS = [
    Mutation(
        "yishang-exclusive",
        f"{ENGINE}/conditions.py",
        "Word.YISHANG: lambda v, t: v >= t,",
        "Word.YISHANG: lambda v, t: v > t,",
        "以上 read as excluding the number (it includes it)",
        (*CASES,),
    ),
    Mutation(
        "chaoguo-inclusive",
        f"{ENGINE}/conditions.py",
        "Word.CHAOGUO: lambda v, t: v > t,",
        "Word.CHAOGUO: lambda v, t: v >= t,",
        "超过 read as including the number (it excludes it)",
        (*CASES,),
    ),
    Mutation(
        "round-half-down",
        "src/huiqi/money.py",
        "return (2 * numerator + denominator) // (2 * denominator)",
        "return (2 * numerator + denominator - 1) // (2 * denominator)",
        "amounts rounded half-down instead of half-up",
        (
            *CASES,
            "tests/test_money_and_codes.py",
            *prop("a_loan_drawn_before_april_2020_is_subsidised_at_the_lpr_of_its_drawdown_date"),
        ),
    ),
    Mutation(
        "cap-ignored",
        f"{ENGINE}/amounts.py",
        '    after = min(amount, room)\n    return after, Node(\n        "cap",',
        '    after = amount\n    return after, Node(\n        "cap",',
        "a cap of a parameter no longer limits the amount",
        (
            *CASES,
            *prop(
                "no_clause_pays_more_than_its_caps",
                "the_platform_fee_subsidy_never_exceeds_500_thousand_yuan",
            ),
        ),
    ),
    Mutation(
        "cap-used",
        f"{ENGINE}/amounts.py",
        "        used = sum(yuan_to_fen(a.amount_cny) for a in earlier)",
        "        used = 0",
        "a cap stops counting what earlier awards used",
        prop(
            "no_clause_pays_more_than_its_caps",
            "a_cap_leaves_exactly_the_room_that_earlier_awards_of_its_period_left",
        ),
    ),
    Mutation(
        "cap-all-years",
        f"{ENGINE}/amounts.py",
        'ctx.clause.id if ctx.clause else "", subject, cap.period is CapPeriod.YEAR',
        'ctx.clause.id if ctx.clause else "", subject, False',
        "a yearly cap counts earlier awards of every year",
        prop("a_cap_leaves_exactly_the_room_that_earlier_awards_of_its_period_left"),
    ),
    Mutation(
        "no-top-up",
        f"{ENGINE}/amounts.py",
        "else max(0, amount - paid)",
        "else amount",
        "a one-time award pays its whole tier again instead of topping up",
        (*CASES, *prop("a_later_higher_export_tier_tops_up_to_the_tier_reached")),
    ),
    Mutation(
        "first-tier",
        f"{ENGINE}/evaluate.py",
        "            if met:\n                chosen = tier\n",
        "            if met and chosen is None:\n                chosen = tier\n",
        "the lowest tier met applies instead of the highest",
        (*CASES, *prop("raising_a_tier_fact_never_lowers_the_tier_amount")),
    ),
    Mutation(
        "loan-days-inclusive",
        f"{ENGINE}/amounts.py",
        "count = max(0, (end - begin).days)",
        "count = max(0, (end - begin).days + 1)",
        "a loan's days counted with both ends (the policy's interval is [drawdown, repayment))",
        (
            *CASES,
            *prop(
                "an_interest_subsidy_never_exceeds_the_interest_paid_on_the_loan",
                "a_loan_drawn_before_april_2020_is_subsidised_at_the_lpr_of_its_drawdown_date",
            ),
        ),
    ),
    Mutation(
        "no-overlap",
        f"{ENGINE}/amounts.py",
        "    after = max(0, amount - received)\n",
        "    after = amount\n",
        "从优不重复 no longer subtracts what another policy paid",
        (*CASES,),
    ),
    Mutation(
        "parameter-date-first",
        f"{ENGINE}/context.py",
        "self.reference_date = date(self.year, 12, 31)",
        "self.reference_date = date(self.year, 1, 1)",
        "a year's parameters read on 1 January instead of 31 December",
        (*CASES,),
    ),
    Mutation(
        "parameter-date-after",
        f"{ENGINE}/context.py",
        "if when <= on and (best is None or when > best):",
        "if when < on and (best is None or when > best):",
        "a parameter dated on the day asked is not yet in force",
        (
            *CASES,
            *prop("a_loan_drawn_before_april_2020_is_subsidised_at_the_lpr_of_its_drawdown_date"),
        ),
    ),
    Mutation(
        "finance-verifies",
        "src/huiqi/fulfilment/workflow.py",
        "    (AppState.SUBMITTED, AppAction.VERIFY): Transition(\n"
        "        AppState.VERIFIED, frozenset({Role.COMMERCE_REVIEWER})\n",
        "    (AppState.SUBMITTED, AppAction.VERIFY): Transition(\n"
        "        AppState.VERIFIED, frozenset({Role.COMMERCE_REVIEWER, Role.FINANCE_REVIEWER})\n",
        "the finance reviewer may verify applications (市商务局 reviews them)",
        (
            "tests/test_permission_table.py",
            "tests/test_workflow_rules.py",
            f"{MATRIX}::test_authorisation[sqlite-POST /applications/{{application_id}}/verify"
            "-finance_reviewer]",
            f"{MATRIX}::test_page_authorisation[sqlite-POST /console/applications/{{app_id}}"
            "/verify-finance_reviewer]",
        ),
    ),
    Mutation(
        "office-approves-plans",
        "src/huiqi/fulfilment/workflow.py",
        "        PlanState.APPROVED, frozenset({Role.CITY_APPROVER})\n",
        "        PlanState.APPROVED, frozenset({Role.CITY_APPROVER, Role.OFFICE_REVIEWER})\n",
        "领导小组办公室 may approve a plan (only 市人民政府 approves)",
        (
            "tests/test_permission_table.py",
            "tests/test_workflow_rules.py",
            f"{MATRIX}::test_authorisation[sqlite-POST /plans/{{plan_id}}/approve-office_reviewer]",
            f"{MATRIX}::test_page_authorisation[sqlite-POST /console/plans/{{plan_id}}/approve"
            "-office_reviewer]",
        ),
    ),
    Mutation(
        "drafter-pays",
        "src/huiqi/service/plan_approval.py",
        "    require(actor, Role.FINANCE_REVIEWER)\n    with svc.transaction() as s:\n"
        "        item = s.get(PlanItem, item_id)",
        "    require(actor, Role.FINANCE_REVIEWER, Role.PLAN_DRAFTER)\n"
        "    with svc.transaction() as s:\n        item = s.get(PlanItem, item_id)",
        "the plan drafter may record payments (the finance bureau pays)",
        (MATRIX, "-k", "sqlite and disbursements"),
    ),
    Mutation(
        "commerce-office-decision",
        "src/huiqi/service/applications.py",
        "    require(actor, Role.OFFICE_REVIEWER)\n    with svc.transaction() as s:\n"
        "        line = s.get(ApplicationLine, line_id)",
        "    require(actor, Role.OFFICE_REVIEWER, Role.COMMERCE_REVIEWER)\n"
        "    with svc.transaction() as s:\n        line = s.get(ApplicationLine, line_id)",
        "the commerce reviewer may take the office's decision on a line",
        (MATRIX, "-k", "sqlite and office-decision"),
    ),
    Mutation(
        "approve-one-review",
        "src/huiqi/service/plan_approval.py",
        "        missing = {ReviewBody.FINANCE, ReviewBody.OFFICE} - bodies\n",
        "        missing = {ReviewBody.FINANCE} - bodies\n",
        "市人民政府 may approve a plan 领导小组办公室 has not reviewed",
        ("tests/db/test_plans.py", "tests/db/test_workflow.py", "-k", "sqlite"),
    ),
    Mutation(
        "overpay",
        "src/huiqi/service/plan_approval.py",
        "paid + amount_fen > item.granted_fen",
        "paid > item.granted_fen",
        "payments may add up to more than the amount granted",
        ("tests/db/test_plans.py", "-k", "sqlite and disbursement"),
    ),
    Mutation(
        "one-person-all-steps",
        "src/huiqi/fulfilment/duties.py",
        "{t.step for t in taken if t.user_id == user_id and t.step in INCOMPATIBLE[step]}",
        "{t.step for t in taken if t.user_id != user_id and t.step in INCOMPATIBLE[step]}",
        "one person may review, approve and pay the same plan (separation of duties per person)",
        ("tests/db/test_duties.py", "-k", "sqlite"),
    ),
    Mutation(
        "budget-overrun",
        "src/huiqi/service/budgets.py",
        "if already + wanted[division] > budget.amount_fen:",
        "if wanted[division] > budget.amount_fen:",
        "approval forgets what the year's approved plans already took from a budget",
        ("tests/db/test_races.py", "-k", "sqlite and budget"),
    ),
]


@dataclass
class Outcome:
    mutation: Mutation
    failed: list[str]
    seconds: float
    error: str = ""

    @property
    def caught(self) -> bool:
        return bool(self.failed)


#: A failed test in pytest's short summary: "FAILED <node id> - <message>" (ids may hold spaces).
FAILED = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", re.M)


def run_tests(args: tuple[str, ...]) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rfE",
        "-p",
        "no:cacheprovider",
        "--hypothesis-seed=20260302",
        "--hypothesis-profile=mutation",
        *args,
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr


def apply(mutation: Mutation) -> Outcome:
    path = ROOT / mutation.file
    original = path.read_bytes()
    text = original.decode()
    found = text.count(mutation.original)
    if found != 1:
        return Outcome(mutation, [], 0.0, f"the snippet occurs {found} times in {mutation.file}")
    start = time.monotonic()
    try:
        path.write_text(text.replace(mutation.original, mutation.replacement))
        code, output = run_tests(mutation.tests)
    finally:
        path.write_bytes(original)
    if path.read_bytes() != original:  # pragma: no cover - write_bytes failed silently
        raise SystemExit(f"could not restore {mutation.file}: restore it from git now")
    failed = sorted(set(FAILED.findall(output)))
    if code not in (0, 1):  # collection error, interrupted, no tests run
        return Outcome(mutation, failed, time.monotonic() - start, output[-2000:])
    return Outcome(mutation, failed, time.monotonic() - start)


def short(test: str) -> str:
    """A test id readable (pytest escapes Chinese in ids as \\uXXXX), long tails cut."""
    shown = re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m.group(1), 16)), test)
    return shown if len(shown) < 150 else shown[:147] + "…"


def report(outcomes: list[Outcome]) -> str:
    lines = ["| mutation | what it breaks | tests that failed |", "|---|---|---|"]
    for o in outcomes:
        if o.error and not o.failed:
            caught = f"**not run**: {o.error.strip().splitlines()[-1]}"
        elif not o.failed:
            caught = "**none — survived**"
        else:
            shown = [short(t) for t in o.failed[:4]]
            more = f" (+{len(o.failed) - 4} more)" if len(o.failed) > 4 else ""
            caught = f"{len(o.failed)}: " + "; ".join(f"`{t}`" for t in shown) + more
        lines.append(f"| {o.mutation.id} | {o.mutation.description} | {caught} |")
    killed = sum(o.caught for o in outcomes)
    lines.append("")
    lines.append(f"kill rate: {killed}/{len(outcomes)} mutations caught")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and stop")
    parser.add_argument(
        "--baseline", action="store_true", help="first check each selection passes unmutated"
    )
    options = parser.parse_args()
    # Stopped from outside: unwind (so the file being mutated is put back), then exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    chosen = [m for m in MUTATIONS if not options.ids or m.id in options.ids]
    unknown = set(options.ids) - {m.id for m in MUTATIONS}
    if unknown:
        parser.error(f"no such mutation: {', '.join(sorted(unknown))}")
    if options.list:
        for m in chosen:
            print(f"{m.id:28} {m.file}: {m.description}")
        return 0
    if options.baseline:
        for tests in sorted({m.tests for m in chosen}):
            code, output = run_tests(tests)
            if code != 0:
                print(f"the selection {' '.join(tests)} fails without any mutation:")
                print(output[-3000:])
                return 2
    outcomes = []
    for m in chosen:
        outcome = apply(m)
        verdict = "caught" if outcome.caught else "SURVIVED"
        print(
            f"{m.id}: {verdict} by {len(outcome.failed)} tests in {outcome.seconds:.0f} s",
            flush=True,
        )
        outcomes.append(outcome)
    print()
    print(report(outcomes))
    return 0 if all(o.caught for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
