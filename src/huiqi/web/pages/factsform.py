"""Forms generated from the facts model: which facts the chosen clauses read, and the form
that asks for exactly those, with labels from the model and errors beside each field.

A form field is named by its dotted place in the facts document: ``trade.export_usd``,
``stores.1.area_m2``. :func:`read_form` turns a posted form back into a facts document
(blank fields left out, blank rows dropped), :func:`flatten` does the reverse, and
:func:`place_problems` puts each :class:`~huiqi.errors.Problem` of a refused document
beside the field its JSON path names (``$.stores[1].area_m2`` → ``stores.1.area_m2``).
Everything works without JavaScript: lists grow by an "add a row" submit button.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from huiqi.engine.explain import Node
from huiqi.engine.render import line, msg, verdict
from huiqi.errors import Problem
from huiqi.facts.model import Facts, choice_label
from huiqi.money import format_decimal
from huiqi.policy.model import Amount, Clause, Condition, FactRef, PolicyPackage, Switched
from huiqi.web.pages.common import templates

#: Lists whose rows are the subjects a clause pays one by one, and the ids new rows get.
ROW_PREFIX = {
    "stores": "S-",
    "warehouses": "W-",
    "events": "E-",
    "loans": "L-",
    "talents": "T-",
}
#: The most rows a list may have in a form (a bound on what a post may ask us to render).
MAX_ROWS = 50
#: What every evaluation reads of the applicant, whatever the clauses.
APPLICANT_ALWAYS = ("credit_code", "name", "kind")


# -- which facts the clauses read ------------------------------------------------------------


def _ref_paths(package: PolicyPackage, fact: FactRef | None) -> list[str]:
    """The paths a fact reference reads, switches resolved as the package sets them."""
    if fact is None:
        return []
    if isinstance(fact, Switched):
        chosen: FactRef = fact.cases[package.switch(fact.switch)]
        return _ref_paths(package, chosen)
    return list(fact) if isinstance(fact, list) else [fact]


def _applies(package: PolicyPackage, cond: Condition, kind: str | None) -> bool:
    kinds: Any = cond.for_kinds
    if kind is None or kinds is None:
        return True
    if isinstance(kinds, Switched):
        kinds = kinds.cases[package.switch(kinds.switch)]
    return bool(kinds == "all" or kind in kinds)


def _condition_paths(
    package: PolicyPackage, conds: Iterable[Condition], kind: str | None
) -> Iterator[str]:
    for cond in conds:
        if not _applies(package, cond, kind):
            continue
        if cond.any is not None:
            yield from _condition_paths(package, cond.any, kind)
        else:
            yield from _ref_paths(package, cond.fact)


def _amount_paths(amount: Amount | None) -> Iterator[str]:
    if amount is None:
        return
    if amount.external is not None:
        yield amount.external
    for part in amount.computed or []:
        yield from part.of or []
        for rate in part.rate or []:
            if not isinstance(rate, str):
                yield rate.at
        if part.quantity is not None:
            yield part.quantity
        if part.days is not None:
            yield part.days.from_
            yield part.days.to


def clause_paths(package: PolicyPackage, clause: Clause, kind: str | None = None) -> set[str]:
    """Every fact a clause reads, as ``section.field`` (an item's field as ``list.field``).

    Conditions (``any`` included, those for other kinds of applicant left out when ``kind``
    is given), the filter of its items, its tiers, its amount, its caps and its subject.
    A clause evaluated item by item also needs each item's id and required fields.
    """
    paths: list[str] = [
        *_condition_paths(package, clause.conditions, kind),
        *_condition_paths(package, clause.where, kind),
        *_amount_paths(clause.amount),
        *(cap.fact for cap in clause.caps if cap.fact is not None),
    ]
    for tier in clause.tiers or []:
        paths += _condition_paths(package, tier.conditions, kind)
        paths += _amount_paths(tier.amount)
    if clause.subject != "applicant":
        paths.append(clause.subject)
    found: set[str] = set()
    for path in paths:
        if path.startswith("item."):
            assert clause.for_each is not None
            path = f"{clause.for_each}.{path.removeprefix('item.')}"
        found |= _with_yuan(path)
    for section in {p.split(".")[0] for p in found} | (
        {clause.for_each} if clause.for_each else set()
    ):
        found |= {f"{section}.{name}" for name in _required(section)}
    return found


def scope_paths(package: PolicyPackage, kind: str | None = None) -> set[str]:
    """What clause 1 (the scope every clause rests on) reads, and the applicant's identity."""
    paths = set(_condition_paths(package, package.policy.scope.conditions, kind))
    paths = {p for path in paths for p in _with_yuan(path)}
    return paths | {f"applicant.{name}" for name in APPLICANT_ALWAYS}


def _with_yuan(path: str) -> set[str]:
    """A dollar amount not given is read in yuan at the year's rate (the engine's fallback),
    so a form asking for one offers the other."""
    sibling = path.removesuffix("_usd") + "_cny"
    return {path, sibling} if path.endswith("_usd") and _exists(sibling) else {path}


@dataclass(frozen=True)
class Needs:
    """The facts a set of clauses reads: fields by section, and which clauses read each section."""

    fields: dict[str, tuple[str, ...]]
    used_by: dict[str, tuple[str, ...]]


def needed_facts(package: PolicyPackage, clause_ids: Iterable[str], kind: str | None) -> Needs:
    """The sections and fields to ask for, in the facts model's own order."""
    by_section: dict[str, set[str]] = {}
    used_by: dict[str, list[str]] = {}
    scope = package.policy.scope.clause
    for path in scope_paths(package, kind):
        section, name = path.split(".", 1)
        by_section.setdefault(section, set()).add(name)
        if scope not in used_by.setdefault(section, []):
            used_by[section].append(scope)
    for cid in clause_ids:
        for path in clause_paths(package, package.clauses[cid], kind):
            section, name = path.split(".", 1)
            by_section.setdefault(section, set()).add(name)
            if cid not in used_by.setdefault(section, []):
                used_by[section].append(cid)
    fields = {
        section: tuple(n for n in _model(section).model_fields if n in by_section[section])
        for section in Facts.model_fields
        if section in by_section
    }
    return Needs(fields, {s: tuple(used_by[s]) for s in fields})


# -- the facts model, section by section -------------------------------------------------------


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def is_list(section: str) -> bool:
    return typing.get_origin(_unwrap(Facts.model_fields[section].annotation)) is list


def _model(section: str) -> type[BaseModel]:
    target = _unwrap(Facts.model_fields[section].annotation)
    if typing.get_origin(target) is list:
        target = _unwrap(typing.get_args(target)[0])
    assert isinstance(target, type) and issubclass(target, BaseModel)
    return target


def _exists(path: str) -> bool:
    section, _, name = path.partition(".")
    return section in Facts.model_fields and name in _model(section).model_fields


def _required(section: str) -> list[str]:
    return [n for n, f in _model(section).model_fields.items() if f.is_required()]


@dataclass(frozen=True)
class Field:
    """One input: its key in the section, labels, widget, and choices for a select."""

    key: str
    zh: str
    en: str
    widget: str  # number, integer, date, text, flag, choice
    required: bool
    blank_allowed: bool
    default: str
    choices: tuple[tuple[str, dict[str, str]], ...] = ()

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en[:1].upper() + self.en[1:]


@dataclass(frozen=True)
class Section:
    """A fieldset: one part of the facts (a list is a fieldset of rows)."""

    key: str
    zh: str
    en: str
    is_list: bool
    fields: tuple[Field, ...]
    clauses: tuple[str, ...] = ()

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en[:1].upper() + self.en[1:]

    @property
    def row_prefix(self) -> str | None:
        return ROW_PREFIX.get(self.key)


def _widget(info: FieldInfo) -> tuple[str, type[StrEnum] | None]:
    value_type = _unwrap(info.annotation)
    if isinstance(value_type, type) and issubclass(value_type, StrEnum):
        return "choice", value_type
    if value_type is bool:
        return "flag", None
    if value_type is int:
        return "integer", None
    if value_type is Decimal:
        return "number", None
    if value_type is date:
        return "date", None
    return "text", None


def _field(package: PolicyPackage, section: str, key: str) -> Field:
    info = _model(section).model_fields[key]
    widget, enum = _widget(info)
    default = info.default if not info.is_required() else None
    shown = ""
    if isinstance(default, bool):
        shown = "true" if default else "false"
    elif isinstance(default, StrEnum):
        shown = default.value
    choices: tuple[tuple[str, dict[str, str]], ...] = ()
    if enum is not None:
        kinds = package.policy.applicant_kinds
        choices = tuple(
            (m.value, kinds[m.value].both if m.value in kinds else choice_label(m.value))
            for m in enum
        )
    return Field(
        key=key,
        zh=info.title or key,
        en=info.description or key,
        widget=widget,
        required=info.is_required() and not (section in ROW_PREFIX and key == "id"),
        blank_allowed=default is None,
        default=shown,
        choices=choices,
    )


def optional(section: Section, *keys: str) -> Section:
    """The same fieldset with ``keys`` no longer marked required."""
    fields = tuple(replace(f, required=False) if f.key in keys else f for f in section.fields)
    return replace(section, fields=fields)


def sections(
    package: PolicyPackage,
    needs: Needs,
    *,
    leave_out: Iterable[str] = (),
    extra: Iterable[str] = (),
) -> list[Section]:
    """The fieldsets for ``needs``; ``leave_out`` names paths given elsewhere (the applicant's
    kind chosen on an earlier step, the organisation's registered identity); ``extra`` adds
    whole sections (e.g. ``other_policy_awards``) with all their fields."""
    omitted = set(leave_out)
    wanted = dict(needs.fields)
    for section in extra:
        wanted[section] = tuple(_model(section).model_fields)
    built = []
    for section in Facts.model_fields:
        if section not in wanted:
            continue
        fields = tuple(
            _field(package, section, k) for k in wanted[section] if f"{section}.{k}" not in omitted
        )
        if not fields:
            continue
        info = Facts.model_fields[section]
        built.append(
            Section(
                key=section,
                zh=info.title or section,
                en=info.description or section,
                is_list=is_list(section),
                fields=fields,
                clauses=needs.used_by.get(section, ()),
            )
        )
    return built


# -- reading and filling a form ----------------------------------------------------------------


def clean(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A facts document from a hidden field or a cookie, kept to the facts model's shape:
    known sections only, an object where the model has one and a list of objects where it
    has a list (the values themselves are the model's to judge)."""
    kept: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in Facts.model_fields:
            continue
        if key in ("facts_version", "award_year"):
            kept[key] = value
        elif is_list(key):
            if isinstance(value, list):
                kept[key] = [dict(row) for row in value if isinstance(row, Mapping)]
        elif isinstance(value, Mapping):
            kept[key] = dict(value)
    return kept


def _coerce(f: Field, raw: str) -> Any:
    """A form's text as the facts model reads it; what cannot be read stays text, so the
    model refuses it with its own words beside the field."""
    text = raw.strip()
    if f.widget == "integer":
        plain = text.replace(",", "").replace("，", "")
        return int(plain) if plain.isdigit() and plain.isascii() else text
    if f.widget == "flag":
        return {"true": True, "false": False}.get(text, text)
    if f.widget == "number":
        plain = re.sub(r"[,，\s]", "", text)
        return plain if re.fullmatch(r"\d+(\.\d+)?", plain) else text
    return text


def _is_blank(f: Field, raw: str) -> bool:
    return raw.strip() in ("", f.default) if f.widget in ("flag", "choice") else not raw.strip()


def _read_group(form: Mapping[str, str], prefix: str, fields: tuple[Field, ...]) -> dict[str, Any]:
    """One section or row: its non-blank values, or {} if nothing differs from the defaults."""
    values: dict[str, Any] = {}
    meaningful = False
    for f in fields:
        raw = form.get(f"{prefix}.{f.key}", "")
        if not raw.strip():
            continue
        values[f.key] = _coerce(f, raw)
        meaningful = meaningful or not _is_blank(f, raw)
    return values if meaningful else {}


def row_count(form: Mapping[str, str], section: str) -> int:
    """How many rows a list had on the page (``_rows.<list>``), bounded."""
    raw = form.get(f"_rows.{section}", "0")
    return min(int(raw), MAX_ROWS) if raw.isdigit() else 0


def read_form(
    form: Mapping[str, str], built: list[Section], base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The facts document a posted form says, on top of ``base`` (facts the form did not show
    are kept; a shown section's fields are replaced; a shown list is replaced by its rows).

    Blank rows are dropped; a row left without an id gets the next free one (``S-1`` …)."""
    facts: dict[str, Any] = {k: v for k, v in (base or {}).items()}
    for section in built:
        if section.is_list:
            rows = []
            for i in range(row_count(form, section.key)):
                row = _read_group(form, f"{section.key}.{i}", section.fields)
                if row:
                    rows.append(row)
            _number_rows(section, rows)
            if rows:
                facts[section.key] = rows
            else:
                facts.pop(section.key, None)
            continue
        kept = {
            k: v
            for k, v in dict(facts.get(section.key) or {}).items()
            if k not in {f.key for f in section.fields}
        }
        values = {**kept, **_read_group(form, section.key, section.fields)}
        if values:
            facts[section.key] = values
        else:
            facts.pop(section.key, None)
    return facts


def _number_rows(section: Section, rows: list[dict[str, Any]]) -> None:
    prefix = section.row_prefix
    if prefix is None or not any(f.key == "id" for f in section.fields):
        return
    taken = {str(r["id"]) for r in rows if r.get("id")}
    n = 0
    for row in rows:
        if not row.get("id"):
            n += 1
            while f"{prefix}{n}" in taken:
                n += 1
            row["id"] = f"{prefix}{n}"
            taken.add(row["id"])


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, StrEnum):
        return value.value
    return str(value)


def flatten(facts: Mapping[str, Any]) -> dict[str, str]:
    """A facts document as form values (``{"stores.0.area_m2": "60"}``)."""
    values: dict[str, str] = {}
    for section, content in facts.items():
        if isinstance(content, list):
            for i, row in enumerate(content):
                if isinstance(row, Mapping):
                    for key, value in row.items():
                        values[f"{section}.{i}.{key}"] = _text(value)
        elif isinstance(content, Mapping):
            for key, value in content.items():
                values[f"{section}.{key}"] = _text(value)
        else:
            values[section] = _text(content)
    return values


def field_name(path: str) -> str:
    """A problem's JSON path as a form field's name (``$.stores[1].area_m2`` →
    ``stores.1.area_m2``)."""
    name = re.sub(r"\[(\d+)\]", r".\1", path)
    return name.removeprefix("$").removeprefix(".")


@dataclass
class FactsForm:
    """What ``_facts_form.html`` renders: the fieldsets, their values and rows, and the
    problems placed beside fields (``errors``) or, if they name no shown field, above
    the form (``general``)."""

    sections: list[Section]
    values: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[Problem]] = field(default_factory=dict)
    general: list[Problem] = field(default_factory=list)

    def value(self, name: str, f: Field) -> str:
        return self.values.get(name, f.default)

    def names(self) -> set[str]:
        """Every name a problem may be placed at: fields, rows and sections."""
        found: set[str] = set()
        for s in self.sections:
            found.add(s.key)
            if s.is_list:
                for i in range(self.rows.get(s.key, 0)):
                    found.add(f"{s.key}.{i}")
                    found |= {f"{s.key}.{i}.{f.key}" for f in s.fields}
            else:
                found |= {f"{s.key}.{f.key}" for f in s.fields}
        return found

    def shown(self, name: str, f: Field, lang: str) -> str:
        """A value as read-only text: yes or no, a choice's words, numbers with separators."""
        value = self.values.get(name, "")
        if not value:
            return ""
        if f.widget == "flag" and value in ("true", "false"):
            return msg("value.yes" if value == "true" else "value.no", lang)
        for option, words in f.choices:
            if option == value:
                return words.get(lang, value)
        if f.widget in ("number", "integer"):
            try:
                return format_decimal(Decimal(value))
            except ArithmeticError:
                return value
        return value

    def label_of(self, name: str, lang: str) -> str:
        """The words for a field, row or section name, for the list of problems above a form."""
        parts = name.split(".")
        for s in self.sections:
            if s.key != parts[0]:
                continue
            where = s.label(lang)
            if s.is_list and len(parts) > 1 and parts[1].isdigit():
                where += f" #{int(parts[1]) + 1}"
                parts = [parts[0], *parts[2:]]
            for f in s.fields:
                if len(parts) > 1 and f.key == parts[1]:
                    return f"{where} · {f.label(lang)}"
            return where
        return name

    @property
    def problem_count(self) -> int:
        return sum(len(v) for v in self.errors.values()) + len(self.general)


def build_form(
    built: list[Section],
    facts: Mapping[str, Any] | None = None,
    problems: Iterable[Problem] = (),
    *,
    add_row: str | None = None,
    min_rows: int | Mapping[str, int] = 1,
) -> FactsForm:
    """The form for ``facts``: each list has its rows (at least ``min_rows``, for all lists or
    by list, one more for ``add_row``), each problem beside its field."""
    facts = facts or {}
    form = FactsForm(built, flatten(facts))
    for s in built:
        if s.is_list:
            have = len(facts.get(s.key) or [])
            least = min_rows if isinstance(min_rows, int) else min_rows.get(s.key, 1)
            form.rows[s.key] = min(MAX_ROWS, max(have, least) + (1 if add_row == s.key else 0))
    place_problems(form, problems)
    return form


#: The facts model's own words for a few refusals, said more plainly for a form.
_PLAINER = {
    "not a number": (
        "应为数字，例如 12000 或 12,000.50",
        "should be a number, e.g. 12000 or 12,000.50",
    ),
    "not a finite number": ("应为数字，例如 12000 或 12,000.50", "should be a number, e.g. 12000"),
}


def place_problems(form: FactsForm, problems: Iterable[Problem]) -> None:
    names = form.names()
    for problem in problems:
        if problem.en in _PLAINER:
            zh, en = _PLAINER[problem.en]
            problem = Problem(problem.path, problem.value, zh, en)
        name = field_name(problem.path)
        if name in names:
            form.errors.setdefault(name, []).append(problem)
        else:
            form.general.append(problem)


def remove_row(facts: dict[str, Any], target: str) -> None:
    """Drop row ``list.i`` from a facts document (the "remove this row" button)."""
    section, _, index = target.partition(".")
    rows = facts.get(section)
    if isinstance(rows, list) and index.isdigit() and int(index) < len(rows):
        del rows[int(index)]
        if not rows:
            facts.pop(section)


# -- the explanation tree in templates -------------------------------------------------------


def node_from_dict(data: Mapping[str, Any]) -> Node:
    """A stored explanation (``Node.as_dict()``) as a :class:`Node` again."""
    return Node(
        str(data["key"]),
        dict(data.get("args") or {}),
        data.get("ok"),
        tuple(node_from_dict(c) for c in data.get("children") or ()),
    )


def _line(node: Node, lang: str) -> str | None:
    text = line(node, lang)
    if text is not None and lang == "en":
        text = text[:1].upper() + text[1:]
    return text


#: ``_explanation.html`` renders any explanation tree with these two.
templates().env.globals.update(explain_line=_line, explain_verdict=verdict)
