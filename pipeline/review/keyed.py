"""What a reviewer typed, checked per field kind and normalised with the same functions as the results."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.values import digit_string, normalise_amount, normalise_zip

MAX_LENGTH = 40

HINTS = {
    "amount": "the amount as written, e.g. 1,234.56 or 57",
    "zip": "5 or 9 digits, e.g. 12345 or 12345-6789",
    "number": "digits only",
}


class InvalidValue(ValueError):
    """The typed text is not a valid value for the field; the message says what is expected."""


@dataclass(frozen=True)
class Keyed:
    """A validated entry: ``value`` normalised as in results.jsonl, ``digits`` in writing order, ``text`` as typed."""

    value: str
    digits: str
    text: str


def parse_keyed(name: str, typed: str) -> Keyed:
    """Validate ``typed`` for a field called ``name`` (amount, zip, number); raises :class:`InvalidValue`."""
    text = " ".join(typed.split())
    if not text:
        raise InvalidValue("Type the value, or mark the field unreadable (Ctrl+U).")
    if len(text) > MAX_LENGTH:
        raise InvalidValue(f"That is {len(text)} characters; a {name} field has at most {MAX_LENGTH}.")
    if re.search(r"\d", re.sub(r"[0-9]", "", text)):
        raise InvalidValue("Use the digits 0-9 only.")
    if name == "amount":
        return _amount(text)
    if name == "zip":
        return _zip(text)
    if name == "number":
        if not re.fullmatch(r"[0-9]+", text):
            raise InvalidValue("A number field takes digits only (0-9), no spaces or separators.")
        return Keyed(text, text, text)
    raise InvalidValue(f"unknown field kind {name!r}")


def _amount(text: str) -> Keyed:
    try:
        value = normalise_amount(text)
    except ValueError:
        raise InvalidValue(
            "Not an amount: digits with thousands separators and an optional decimal point, e.g. 1,234.56, 57 "
            "or 7,67,000/-."
        ) from None
    return Keyed(value, digit_string(text), text)


def _zip(text: str) -> Keyed:
    digits = digit_string(text)
    if not re.fullmatch(r"[0-9]{5}(?:[- ]?[0-9]{4})?", text):
        if re.search(r"[^0-9 -]", text):
            raise InvalidValue("A ZIP code has digits and at most one dash: 12345 or 12345-6789.")
        raise InvalidValue(f"A ZIP code has 5 or 9 digits (12345 or 12345-6789); this has {len(digits)}.")
    return Keyed(normalise_zip(text), digits, text)
