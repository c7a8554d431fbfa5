"""Input problems that name the field and the value, in Chinese and English."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where, what value, and why in both languages."""

    path: str
    value: Any
    zh: str
    en: str

    def line(self, lang: str = "zh") -> str:
        shown = "" if self.value is _MISSING else f" = {self.value!r}"
        reason = self.zh if lang == "zh" else self.en
        return f"{self.path}{shown}: {reason}"

    def as_dict(self) -> dict[str, Any]:
        value = None if self.value is _MISSING else self.value
        return {"path": self.path, "value": value, "zh": self.zh, "en": self.en}


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()
MISSING: Any = _MISSING


class InputError(Exception):
    """Bad input: one or more :class:`Problem` s, never a traceback for the user."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.line("en") for p in problems))
        self.problems = problems
