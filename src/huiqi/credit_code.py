"""Unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters from ``0123456789ABCDEFGHJKLMNPQRTUWXY``; positions 1–17 carry
weights 3^(i−1) mod 31; the check character is 31 − (Σ mod 31), with 31 → '0'.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


class CreditCodeError(ValueError):
    """A code that is not a valid unified social credit code; ``zh``/``en`` say why."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


def check_character(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate(code: str) -> str:
    """Return the code upper-cased if valid, else raise :class:`CreditCodeError`."""
    code = code.strip().upper()
    if len(code) != 18:
        raise CreditCodeError(
            f"统一社会信用代码应为18位，实际为{len(code)}位",
            f"a unified social credit code has 18 characters, got {len(code)}",
        )
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        raise CreditCodeError(
            f"统一社会信用代码含有不允许的字符：{''.join(bad)}",
            f"characters not allowed in a unified social credit code: {''.join(bad)}",
        )
    expected = check_character(code[:17])
    if code[17] != expected:
        raise CreditCodeError(
            f"统一社会信用代码校验位错误：应为 {expected}，实际为 {code[17]}",
            f"wrong check character: expected {expected}, got {code[17]}",
        )
    return code


def complete(first17: str) -> str:
    """Append the check character (for examples and tests)."""
    return first17 + check_character(first17)
