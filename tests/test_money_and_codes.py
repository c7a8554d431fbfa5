"""Exact money (half-up to the fen) and GB 32100-2015 credit codes."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huiqi import credit_code
from huiqi.money import format_yuan, round_half_up, yuan_to_fen


@pytest.mark.parametrize(
    ("exact_fen", "rounded"),
    [
        (Fraction(1, 2), 1),  # half a fen rounds up
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 3),  # not banker's rounding
        (Fraction(49, 100), 0),
        (Fraction(51, 100), 1),
        (Fraction(0), 0),
        (Fraction(37577777, 1000), 37578),
    ],
)
def test_round_half_up_rounds_halves_away_from_zero(exact_fen: Fraction, rounded: int) -> None:
    assert round_half_up(exact_fen) == rounded


@given(st.decimals(min_value=0, max_value=10**9, places=2))
def test_two_decimal_yuan_convert_to_fen_without_loss(yuan: Decimal) -> None:
    assert Decimal(yuan_to_fen(yuan)) / 100 == yuan


def test_yuan_format_in_both_languages() -> None:
    assert format_yuan(3757778, "zh") == "37,577.78元"
    assert format_yuan(3757778, "en") == "CNY 37,577.78"


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",  # a published example code
        "91431000MA4T123451",
        "52431000MJ1234567K",
    ],
)
def test_valid_credit_codes_pass(code: str) -> None:
    assert credit_code.validate(code.lower()) == code


def test_a_wrong_check_character_names_the_expected_one() -> None:
    with pytest.raises(credit_code.CreditCodeError) as raised:
        credit_code.validate("91431000MA4T123452")
    assert "应为 1" in raised.value.zh
    assert "expected 1" in raised.value.en


@pytest.mark.parametrize(
    ("code", "fragment"),
    [("91431000MA4T12345", "18"), ("91431000MA4T1234I1", "I"), ("91431000MA4T1234O1", "O")],
)
def test_wrong_length_or_letters_are_refused(code: str, fragment: str) -> None:
    with pytest.raises(credit_code.CreditCodeError) as raised:
        credit_code.validate(code)
    assert fragment in raised.value.zh


@given(st.text(alphabet=credit_code.ALPHABET, min_size=17, max_size=17))
def test_complete_always_yields_a_valid_code(first17: str) -> None:
    assert credit_code.validate(credit_code.complete(first17)) == credit_code.complete(first17)
