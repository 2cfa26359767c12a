"""Amount and ZIP syntax: decimal vs thousands marks from group lengths, endings, raised cents, 5 and 5+4 ZIPs."""

from __future__ import annotations

import pytest

from pipeline.segment.amount import Token, parse_amount
from pipeline.segment.zipcode import parse_zip
from pipeline.values import normalise_amount


@pytest.mark.parametrize(
    ("text", "value", "digits"),
    [
        ("1,234.56", "1234.56", "123456"),
        ("1.234,56", "1234.56", "123456"),
        ("22.970.-", "22970", "22970"),
        ("280.000=", "280000", "280000"),
        ("25.441", "25441", "25441"),
        ("7,67,000/-", "767000", "767000"),
        ("2,14,00,000/-", "21400000", "21400000"),
        ("125.-", "125", "125"),
        ("125/-", "125", "125"),
        ("57", "57", "57"),
        ("57.00", "57", "5700"),
        ("12.50", "12.50", "1250"),
        ("*1,250.00*", "1250", "125000"),
        ("$1,000,000", "1000000", "1000000"),
        ("0.75", "0.75", "075"),
        ("2255000/-", "2255000", "2255000"),
        ("672,90", "672.90", "67290"),
        (".25683", "25683", "25683"),
        ("97..60", "97.60", "9760"),
        ("35/xx", "35", "35"),
        ("*$125/xx", "125", "125"),
    ],
)
def test_amounts(text: str, value: str, digits: str) -> None:
    parsed = parse_amount(text)
    assert parsed.ok, parsed.problem
    assert parsed.value == value
    assert parsed.digits == digits
    assert parsed.value == normalise_amount(text.lstrip("."))  # the scorer's normalisation agrees


def test_raised_cents() -> None:
    tokens = [Token("5"), Token("7"), Token("5", raised=True), Token("0", raised=True)]
    parsed = parse_amount(tokens)
    assert parsed.ok
    assert parsed.value == "57.50"
    assert parsed.digits == "5750"
    assert parsed.text == "57^50"
    zero = parse_amount(
        [Token("1"), Token(","), Token("2"), Token("0"), Token("0"), Token("0", True), Token("0", True)]
    )
    assert zero.value == "1200"


@pytest.mark.parametrize(
    "text",
    ["12.5", "1.2345", "12,34,5", "5.0831.44", "12-34", "", "-.-", "0123", "57^5", "1,2345.00", "25/x", "12xx", "x12"],
)
def test_bad_amounts(text: str) -> None:
    if "^" in text:
        head, raised = text.split("^")
        parsed = parse_amount([Token(c) for c in head] + [Token(c, True) for c in raised])
    else:
        parsed = parse_amount(text)
    assert not parsed.ok
    assert parsed.value is None
    assert parsed.problem


@pytest.mark.parametrize(
    ("text", "guess"),
    [
        ("1.234.56", "1234.56"),  # a comma read as a point
        ("4.627.95", "4627.95"),
        ("13.554..99", "13554.99"),
        ("3.11.850.00", "311850"),  # Indian grouping, commas read as points
        ("2478.000.00", "2478000"),  # a comma missed in the first group
        ("2.49102", "2491.02"),  # the decimal point missed: a thousands group and the cents
        ("*8.17100", "8171"),
    ],
)
def test_amounts_whose_separators_break_the_grouping_are_bad_syntax_with_a_best_guess(text: str, guess: str) -> None:
    parsed = parse_amount(text)
    assert not parsed.ok and parsed.problem
    assert parsed.value == guess


def test_amounts_whose_separators_give_no_reading_keep_no_value() -> None:
    for text in ("0.123.45", "1.234.5", "12.345.6"):  # a leading zero; a last group that is neither 3 nor 5 digits
        assert parse_amount(text).value is None, text
    raised = parse_amount([Token(c) for c in "2.49102"] + [Token("9", True), Token("5", True)])
    assert not raised.ok and raised.value is None  # cents already read: five digits before them are no cents


def test_bad_amount_keeps_its_digits() -> None:
    parsed = parse_amount("12.5")
    assert parsed.digits == "125"
    assert parsed.text == "12.5"


@pytest.mark.parametrize(
    ("text", "value"),
    [("12345", "12345"), ("12345-6789", "12345-6789"), ("123456789", "12345-6789"), ("02134", "02134")],
)
def test_zips(text: str, value: str) -> None:
    parsed = parse_zip(text)
    assert parsed.ok
    assert parsed.value == value


@pytest.mark.parametrize(
    "text", ["1234", "123456", "12345-678", "", "1-2", "1234-56789", "1234=56789", "6928-5", "8-4635", "8=4635"],
)  # fmt: skip
def test_bad_zips(text: str) -> None:
    parsed = parse_zip(text)
    assert not parsed.ok
    assert parsed.value is None


@pytest.mark.parametrize(
    ("text", "guess"),
    [("12.345", "12345"), ("12345--6789", "12345-6789"), ("9.4843-0865", "94843-0865"), ("-12345", "12345"),
     ("12345.", "12345"), ("1,2345-6789", "12345-6789"), ("12345=6789", "12345-6789"), ("12345.6789", "12345-6789"),
     ("4.1262", "41262")],
)  # fmt: skip
def test_zips_with_marks_a_zip_has_not_are_bad_syntax_with_a_best_guess(text: str, guess: str) -> None:
    """A speck read as a point, a stray stroke as a dash: rejected, but the digits are still the best guess."""
    parsed = parse_zip(text)
    assert not parsed.ok
    assert parsed.value == guess
    assert "marks" in parsed.problem


def test_zip_book_picks_the_likeliest_valid_code() -> None:
    import numpy as np

    from pipeline.segment.zipcode import ZipBook

    book = ZipBook(["12345", "12346", "99999", "bad", "1234"])
    assert len(book) == 3 and "12346" in book and "1234" not in book
    probs = np.full((5, 10), 0.01)
    for i, d in enumerate("12347"):  # read as 12347, which does not exist
        probs[i, int(d)] = 0.9
    probs[4, 6] = 0.08  # the last digit's runner-up makes 12346 likelier than 12345
    assert book.most_probable(probs)[0] == "12346"


def test_us_zip_book_comes_from_the_zipcodes_package() -> None:
    from pipeline.segment.zipcode import ZipBook

    book = ZipBook.us()
    assert len(book) > 40_000
    assert "10001" in book and "00000" not in book
