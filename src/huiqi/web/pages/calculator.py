"""The public policy calculator (no account).

Step 1 (``GET /calculator``): the visitor picks the clauses they care about (or all), the
kind of applicant and the award year. Step 2 (``GET /calculator/facts``): a form that asks
only the facts those clauses read (:mod:`huiqi.web.pages.factsform`). ``POST
/calculator/result`` adds or removes list rows, shows problems beside their fields, or
evaluates and shows each clause: eligible or not, the amount or ceiling, the explanation
tree and the clause's own words. Nothing is stored; "apply with these facts" carries them
to the enterprise portal in a short-lived cookie (after sign-in if need be).
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from huiqi.credit_code import complete
from huiqi.engine import ClauseResult, Evaluation, clause_sort_key, evaluate
from huiqi.engine.render import clause_headline
from huiqi.errors import InputError
from huiqi.facts import parse_facts
from huiqi.facts.model import ApplicantKind
from huiqi.policy import PolicyPackage
from huiqi.policy.model import AmountKind
from huiqi.web.deps import get_services, secure_cookies
from huiqi.web.exact import BodyError, decode_json
from huiqi.web.pages import factsform
from huiqi.web.pages.common import page_user, render
from huiqi.web.throttle import limit_evaluate

router = APIRouter(include_in_schema=False)

#: The cookie that carries a calculation to the portal ("apply with these facts").
CARRY_COOKIE = "huiqi_calc"
#: A browser keeps cookies up to about 4 KB; a larger calculation carries no facts.
CARRY_LIMIT = 3800
#: The portal page that starts an application from a calculation.
APPLY_URL = "/portal/new?from=calculator"
#: Stands in for the credit code when the visitor leaves it blank (a valid code, never shown).
PLACEHOLDER_CODE = complete("91431000MA0000000")
#: The most text a posted calculation (hidden field) may carry.
MAX_FACTS_JSON = 100_000


@dataclass(frozen=True)
class Choice:
    """What step 1 chose: the award year, the kind of applicant, the clauses."""

    year: int
    kind: str
    clauses: tuple[str, ...]

    def query(self) -> str:
        return urlencode(
            [("year", self.year), ("kind", self.kind)] + [("clause", c) for c in self.clauses]
        )


def all_clauses(package: PolicyPackage) -> list[str]:
    return sorted(package.clauses, key=clause_sort_key)


def years(package: PolicyPackage) -> list[int]:
    validity = package.policy.validity
    return list(range(validity.last_award_year, validity.first_award_year - 1, -1))


def read_choice(
    package: PolicyPackage, year: str, kind: str, clauses: list[str]
) -> tuple[Choice | None, dict[str, str]]:
    """Step 1's answers, or the problems with them (field → UI message key)."""
    problems: dict[str, str] = {}
    chosen_year = int(year) if year.isdigit() and int(year) in years(package) else None
    if chosen_year is None:
        problems["year"] = "calc.error.year"
    if kind not in package.policy.applicant_kinds:
        problems["kind"] = "calc.error.kind"
    wanted = [c for c in clauses[:100] if c]
    if "all" in wanted:
        ids = all_clauses(package)
    else:
        ids = [c for c in all_clauses(package) if c in wanted]
        if not ids or len(set(wanted)) != len(ids):
            problems["clause"] = "calc.error.clauses"
    if problems or chosen_year is None:
        return None, problems
    return Choice(chosen_year, kind, tuple(ids)), {}


def _step1(
    request: Request,
    *,
    status: int = 200,
    year: str = "",
    kind: str = "",
    clauses: list[str] | None = None,
    problems: dict[str, str] | None = None,
) -> HTMLResponse:
    package = get_services(request).package
    return render(
        request,
        "calculator.html",
        status=status,
        clauses=[package.clauses[c] for c in all_clauses(package)],
        years=years(package),
        kinds=package.policy.applicant_kinds,
        chosen_year=year or str(package.policy.validity.last_award_year),
        chosen_kind=kind,
        chosen_clauses=set(clauses or []),
        problems=problems or {},
    )


@router.get("/calculator", response_class=HTMLResponse)
def calculator(request: Request) -> HTMLResponse:
    """Step 1: which clauses, which kind of applicant, which year (answers kept on return)."""
    params = request.query_params
    return _step1(
        request,
        year=params.get("year", ""),
        kind=params.get("kind", ""),
        clauses=params.getlist("clause"),
    )


def _sections(package: PolicyPackage, choice: Choice) -> list[factsform.Section]:
    """The facts form of a choice; the kind was chosen in step 1, and the credit code and
    the name may stay blank (a visitor is estimating, not applying)."""
    needs = factsform.needed_facts(package, choice.clauses, choice.kind)
    built = factsform.sections(package, needs, leave_out={"applicant.kind"})
    return [
        factsform.optional(s, "credit_code", "name") if s.key == "applicant" else s for s in built
    ]


def _form_page(
    request: Request,
    choice: Choice,
    form: factsform.FactsForm,
    status: int = 200,
) -> HTMLResponse:
    package = get_services(request).package
    not_for_kind = [c for c in choice.clauses if choice.kind not in package.clauses[c].applicants]
    return render(
        request,
        "calculator_form.html",
        status=status,
        choice=choice,
        form=form,
        kind_label=package.policy.applicant_kinds[choice.kind].both,
        titles={c: package.clauses[c].title.both for c in choice.clauses},
        not_for_kind=not_for_kind,
    )


@router.get("/calculator/facts", response_class=HTMLResponse)
def facts_form(request: Request) -> HTMLResponse:
    """Step 2: the facts the chosen clauses read, and nothing else."""
    params = request.query_params
    choice, problems = read_choice(
        get_services(request).package,
        params.get("year", ""),
        params.get("kind", ""),
        params.getlist("clause"),
    )
    if choice is None:
        return _step1(
            request,
            status=422,
            year=params.get("year", ""),
            kind=params.get("kind", ""),
            clauses=params.getlist("clause"),
            problems=problems,
        )
    built = _sections(get_services(request).package, choice)
    return _form_page(request, choice, factsform.build_form(built))


def _texts(values: list[Any]) -> list[str]:
    return [v for v in values if isinstance(v, str)]


def _fields(form: Any) -> dict[str, str]:
    """A posted form's text fields (the last value of each name)."""
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


def facts_from_json(text: str) -> dict[str, Any] | None:
    """A calculation's facts carried in a hidden field or cookie; None if not a document."""
    if not text or len(text) > MAX_FACTS_JSON:
        return None
    try:
        data = decode_json(text)
    except BodyError:
        return None
    return factsform.clean(data) if isinstance(data, dict) else None


def _with_placeholders(facts: dict[str, Any], year: int) -> dict[str, Any]:
    """What the engine reads: the visitor may leave the credit code and the name blank."""
    applicant = dict(facts.get("applicant") or {})
    applicant.setdefault("credit_code", PLACEHOLDER_CODE)
    applicant.setdefault("name", "-")
    return {**facts, "applicant": applicant, "award_year": year}


@dataclass(frozen=True)
class Totals:
    owed_fen: int
    ceiling_fen: int
    discretionary: int
    eligible: int


def totals(results: list[ClauseResult]) -> Totals:
    """Sums over the chosen clauses, by kind of amount."""
    owed = (AmountKind.FIXED, AmountKind.COMPUTED, AmountKind.EXTERNAL)
    return Totals(
        owed_fen=sum(r.amount_fen or 0 for r in results if r.eligible and r.kind in owed),
        ceiling_fen=sum(
            r.amount_fen or 0 for r in results if r.eligible and r.kind is AmountKind.CEILING
        ),
        discretionary=sum(1 for r in results if r.eligible and r.kind is AmountKind.DISCRETIONARY),
        eligible=sum(1 for r in results if r.eligible),
    )


@router.post(
    "/calculator/result", response_class=HTMLResponse, dependencies=[Depends(limit_evaluate)]
)
async def result(request: Request) -> HTMLResponse:
    """Rows added or removed, problems beside their fields, or the results."""
    posted = await request.form()
    # The page names who is signed in (a database read): on a request thread, not the loop.
    return await run_in_threadpool(_result, request, posted)


def _result(request: Request, posted: FormData) -> HTMLResponse:
    package = get_services(request).package
    fields = _fields(posted)
    choice, problems = read_choice(
        package, fields.get("year", ""), fields.get("kind", ""), _texts(posted.getlist("clause"))
    )
    if choice is None:
        return _step1(request, status=422, problems=problems)
    built = _sections(package, choice)
    action = fields.get("_action", "submit")
    carried = facts_from_json(fields.get("facts_json", ""))
    if action == "edit" and carried is not None:
        return _form_page(request, choice, factsform.build_form(built, carried))
    base = {"applicant": {"kind": choice.kind}}
    facts = factsform.read_form(fields, built, base)
    if action.startswith("add:"):
        return _form_page(request, choice, factsform.build_form(built, facts, add_row=action[4:]))
    if action.startswith("remove:"):
        factsform.remove_row(facts, action[7:])
        return _form_page(request, choice, factsform.build_form(built, facts, min_rows=0))
    try:
        parsed = parse_facts(_with_placeholders(facts, choice.year))
        evaluation = evaluate(package, parsed, choice.year)
    except InputError as exc:
        form = factsform.build_form(built, facts, exc.problems)
        return _form_page(request, choice, form, status=422)
    return _results(request, choice, facts, evaluation)


def _results(
    request: Request, choice: Choice, facts: dict[str, Any], evaluation: Evaluation
) -> HTMLResponse:
    package = get_services(request).package
    results = [evaluation.clause(c) for c in choice.clauses]
    user, _ = page_user(request)
    named = bool((facts.get("applicant") or {}).get("name"))
    return render(
        request,
        "calculator_result.html",
        choice=choice,
        evaluation=evaluation,
        results=results,
        totals=totals(results),
        clauses=package.clauses,
        headline=clause_headline,
        kind_label=package.policy.applicant_kinds[choice.kind].both,
        applicant_name=evaluation.applicant_name if named else None,
        facts_json=json.dumps(facts, ensure_ascii=False, default=str, separators=(",", ":")),
        can_apply=user is None or user.org_id is not None,
    )


def pack(data: dict[str, Any]) -> str:
    raw = json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":"))
    return base64.urlsafe_b64encode(zlib.compress(raw.encode("utf-8"), 9)).decode("ascii")


def unpack(text: str) -> dict[str, Any] | None:
    """A carried calculation: ``{"year", "clauses", "facts"}``; None if unreadable."""
    if not text or len(text) > CARRY_LIMIT:
        return None
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(text), MAX_FACTS_JSON)
        data = decode_json(raw)
    except (ValueError, zlib.error):
        return None
    return data if isinstance(data, dict) else None


@router.post("/calculator/apply")
async def apply(request: Request) -> Response:
    """ "Apply with these facts": keep the calculation for the portal, sign in if need be."""
    posted = await request.form()
    return await run_in_threadpool(_apply, request, posted)


def _apply(request: Request, posted: FormData) -> Response:
    package = get_services(request).package
    fields = _fields(posted)
    choice, _ = read_choice(
        package, fields.get("year", ""), fields.get("kind", ""), _texts(posted.getlist("clause"))
    )
    facts = facts_from_json(fields.get("facts_json", ""))
    if choice is None:
        return _step1(request, status=422)
    carried: dict[str, Any] = {"year": choice.year, "clauses": list(choice.clauses)}
    if facts is not None:
        kind = ApplicantKind(choice.kind).value
        carried["facts"] = {**facts, "applicant": {**(facts.get("applicant") or {}), "kind": kind}}
    value = pack(carried)
    if len(value) > CARRY_LIMIT:
        value = pack({"year": choice.year, "clauses": list(choice.clauses), "too_big": True})
    user, _ = page_user(request)
    target = APPLY_URL if user is not None else f"/login?next={quote(APPLY_URL, safe='/')}"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        CARRY_COOKIE,
        value,
        max_age=3600,
        httponly=True,
        samesite="lax",
        path="/",
        secure=secure_cookies(request),
    )
    return response
