"""What the staff console's pages share: who may see them, forms, money input, trees, labels.

Every console page is for staff only: a visitor who is not signed in is sent to sign in,
an applicant is refused (403) — the enterprise portal is theirs. Forms post plain
``application/x-www-form-urlencoded`` bodies (no JavaScript needed); a refused form comes
back as the same page with the service's reasons next to the fields, never as raw JSON.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation, localcontext
from functools import cache
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from huiqi.engine import render as engine_render
from huiqi.engine.explain import Node
from huiqi.errors import Problem
from huiqi.facts.model import Facts
from huiqi.fulfilment.roles import Role
from huiqi.service.actors import STAFF, Actor
from huiqi.service.errors import Forbidden, NotFound, ServiceError
from huiqi.service.uow import Services
from huiqi.web.pages.common import page_user
from huiqi.web.types import MAX_FEN

#: Roles that may open the console (the administrator only manages users and parameters).
CONSOLE_ROLES = frozenset(STAFF)
#: Roles that read everything the console shows.
READERS = frozenset(STAFF - {Role.ADMIN})

Row = TypeVar("Row")


def page_staff(request: Request) -> Actor | None:
    """The signed-in staff member, None when nobody is signed in; applicants are refused."""
    actor, _ = page_user(request)
    if actor is None:
        return None
    require_staff(actor)
    return actor


def require_staff(actor: Actor) -> None:
    """Refuse a console form posted by someone who is not staff (before anything is read)."""
    if not actor.roles & CONSOLE_ROLES:
        raise Forbidden("工作台仅供工作人员使用", "the staff console is for staff only")


def owner_id(
    svc: Services, kind: type[Row], row_id: int, owner: Callable[[Row], int], zh: str, en: str
) -> int:
    """The id of what a row belongs to (an objection's plan, a line's application …), read
    before acting on it; "not found", named in both languages, if there is no such row."""
    with svc.reading() as s:
        row = s.get(kind, row_id)
        if row is None:
            raise NotFound(f"{zh} {row_id} 不存在", f"no {en} {row_id}")
        return owner(row)


def login_redirect(request: Request) -> RedirectResponse:
    """Send a visitor who is not signed in to sign in, then back here."""
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


async def _form_fields(request: Request) -> dict[str, str]:
    """Every text field of a posted form (files and repeated names: the last text value)."""
    form = await request.form()
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


#: A posted form's text fields, for handlers whose field names depend on the data.
FormFields = Annotated[dict[str, str], Depends(_form_fields)]


# -- errors shown next to fields ---------------------------------------------------------------


@dataclass
class FormErrors:
    """A refused form: a headline, messages per field name, and messages for no field."""

    form: str = ""
    headline: str = ""
    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str | None, text: str) -> None:
        if name:
            self.fields.setdefault(name, []).append(text)
        else:
            self.general.append(text)

    def __bool__(self) -> bool:
        return bool(self.headline or self.fields or self.general)

    def of(self, name: str) -> list[str]:
        return self.fields.get(name, [])


def refused(
    exc: ServiceError,
    lang: str,
    form: str,
    where: dict[str, str] | None = None,
) -> FormErrors:
    """A service's refusal as form errors: each problem next to the field its path names.

    ``where`` maps a problem's path (or the start of one) to a form field name; problems
    no field claims are shown with the headline.
    """
    errors = FormErrors(form=form, headline=exc.zh if lang == "zh" else exc.en)
    for problem in exc.problems:
        errors.add(_field_for(problem, where or {}), problem_text(problem, lang))
    return errors


def _field_for(problem: Problem, where: dict[str, str]) -> str | None:
    if problem.path in where:
        return where[problem.path]
    best = max((p for p in where if problem.path.startswith(p)), key=len, default=None)
    return where[best] if best is not None else None


def problem_text(problem: Problem, lang: str) -> str:
    return problem.zh if lang == "zh" else problem.en


# -- money and dates as typed in forms ---------------------------------------------------------


class FieldError(ValueError):
    """A form value that cannot be read, in both languages."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


def parse_yuan(text: str) -> int | None:
    """An amount typed in yuan (``12,345.67``, ``12345``, ``12345元``) as exact fen; blank is
    None. At most two decimals, never negative, never more than the database holds."""
    cleaned = text.strip().replace(",", "").replace("，", "").replace(" ", "")
    cleaned = cleaned.removesuffix("元").removeprefix("CNY").removeprefix("¥").strip()
    if not cleaned:
        return None
    bad = FieldError("请填写金额（元），如 12345.67", "enter an amount in yuan, e.g. 12345.67")
    if len(cleaned) > 30:  # 30 characters hold any amount the database can (and Decimal exactly)
        raise bad
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise bad from None
    if not value.is_finite() or not -40 < value.adjusted() < 40:
        raise bad
    if value < 0:
        raise FieldError("金额不能为负数", "an amount cannot be negative")
    with localcontext(prec=80):  # exact for any 30 characters: no rounding hides a decimal
        hundredfold = value * 100
        if hundredfold > MAX_FEN:
            raise FieldError("金额过大", "the amount is too large")
        if hundredfold != hundredfold.to_integral_value():
            raise FieldError("金额最多保留两位小数（到分）", "at most two decimals (to the fen)")
        fen = int(hundredfold)
    return fen


def yuan_input(fen: int | None) -> str:
    """Fen as the plain yuan text an amount field shows (``12345.67``)."""
    if fen is None:
        return ""
    return f"{Decimal(fen) / 100:.2f}"


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise FieldError("请填写日期，如 2026-03-02", "enter a date, e.g. 2026-03-02") from None


def parse_int(text: str, low: int, high: int) -> int | None:
    cleaned = text.strip()
    if not cleaned:
        return None
    if not cleaned.isdigit() or not low <= int(cleaned) <= high:
        raise FieldError(
            f"请填写 {low} 至 {high} 之间的整数", f"enter a whole number from {low} to {high}"
        )
    return int(cleaned)


# -- explanation trees -------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeItem:
    """One step of an explanation, already put into words."""

    text: str
    ok: bool | None
    cut: bool
    children: list[TreeItem]


def node_of(data: dict[str, Any]) -> Node:
    """An explanation node rebuilt from its stored JSON (``Node.as_dict()``)."""
    return Node(
        key=str(data.get("key", "")),
        args=dict(data.get("args") or {}),
        ok=data.get("ok"),
        children=tuple(node_of(c) for c in data.get("children") or []),
    )


def tree_items(node: Node, lang: str) -> list[TreeItem]:
    """The node's steps as nested items, as :func:`huiqi.engine.render.tree` words them;
    pure containers (no sentence of their own) hand their children up."""
    children = [item for child in node.children for item in tree_items(child, lang)]
    try:
        text = engine_render.line(node, lang)
    except (KeyError, TypeError, ValueError, IndexError):
        text = node.key  # a message this version cannot word: show its key, never fail
    if text is None:
        return children
    if lang == "en":
        text = text[:1].upper() + text[1:]
    return [TreeItem(text, node.ok, bool(node.args.get("cut")), children)]


def headline(node: Node, lang: str) -> str:
    """The sentence of a clause's own node (eligible or not, and the amount)."""
    try:
        return engine_render.line(node, lang) or node.key
    except (KeyError, TypeError, ValueError, IndexError):
        return node.key


# -- facts: flattening and labels --------------------------------------------------------------


def flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested facts as ``(path, value)`` pairs: ``trade.export_usd``, ``stores[0].area_m2``."""
    if isinstance(data, dict):
        pairs: list[tuple[str, Any]] = []
        for key, value in data.items():
            pairs += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    if isinstance(data, list):
        if not data:
            return [(prefix, [])]
        return [pair for i, value in enumerate(data) for pair in flatten(value, f"{prefix}[{i}]")]
    return [(prefix, data)]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The fact model inside ``X | None`` or ``list[X]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


@cache
def fact_label(path: str) -> tuple[str, str]:
    """A fact path's label in Chinese and English from the facts schema's own titles."""
    model: type[BaseModel] | None = Facts
    parts_zh: list[str] = []
    parts_en: list[str] = []
    for token in path.replace("[", ".[").split("."):
        if not token:
            continue
        if token.startswith("["):
            number = token.strip("[]")
            if number.isdigit():
                parts_zh[-1:] = [f"{parts_zh[-1]} 第{int(number) + 1}项"] if parts_zh else []
                parts_en[-1:] = [f"{parts_en[-1]} #{int(number) + 1}"] if parts_en else []
            continue
        info = model.model_fields.get(token) if model is not None else None
        if info is None:
            parts_zh.append(token)
            parts_en.append(token)
            model = None
            continue
        parts_zh.append(info.title or token)
        parts_en.append(info.description or token)
        model = _model_in(info.annotation)
    return " › ".join(parts_zh), " › ".join(parts_en)


def shown_value(value: Any, lang: str) -> str:
    """A declared fact's value for a table cell."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, list) and not value:
        return "—"
    return str(value)


def same_value(declared: Any, official: str) -> bool:
    """Does a declared fact agree with an official figure (numbers compared exactly)?"""
    if isinstance(declared, bool):
        return official.strip().lower() in (
            ("true", "1", "yes") if declared else ("false", "0", "no")
        )
    try:
        return Decimal(str(declared).strip()) == Decimal(official.strip())
    except (InvalidOperation, ValueError):
        return str(declared).strip() == official.strip()


def current_round(reviews: list[tuple[str, bool, str | None]]) -> set[str]:
    """The bodies that approved since the plan last came back from a return."""
    approved: set[str] = set()
    for body, ok, _ in reviews:
        if ok:
            approved.add(body)
        else:
            approved = set()
    return approved
