"""Helpers the workflow commands share: services, who acts, amounts, dates, labels."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from huiqi.cli.common import Lang
from huiqi.config import get_settings
from huiqi.errors import InputError, Problem
from huiqi.fulfilment.workflow import STATE_LABELS
from huiqi.money import yuan_to_fen
from huiqi.service.actors import Actor, load_actor
from huiqi.service.bootstrap import build_services
from huiqi.service.uow import Services


def services() -> Services:
    return build_services(get_settings())


def acting(svc: Services, username: str) -> Actor:
    with svc.reading() as s:
        return load_actor(s, username)


def fen_of(text: str, field: str) -> int:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise InputError(
            [Problem(field, text, "应为金额（元）", "expected an amount in yuan")]
        ) from None
    if value < 0 or value != value.quantize(Decimal("0.01")):
        raise InputError(
            [
                Problem(
                    field,
                    text,
                    "金额须不小于零、最多两位小数",
                    "an amount is ≥ 0 with at most two decimals",
                )
            ]
        )
    return yuan_to_fen(value)


LINE_LABELS = {
    "pending": ("待决定", "pending"),
    "approved": ("同意", "approved"),
    "refused": ("不予支持", "refused"),
    "not_needed": ("无需", "not needed"),
    "returned": ("退回", "returned"),
    "included": ("列入", "included"),
    "pulled_back": ("退回重审", "pulled back"),
}


def state_label(value: str, lang: Lang) -> str:
    zh, en = STATE_LABELS.get(value) or LINE_LABELS.get(value) or (value, value)
    return zh if lang is Lang.zh else en


def date_of(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(
            [Problem(field, text, "日期应为 YYYY-MM-DD", "a date is YYYY-MM-DD")]
        ) from None
