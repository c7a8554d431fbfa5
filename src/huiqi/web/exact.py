"""JSON request bodies read exactly: numbers with decimals stay decimal, text stays text.

FastAPI decodes a JSON body with ``json.loads``, so ``"export_usd": 268500.5`` reaches the
route as a binary float, and ``NaN``/``Infinity`` (which Python's ``json`` accepts) as
floats no amount can be; a ``"\\ud800"`` escape becomes a lone surrogate, text that cannot
be written back out as UTF-8 (into the database, a page or a problem). Every API route is
an :class:`ExactRoute` (FastAPI's documented custom ``APIRoute``): the body is decoded
once, by :func:`decode_json`, with

* numbers with a fraction or exponent as :class:`~decimal.Decimal` parsed from their own
  text (``json.loads(parse_float=Decimal)``): 268500.5 is ``Decimal("268500.5")``, never
  the float nearest to it;
* ``NaN``, ``Infinity`` and ``-Infinity`` as the non-finite decimals they spell, which
  every amount refuses with a 422 naming the field (nothing else reads a decimal);
* any lone surrogate refused with a 422 naming where it is (``body:$.facts.applicant.name``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from decimal import Decimal
from email.message import Message
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

#: A JSON escape of a surrogate code point (a lone one, or half of a pair).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

Loc = tuple[int | str, ...]


class BodyError(ValueError):
    """A JSON body that cannot be read: where (a JSON location), and why in both languages."""

    def __init__(self, loc: Loc, value: Any, kind: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.loc, self.value, self.kind, self.zh, self.en = loc, value, kind, zh, en


def is_text(value: str) -> bool:
    """Can ``value`` be written as UTF-8 (no lone surrogate)?"""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(value: str) -> str:
    """``value`` with any lone surrogate written as its escape (``\\ud800``), to echo it."""
    return value if is_text(value) else value.encode("utf-8", "backslashreplace").decode("utf-8")


def surrogate_at(value: Any, loc: Loc = ()) -> Loc | None:
    """Where in a decoded document a key or text holds a lone surrogate, if anywhere."""
    if isinstance(value, str):
        return None if is_text(value) else loc
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not is_text(key):
                return (*loc, printable(key))
            found = surrogate_at(item, (*loc, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = surrogate_at(item, (*loc, index))
            if found is not None:
                return found
    return None


def decode_json(raw: bytes | str) -> Any:
    """A JSON document with exact decimals, or :class:`BodyError` saying where it is bad."""
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=Decimal)
    except json.JSONDecodeError as exc:
        raise BodyError(
            (),
            None,
            "json_invalid",
            f"JSON 格式错误（第 {exc.lineno} 行第 {exc.colno} 列）：{exc.msg}",
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
        ) from None
    except (ValueError, RecursionError) as exc:  # not UTF-8, or nested beyond reason
        kind = "too deeply nested" if isinstance(exc, RecursionError) else "not UTF-8 text"
        zh = "嵌套过深" if isinstance(exc, RecursionError) else "不是 UTF-8 文本"
        raise BodyError((), None, "json_invalid", f"JSON 无法读取：{zh}", f"JSON: {kind}") from None
    # Raw UTF-8 cannot carry a surrogate; only the escape can, so look only when one is there.
    escaped = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    if _SURROGATE_ESCAPE.search(escaped):
        where = surrogate_at(data)
        if where is not None:
            raise BodyError(
                where,
                None,
                "string_unicode",
                "文本含有孤立的代理码位（\\ud800–\\udfff），不是有效的 Unicode 文本",
                "the text holds a lone surrogate (\\ud800–\\udfff): not valid Unicode",
            )
    return data


def decimals_as_text(value: Any) -> Any:
    """``value`` with every decimal written as its own text (``Decimal("268500.5")`` →
    ``"268500.5"``): how stored facts carry amounts, exactly, in a JSON column."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: decimals_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decimals_as_text(v) for v in value]
    return value


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type")
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class ExactRequest(Request):
    """A request whose ``json()`` is :func:`decode_json` of its body."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = decode_json(body)
            except BodyError as exc:
                raise RequestValidationError(
                    [
                        {
                            "type": exc.kind,
                            "loc": ("body", *exc.loc),
                            "msg": exc.en,
                            "input": exc.value,
                            "ctx": {"zh": exc.zh},
                        }
                    ]
                ) from None
        return self._json


class ExactRoute(APIRoute):
    """An API route that reads a JSON body with :func:`decode_json` (see the module)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            exact_request = ExactRequest(request.scope, request.receive)
            if _is_json(exact_request) and await exact_request.body():
                # Decoded here, where a refusal is a 422 (inside FastAPI's own body reading
                # any error but its own JSON one would be a 400 "error parsing the body").
                await exact_request.json()
            return await handler(exact_request)

        return exact
