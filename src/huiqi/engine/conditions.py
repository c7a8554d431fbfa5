"""Evaluating conditions: comparisons with the policy's words, flags, choices and dates."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from huiqi.engine.context import Context, exact_param
from huiqi.engine.explain import Node, qty, text
from huiqi.facts.model import choice_label
from huiqi.policy.model import Condition, Switched, Word

_OPS = {
    Word.YISHANG: lambda v, t: v >= t,
    Word.DADAO: lambda v, t: v >= t,
    Word.HAN: lambda v, t: v >= t,
    Word.CHAOGUO: lambda v, t: v > t,
    Word.POLING: lambda v, t: v > t,
    Word.YOU: lambda v, t: v > t,
    Word.YIXIA: lambda v, t: v <= t,
    Word.BUMAN: lambda v, t: v < t,
}


def compare(word: Word, value: Fraction, threshold: Fraction) -> bool:
    """Does ``value`` meet ``threshold`` as ``word`` reads (Civil Code art. 1259)?"""
    result: bool = _OPS[word](value, threshold)
    return result


def applies_to(ctx: Context, cond: Condition) -> bool:
    kinds: Any = cond.for_kinds
    if kinds is None:
        return True
    if isinstance(kinds, Switched):
        kinds = ctx.switch(kinds)
    return bool(kinds == "all" or ctx.facts.applicant.kind.value in kinds)


def evaluate_conditions(ctx: Context, conds: list[Condition], item: Any = None) -> list[Node]:
    return [
        evaluate_condition(ctx, c, item) for c in conds if c.for_kinds is None or applies_to(ctx, c)
    ]


def evaluate_condition(ctx: Context, cond: Condition, item: Any = None) -> Node:
    if cond.any is not None:
        children = tuple(evaluate_condition(ctx, c, item) for c in cond.any)
        return Node("cond.any", {"quote": None}, any(c.ok for c in children), children)
    assert cond.fact is not None
    label = cond.label.both if cond.label else ctx.label(cond.fact)
    if cond.word is not None:
        return _compare(ctx, cond, item, label)
    assert isinstance(cond.fact, str)
    value = ctx.raw(cond.fact, item)
    quote = cond.quote
    if cond.is_ is not None:
        return Node(
            "cond.is",
            {"label": label, "quote": quote, "value": value, "expected": cond.is_},
            value is cond.is_,
        )
    if cond.in_ is not None:
        shown = getattr(value, "value", value)
        return Node(
            "cond.in",
            {
                "label": label,
                "quote": quote,
                "value": None if shown is None else choice_label(shown),
                "allowed": [choice_label(v) for v in cond.in_],
            },
            shown in cond.in_,
        )
    if cond.given:
        given = value is not None and value != ""
        return Node("cond.given", {"label": label, "quote": quote, "value": value}, given)
    assert cond.in_award_year
    ok = value is not None and value.year == ctx.year
    return Node(
        "cond.in_year",
        {
            "label": label,
            "quote": quote,
            "value": None if value is None else value.isoformat(),
            "year": ctx.year,
        },
        ok,
    )


def _compare(ctx: Context, cond: Condition, item: Any, label: dict[str, str]) -> Node:
    word = cond.word
    assert word is not None and cond.fact is not None
    value, notes = ctx.total(cond.fact, item)
    unit = ctx.unit(cond.fact)
    if cond.threshold is not None:
        threshold = exact_param(ctx.param(cond.threshold))
        spec = ctx.param_spec(cond.threshold)
        param = {"name": cond.threshold, "label": spec.label.both}
    else:
        threshold, param = _ZERO, None
    ok = value is not None and compare(word, value, threshold)
    shown_word, op, meaning = _SHOWN[word]
    args = {
        "label": label,
        "quote": cond.quote,
        "value": qty(value, unit),
        "word": shown_word,
        "op": op,
        "threshold": qty(threshold, unit),
        "param": param,
        "word_meaning": text(*meaning),
    }
    return Node("cond.compare", args, ok, tuple(notes))


_ZERO = Fraction(0)


def _op_symbol(word: Word) -> str:
    if word.lower_bound:
        return "≥" if word.inclusive else ">"
    return "≤" if word.inclusive else "<"


_WORD_MEANING = {
    Word.YISHANG: ("“以上”含本数", "以上 includes the number"),
    Word.DADAO: ("“达到”即大于等于", "达到 means at least"),
    Word.HAN: ("“（含）”含本数", "（含） includes the number"),
    Word.CHAOGUO: ("“超过”不含本数", "超过 excludes the number"),
    Word.POLING: ("“破零”即大于零", "破零 means more than zero"),
    Word.YOU: ("“有”即大于零", "有 means more than zero"),
    Word.YIXIA: ("“以下”含本数", "以下 includes the number"),
    Word.BUMAN: ("“不满”不含本数", "不满 excludes the number"),
}

#: What a comparison shows of its word: the word, its symbol and its meaning (zh, en).
_SHOWN = {word: (word.value, _op_symbol(word), _WORD_MEANING[word]) for word in Word}
