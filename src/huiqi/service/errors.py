"""Errors a service call can end with, each in Chinese and English."""

from __future__ import annotations

from huiqi.errors import Problem


class ServiceError(Exception):
    """A refused call; nothing was written. ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, zh: str, en: str, problems: list[Problem] | None = None) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en
        self.problems = problems or []

    def lines(self, lang: str = "zh") -> list[str]:
        head = self.zh if lang == "zh" else self.en
        return [head, *(p.line(lang) for p in self.problems)]


class NotFound(ServiceError):  # noqa: N818
    status = 404


class Forbidden(ServiceError):  # noqa: N818
    status = 403


class Conflict(ServiceError):  # noqa: N818
    """The object is not in a state that allows this, or someone changed it meanwhile."""

    status = 409


class Invalid(ServiceError):  # noqa: N818
    status = 422


def require_reason(text: str | None, zh: str, en: str, field: str = "reason") -> str:
    """The written reason a decision needs, stripped; refused (naming the field) when empty."""
    value = (text or "").strip()
    if not value:
        raise Invalid(zh, en, [Problem(field, text, "不能为空", "empty")])
    return value
