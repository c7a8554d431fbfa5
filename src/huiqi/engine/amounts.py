"""Amounts: the raw sum of a tier or formula, then caps, one-time rules and overlaps."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from huiqi.engine.context import Context, exact_param
from huiqi.engine.explain import Node, money, qty
from huiqi.money import round_half_up, yuan_to_fen
from huiqi.policy.model import Amount, Cap, CapPeriod, Component, Days, Once, OnDate


def raw_amount(ctx: Context, amount: Amount, item: Any) -> tuple[int | None, Node]:
    """The amount before caps, in fen (None when review sets it), and its explanation."""
    if amount.fixed is not None:
        fen = yuan_to_fen(ctx.param(amount.fixed))
        return fen, Node("amount.fixed", {"param": _param(ctx, amount.fixed), "amount": money(fen)})
    if amount.ceiling is not None:
        fen = yuan_to_fen(ctx.param(amount.ceiling))
        return fen, Node(
            "amount.ceiling", {"param": _param(ctx, amount.ceiling), "amount": money(fen)}
        )
    if amount.external is not None:
        value = ctx.raw(amount.external, item)
        fen = 0 if value is None else yuan_to_fen(value)
        return fen, Node(
            "amount.external", {"label": ctx.label(amount.external), "amount": money(fen)}
        )
    if amount.discretionary:
        return None, Node("amount.discretionary")
    assert amount.computed is not None
    parts = [_component(ctx, part, item) for part in amount.computed]
    total = sum(fen for fen, _ in parts)
    return total, Node(
        "amount.computed", {"amount": money(total)}, children=tuple(node for _, node in parts)
    )


def _param(ctx: Context, name: str, on: date | None = None) -> dict[str, Any]:
    spec = ctx.param_spec(name)
    return {
        "name": name,
        "label": spec.label.both,
        "value": qty(ctx.param(name, on), spec.unit.value),
    }


def _component(ctx: Context, part: Component, item: Any) -> tuple[int, Node]:
    label = part.label.both if part.label else None
    if part.unit_price is not None:
        assert part.quantity is not None
        price = exact_param(ctx.param(part.unit_price))
        quantity = Fraction(ctx.raw(part.quantity, item) or 0)
        fen = round_half_up(price * quantity * 100)
        return fen, Node(
            "amount.unit_price",
            {
                "label": label,
                "price": _param(ctx, part.unit_price),
                "quantity": qty(quantity, "count"),
                "quantity_label": ctx.label(part.quantity),
                "amount": money(fen),
            },
        )
    assert part.rate is not None and part.of is not None
    rates = []
    product = Fraction(1)
    for rate in part.rate:
        if isinstance(rate, OnDate):
            on = ctx.raw(rate.at, item)
            rates.append({**_param(ctx, rate.param, on), "on": on.isoformat() if on else None})
            product *= exact_param(ctx.param(rate.param, on))
        else:
            rates.append(_param(ctx, rate))
            product *= exact_param(ctx.param(rate))
    base_fen = sum(yuan_to_fen(ctx.raw(p, item) or 0) for p in part.of)
    exact = product * base_fen
    args: dict[str, Any] = {
        "label": label,
        "rates": rates,
        "base": money(base_fen),
        "base_label": ctx.label(part.of),
    }
    if part.days is not None:
        days, basis, period = _days(ctx, part.days, item)
        exact = exact * days / basis
        args.update(days=days, basis=basis, period=period, year=ctx.year)
        if not days:
            # No day of the period falls in the award year: say so, not "0 days (2025-01-01
            # to 2023-08-22)".
            begin, end = ctx.raw(part.days.from_, item), ctx.raw(part.days.to, item)
            args.update(
                outside=[begin.isoformat() if begin else None, end.isoformat() if end else None]
            )
    fen = round_half_up(exact)
    args.update(exact=qty(exact / 100, "cny"), amount=money(fen))
    return fen, Node("amount.rate", args)


def _days(ctx: Context, days: Days, item: Any) -> tuple[int, int, list[str]]:
    """Days of [from, to) inside the award year; an open end runs to the year's end."""
    start_of_year, end_of_year = date(ctx.year, 1, 1), date(ctx.year + 1, 1, 1)
    begin = ctx.raw(days.from_, item) or end_of_year
    end = ctx.raw(days.to, item) or end_of_year
    begin, end = max(begin, start_of_year), min(end, end_of_year)
    count = max(0, (end - begin).days)
    basis = days.basis if isinstance(days.basis, int) else int(ctx.switch(days.basis))
    shown_end = (end - timedelta(days=1)) if count else end
    return count, basis, [begin.isoformat(), shown_end.isoformat()]


def apply_cap(
    ctx: Context, cap: Cap, amount: int, subject: str | None, item: Any
) -> tuple[int, Node]:
    """Limit ``amount`` by a cap, less what earlier awards in the cap's scope used."""
    if cap.fact is not None:
        value = ctx.raw(cap.fact, item)
        limit = yuan_to_fen(value) if value is not None else 0
        after = min(amount, limit)
        return after, Node(
            "cap.fact",
            {
                "label": ctx.label(cap.fact),
                "limit": money(limit),
                "before": money(amount),
                "after": money(after),
                "quote": cap.quote,
                "cut": after != amount,
            },
        )
    assert cap.param is not None
    cap_fen = yuan_to_fen(ctx.param(cap.param))
    used = 0
    if cap.period is not CapPeriod.EACH:
        earlier = ctx.earlier(
            ctx.clause.id if ctx.clause else "", subject, cap.period is CapPeriod.YEAR
        )
        used = sum(yuan_to_fen(a.amount_cny) for a in earlier)
    room = max(0, cap_fen - used)
    after = min(amount, room)
    return after, Node(
        "cap",
        {
            "param": _param(ctx, cap.param),
            "per": cap.per.value,
            "period": cap.period.value,
            "cap": money(cap_fen),
            "used": money(used),
            "room": money(room),
            "before": money(amount),
            "after": money(after),
            "quote": cap.quote,
            "cut": after != amount,
        },
    )


def apply_once(ctx: Context, once: Once, amount: int, subject: str) -> tuple[int, Node]:
    """One-time items: top up to the highest tier reached, or pay nothing twice (switch)."""
    assert ctx.clause is not None
    earlier = ctx.earlier(ctx.clause.id, subject, same_year=once is Once.YEAR)
    paid = sum(yuan_to_fen(a.amount_cny) for a in earlier)
    mode = ctx.switch_named("one_time_mode")
    # strict once: nothing after a first payment; top-up: only the difference to this tier.
    after = (0 if paid else amount) if mode == "strict_once" else max(0, amount - paid)
    years = sorted({a.award_year for a in earlier})
    return after, Node(
        "once",
        {
            "once": once.value,
            "mode": mode,
            "subject": subject,
            "paid": money(paid),
            "years": years,
            "before": money(amount),
            "after": money(after),
            "cut": after != amount,
        },
    )


def apply_overlap(ctx: Context, amount: int, subjects: set[str]) -> tuple[int, Node | None]:
    """从优不重复: pay only what this policy offers beyond what another already paid."""
    assert ctx.clause is not None
    one_time = ctx.clause.one_time_subject
    others = ctx.other_awards(ctx.clause.id, subjects, any_year=one_time)
    if not others:
        return amount, None
    received = sum(yuan_to_fen(a.amount_cny) for a in others)
    after = max(0, amount - received)
    return after, Node(
        "overlap",
        {
            "policies": [a.policy for a in others],
            "awards": [
                {
                    "policy": a.policy,
                    "year": a.award_year,
                    "subject": a.subject_id or ctx.applicant_code,
                    "amount": money(yuan_to_fen(a.amount_cny)),
                }
                for a in sorted(others, key=lambda a: (a.award_year, a.policy))
            ],
            "one_time": one_time,
            "year": ctx.year,
            "received": money(received),
            "before": money(amount),
            "after": money(after),
            "quote": ctx.package.policy.overlap.quote,
            "cut": after != amount,
        },
    )
