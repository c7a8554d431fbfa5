"""Rendering explanation trees and results as text, in Chinese (default) or English."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from huiqi.engine.explain import Node
from huiqi.engine.result import ClauseResult, Evaluation
from huiqi.money import format_decimal, format_yuan
from huiqi.policy.model import AmountKind
from huiqi.yamlio import loads_yaml

LANGS = ("zh", "en")


@cache
def catalog() -> dict[str, dict[str, str]]:
    text = resources.files("huiqi.engine").joinpath("messages.yaml").read_text(encoding="utf-8")
    data: dict[str, dict[str, str]] = loads_yaml(text)
    return data


def msg(key: str, lang: str, **args: Any) -> str:
    return catalog()[key][lang].format(**args)


def value(v: Any, lang: str) -> str:
    """One argument value as text: money, quantity, label, flag or plain."""
    if v is None:
        return msg("value.missing", lang)
    if isinstance(v, bool):
        return msg("value.yes" if v else "value.no", lang)
    if isinstance(v, dict):
        if "fen" in v:
            return format_yuan(v["fen"], lang)
        if "num" in v:
            return quantity(v["num"], v.get("unit"), lang)
        if "zh" in v and "en" in v:
            return str(v[lang])
        if "label" in v and "value" in v:  # a parameter
            return f"{value(v['label'], lang)} {value(v['value'], lang)}"
    if isinstance(v, list):
        return ("、" if lang == "zh" else ", ").join(value(x, lang) for x in v)
    return str(v)


def quantity(num: str | None, unit: str | None, lang: str) -> str:
    if num is None:
        return msg("value.missing", lang)
    if unit == "rate":
        return f"{format_decimal(Decimal(num) * 100)}%"
    shown = format_decimal(Decimal(num))
    if unit == "cny" and lang == "en":
        return f"CNY {shown}"
    suffix = msg(f"unit.{unit}", lang) if unit else ""
    return f"{shown}{suffix}" if lang == "zh" or not suffix else f"{shown} {suffix}"


def verdict(ok: bool | None, lang: str) -> str:
    return msg("verdict.na" if ok is None else "verdict.ok" if ok else "verdict.failed", lang)


def line(node: Node, lang: str) -> str | None:
    """The sentence for one node (None for pure containers)."""
    a = node.args
    k = node.key
    if k == "subject":
        return None
    if k == "clause":
        return _headline(a["id"], a["title"], a["kind"], node.ok, a.get("amount"), lang)
    if k in ("scope", "scope.summary", "tier", "subject.item"):
        return msg(
            k,
            lang,
            verdict=verdict(node.ok, lang),
            **{n: value(a.get(n), lang) for n in ("clause", "id")},
        )
    if k == "cond.compare" and a["value"]["num"] is None:
        k = "cond.compare.missing"
    if k == "amount.rate":
        days = ""
        if "outside" in a:
            start, end = a["outside"]
            days = msg(
                "amount.rate.days.outside",
                lang,
                start=start or msg("value.missing", lang),
                end=end or msg("amount.rate.days.open", lang),
                year=a["year"],
                basis=a["basis"],
            )
        elif "days" in a:
            start, end = a["period"]
            days = msg(
                "amount.rate.days", lang, days=a["days"], start=start, end=end, basis=a["basis"]
            )
        on = "（{}）" if lang == "zh" else " (on {})"
        rates = " × ".join(
            value(r, lang) + (on.format(r["on"]) if r.get("on") else "") for r in a["rates"]
        )
        label = value(a["label"], lang) + ("：" if lang == "zh" else ": ") if a.get("label") else ""
        return msg(
            k,
            lang,
            label=label,
            base_label=value(a["base_label"], lang),
            base=value(a["base"], lang),
            rates=rates,
            days=days,
            exact=quantity(a["exact"]["num"], "cny", lang),
            amount=value(a["amount"], lang),
        )
    if k == "cap":
        scope = (
            msg(f"cap.per.{a['per']}", lang)
            + ("" if lang == "zh" else ", ")
            + msg(f"cap.period.{a['period']}", lang)
        )
        used = ""
        if a["period"] != "each":
            used = msg("cap.used", lang, used=value(a["used"], lang), room=value(a["room"], lang))
        return msg(
            k,
            lang,
            param=value(a["param"]["label"], lang),
            cap=value(a["cap"], lang),
            scope=scope,
            used=used,
            before=value(a["before"], lang),
            after=value(a["after"], lang),
        )
    if k == "once":
        years = f"（{'、'.join(map(str, a['years']))}）" if a["years"] else ""
        if lang == "en" and a["years"]:
            years = f" ({', '.join(map(str, a['years']))})"
        return msg(
            k,
            lang,
            mode=msg(f"once.mode.{a['mode']}", lang),
            paid=value(a["paid"], lang),
            years=years,
            before=value(a["before"], lang),
            after=value(a["after"], lang),
        )
    if k == "switches":
        used = "；".join(
            f"{value(u['label'], lang)}＝{value(u['meaning'], lang)}" for u in a["used"]
        )
        return msg(k, lang, used=used)
    if k == "office_approval":
        return msg(k, lang, office=value(a["office"], lang))
    if k in ("amount.fixed", "amount.ceiling"):
        return msg(k, lang, param=value(a["param"]["label"], lang), amount=value(a["amount"], lang))
    if k == "overlap":
        return msg(
            k,
            lang,
            awards=("；" if lang == "zh" else "; ").join(
                msg(
                    "overlap.award",
                    lang,
                    policy=w["policy"],
                    year=w["year"],
                    subject=w["subject"],
                    amount=value(w["amount"], lang),
                )
                for w in a["awards"]
            ),
            years=msg(
                "overlap.any_year" if a["one_time"] else "overlap.same_year", lang, year=a["year"]
            ),
            received=value(a["received"], lang),
            before=value(a["before"], lang),
            after=value(a["after"], lang),
            quote=a["quote"],
        )
    if k == "amount.unit_price":
        return msg(
            k,
            lang,
            quantity_label=value(a["quantity_label"], lang),
            quantity=value(a["quantity"], lang),
            price=value(a["price"]["value"], lang),
            amount=value(a["amount"], lang),
        )
    return msg(k, lang, **{name: value(v, lang) for name, v in a.items()})


def tree(node: Node, lang: str = "zh", depth: int = 0) -> list[str]:
    """The node and its children as indented lines, with ✓/✗ for steps that held or failed."""
    text = line(node, lang)
    lines: list[str] = []
    child_depth = depth
    if text is not None:
        if lang == "en":
            text = text[:1].upper() + text[1:]
        mark = "↓ " if node.args.get("cut") else ""
        if node.ok is not None:
            mark = "✓ " if node.ok else "✗ "
        lines.append("  " * depth + mark + text)
        child_depth = depth + 1
    for child in node.children:
        lines.extend(tree(child, lang, child_depth))
    return lines


def _headline(
    clause_id: str,
    title: dict[str, str],
    kind: str,
    eligible: bool | None,
    amount: dict[str, int] | None,
    lang: str,
) -> str:
    args = {"id": clause_id, "title": title[lang]}
    if not eligible:
        return msg("clause.ineligible", lang, **args)
    if kind == AmountKind.DISCRETIONARY.value:
        return msg("clause.eligible.discretionary", lang, **args)
    shown = format_yuan(amount["fen"] if amount else 0, lang)
    key = "clause.eligible.ceiling" if kind == AmountKind.CEILING.value else "clause.eligible.owed"
    return msg(key, lang, amount=shown, **args)


def clause_headline(result: ClauseResult, lang: str) -> str:
    amount = None if result.amount_fen is None else {"fen": result.amount_fen}
    return _headline(
        result.clause_id, result.title, result.kind.value, result.eligible, amount, lang
    )


def explain_clause(result: ClauseResult, lang: str = "zh") -> list[str]:
    """The full explanation of one clause: headline, its text, then every step."""
    lines = [clause_headline(result, lang), f"  “{result.explanation.args['text']}”"]
    for child in result.explanation.children:
        lines.extend(tree(child, lang, 1))
    return lines


def header(evaluation: Evaluation, lang: str) -> list[str]:
    p = evaluation.policy
    return [
        msg(
            "header",
            lang,
            document_no=p.document_no,
            year=evaluation.award_year,
            name=evaluation.applicant_name,
            code=evaluation.applicant_code,
        ),
        msg("policy", lang, id=p.id, version=p.version, sha=p.sha256[:16]),
    ]


def totals(evaluation: Evaluation, lang: str) -> list[str]:
    discretionary = sum(
        1 for c in evaluation.clauses if c.eligible and c.kind is AmountKind.DISCRETIONARY
    )
    return [
        msg("total.owed", lang, amount=format_yuan(evaluation.owed_fen, lang)),
        msg("total.ceiling", lang, amount=format_yuan(evaluation.ceiling_fen, lang)),
        msg("total.discretionary", lang, count=discretionary),
    ]
