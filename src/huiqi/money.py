"""Exact money: integer fen, rounded half-up, never binary floats.

Every amount the engine produces is an ``int`` number of fen (1 yuan = 100 fen).
Intermediate products (a rate times a base, principal × LPR × days / 360) are
kept as :class:`fractions.Fraction` so nothing is lost before the one rounding
that the interpretations page prescribes: half-up to the fen.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

FEN_PER_YUAN = 100


def _half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` (denominator > 0) to the nearest integer, halves up
    (for a negative value: its opposite, rounded so)."""
    if numerator < 0:
        return -_half_up(-numerator, denominator)
    return (2 * numerator + denominator) // (2 * denominator)


def round_half_up(value: Fraction) -> int:
    """Round a non-negative exact value to the nearest integer, halves up."""
    return _half_up(value.numerator, value.denominator)


def yuan_to_fen(yuan: Decimal | int | Fraction) -> int:
    """Exact yuan (at most two decimals, or a Fraction) to fen, rounded half-up."""
    numerator, denominator = yuan.as_integer_ratio()  # exact, whatever the type
    return _half_up(numerator * FEN_PER_YUAN, denominator)


def fen_to_yuan(fen: int) -> Decimal:
    """Fen to a yuan Decimal with exactly two decimals."""
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def format_yuan(fen: int, lang: str = "zh") -> str:
    """``1234567`` fen → ``12,345.67元`` (zh) or ``CNY 12,345.67`` (en)."""
    text = f"{fen_to_yuan(fen):,}"
    return f"{text}元" if lang == "zh" else f"CNY {text}"


def format_decimal(value: Decimal | Fraction | int) -> str:
    """A plain number for explanations: no exponent, no needless trailing zeros."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return f"{value.numerator:,}"
        value = Decimal(value.numerator) / Decimal(value.denominator)
        value = value.quantize(Decimal("0.0001"))
    if isinstance(value, int):
        return f"{value:,}"
    normal = value.normalize()
    if normal == normal.to_integral():
        return f"{normal.quantize(Decimal(1)):,}"
    return f"{normal:,f}"
